#include "core/labs/scaling.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/i18n.h"
#include "core/labs/softmax.h"
#include "core/model.h"
#include "core/network.h"
#include "core/paths.h"

namespace qkv::labs {
namespace {

using i18n::arg;

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string seeded_note_for(const Session& s) {
  if (s.weights.empty()) return "";
  return i18n::trf("core.labs.seeded_note", arg("seed", std::to_string(s.seed)), arg("weights", s.weights));
}

std::string format(const char* fmt, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Two significant digits, at least two decimals: 0.31, 0.020, 278, 1.2e-05.
std::string num(double v) {
  if (!std::isfinite(v)) return "—";
  const double a = std::fabs(v);
  if (a != 0.0 && a < 1e-3) return format("%.1e", v);
  if (a < 0.1) return format("%.3f", v);
  if (a < 100.0) return format("%.2f", v);
  return format("%.0f", v);
}

}  // namespace

// [SECTION] The d_k sweep of the Scaling tab

float BlockSummary::var_S() const {
  if (s_count < 2) return NAN;  // one cell has no variance
  const double mean = s_sum / s_count;
  return static_cast<float>(std::max(0.0, s_sq / s_count - mean * mean));
}
float BlockSummary::mean_q2() const { return q_count < 1 ? NAN : static_cast<float>(q_sq / q_count); }
float BlockSummary::mean_k2() const { return k_count < 1 ? NAN : static_cast<float>(k_sq / k_count); }
float BlockSummary::predicted_var_S(int d_k) const { return d_k * mean_q2() * mean_k2(); }

SweepRun summarize(const Trace& t) {
  SweepRun out;
  for (const HeadStats& st : t.heads) {
    const std::optional<paths::HeadAddress> address = paths::parse_head(st.path);
    if (!address || st.path.rfind("batch.", 0) == 0) continue;
    BlockSummary& b = out[address->block];
    b.entropy += st.mean_entropy;
    b.max_weight += st.mean_max_weight;
    if (const Mat* Q = t.tensors.find(paths::join(st.path, "Q"))) b.q_sq += Q->cast<double>().squaredNorm(), b.q_count += static_cast<double>(Q->size());
    if (const Mat* K = t.tensors.find(paths::join(st.path, "K"))) b.k_sq += K->cast<double>().squaredNorm(), b.k_count += static_cast<double>(K->size());
    const Mat* S = t.tensors.find(paths::join(st.path, "S"));
    const Mat* S_masked = t.tensors.find(paths::join(st.path, "S_masked"));
    if (S && S_masked && S->rows() == S_masked->rows() && S->cols() == S_masked->cols()) {
      double uniform = 0.0;
      int rows = 0;
      for (Eigen::Index i = 0; i < S->rows(); ++i) {
        int allowed = 0;
        for (Eigen::Index j = 0; j < S->cols(); ++j) {
          if (!std::isfinite((*S_masked)(i, j))) continue;
          const double v = (*S)(i, j);
          b.s_sum += v, b.s_sq += v * v, b.s_count += 1.0;
          ++allowed;
        }
        if (allowed > 0) uniform += std::log(static_cast<double>(allowed)), ++rows;
        if (allowed < S->cols()) b.any_masked = true;
      }
      if (b.heads == 0 && rows > 0) b.uniform = static_cast<float>(uniform / rows);
    }
    ++b.heads;
  }
  for (auto& [path, b] : out)
    if (b.heads > 0) b.entropy /= static_cast<float>(b.heads), b.max_weight /= static_cast<float>(b.heads);
  return out;
}

ScalingSweep scaling_sweep(const Session& session, const Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  ScalingSweep out;
  const int total = 2 * kScalingCount;
  int done = 0;
  out.seeded_note = seeded_note_for(session);
  out.identity_replaced = session.model.projection == Projection::Identity;
  WeightCache weights;  // the scaled and unscaled runs at one d_k share their weights
  for (int k = 0; k < kScalingCount; ++k)
    for (const bool scaled : {true, false}) {
      if (progress && !progress(done, total)) {
        out.cancelled = true;
        out.ms = ms_since(start);
        return out;
      }
      ++done;
      Session copy = session;
      copy.weights.clear();  // trained weights fit one width only; a lab never reports a file error for its own runs
      copy.model.d_k = kScalingDk[k];
      copy.model.layers = 1;
      copy.model.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
      copy.decode_steps = 0;  // only the parallel pass's attention is plotted
      // Identity projections tie d_k to d_model/h, so the sweep learns its projections instead.
      if (copy.model.projection == Projection::Identity) copy.model.projection = Projection::Learned;
      Result<Trace> t = run(copy, &weights);
      if (!t) {
        if (out.error.empty()) out.error = "d_k = " + std::to_string(kScalingDk[k]) + ": " + t.error().message();
        continue;
      }
      (scaled ? out.scaled : out.unscaled)[k] = summarize(*t);
    }
  if (progress) progress(done, total);
  out.ms = ms_since(start);
  return out;
}

// [SECTION] One head's score variance, and the caption that quotes it

VarianceBreakdown variance_breakdown(const Trace& t, const std::string& head) {
  VarianceBreakdown v;
  const Mat* Q = t.tensors.find(paths::join(head, "Q"));
  const Mat* K = t.tensors.find(paths::join(head, "K"));
  const Mat* S = t.tensors.find(paths::join(head, "S"));
  const Mat* S_scaled = t.tensors.find(paths::join(head, "S_scaled"));
  const Mat* S_masked = t.tensors.find(paths::join(head, "S_masked"));
  if (!Q || !K || !S || !S_scaled || !S_masked || Q->size() == 0 || K->size() == 0 || S->size() != S_masked->size() ||
      S->size() != S_scaled->size())
    return v;
  v.d_k = static_cast<int>(Q->cols());
  v.mean_q2 = Q->cast<double>().squaredNorm() / static_cast<double>(Q->size());
  v.mean_k2 = K->cast<double>().squaredNorm() / static_cast<double>(K->size());
  double sum = 0, sq = 0, sum_s = 0, sq_s = 0;
  for (Eigen::Index k = 0; k < S->size(); ++k) {
    if (!std::isfinite(S_masked->data()[k])) continue;
    const double a = S->data()[k], b = S_scaled->data()[k];
    sum += a, sq += a * a, sum_s += b, sq_s += b * b, v.cells += 1;
  }
  v.scale = head_scale(t, head);  // what the run multiplied S by (HeadStats::scale)
  if (v.cells < 2) return v;
  const double mean = sum / v.cells, mean_s = sum_s / v.cells;
  v.var_S = std::max(0.0, sq / v.cells - mean * mean);
  v.var_scaled = std::max(0.0, sq_s / v.cells - mean_s * mean_s);
  v.ok = std::isfinite(v.scale);
  return v;
}

// The caption is whole sentences, one key each, put one after the other (an English sentence after the first starts
// with its space; a Chinese one needs none).
std::string variance_caption(const VarianceBreakdown& v, bool scaled) {
  if (!v.ok) return i18n::tr("core.labs.variance.too_few");
  const double predicted = v.predicted_var_S(), predicted_scaled = v.predicted_var_scaled(), q2k2 = v.mean_q2 * v.mean_k2;
  std::string out = i18n::trf("core.labs.variance.measured", arg("var_scaled", num(v.var_scaled)), arg("cells", format("%.0f", v.cells)),
                              arg("var_s", num(v.var_S)));
  if (std::fabs(v.scale - 1.0) > 1e-6)
    out += i18n::trf("core.labs.variance.predicted_scaled", arg("d_k", v.d_k), arg("q2", num(v.mean_q2)), arg("k2", num(v.mean_k2)),
                     arg("predicted", num(predicted)), arg("scale2", format("%.3g", v.scale * v.scale)),
                     arg("predicted_scaled", num(predicted_scaled)));
  else
    out += i18n::trf("core.labs.variance.predicted", arg("d_k", v.d_k), arg("q2", num(v.mean_q2)), arg("k2", num(v.mean_k2)),
                     arg("predicted", num(predicted)));
  if (std::fabs(q2k2 - 1.0) < 0.25)
    out += i18n::trf("core.labs.variance.unit", arg("d_k", v.d_k));
  else
    out += i18n::trf("core.labs.variance.not_unit", arg("d_k", v.d_k), arg("q2k2", num(q2k2)));
  const double agreement = predicted > 0.0 ? v.var_S / predicted : NAN;
  if (std::isfinite(agreement) && agreement >= 1.0 / 1.5 && agreement <= 1.5)
    out += i18n::trf("core.labs.variance.agrees", arg("f", format("%.2f", agreement)));
  else if (std::isfinite(agreement))
    out += i18n::trf("core.labs.variance.disagrees", arg("f", format("%.2g", agreement)));
  out += i18n::tr(scaled ? "core.labs.variance.scaled" : "core.labs.variance.unscaled");
  return out;
}

// [SECTION] "Why √d_k": the gradient through the softmax against d_k

namespace {

// About how many weights a run draws (attention and FFN matrices).
double sweep_params(const ModelConfig& c) {
  const double d = c.d_model, qk = static_cast<double>(c.heads) * c.head_dk(), v = static_cast<double>(c.heads) * c.head_dv();
  const double self_blocks = c.arch == Arch::EncoderDecoder ? 2.0 * c.layers : c.layers;
  const double blocks = self_blocks + (c.arch == Arch::EncoderDecoder ? c.layers : 0);
  const double ffns = c.arch == Arch::EncoderDecoder ? 2.0 * c.layers : c.layers;
  return blocks * (2.0 * d * qk + 2.0 * d * v) + ffns * 2.0 * d * c.d_ff;
}

struct RunStats {
  double ratio_sum = 0.0;
  int rows = 0;
  double max_weight = 0.0;
  int heads = 0;
};

// ‖∂L/∂Z_r‖ / ‖∂L/∂P_r‖ for every query row r of every head of `block` (rows without gradient are left out).
// Z = S·scale + M with the scale each head used (HeadStats::scale), so ∂L/∂Z = ∂L/∂S ÷ scale.
RunStats measure(const Trace& t, const std::string& block, int heads) {
  RunStats r;
  for (int i = 0; i < heads; ++i) {
    const std::string head = paths::head(block, i);
    const double scale = head_scale(t, head);
    const Mat* dS = t.tensors.find(paths::grad(paths::join(head, "S")));
    const Mat* dP = t.tensors.find(paths::grad(paths::join(head, "P")));
    if (dS && dP && dS->rows() == dP->rows() && dS->cols() == dP->cols())
      for (Eigen::Index row = 0; row < dS->rows(); ++row) {
        const double nP = dP->row(row).cast<double>().norm(), nZ = dS->row(row).cast<double>().norm() / scale;
        if (!(nP > 0.0) || !std::isfinite(nP) || !std::isfinite(nZ)) continue;
        r.ratio_sum += nZ / nP, ++r.rows;
      }
    if (const HeadStats* st = t.head(head)) r.max_weight += st->mean_max_weight, ++r.heads;
  }
  return r;
}

DkGradPoint pool(const std::vector<double>& per_seed, double max_weight_sum, int max_weight_n, int rows) {
  DkGradPoint p;
  p.rows = rows;
  if (max_weight_n > 0) p.max_weight = static_cast<float>(max_weight_sum / max_weight_n);
  if (per_seed.empty()) return p;
  double sum = 0, sq = 0;
  for (double v : per_seed) sum += v, sq += v * v;
  const double n = static_cast<double>(per_seed.size()), mean = sum / n;
  p.mean = static_cast<float>(mean);
  p.sd = static_cast<float>(per_seed.size() > 1 ? std::sqrt(std::max(0.0, (sq - n * mean * mean) / (n - 1))) : 0.0);
  p.lo = static_cast<float>(*std::min_element(per_seed.begin(), per_seed.end()));
  p.hi = static_cast<float>(*std::max_element(per_seed.begin(), per_seed.end()));
  p.seeds = static_cast<int>(per_seed.size());
  return p;
}

}  // namespace

DkGradientSweep dk_gradient_sweep(const Session& session, int seeds, const Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  DkGradientSweep out;
  out.heads = session.model.heads;
  out.temperature = session.model.temperature;
  out.model_dk = session.model.head_dk();
  out.additive = session.model.scoring == Scoring::Additive;
  out.seeds = std::max(1, seeds);
  out.seeded_note = seeded_note_for(session);
  out.identity_replaced = session.model.projection == Projection::Identity;
  {
    const TokenizedBatch batch = tokenize_batch(session);
    size_t tokens = 0;
    if (!batch.source_ids.empty()) tokens += batch.source_ids.front().size();
    if (!batch.target_ids.empty()) tokens += batch.target_ids.front().size();
    if (tokens > static_cast<size_t>(kGradMaxTokens)) {
      out.skipped = true;
      return out;
    }
  }
  out.block = std::string(session.model.arch == Arch::DecoderOnly ? "decoder" : "encoder") + ".0.self_attn";
  const int total = 2 * kGradCount * out.seeds;
  int done = 0;  // runs done or skipped
  for (int k = 0; k < kGradCount; ++k) {
    if (progress && !progress(done, total)) {
      out.cancelled = true;
      break;
    }
    Session base = session;
    base.weights.clear();  // trained weights fit one width only
    // Only d_k changes (W_Q, W_K: [d_model, h·d_k]); d_model, d_v and the rest stay the live model's, so every
    // run is as cheap as the live one and the entries of q and k keep their scale.
    base.model.d_k = kGradDk[k];
    if (base.model.projection == Projection::Identity) base.model.projection = Projection::Learned;
    base.decode_steps = 0;
    const std::string at = "d_k = " + std::to_string(kGradDk[k]) + ": ";
    if (sweep_params(base.model) > kGradMaxParams) {
      out.too_big.push_back(kGradDk[k]);
      done += 2 * out.seeds;
      continue;
    }
    if (auto e = validate(base)) {
      if (out.error.empty()) out.error = at + e->message();
      done += 2 * out.seeds;
      continue;
    }
    std::vector<double> per_seed[2];
    double max_weight[2] = {0, 0};
    int max_weight_n[2] = {0, 0}, rows[2] = {0, 0};
    for (int seed = 0; seed < out.seeds; ++seed) {
      WeightCache weights;  // the scaled and unscaled runs of one seed share their weights
      for (const int scaled : {1, 0}) {
        if (progress && !progress(done, total)) {
          out.cancelled = true;
          break;
        }
        ++done;
        Session copy = base;
        copy.seed = session.seed + static_cast<uint64_t>(seed);
        copy.model.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
        Result<Trace> t = run(copy, &weights);
        if (!t) {
          if (out.error.empty()) out.error = at + t.error().message();
          continue;
        }
        if (auto e = add_gradients(copy, *t)) {
          if (out.error.empty()) out.error = at + e->message();
          continue;
        }
        const RunStats r = measure(*t, out.block, copy.model.heads);
        if (r.rows > 0) per_seed[scaled].push_back(r.ratio_sum / r.rows), rows[scaled] += r.rows;
        max_weight[scaled] += r.max_weight, max_weight_n[scaled] += r.heads;
      }
      if (out.cancelled) break;
    }
    out.scaled[k] = pool(per_seed[1], max_weight[1], max_weight_n[1], rows[1]);
    out.unscaled[k] = pool(per_seed[0], max_weight[0], max_weight_n[0], rows[0]);
    if (out.cancelled) break;
  }
  if (progress && !out.cancelled) progress(done, total);
  out.ms = ms_since(start);
  return out;
}

namespace {

// The clause that says how a curve goes from its first to its last value — "stays level (×1.10)", "falls 15×", "falls to 0",
// "rises 2.0×" — for the scaled curve ("core.labs.dk.scaled.*") or the unscaled one ("core.labs.dk.unscaled.*"); empty
// when it cannot say.
std::string trend(bool scaled, double first, double last) {
  if (!(first > 0.0) || !(last >= 0.0)) return "";
  const double f = last / first;
  const auto clause = [&](const char* scaled_key, const char* unscaled_key, const std::string& factor) {
    return i18n::trf(scaled ? scaled_key : unscaled_key, arg("f", factor));
  };
  if (f >= 1.0 / 1.5 && f <= 1.5) return clause("core.labs.dk.scaled.level", "core.labs.dk.unscaled.level", format("%.2f", f));
  if (f < 1.0 && !(last > 0.0)) return clause("core.labs.dk.scaled.falls_to_0", "core.labs.dk.unscaled.falls_to_0", "");
  if (f < 1.0)
    return clause("core.labs.dk.scaled.falls", "core.labs.dk.unscaled.falls", format(1.0 / f >= 10.0 ? "%.0f" : "%.1f", 1.0 / f));
  return clause("core.labs.dk.scaled.rises", "core.labs.dk.unscaled.rises", format(f >= 10.0 ? "%.0f" : "%.1f", f));
}

}  // namespace

std::string dk_gradient_caption(const DkGradientSweep& r) {
  if (r.skipped) return "";
  int first = -1, last = -1;
  for (int k = 0; k < kGradCount; ++k)
    if (std::isfinite(r.scaled[k].mean) && std::isfinite(r.unscaled[k].mean)) {
      if (first < 0) first = k;
      last = k;
    }
  if (first < 0 || last == first) return i18n::tr("core.labs.dk.too_few");
  const DkGradPoint &s0 = r.scaled[first], &s1 = r.scaled[last], &u0 = r.unscaled[first], &u1 = r.unscaled[last];
  const int d_last = kGradDk[last];
  // Whole sentences (and clauses), one key each, put one after the other: an English one ends with its space.
  std::string out = i18n::trf(r.seeds == 1 ? "core.labs.dk.measured_one" : "core.labs.dk.measured", arg("seeds", r.seeds),
                              arg("first", kGradDk[first]), arg("last", d_last), arg("s0", num(s0.mean)), arg("s1", num(s1.mean)),
                              arg("u0", num(u0.mean)), arg("u1", num(u1.mean)));
  if (r.seeds > 1 && std::isfinite(s1.sd) && std::isfinite(u1.sd))
    out += i18n::trf("core.labs.dk.spread", arg("d_k", d_last), arg("s", num(s1.sd)), arg("u", num(u1.sd)));
  out += trend(true, s0.mean, s1.mean);
  out += trend(false, u0.mean, u1.mean);
  const bool overlap = std::isfinite(s1.sd) && std::isfinite(u1.sd) && std::fabs(s1.mean - u1.mean) <= s1.sd + u1.sd;
  if (u1.mean < s1.mean && !overlap) {
    const double f = u1.mean > 0 ? s1.mean / u1.mean : INFINITY;
    out += std::isfinite(f) ? i18n::trf("core.labs.dk.less", arg("d_k", d_last), arg("f", format(f >= 10.0 ? "%.0f" : "%.1f", f)))
                            : i18n::trf("core.labs.dk.none", arg("d_k", d_last));
  } else if (overlap) {
    out += i18n::trf("core.labs.dk.overlap", arg("d_k", d_last), arg("s", num(s1.sd)), arg("u", num(u1.sd)));
  } else {
    out += i18n::trf("core.labs.dk.not_smaller", arg("d_k", d_last));
  }
  return out;
}

}  // namespace qkv::labs
