#include "core/attention.h"

#include "core/ops.h"

namespace qkv {

HeadPasses attention_head(const MatRef& Q, const MatRef& K, const MatRef& V, Scoring scoring, const RowVec* w_a, float scale,
                          const Mat& bias_and_mask, Rng* dropout_rng, float dropout_p) {
  const Eigen::Index n = Q.rows(), m = K.rows();
  QKV_ASSERT(K.cols() == Q.cols() && V.rows() == m && bias_and_mask.rows() == n && bias_and_mask.cols() == m);
  HeadPasses r;
  // Pass 3 — scores: S = Q·Kᵀ [n, m], or additive S_ij = w_aᵀ tanh(q_i + k_j) (Bahdanau et al. 2015)
  r.S.resize(n, m);
  if (scoring == Scoring::Dot) {
    r.S.noalias() = Q * K.transpose();
  } else {
    QKV_ASSERT(w_a && w_a->size() == Q.cols());
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < m; ++j) r.S(i, j) = (Q.row(i) + K.row(j)).array().tanh().matrix().dot(*w_a);
  }
  // Pass 4 — scale: S_scaled = S/(√d_k·τ)
  r.S_scaled = r.S * scale;
  // Pass 5 — bias and mask: S_masked = S_scaled + B + M
  r.S_masked = r.S_scaled + bias_and_mask;
  // Pass 6 — softmax over each row, the scale and the mask as explicit arguments
  r.P = softmax_rows(r.S, scale, &bias_and_mask, &r.fully_masked_rows);
  // Pass 7 — dropout on the weights (training only), then Pass 8 — weighted sum O = P·V [n, d_v]
  if (dropout_rng && dropout_p > 0.0f) {
    r.P_dropout = dropout(r.P, dropout_p, *dropout_rng);
    r.O.noalias() = r.P_dropout * V;
  } else {
    r.O.noalias() = r.P * V;
  }
  return r;
}

}  // namespace qkv
