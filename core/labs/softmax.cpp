#include "core/labs/softmax.h"

#include <algorithm>
#include <cmath>

#include "core/i18n.h"
#include "core/ops.h"
#include "core/paths.h"

namespace qkv::labs {
namespace {

double frobenius(const Mat& M) { return M.cast<double>().norm(); }
bool is_masked(float v) { return std::isinf(v) && v < 0; }

}  // namespace

// [SECTION] The scale of the scores

double head_scale(const Trace& t, const std::string& head) {
  const HeadStats* st = t.head(head);
  return st ? static_cast<double>(st->scale) : NAN;
}

bool scale_includes_sqrt_dk(double scale, int d_k, float temperature) {
  return std::fabs(scale * std::sqrt(static_cast<double>(std::max(1, d_k))) * temperature - 1.0) < 1e-3;
}

// [SECTION] The softmax Jacobian of one row

Mat softmax_jacobian(const RowVec& p) {
  // J = diag(p) − pᵀp   (p a row vector)
  Mat J = -(p.transpose() * p);
  J.diagonal() += p.transpose();
  return J;
}

RowJacobian row_jacobian(const Trace& t, const std::string& head, int row) {
  RowJacobian r;
  const Mat* P = t.tensors.find(paths::join(head, "P"));
  const HeadStats* st = t.head(head);
  if (!P || !st) {
    r.error = i18n::trf("core.labs.softmax.no_head", i18n::arg("head", head));
    return r;
  }
  if (row < 0 || row >= P->rows()) {
    r.error = i18n::trf("core.labs.softmax.row_outside", i18n::arg("row", row), i18n::arg("head", head),
                        i18n::arg("last", static_cast<long>(P->rows() - 1)));
    return r;
  }
  r.row = row;
  r.m = static_cast<int>(P->cols());
  r.p = P->row(row);
  r.J = softmax_jacobian(r.p);
  r.scale = st->scale;
  r.max_p = r.p.size() ? r.p.maxCoeff() : 0.0;
  r.frobenius = frobenius(r.J);
  r.all_masked = r.p.sum() == 0.0f;
  if (const Mat* S_masked = t.tensors.find(paths::join(head, "S_masked")))
    for (int j = 0; j < r.m && row < S_masked->rows() && j < S_masked->cols(); ++j) r.allowed += is_masked((*S_masked)(row, j)) ? 0 : 1;
  else
    r.allowed = r.m;
  r.uniform_entropy = std::log(static_cast<double>(std::max(r.allowed, 1)));
  r.entropy = row < st->entropy.size() ? std::max(0.0, static_cast<double>(st->entropy[row])) : NAN;

  // The chain rule, checked: ∂L/∂z = J·∂L/∂p, and ∂L/∂S = scale·∂L/∂z.
  const Mat* dP = t.tensors.find(paths::grad(paths::join(head, "P")));
  const Mat* dS = t.tensors.find(paths::grad(paths::join(head, "S")));
  if (dP && dS && row < dP->rows() && row < dS->rows() && dP->cols() == r.m && dS->cols() == r.m && r.scale != 0.0) {
    const Eigen::VectorXd g = dP->row(row).transpose().cast<double>();
    const Eigen::VectorXd Jg = r.J.cast<double>() * g;
    double diff = 0.0, largest = 0.0;
    for (int j = 0; j < r.m; ++j) {
      const double z = static_cast<double>((*dS)(row, j)) / r.scale;
      diff = std::max(diff, std::fabs(Jg[j] - z));
      largest = std::max(largest, std::fabs(z));
    }
    r.checked = true;
    r.check_max_diff = diff;
    r.check_largest = largest;
    r.agrees = std::isfinite(diff) && diff <= 1e-4 * largest + 1e-6;
  }
  return r;
}

// [SECTION] The gradient through one head's softmax

HeadGradientSummary head_gradient_summary(const Trace& t, const std::string& head) {
  HeadGradientSummary g;
  const Mat* P = t.tensors.find(paths::join(head, "P"));
  const Mat* S_masked = t.tensors.find(paths::join(head, "S_masked"));
  const Mat* dP = t.tensors.find(paths::grad(paths::join(head, "P")));
  const Mat* dS = t.tensors.find(paths::grad(paths::join(head, "S")));
  g.scale = head_scale(t, head);
  if (!P || !S_masked || !dP || !dS || dS->rows() != S_masked->rows() || dS->cols() != S_masked->cols()) return g;
  g.ok = true;
  g.cells = static_cast<long>(S_masked->size());
  // Masked cells: −∞ in S_masked, so p = 0 there and the Jacobian's row and column vanish: ∂L/∂S = 0 exactly.
  for (Eigen::Index k = 0; k < S_masked->size(); ++k) {
    if (!is_masked(S_masked->data()[k])) continue;
    ++g.masked;
    const float d = dS->data()[k];
    if (d != 0.0f) ++g.leaked, g.worst_leak = std::max(g.worst_leak, std::fabs(d));
  }
  g.norm_dP = frobenius(*dP);
  g.norm_dS = frobenius(*dS);
  g.norm_dZ = g.norm_dS / g.scale;  // ∂L/∂S = scale·∂L/∂Z
  g.ratio = g.norm_dP > 0 ? g.norm_dZ / g.norm_dP : NAN;
  return g;
}

// [SECTION] Score statistics of one head

HeadRows head_rows(const Trace& t, const std::string& head) {
  HeadRows out;
  out.stats = t.head(head);
  if (!out.stats) return out;
  const Mat* S_masked = t.tensors.find(paths::join(head, "S_masked"));
  const int n = static_cast<int>(out.stats->entropy.size());
  out.rows.resize(n);
  for (int i = 0; i < n; ++i) {
    RowStat& r = out.rows[i];
    if (S_masked && i < S_masked->rows())
      for (Eigen::Index j = 0; j < S_masked->cols(); ++j) r.allowed += is_masked((*S_masked)(i, j)) ? 0 : 1;
    if (r.allowed == 0) continue;
    r.entropy = std::max(0.0f, out.stats->entropy[i]);  // no "−0.000" from rounding in a one-hot row
    r.uniform = std::log(static_cast<float>(r.allowed));
    r.max_weight = i < out.stats->max_weight.size() ? out.stats->max_weight[i] : NAN;
  }
  return out;
}

ScoreHistogram score_histogram(const Trace& t, const std::string& head) {
  ScoreHistogram h;
  const Mat* S_scaled = t.tensors.find(paths::join(head, "S_scaled"));
  const Mat* S_masked = t.tensors.find(paths::join(head, "S_masked"));
  if (!S_scaled || !S_masked || S_scaled->size() != S_masked->size()) return h;
  h.found = true;
  h.rows = S_scaled->rows();
  h.cols = S_scaled->cols();
  std::vector<float> values;
  for (Eigen::Index k = 0; k < S_scaled->size(); ++k)
    if (std::isfinite(S_masked->data()[k]) && std::isfinite(S_scaled->data()[k])) values.push_back(S_scaled->data()[k]);
  h.values = static_cast<long>(values.size());
  if (values.empty()) return h;
  h.lo = *std::min_element(values.begin(), values.end());
  h.hi = *std::max_element(values.begin(), values.end());
  if (h.hi - h.lo < 1e-6f) h.lo -= 0.5f, h.hi += 0.5f;
  // About two bins per √count: enough shape for 144 cells, not a comb for 9.
  const int bins = std::clamp(static_cast<int>(2.0 * std::sqrt(static_cast<double>(values.size()))), 4, 30);
  h.counts.assign(bins, 0.0f);
  for (float v : values) h.counts[std::clamp(static_cast<int>((v - h.lo) / (h.hi - h.lo) * bins), 0, bins - 1)] += 1.0f;
  return h;
}

// [SECTION] The worked example

SoftmaxExample softmax_example(const RowVec& scores, float d) {
  SoftmaxExample e;
  e.scale = 1.0f / std::sqrt(std::max(d, 1e-12f));
  const Mat S = scores;  // [1, m]
  const Mat P_plain = softmax_rows(S, 1.0f, nullptr), P_scaled = softmax_rows(S, e.scale, nullptr);
  e.plain = P_plain.row(0);
  e.scaled = P_scaled.row(0);
  e.entropy_plain = row_entropy(P_plain)[0];
  e.entropy_scaled = row_entropy(P_scaled)[0];
  return e;
}

}  // namespace qkv::labs
