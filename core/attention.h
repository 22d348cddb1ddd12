// QKV Lab core — one attention head, as the labelled passes the stepper and the lessons use.
#pragma once

#include <vector>

#include "core/config.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace qkv {

// Every intermediate of one head.   n queries, m keys.
struct HeadPasses {
  Mat S;          // [n, m] scores: Q·Kᵀ, or additive w_aᵀ tanh(q_i + k_j)
  Mat S_scaled;   // [n, m] S·scale (scale = 1/(√d_k·τ), or 1/τ with scaling off)
  Mat S_masked;   // [n, m] S_scaled + bias_and_mask (ALiBi bias and the −∞ mask)
  Mat P;          // [n, m] softmax rows of S_masked; fully masked rows are zeros
  Mat P_dropout;  // [n, m] P after dropout (training only; empty otherwise)
  Mat O;          // [n, d_v] P·V (with dropout applied when training)
  std::vector<int> fully_masked_rows;
};

// O = softmax(score(Q, K)·scale + bias_and_mask)·V     Q: [n, d_k], K: [m, d_k], V: [m, d_v]
// bias_and_mask: [n, m] (0 where allowed, −∞ where masked, plus any ALiBi bias).
// w_a: [1, d_k] for additive scoring (ignored for dot). dropout_rng: non-null to drop weights with p.
HeadPasses attention_head(const MatRef& Q, const MatRef& K, const MatRef& V, Scoring scoring, const RowVec* w_a, float scale,
                          const Mat& bias_and_mask, Rng* dropout_rng = nullptr, float dropout_p = 0.0f);

}  // namespace qkv
