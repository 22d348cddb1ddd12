#include "core/ops.h"

#include <cmath>
#include <limits>
#include <unsupported/Eigen/SpecialFunctions>

namespace qkv {

template <typename T>
MatT<T> softmax_rows_t(const MatT<T>& S, T scale, const MatT<T>* M, std::vector<int>* fully_masked_rows) {
  QKV_ASSERT(!M || (M->rows() == S.rows() && M->cols() == S.cols()));
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  MatT<T> P(S.rows(), S.cols());  // [n, m]
  std::vector<char> masked_row(static_cast<size_t>(S.rows()), 0);
  // Rows are independent: large matrices spread them over the cores.
#pragma omp parallel for schedule(static) if (S.size() >= (1 << 16))
  for (Eigen::Index i = 0; i < S.rows(); ++i) {
    Eigen::Ref<Eigen::Matrix<T, 1, Eigen::Dynamic>> z = P.row(i);  // the output row, written in place
    z = S.row(i) * scale;
    if (M) z += M->row(i);
    const T row_max = z.maxCoeff();
    if (row_max == kNegInf || std::isnan(row_max)) {  // every cell masked: no distribution to take
      z.setZero();
      masked_row[static_cast<size_t>(i)] = 1;
      continue;
    }
    if (row_max == -kNegInf) {  // scores overflowed to +∞: the limit of the softmax splits the weight among them
      z = (z.array() == row_max).template cast<T>();
      z /= z.sum();
      continue;
    }
    // exp(−∞) must be exactly 0, but Eigen's vectorised exp clamps its input (≈ −88.7) and returns a denormal
    // on some instruction sets, so masked cells are zeroed explicitly.
    z = (z.array() == kNegInf).select(T(0), (z.array() - row_max).exp());
    z /= z.sum();
  }
  if (fully_masked_rows)
    for (Eigen::Index i = 0; i < S.rows(); ++i)
      if (masked_row[static_cast<size_t>(i)]) fully_masked_rows->push_back(static_cast<int>(i));
  return P;
}

Mat softmax_rows(const MatRef& S, float scale, const Mat* M, std::vector<int>* fully_masked_rows) {
  return softmax_rows_t<float>(Mat(S), scale, M, fully_masked_rows);
}

template <typename T>
MatT<T> softmax_rows_backward(const MatT<T>& P, const MatT<T>& dP, T scale) {
  QKV_ASSERT(P.rows() == dP.rows() && P.cols() == dP.cols());
  // Row i: dz = p ⊙ (dp − (p·dp)), the Jacobian diag(p) − p·pᵀ times dp.
  const Eigen::Matrix<T, Eigen::Dynamic, 1> p_dot_dp = P.cwiseProduct(dP).rowwise().sum();
  MatT<T> dS = P.cwiseProduct(dP.colwise() - p_dot_dp);
  dS *= scale;
  return dS;
}

template MatT<float> softmax_rows_t<float>(const MatT<float>&, float, const MatT<float>*, std::vector<int>*);
template MatT<double> softmax_rows_t<double>(const MatT<double>&, double, const MatT<double>*, std::vector<int>*);
template MatT<float> softmax_rows_backward<float>(const MatT<float>&, const MatT<float>&, float);
template MatT<double> softmax_rows_backward<double>(const MatT<double>&, const MatT<double>&, double);

RowVec row_entropy(const MatRef& P) {
  // H = −Σ p·log p, with 0·log 0 = 0. Each term in float (Eigen's vectorised log), summed per row in double.
  RowVec H(P.rows());
  for (Eigen::Index i = 0; i < P.rows(); ++i) {
    const Eigen::ArrayXf p = P.row(i).transpose().array();
    H(i) = static_cast<float>(-(p > 0.0f).select(p * p.log(), 0.0f).cast<double>().sum());
  }
  return H;
}

template <typename T>
MatT<T> layer_norm_t(const MatT<T>& X, const RowT<T>& gamma, const RowT<T>& beta, T eps) {
  MatT<T> Y(X.rows(), X.cols());
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    const T mean = X.row(r).mean();
    const T var = (X.row(r).array() - mean).square().mean();
    Y.row(r) = ((X.row(r).array() - mean) / std::sqrt(var + eps)) * gamma.array() + beta.array();
  }
  return Y;
}

template <typename T>
MatT<T> rms_norm_t(const MatT<T>& X, const RowT<T>& gamma, T eps) {
  MatT<T> Y(X.rows(), X.cols());
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    const T mean_square = X.row(r).array().square().mean();
    Y.row(r) = (X.row(r).array() / std::sqrt(mean_square + eps)) * gamma.array();
  }
  return Y;
}

