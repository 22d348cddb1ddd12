#include "core/attention.h"

#include "core/ops.h"

namespace qkv {

HeadPasses attention_head(const MatRef& Q, const MatRef& K, const MatRef& V, Scoring scoring, const RowVec* w_a, float scale,
                          const Mat& bias_and_mask, Rng* dropout_rng, float dropout_p) {
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

template HeadGrads<float> attention_head_backward<float>(const MatT<float>&, const MatT<float>&, const MatT<float>&, const MatT<float>&,
                                                         float, const MatT<float>&);
template HeadGrads<double> attention_head_backward<double>(const MatT<double>&, const MatT<double>&, const MatT<double>&,
                                                           const MatT<double>&, double, const MatT<double>&);

}  // namespace qkv
