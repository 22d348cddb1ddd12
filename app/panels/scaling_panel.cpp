// QKV Lab app — the Scaling & softmax lab: √d_k, d_k and τ; the selected head's score histogram and row
// statistics; entropy, max weight and Var(q·k) against d_k (a sweep of 1-layer runs); softmax([0.8, 0.1, 0.1])
// against the same scores ÷√3.
//
// [SECTION] The d_k sweep (cached runs)
// [SECTION] Controls
// [SECTION] The selected head
// [SECTION] The sweep plots
// [SECTION] The worked example
#include "app/jobs.h"
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/plot.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/scaling.h"
#include "core/labs/softmax.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

// [SECTION] The d_k sweep (cached runs)

// The sweep itself is core::labs::scaling_sweep (seeded 1-layer copies at d_k = 2 … 256, about half a second). It
// runs on a worker thread (app/jobs.h) and is fully derived from AppState (keyed by the session's JSON), so this
// file-local instance is a cache, not app data. Its Job cancels and joins at exit: the app never waits for a sweep.
using labs::BlockSummary;
using labs::SweepRun;
constexpr const int* kSweepDk = labs::kScalingDk;
constexpr int kSweepCount = labs::kScalingCount;

struct SweepCache {
  std::string key;  // the session `result` is for; empty: no result yet
  labs::ScalingSweep result;
  Job<labs::ScalingSweep> job;
};
SweepCache sweep_cache;

// Picks up a finished sweep and starts one for the session when it changed (cancelling an outdated one). True while
// the result on screen is not the session's.
bool update_sweep(AppState& s) {
  if (auto done = sweep_cache.job.take()) {
    sweep_cache.key = std::move(done->key);
    sweep_cache.result = std::move(done->value);
    // Internal runs never show a raw error on screen; stderr keeps it for tests and bug reports.
    if (!sweep_cache.result.error.empty()) std::fprintf(stderr, "scaling sweep: %s\n", sweep_cache.result.error.c_str());
  } else if (sweep_cache.job.failed()) {  // it threw: not started again for this session
    sweep_cache.key = sweep_cache.job.failed()->key;
    std::fprintf(stderr, "scaling sweep: %s\n", sweep_cache.job.failed()->what.c_str());
    sweep_cache.job.clear_failed();
  }
  const std::string key = to_json(s.session);
  if (key == sweep_cache.key) {
    sweep_cache.job.cancel();  // an edit was undone: the running job is for a session no longer wanted
  } else if (sweep_cache.job.key() != key) {
    const Session session = s.session;
    sweep_cache.job.start(key, [session](JobControl& c) { return labs::scaling_sweep(session, c.progress()); });
  }
  if (sweep_cache.job.running()) {
    s.animating = true;  // the progress moves, and the result must show when it arrives
    ++s.jobs_running;
  }
  return sweep_cache.key != key;
}

void wrapped_disabled(const std::string& text);

// "k of N runs" and a bar for the running sweep.
void sweep_progress(const char* what) {
  const int done = sweep_cache.job.done(), total = sweep_cache.job.total();
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "%d of %d runs", done, total);
  wrapped_disabled(what);
  ImGui::ProgressBar(total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f,
                     ImVec2(std::min(ImGui::GetFontSize() * 16, ImGui::GetContentRegionAvail().x), 0), overlay);
}

float top_of(const std::vector<Series>& series) {
  float top = 1e-3f;
  for (const Series& s : series)
    for (float y : s.y)
      if (std::isfinite(y)) top = std::max(top, y);
  return top;
}

float lookup(const SweepRun& run, const std::string& block, float BlockSummary::*field) {
  const auto it = run.find(block);
  return it == run.end() ? NAN : it->second.*field;
}

