// Tests' reference for one attention head: the kernels of core/ops.h (scores, softmax with its scale and mask, dropout,
// the softmax backward) composed by hand in the order the passes run them, for hand-computed checks. The model
// itself runs them through core/passes.h only; this composition lives here, not in core/, so that core has one.
#pragma once

#include <vector>

#include "core/config.h"
#include "core/ops.h"
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

// Gradients of one dot-product head (no dropout), the backward of attention_head's passes 3–8.
template <typename T>
struct HeadGrads {
  MatT<T> dP;  // [n, m]   dL/dP = dO·Vᵀ
  MatT<T> dS;  // [n, m]   dL/dS (raw scores, before ·scale and +M); masked cells are exactly 0
  MatT<T> dQ;  // [n, d_k] dS·K
  MatT<T> dK;  // [m, d_k] dSᵀ·Q
  MatT<T> dV;  // [m, d_v] Pᵀ·dO
};

// O = softmax(score(Q, K)·scale + bias_and_mask)·V     Q: [n, d_k], K: [m, d_k], V: [m, d_v]
// bias_and_mask: [n, m] (0 where allowed, −∞ where masked, plus any ALiBi bias).
// w_a: [1, d_k] for additive scoring (ignored for dot). dropout_rng: non-null to drop weights with p.
inline HeadPasses attention_head(const MatRef& Q, const MatRef& K, const MatRef& V, Scoring scoring, const RowVec* w_a, float scale,
                                 const Mat& bias_and_mask, Rng* dropout_rng = nullptr, float dropout_p = 0.0f) {
  const Eigen::Index n = Q.rows(), m = K.rows();
  QKV_ASSERT(K.cols() == Q.cols() && V.rows() == m && bias_and_mask.rows() == n && bias_and_mask.cols() == m);
  HeadPasses r;
  // Pass 3 — scores: S = Q·Kᵀ [n, m], or additive S_ij = w_aᵀ tanh(q_i + k_j) (Bahdanau et al. 2015)
  if (scoring == Scoring::Dot) {
    r.S.noalias() = Q * K.transpose();
  } else {
    QKV_ASSERT(w_a && w_a->size() == Q.cols());
    r.S = additive_scores_t<float>(Q, K, *w_a);
  }
  // Pass 4 — scale: S_scaled = S/(√d_k·τ)
  r.S_scaled = r.S * scale;
  // Pass 5 — bias and mask: S_masked = S_scaled + B + M
  r.S_masked = r.S_scaled + bias_and_mask;
  // Pass 6 — softmax over each row, the scale and the mask as explicit arguments
  r.P = softmax_rows_t<float>(r.S, scale, &bias_and_mask, &r.fully_masked_rows);
  // Pass 7 — dropout on the weights (training only), then Pass 8 — weighted sum O = P·V [n, d_v]
  if (dropout_rng && dropout_p > 0.0f) {
    r.P_dropout = dropout(r.P, dropout_p, *dropout_rng);
    r.O.noalias() = r.P_dropout * V;
  } else {
    r.O.noalias() = r.P * V;
  }
  return r;
}

// Given the forward's Q, K, V and P = softmax(Q·Kᵀ·scale + M) and the upstream dL/dO, every gradient of the head.
template <typename T>
HeadGrads<T> attention_head_backward(const MatT<T>& Q, const MatT<T>& K, const MatT<T>& V, const MatT<T>& P, T scale, const MatT<T>& dO) {
  QKV_ASSERT(P.rows() == Q.rows() && P.cols() == K.rows() && dO.rows() == Q.rows() && dO.cols() == V.cols());
  HeadGrads<T> g;
  // Pass 8 backward — O = P·V:  dP = dO·Vᵀ [n, m],  dV = Pᵀ·dO [m, d_v]
  g.dP.noalias() = dO * V.transpose();
  g.dV.noalias() = P.transpose() * dO;
  // Passes 6–4 backward — P = softmax(S·scale + M): dS = scale · P ⊙ (dP − rowsum(P ⊙ dP))
  g.dS = softmax_rows_backward<T>(P, g.dP, scale);
  // Pass 3 backward — S = Q·Kᵀ:  dQ = dS·K [n, d_k],  dK = dSᵀ·Q [m, d_k]
  g.dQ.noalias() = g.dS * K;
  g.dK.noalias() = g.dS.transpose() * Q;
  return g;
}

}  // namespace qkv