Mat layer_norm(const MatRef& X, const RowVec& gamma, const RowVec& beta, float eps) {
  return layer_norm_t<float>(Mat(X), gamma, beta, eps);
}

Mat rms_norm(const MatRef& X, const RowVec& gamma, float eps) { return rms_norm_t<float>(Mat(X), gamma, eps); }

template <typename T>
BatchStats<T> batch_stats_t(const MatT<T>& X, T eps) {
  BatchStats<T> st;
  st.mean = X.colwise().mean();
  st.var = (X.rowwise() - st.mean).array().square().colwise().mean().matrix();
  st.inv_sigma = (st.var.array() + eps).rsqrt().matrix();
  st.x_hat = ((X.rowwise() - st.mean).array().rowwise() * st.inv_sigma.array()).matrix();
  return st;
}
template BatchStats<float> batch_stats_t<float>(const MatT<float>&, float);
template BatchStats<double> batch_stats_t<double>(const MatT<double>&, double);

Mat batch_norm(const MatRef& X, const RowVec& gamma, const RowVec& beta, float eps, RowVec* mean_out, RowVec* var_out) {
  BatchStats<float> st = batch_stats_t<float>(Mat(X), eps);
  Mat Y = (st.x_hat.array().rowwise() * gamma.array()).rowwise() + beta.array();
  if (mean_out) *mean_out = std::move(st.mean);
  if (var_out) *var_out = std::move(st.var);
  return Y;
}

Mat apply_norm(NormKind kind, const MatRef& X, const RowVec& gamma, const RowVec& beta, float eps, RowVec* mean, RowVec* var) {
  switch (kind) {
    case NormKind::LayerNorm:
      return layer_norm(X, gamma, beta, eps);
    case NormKind::BatchNorm:
      return batch_norm(X, gamma, beta, eps, mean, var);
    case NormKind::RMSNorm:
      return rms_norm(X, gamma, eps);
    case NormKind::None:
    case NormKind::Count:
      break;
  }
  return X;
}

Mat relu(const MatRef& X) { return X.cwiseMax(0.0f); }

namespace {
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluCubic = 0.044715;
}  // namespace

template <typename T>
MatT<T> gelu_t(const MatT<T>& X, bool tanh_form) {
  if (tanh_form) {
    const auto x = X.array();
    return (T(0.5) * x * (T(1) + (T(kSqrt2OverPi) * (x + T(kGeluCubic) * x.cube())).tanh())).matrix();
  }
  // Eigen's vectorised erf (SpecialFunctions) is ~10× faster than std::erf per element at GPT-2 sizes.
  return (T(0.5) * X.array() * (T(1) + (X.array() * T(0.70710678118654752)).erf())).matrix();
}

Mat gelu(const MatRef& X, bool tanh_form) { return gelu_t<float>(Mat(X), tanh_form); }

Mat activate(Activation kind, const MatRef& X) {
  switch (kind) {
    case Activation::GELU:
      return gelu(X);
    case Activation::GELUTanh:
      return gelu(X, true);
    default:
      return relu(X);
  }
}

template <typename T>
NormGrads<T> layer_norm_backward(const MatT<T>& X, const RowT<T>& gamma, T eps, const MatT<T>& dY) {
  NormGrads<T> g;
  g.dX.resize(X.rows(), X.cols());
  g.dgamma = RowT<T>::Zero(X.cols());
  g.dbeta = dY.colwise().sum();
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    const T mean = X.row(r).mean();
    const T inv_sigma = T(1) / std::sqrt((X.row(r).array() - mean).square().mean() + eps);
    const RowT<T> x_hat = (X.row(r).array() - mean) * inv_sigma;
    const RowT<T> dx_hat = dY.row(r).cwiseProduct(gamma);
    g.dgamma += dY.row(r).cwiseProduct(x_hat);
    g.dX.row(r) = inv_sigma * (dx_hat.array() - dx_hat.mean() - x_hat.array() * dx_hat.cwiseProduct(x_hat).mean());
  }
  return g;
}

template <typename T>
NormGrads<T> rms_norm_backward(const MatT<T>& X, const RowT<T>& gamma, T eps, const MatT<T>& dY) {
  NormGrads<T> g;
  g.dX.resize(X.rows(), X.cols());
  g.dgamma = RowT<T>::Zero(X.cols());
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    const T inv_r = T(1) / std::sqrt(X.row(r).array().square().mean() + eps);
    const RowT<T> x_hat = X.row(r) * inv_r;
    const RowT<T> dx_hat = dY.row(r).cwiseProduct(gamma);
    g.dgamma += dY.row(r).cwiseProduct(x_hat);
    g.dX.row(r) = inv_r * (dx_hat.array() - x_hat.array() * dx_hat.cwiseProduct(x_hat).mean());
  }
  return g;
}