void wrapped_disabled(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

// What the entropy curves did, from their first and last measured points (never a claim the data may contradict).
std::string entropy_caption(const Series& on, const Series& off) {
  const auto ends = [](const Series& s, float& first, float& last, int& k0, int& k1) {
    k0 = k1 = -1;
    for (int k = 0; k < static_cast<int>(s.y.size()); ++k)
      if (std::isfinite(s.y[k])) (k0 < 0 ? k0 : k1) = k, k1 = k;
    if (k0 >= 0) first = s.y[k0], last = s.y[k1];
    return k0 >= 0 && k1 > k0;
  };
  float a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  int i0, i1, j0, j1;
  if (!ends(on, a0, a1, i0, i1) || !ends(off, b0, b1, j0, j1)) return "Too few runs were measured to compare the curves.";
  char buf[320];
  std::snprintf(buf, sizeof buf, "Measured mean row entropy from d_k = %g to %g: scaled %.2f → %.2f nats, unscaled %.2f → %.2f nats. ", on.x[i0],
                on.x[i1], a0, a1, b0, b1);
  std::string out = buf;
  if (b1 < 0.5f * a1)
    out += "Unscaled, the scores spread like √d_k and the softmax saturates (entropy toward 0, max weight toward 1), so its gradients "
           "vanish; ÷√d_k keeps the rows soft.";
  else
    out += "Here the unscaled rows do not saturate much more than the scaled ones (short or heavily masked rows leave little room).";
  return out;
}

// [SECTION] Controls

void draw_controls(AppState& s) {
  ModelConfig& c = s.session.model;
  bool scaled = c.score_scale == ScoreScale::InvSqrtDk;
  if (ImGui::Checkbox("divide by √d_k", &scaled)) {
    c.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
    s.dirty = true;
  }
  hover_tip("q·k is a sum of d_k products, so its variance grows like d_k; dividing by √d_k brings it back to about 1");
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  // d_k = 0 means "derived": show what it derives to.
  char format[64];
  if (c.d_k == 0) std::snprintf(format, sizeof format, "0: d_model/h = %d", c.heads > 0 ? c.d_model / c.heads : 0);
  else std::snprintf(format, sizeof format, "%%d");
  if (ImGui::SliderInt("d_k", &c.d_k, 0, 256, format, ImGuiSliderFlags_AlwaysClamp)) s.dirty = true;
  hover_tip("Query/key width per head. Changing it changes the model (new W_Q, W_K); 0 derives d_model/h. RoPE needs an even d_k.");
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 11);
  if (ImGui::SliderFloat("temperature τ", &c.temperature, 0.05f, 5.0f, "%.2f", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp))
    s.dirty = true;
  hover_tip("The scores are divided by τ too: τ < 1 sharpens the softmax towards one-hot, τ > 1 flattens it towards uniform");

  const int dk = c.head_dk();
  if (c.score_scale == ScoreScale::InvSqrtDk)
    ImGui::Text("S_scaled = S / (√d_k · τ) = S / (√%d · %.2f) = S × %.4f", dk, c.temperature, labs::score_scale(c));
  else
    ImGui::Text("scaling off: S_scaled = S / τ = S × %.4f   (d_k = %d stays in the scores' variance)", labs::score_scale(c), dk);
  if (s.trace) {
    const std::string head = paths::head(s.sel.block.path(), s.sel.head);
    const labs::VarianceBreakdown v = labs::variance_breakdown(*s.trace, head);
    if (v.ok) wrapped_disabled(labs::variance_caption(v, labs::scale_includes_sqrt_dk(v.scale, v.d_k, c.temperature)));
  }
  if (s.error) error_text("Not applied: %s. Everything below still shows the last valid model.", s.error->message().c_str());
}

// [SECTION] The selected head

