// QKV Lab core — labs: the √d_k experiments, as functions the Scaling and Gradients tabs (and tests) call.
//   scaling_sweep:        1-layer copies of a session at d_k = 2 … 256, scaled and unscaled: entropy, max weight,
//                         Var(q·k) measured and predicted (d_k·E[q_i²]·E[k_i²]) per attention block.
//   variance_breakdown:   the same numbers for one head of a trace, and variance_caption, the sentence that quotes them.
//   dk_gradient_sweep:    "why √d_k": ‖∂L/∂Z_r‖ / ‖∂L/∂P_r‖ per query row r (Z = S·scale + M, the softmax's input), averaged
//                         over rows, heads and several seeds, with its spread; dk_gradient_caption says what was measured.
// Every run of a sweep uses seeded weights: a trained file fits one width only (the Session says which weights it
// wants; the result's `seeded_note` says that they were replaced, so the UI can say so).
// Captions, notes and errors are in the current language (assets/i18n/core_labs.json): a caption in the language it is
// asked in, a sweep's `seeded_note` and `error` in the language of the moment the sweep ran.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "core/trace.h"

namespace qkv::labs {

// A sweep calls its Progress before each run and once at its end with (runs done, runs in all); returning false
// stops it before its next run: it returns what it has, with `cancelled` set.
using qkv::Progress;

// [SECTION] The d_k sweep of the Scaling tab

// One attention block of one run, pooled over its h heads (sequence 0).
struct BlockSummary {
  float entropy = 0.0f;     // mean over heads of the mean row entropy (nats)
  float max_weight = 0.0f;  // mean over heads of the mean largest weight per row
  float uniform = 0.0f;     // mean over rows of log(#allowed keys): the entropy of uniform attention
  bool any_masked = false;  // some cell is −∞ (so "uniform" is not simply log m)
  double s_sum = 0.0, s_sq = 0.0, s_count = 0.0;                 // S = Q·Kᵀ over unmasked cells, pooled over heads
  double q_sq = 0.0, q_count = 0.0, k_sq = 0.0, k_count = 0.0;  // entries of Q and K, pooled over heads
  int heads = 0;
  float var_S() const;  // NAN with fewer than 2 cells
  float mean_q2() const;
  float mean_k2() const;
  // Var(q·k) = Σ_i Var(q_i k_i) ≈ d_k·E[q_i²]·E[k_i²] for independent zero-mean entries.
  float predicted_var_S(int d_k) const;
};
using SweepRun = std::map<std::string, BlockSummary>;  // by block path, e.g. "encoder.0.self_attn"
SweepRun summarize(const Trace&);

inline constexpr int kScalingDk[] = {2, 4, 8, 16, 32, 64, 128, 256};
inline constexpr int kScalingCount = static_cast<int>(sizeof(kScalingDk) / sizeof(kScalingDk[0]));

struct ScalingSweep {
  SweepRun scaled[kScalingCount], unscaled[kScalingCount];
  std::string error;        // the first run that failed, with its d_k (empty: all ran)
  std::string seeded_note;  // non-empty when the session's trained weights were replaced by seeded ones
  bool identity_replaced = false;  // identity projections tie d_k to d_model/h: the copies learn W_Q, W_K
  bool cancelled = false;          // `progress` stopped it: some runs are missing
  double ms = 0.0;
};
// A 1-layer copy of the session (same text, masks, h, τ; seeded weights) at each d_k, with and without ÷√d_k
// (2 × kScalingCount runs).
ScalingSweep scaling_sweep(const Session&, const Progress& progress = {});

// [SECTION] One head's score variance, and the caption that quotes it

struct VarianceBreakdown {
  bool ok = false;          // the head exists and has ≥ 2 unmasked cells
  int d_k = 0;              // columns of Q
  double cells = 0;         // unmasked cells of S
  double var_S = NAN;       // Var(S) over unmasked cells, S = QKᵀ (raw)
  double var_scaled = NAN;  // Var(S_scaled) over the same cells: what the histogram shows
  double mean_q2 = NAN, mean_k2 = NAN;  // E[q_i²], E[k_i²] over the entries of Q and K
  double scale = NAN;       // HeadStats::scale: 1/(√d_k·τ), or 1/τ without √d_k
  double predicted_var_S() const { return d_k * mean_q2 * mean_k2; }
  double predicted_var_scaled() const { return predicted_var_S() * scale * scale; }
};
VarianceBreakdown variance_breakdown(const Trace&, const std::string& head);
// One or two sentences quoting the measured variance and the prediction d_k·E[q²]·E[k²] (scaled by scale²), and why
// it is not d_k when q and k are not unit-variance. `scaled`: √d_k scaling is on.
std::string variance_caption(const VarianceBreakdown&, bool scaled);

// [SECTION] "Why √d_k": the gradient through the softmax against d_k

inline constexpr int kGradDk[] = {4, 8, 16, 32, 64, 128, 256};
inline constexpr int kGradCount = static_cast<int>(sizeof(kGradDk) / sizeof(kGradDk[0]));
inline constexpr int kGradMaxTokens = 64;
inline constexpr double kGradMaxParams = 3.2e7;  // runs above this many weights are skipped (seconds each)

struct DkGradPoint {
  float mean = NAN;        // mean over seeds of (mean over heads and rows of ‖∂L/∂Z_r‖ / ‖∂L/∂P_r‖)
  float sd = NAN;          // standard deviation of the per-seed means
  float lo = NAN, hi = NAN;  // smallest and largest per-seed mean
  float max_weight = NAN;  // mean over seeds and heads of the mean largest weight per row
  int seeds = 0;           // runs that gave a number
  int rows = 0;            // rows averaged, over all seeds
};
struct DkGradientSweep {
  std::string block;  // the first attention block
  int heads = 0;
  float temperature = 1.0f;
  int model_dk = 0;
  int seeds = 0;
  DkGradPoint scaled[kGradCount], unscaled[kGradCount];
  std::string error;
  std::vector<int> too_big;  // the d_k skipped for their size
  std::string seeded_note;   // non-empty when the session's trained weights were replaced by seeded ones
  bool additive = false;
  bool identity_replaced = false;  // identity projections tie d_k to d_model/h: the copies learn W_Q, W_K
  bool skipped = false;      // too many tokens
  bool cancelled = false;    // `progress` stopped it: some runs are missing
  double ms = 0.0;
};
// The session with d_k = 4 … 256 (d_model, d_v, layers, text and loss unchanged; seeded weights, seeds session.seed, +1, …),
// each run with its gradients. Identity projections (which tie d_k to d_model/h) become learned ones.
// 2 × kGradCount × seeds runs; `progress` counts them.
DkGradientSweep dk_gradient_sweep(const Session&, int seeds = 4, const Progress& progress = {});
// What the two curves show, from their numbers: "scaled 0.31 → 0.29, unscaled 0.30 → 0.02 (d_k = 4 → 256) …".
std::string dk_gradient_caption(const DkGradientSweep&);

}  // namespace qkv::labs