template <typename T>
MatT<T> gelu_backward(const MatT<T>& X, const MatT<T>& dY, bool tanh_form) {
  const T inv_sqrt_2pi = T(0.39894228040143267794);
  using Arr = Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  if (tanh_form) {
    const auto x = X.array();
    const Arr t = (T(kSqrt2OverPi) * (x + T(kGeluCubic) * x.cube())).tanh();
    const Arr du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x.square());
    return (dY.array() * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t.square()) * du)).matrix();
  }
  const Arr Phi = T(0.5) * (T(1) + (X.array() * T(0.70710678118654752)).erf());  // Φ(x)
  const Arr phi = inv_sqrt_2pi * (T(-0.5) * X.array().square()).exp();           // φ(x)
  return (dY.array() * (Phi + X.array() * phi)).matrix();
}

template <typename T>
MatT<T> relu_backward(const MatT<T>& X, const MatT<T>& dY) {
  return (X.array() > T(0)).select(dY, T(0));
}

template <typename T>
LinearGrads<T> linear_backward(const MatT<T>& X, const MatT<T>& W, const MatT<T>& dY) {
  LinearGrads<T> g;
  g.dX.noalias() = dY * W.transpose();
  g.dW.noalias() = X.transpose() * dY;
  g.db = dY.colwise().sum();
  return g;
}

#define QKV_INSTANTIATE_OPS(T)                                                                     \
  template MatT<T> layer_norm_t<T>(const MatT<T>&, const RowT<T>&, const RowT<T>&, T);             \
  template MatT<T> rms_norm_t<T>(const MatT<T>&, const RowT<T>&, T);                               \
  template MatT<T> gelu_t<T>(const MatT<T>&, bool);                                                      \
  template NormGrads<T> layer_norm_backward<T>(const MatT<T>&, const RowT<T>&, T, const MatT<T>&); \
  template NormGrads<T> rms_norm_backward<T>(const MatT<T>&, const RowT<T>&, T, const MatT<T>&);   \
  template MatT<T> gelu_backward<T>(const MatT<T>&, const MatT<T>&, bool);                               \
  template MatT<T> relu_backward<T>(const MatT<T>&, const MatT<T>&);                               \
  template LinearGrads<T> linear_backward<T>(const MatT<T>&, const MatT<T>&, const MatT<T>&);
QKV_INSTANTIATE_OPS(float)
QKV_INSTANTIATE_OPS(double)
#undef QKV_INSTANTIATE_OPS

template <typename T>
MatT<T> dropout_keep(Eigen::Index rows, Eigen::Index cols, float p, Rng& rng) {
  MatT<T> keep(rows, cols);
  for (Eigen::Index i = 0; i < keep.size(); ++i) keep.data()[i] = rng.uniform() >= p ? T(1) : T(0);
  return keep;
}
template MatT<float> dropout_keep<float>(Eigen::Index, Eigen::Index, float, Rng&);
template MatT<double> dropout_keep<double>(Eigen::Index, Eigen::Index, float, Rng&);

Mat dropout(const MatRef& X, float p, Rng& rng, Mat* keep) {
  Mat mask = dropout_keep<float>(X.rows(), X.cols(), p, rng);
  Mat Y = X.cwiseProduct(mask) / (1.0f - p);
  if (keep) *keep = std::move(mask);
  return Y;
}

template <typename T>
MatT<T> additive_scores_t(const MatT<T>& Q, const MatT<T>& K, const MatT<T>& w_a) {
  QKV_ASSERT(Q.cols() == K.cols() && w_a.rows() == 1 && w_a.cols() == Q.cols());
  MatT<T> S(Q.rows(), K.rows());
  for (Eigen::Index i = 0; i < Q.rows(); ++i)
    for (Eigen::Index j = 0; j < K.rows(); ++j) S(i, j) = (Q.row(i) + K.row(j)).array().tanh().matrix().dot(w_a.row(0));
  return S;
}
template MatT<float> additive_scores_t<float>(const MatT<float>&, const MatT<float>&, const MatT<float>&);
template MatT<double> additive_scores_t<double>(const MatT<double>&, const MatT<double>&, const MatT<double>&);

}  // namespace qkv
