// QKV Lab core — labs: the softmax of one head, as numbers the Gradients and Scaling tabs (and the CLI) draw.
//   head_scale:             a traced head's scale, from its HeadStats.
//   softmax_jacobian:       J = ∂p/∂z = diag(p) − ppᵀ of one softmax row p (z = S·scale + M, the softmax's input).
//   row_jacobian:           J of a traced head's row r, its statistics, and the chain rule checked against the tape:
//                           ∂L/∂z = J·∂L/∂p and ∂L/∂S = scale·∂L/∂z.
//   head_gradient_summary:  ‖∂L/∂P‖, ‖∂L/∂S‖, ‖∂L/∂Z‖ of a head, and whether every masked cell got exactly 0.
//   head_rows / score_histogram: a head's per-row statistics (from HeadStats) and its unmasked scaled scores, binned.
//   softmax_example:        softmax(s) against softmax(s/√d) for one row (the Scaling tab's worked example).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/trace.h"

namespace qkv::labs {

// [SECTION] The scale of the scores

// Z = S·scale + B + M:  scale = qkv::score_scale(config) (core/config.h), 1/(√d_k·τ) or 1/τ.
using qkv::score_scale;
// The scale a traced head used (HeadStats::scale); NAN when the trace has no statistics for that head.
double head_scale(const Trace&, const std::string& head);
// Whether `scale` includes the 1/√d_k factor, given the head's d_k and the temperature τ: scale·√d_k·τ = 1.
bool scale_includes_sqrt_dk(double scale, int d_k, float temperature);

// [SECTION] The softmax Jacobian of one row

// J_ij = ∂p_i/∂z_j = p_i(δ_ij − p_j)   p: [m] → J: [m, m]. Symmetric; every row and column sums to 0 when Σp = 1.
Mat softmax_jacobian(const RowVec& p);

struct RowJacobian {
  std::string error;        // why there is no Jacobian (no such head or row); empty: the fields below hold
  int row = -1, m = 0;      // query row r, keys m
  RowVec p;                 // [m] row r of P
  Mat J;                    // [m, m] ∂p/∂z = diag(p) − ppᵀ  (∂p/∂S = scale·J)
  double scale = NAN;       // HeadStats::scale of the head
  double entropy = NAN;     // HeadStats::entropy[r] (nats)
  int allowed = 0;          // keys not masked in row r
  double uniform_entropy = NAN;  // log(allowed): the entropy of a uniform row
  double max_p = NAN;
  double frobenius = NAN;   // ‖J‖_F: largest for a flat row, → 0 as the row approaches one-hot
  bool all_masked = false;  // every key masked: p = 0, J = 0
  // The chain rule against the tape's dL/d<head>.S (only with gradients in the trace).
  bool checked = false;
  double check_max_diff = NAN;  // max_j |(J·∂L/∂p)_j − (∂L/∂S)_j ÷ scale|
  double check_largest = NAN;   // max_j |(∂L/∂S)_j ÷ scale|
  bool agrees = false;          // within float rounding: diff ≤ 1e-4·largest + 1e-6
  bool ok() const { return error.empty(); }
};
RowJacobian row_jacobian(const Trace&, const std::string& head, int row);

// [SECTION] The gradient through one head's softmax

struct HeadGradientSummary {
  bool ok = false;          // the head has P, S_masked, dL/dP and dL/dS of the same shape
  double scale = NAN;       // HeadStats::scale
  double norm_dP = NAN, norm_dS = NAN, norm_dZ = NAN;  // Frobenius; ∂L/∂Z = ∂L/∂S ÷ scale
  double ratio = NAN;       // ‖∂L/∂Z‖ / ‖∂L/∂P‖ (NAN when ∂L/∂P = 0)
  long cells = 0;           // cells of S
  int masked = 0;           // −∞ cells of S_masked
  int leaked = 0;           // masked cells with ∂L/∂S ≠ 0 (a bug if ever > 0)
  float worst_leak = 0.0f;  // the largest |∂L/∂S| at a masked cell
};
HeadGradientSummary head_gradient_summary(const Trace&, const std::string& head);

// [SECTION] Score statistics of one head

struct RowStat {
  int allowed = 0;           // keys not masked
  float entropy = NAN;       // HeadStats::entropy (nats); NAN when every key is masked
  float uniform = NAN;       // log(allowed)
  float max_weight = NAN;    // HeadStats::max_weight
};
struct HeadRows {
  const HeadStats* stats = nullptr;  // nullptr: no such head in the trace
  std::vector<RowStat> rows;         // one per query row
};
HeadRows head_rows(const Trace&, const std::string& head);

struct ScoreHistogram {
  long values = 0;            // unmasked cells of S_scaled
  float lo = 0.0f, hi = 0.0f; // bin range (widened by ±0.5 when every value is the same)
  std::vector<float> counts;  // about 2·√values bins, 4 … 30
  long long rows = 0, cols = 0;  // S_scaled's shape
  bool found = false;         // the head has S_scaled and S_masked
};
ScoreHistogram score_histogram(const Trace&, const std::string& head);

// [SECTION] The worked example: one row of scores, as it is and ÷√d

struct SoftmaxExample {
  float scale = 1.0f;          // 1/√d
  RowVec plain, scaled;        // softmax(s), softmax(s·scale)
  float entropy_plain = 0.0f;  // nats
  float entropy_scaled = 0.0f;
};
SoftmaxExample softmax_example(const RowVec& scores, float d);

}  // namespace qkv::labs