void draw_histogram(const AppState& s, const std::string& head, float width) {
  const Trace& t = *s.trace;
  const HeadStats* st = t.head(head);
  const labs::ScoreHistogram h = labs::score_histogram(t, head);
  if (!h.found || !st) {
    ImGui::TextDisabled("%s: no scores in this configuration", head.c_str());
    return;
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  text_wrapped("S_scaled [%lld × %lld], its %ld unmasked cells: mean %.3f, variance %.3f", h.rows, h.cols, h.values, st->score_mean,
               st->score_variance);
  ImGui::PopTextWrapPos();
  hover_tip("What the softmax sees (before the mask). With √d_k on, the variance stays near 1 for any d_k; off, it grows with d_k.");
  if (h.values == 0) {
    ImGui::TextDisabled("every cell is masked: nothing to histogram");
    return;
  }
  DrawHistogram("scores", h.counts, h.lo, h.hi, "S_scaled = S/(√d_k·τ), unmasked cells", ImVec2(width, 230));
}

void draw_row_table(const AppState& s, const std::string& head, float width) {
  const Trace& t = *s.trace;
  const labs::HeadRows rows = labs::head_rows(t, head);
  const HeadStats* st = rows.stats;
  if (!st || !t.tensors.contains(paths::join(head, "S_masked"))) return;
  const std::vector<std::string>& queries = query_tokens(s, s.sel.block);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  text_wrapped("P rows: mean entropy %.3f nats, mean max weight %.3f", std::max(0.0f, st->mean_entropy), st->mean_max_weight);
  ImGui::PopTextWrapPos();
  hover_tip("Entropy 0 = one-hot (all weight on one key); log(#allowed keys) = uniform. Max weight near 1 = saturated softmax.");
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("rows", 4, flags, ImVec2(width, 230))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("query", ImGuiTableColumnFlags_WidthStretch, 1.2f);
  ImGui::TableSetupColumn("entropy", ImGuiTableColumnFlags_WidthStretch, 0.8f);
  ImGui::TableSetupColumn("uniform", ImGuiTableColumnFlags_WidthStretch, 0.8f);
  ImGui::TableSetupColumn("max weight", ImGuiTableColumnFlags_WidthStretch, 1.4f);
  ImGui::TableHeadersRow();
  for (int i = 0; i < static_cast<int>(rows.rows.size()); ++i) {
    const labs::RowStat& row = rows.rows[i];
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::Text("%d %s", i, i < static_cast<int>(queries.size()) ? queries[i].c_str() : "");
    ImGui::TableNextColumn();
    if (row.allowed == 0) {
      ImGui::TextDisabled("masked");
      ImGui::TableNextColumn();
      ImGui::TableNextColumn();
      ImGui::TextDisabled("all 0");
      continue;
    }
    ImGui::Text("%.3f", row.entropy);
    ImGui::TableNextColumn();
    ImGui::TextDisabled("%.3f", row.uniform);
    ImGui::TableNextColumn();
    char label[16];
    std::snprintf(label, sizeof label, "%.3f", row.max_weight);
    ImGui::ProgressBar(row.max_weight, ImVec2(-1, 0), label);
  }
  ImGui::EndTable();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("uniform = log(#keys this query may see), the largest possible entropy");
}

// [SECTION] The sweep plots

void draw_sweep(AppState& s) {
  const bool stale = update_sweep(s);
  if (sweep_cache.key.empty()) {  // the first sweep: nothing to show yet
    sweep_progress("Computing the sweep on a worker thread…");
    return;
  }
  const labs::ScalingSweep& r = sweep_cache.result;
  BlockRef b = s.sel.block;
  b.layer = 0;
  const std::string block = b.path();
  if (stale && sweep_cache.job.running()) sweep_progress("Recomputing for the new settings (the plots below are the previous ones)…");
  // An outdated result stays on screen, greyed, until the new one arrives.
  ImGui::PushStyleVar(ImGuiStyleVar_Alpha, ImGui::GetStyle().Alpha * (stale ? 0.45f : 1.0f));
  text_wrapped("A 1-layer copy of this model (h = %d, τ = %.2f, same text and masks) run at d_k = 2 … 256, with and without ÷√d_k: "
               "%s, mean over its %d heads and their query rows. Computed in %.0f ms on a worker thread, again only when the session "
               "changes.",
               s.session.model.heads, s.session.model.temperature, block_title(b).c_str(), s.session.model.heads, r.ms);
  if (!r.seeded_note.empty()) wrapped_disabled(r.seeded_note);
  if (r.identity_replaced)
    wrapped_disabled("Identity projections fix d_k = d_model/h, so the sweep's copy uses learned W_Q, W_K instead.");
  if (!r.error.empty()) error_text("Not measured for every d_k (%s); the plots leave those points out.", r.error.c_str());
  Series ent_on{"entropy, scaled", {}, {}, palette(0)}, ent_off{"entropy, unscaled", {}, {}, palette(5)};
  Series max_on{"max weight, scaled", {}, {}, palette(2)}, max_off{"max weight, unscaled", {}, {}, palette(3)};
  Series var{"Var(q·k) measured", {}, {}, palette(2)}, predicted{"d_k·E[q_i²]·E[k_i²]", {}, {}, palette(1)};
  ent_on.points = ent_off.points = max_on.points = max_off.points = var.points = true;
  float uniform = NAN, q_k = NAN;
  double cells = 0.0;
  bool any_masked = false;
  std::vector<float> ratios;
  for (int k = 0; k < kSweepCount; ++k) {
    const float x = static_cast<float>(kSweepDk[k]);
    for (Series* series : {&ent_on, &ent_off, &max_on, &max_off, &var, &predicted}) series->x.push_back(x);
    ent_on.y.push_back(lookup(r.scaled[k], block, &BlockSummary::entropy));
    ent_off.y.push_back(lookup(r.unscaled[k], block, &BlockSummary::entropy));
    max_on.y.push_back(lookup(r.scaled[k], block, &BlockSummary::max_weight));
    max_off.y.push_back(lookup(r.unscaled[k], block, &BlockSummary::max_weight));
    const auto it = r.scaled[k].find(block);  // S does not depend on the scaling: the scaled runs suffice
    const bool found = it != r.scaled[k].end();
    var.y.push_back(found ? it->second.var_S() : NAN);
    predicted.y.push_back(found ? it->second.predicted_var_S(kSweepDk[k]) : NAN);
    ratios.push_back(var.y.back() / x);
    if (found && std::isnan(uniform)) uniform = it->second.uniform, any_masked = it->second.any_masked;
    if (found && k == kSweepCount - 1) q_k = predicted.y.back() / x, cells = it->second.s_count;
  }
  // Reference lines get many points so that the plot's per-segment dashes show.
  const auto reference = [](std::string label, ImU32 color, auto y_of) {
    Series r{std::move(label), {}, {}, color};
    r.dashed = true;
    for (int k = 0; k <= 48; ++k) {
      const float x = 2.0f * std::pow(128.0f, k / 48.0f);
      r.x.push_back(x);
      r.y.push_back(y_of(x));
    }
    return r;
  };
  std::vector<Series> left{ent_on, ent_off, max_on, max_off};
  if (std::isfinite(uniform))
    left.push_back(reference(any_masked ? "uniform: mean log(#allowed keys)" : "log n (uniform)", palette(7), [&](float) { return uniform; }));
  // The current d_k as a vertical marker.
  const int dk = s.session.model.head_dk();
  if (dk >= 2 && dk <= 256)
    left.push_back(Series{"this model's d_k", {static_cast<float>(dk), static_cast<float>(dk)},
                          {0.0f, std::max(1.0f, std::isfinite(uniform) ? uniform : 1.0f)}, palette(4)});
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_left = avail * 0.56f, w_right = avail - w_left - ImGui::GetStyle().ItemSpacing.x;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "sweep";
  pa.x_label = "d_k (log scale)";
  pa.y_label = "entropy (nats) · max weight";
  pa.size = ImVec2(w_left, 290);
  pa.log_x = true;
  pa.y_max = 1.35f * top_of(left);  // headroom for the legend, drawn top right
  pa.y_min = 0.0f;
  DrawLinePlot(pa, left);
  if (!stale) {  // where the finished sweep's plot is (--layout-json): tests check that it arrives
    const ImVec2 p0 = ImGui::GetItemRectMin(), p1 = ImGui::GetItemRectMax();
    s.drawn_heatmaps.push_back({"plot:scaling.dk-sweep", p0.x, p0.y, p1.x, p1.y, 0, 0});
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_left);
  wrapped_disabled(entropy_caption(ent_on, ent_off));
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  PlotArgs pv;
  pv.id = "variance";
  pv.x_label = "d_k (log scale)";
  pv.y_label = "Var(q·k), S over unmasked cells";
  pv.size = ImVec2(w_right, 290);
  pv.log_x = true;
  const std::vector<Series> right{var, predicted, reference("y = d_k (unit-variance q, k)", palette(7), [](float x) { return x; })};
  pv.y_max = 1.45f * top_of(right);  // the curves rise to the right, where the legend is
  pv.y_min = 0.0f;
  DrawLinePlot(pv, right);
  char buf[64];
  std::snprintf(buf, sizeof buf, "measured Var(q·k)/d_k (%.0f cells):", cells);
  std::string line = buf;
  for (int k = 0; k < kSweepCount; ++k) {
    if (std::isfinite(ratios[k])) std::snprintf(buf, sizeof buf, " %.2f", ratios[k]);
    else std::snprintf(buf, sizeof buf, " —");
    line += buf;
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_right);
  wrapped_disabled(line);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("One number per d_k of the sweep (2 … 256), over the unmasked cells of S of every head. Constant means Var(q·k)\n"
                      "grows exactly like d_k; with few cells (short sentences) the estimate is noisy; — : fewer than 2 cells.");
  if (s.session.model.scoring == Scoring::Additive) {
    wrapped_disabled("Additive scoring: S = w_aᵀ tanh(q + k) is not a dot product, so its variance need not grow with d_k.");
  } else if (!std::isfinite(q_k)) {
    wrapped_disabled("q·k = Σ q_i k_i adds d_k products, so Var(q·k) = d_k·E[q_i²]·E[k_i²] grows like d_k.");
  } else {
    char text[320];
    std::snprintf(text, sizeof text, "q·k = Σ q_i k_i adds d_k products, so Var(q·k) = d_k·E[q_i²]·E[k_i²]: exactly d_k when the entries "
                  "have variance 1; here E[q_i²]·E[k_i²] ≈ %.2f, a constant. Dividing by √d_k removes the growth.", q_k);
    wrapped_disabled(text);
  }
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
  ImGui::PopStyleVar();
}

// [SECTION] The worked example

// The three scores and the divisor's d are this lab's own inputs, kept in ImGui's per-window storage (like a tree
// node's open state) rather than in AppState or a static.
void draw_example() {
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID ids[3] = {ImGui::GetID("example.s1"), ImGui::GetID("example.s2"), ImGui::GetID("example.s3")};
  const ImGuiID d_id = ImGui::GetID("example.d");
  const float defaults[3] = {0.8f, 0.1f, 0.1f};
  float scores[3];
  for (int j = 0; j < 3; ++j) scores[j] = storage->GetFloat(ids[j], defaults[j]);
  float d = storage->GetFloat(d_id, 3.0f);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  ImGui::InputFloat3("scores", scores, "%.2f");
  hover_tip("Three scores of one query row (any numbers)");
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  ImGui::InputFloat("d (divide by √d)", &d, 1.0f, 10.0f, "%g");
  hover_tip("The d_k of the example: the scores are divided by √d before the softmax");
  for (int j = 0; j < 3; ++j) storage->SetFloat(ids[j], scores[j] = std::isfinite(scores[j]) ? std::clamp(scores[j], -1e4f, 1e4f) : 0.0f);
  storage->SetFloat(d_id, d = std::isfinite(d) ? std::clamp(d, 1.0f, 1e6f) : 3.0f);
  RowVec S(3);
  for (int j = 0; j < 3; ++j) S[j] = scores[j];
  const labs::SoftmaxExample ex = labs::softmax_example(S, d);
  std::vector<std::string> labels(3);
  for (int j = 0; j < 3; ++j) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "s%d = %.2f", j + 1, S[j]);
    labels[j] = buf;
  }
  const float half = ImGui::GetContentRegionAvail().x * 0.5f - 8.0f;
  ImGui::BeginGroup();
  ImGui::Text("softmax(s)   entropy %.4f nats", ex.entropy_plain);
  DrawRowBars("plain", ex.plain, labels, std::min(half, 420.0f));
  ImGui::EndGroup();
  ImGui::SameLine(0, 30);
  ImGui::BeginGroup();
  ImGui::Text("softmax(s / √%g) = softmax(s × %.4f)   entropy %.4f nats", d, ex.scale, ex.entropy_scaled);
  DrawRowBars("scaled", ex.scaled, labels, std::min(half, 420.0f));
  ImGui::EndGroup();
  ImGui::Text("largest weight %.4f → %.4f, entropy %.4f → %.4f nats", ex.plain.maxCoeff(), ex.scaled.maxCoeff(), ex.entropy_plain, ex.entropy_scaled);
  text_wrapped("Dividing by √d shrinks every gap between the scores by the same factor, so the softmax gets flatter. In a real head "
                     "the gaps grow like √d_k, so without this division a wide head puts almost all its weight on one key (the curves above).");
}

}  // namespace

void DrawScalingPanel(AppState& s) {
  if (!s.trace) return;
  draw_controls(s);

  heading("This model: the selected head");
  BlockSelector(s);
  ImGui::SameLine();
  HeadSelector(s);
  const std::string head = paths::head(s.sel.block.path(), s.sel.head);
  const float avail = ImGui::GetContentRegionAvail().x;
  const float half = (avail - ImGui::GetStyle().ItemSpacing.x) * 0.5f;
  ImGui::BeginGroup();
  draw_histogram(s, head, half);
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  draw_row_table(s, head, half);
  ImGui::EndGroup();

  heading("Entropy, max weight and Var(q·k) against d_k");
  draw_sweep(s);

  heading("Worked example: softmax of three scores, as they are and ÷ √d (default [0.8, 0.1, 0.1] and d = 3)");
  draw_example();
}

}  // namespace qkv::app
