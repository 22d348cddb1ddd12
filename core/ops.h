// QKV Lab core — the row-wise ops of a Transformer block: softmax with explicit scale and mask, norms,
// activations, dropout. Each is also checked against a naive loop version in tests/ops_test.cpp.
#pragma once

#include <vector>

#include "core/config.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace qkv {

// P = softmax(S·scale + M), row by row.   S, M: [n, m]; M is 0 (allowed) or −∞ (masked); null = no mask.
// Each row subtracts its max before exp, so huge logits never overflow. A row with every cell masked has
// no distribution: it becomes all zeros and its index is appended to fully_masked_rows (never NaN).
Mat softmax_rows(const MatRef& S, float scale, const Mat* M, std::vector<int>* fully_masked_rows = nullptr);
// The same for float and double (MatD is for gradient checks); softmax_rows above calls softmax_rows_t<float>.
template <typename T>
MatT<T> softmax_rows_t(const MatT<T>& S, T scale, const MatT<T>* M, std::vector<int>* fully_masked_rows = nullptr);

// Additive scores (Bahdanau et al. 2015): S_ij = w_aᵀ tanh(q_i + k_j).   Q: [n, d], K: [m, d], w_a: [1, d] -> [n, m]
template <typename T>
MatT<T> additive_scores_t(const MatT<T>& Q, const MatT<T>& K, const MatT<T>& w_a);

// Backward of P = softmax(S·scale + M) row by row: given P and dL/dP, returns dL/dS.
//   dZ_ij = P_ij·(dP_ij − Σ_k P_ik·dP_ik)   (the Jacobian diag(p) − p·pᵀ applied to each row), dS = scale·dZ.
// Masked cells (P = 0) and fully masked rows (all 0) get exactly zero gradient.
template <typename T>
MatT<T> softmax_rows_backward(const MatT<T>& P, const MatT<T>& dP, T scale);

// Shannon entropy (nats) of each row of P: [n, m] -> [n]; zero rows give 0.
RowVec row_entropy(const MatRef& P);

// LayerNorm: each row normalised over its d_model features.   X: [rows, d_model]
Mat layer_norm(const MatRef& X, const RowVec& gamma, const RowVec& beta, float eps);
// RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) · γ, per row.
Mat rms_norm(const MatRef& X, const RowVec& gamma, float eps);
// BatchNorm: each feature (column) normalised over every row of the batch (all tokens of all sequences).
// Always batch statistics, so mean/var show what BN computes; *mean, *var: [1, d_model].
Mat batch_norm(const MatRef& X, const RowVec& gamma, const RowVec& beta, float eps, RowVec* mean, RowVec* var);
// Dispatch by kind (None returns X). mean/var are written for BatchNorm only.
Mat apply_norm(NormKind, const MatRef& X, const RowVec& gamma, const RowVec& beta, float eps, RowVec* mean = nullptr,
               RowVec* var = nullptr);

Mat relu(const MatRef& X);
// GELU, exact form x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (Hendrycks & Gimpel 2016), or with tanh_form its tanh approximation
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GPT-2's "gelu_new"; the two differ by up to 4.7e-4, near x = −2.7).
Mat gelu(const MatRef& X, bool tanh_form = false);
Mat activate(Activation, const MatRef& X);

// [SECTION] Float64-capable versions and backward functions (gradient checks run in double).
template <typename T>
using RowT = Eigen::Matrix<T, 1, Eigen::Dynamic>;

template <typename T>
MatT<T> layer_norm_t(const MatT<T>& X, const RowT<T>& gamma, const RowT<T>& beta, T eps);
template <typename T>
MatT<T> rms_norm_t(const MatT<T>& X, const RowT<T>& gamma, T eps);
// BatchNorm's statistics, computed in this one place: per column c over every row of X (all tokens of the batch),
// μ_c, the biased σ²_c, 1/√(σ²_c + eps) and x̂ = (x − μ_c)/√(σ²_c + eps).   X: [N, d]
template <typename T>
struct BatchStats {
  RowT<T> mean, var, inv_sigma;  // [d]
  MatT<T> x_hat;                 // [N, d]
};
template <typename T>
BatchStats<T> batch_stats_t(const MatT<T>& X, T eps);
template <typename T>
MatT<T> gelu_t(const MatT<T>& X, bool tanh_form = false);

template <typename T>
struct NormGrads {
  MatT<T> dX;      // [rows, d_model]
  RowT<T> dgamma;  // [d_model]
  RowT<T> dbeta;   // [d_model] (zero-size for RMSNorm)
};
// LayerNorm: x̂ = (x − μ)/σ, y = γ ⊙ x̂ + β;  dX = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), dx̂ = dY ⊙ γ (per row).
template <typename T>
NormGrads<T> layer_norm_backward(const MatT<T>& X, const RowT<T>& gamma, T eps, const MatT<T>& dY);
// RMSNorm: x̂ = x/r, r = √(mean(x²) + eps), y = γ ⊙ x̂;  dX = (1/r)·(dx̂ − x̂·mean(dx̂ ⊙ x̂)).
template <typename T>
NormGrads<T> rms_norm_backward(const MatT<T>& X, const RowT<T>& gamma, T eps, const MatT<T>& dY);
// GELU'(x) = Φ(x) + x·φ(x); the tanh form's: 0.5(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u);
// ReLU'(x) = [x > 0].
template <typename T>
MatT<T> gelu_backward(const MatT<T>& X, const MatT<T>& dY, bool tanh_form = false);
template <typename T>
MatT<T> relu_backward(const MatT<T>& X, const MatT<T>& dY);

template <typename T>
struct LinearGrads {
  MatT<T> dX;  // [n, in]   dY·Wᵀ
  MatT<T> dW;  // [in, out] Xᵀ·dY
  RowT<T> db;  // [out]     column sums of dY
};
// Y = X·W + b.
template <typename T>
LinearGrads<T> linear_backward(const MatT<T>& X, const MatT<T>& W, const MatT<T>& dY);

// Dropout's draws, the one place they are made: a [rows, cols] mask of 1 (kept: the next uniform of rng is ≥ p) and
// 0, drawn row-major.
template <typename T>
MatT<T> dropout_keep(Eigen::Index rows, Eigen::Index cols, float p, Rng& rng);
// Inverted dropout: each entry kept with probability 1 − p and scaled by 1/(1 − p); *keep gets the 0/1 mask.
Mat dropout(const MatRef& X, float p, Rng& rng, Mat* keep = nullptr);

}  // namespace qkv
