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

// Gradients of one dot-product head (no dropout), the backward of attention_head's passes 3–8.
template <typename T>
struct HeadGrads {
  MatT<T> dP;  // [n, m]   dL/dP = dO·Vᵀ
  MatT<T> dS;  // [n, m]   dL/dS (raw scores, before ·scale and +M); masked cells are exactly 0
  MatT<T> dQ;  // [n, d_k] dS·K
  MatT<T> dK;  // [m, d_k] dSᵀ·Q
  MatT<T> dV;  // [m, d_v] Pᵀ·dO
};

// Given the forward's Q, K, V and P = softmax(Q·Kᵀ·scale + M) and the upstream dL/dO, every gradient of the head.
template <typename T>
HeadGrads<T> attention_head_backward(const MatT<T>& Q, const MatT<T>& K, const MatT<T>& V, const MatT<T>& P, T scale, const MatT<T>& dO);

}  // namespace qkv
