#include "core/loss.h"

#include <cmath>

namespace qkv {

template <typename T>
LossGrad<T> cross_entropy(const MatT<T>& logits, const std::vector<int>& targets, T label_smoothing) {
  QKV_ASSERT(static_cast<Eigen::Index>(targets.size()) == logits.rows());
  const Eigen::Index V = logits.cols();
  LossGrad<T> out;
  out.grad = MatT<T>::Zero(logits.rows(), V);
  int counted = 0;
  for (size_t i = 0; i < targets.size(); ++i) counted += targets[i] >= 0;
  if (counted == 0) return out;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    const int y = targets[static_cast<size_t>(i)];
    if (y < 0) continue;
    QKV_ASSERT(y < V);
    // log softmax with the row max subtracted: log p_v = z_v − max − log Σ exp(z − max)
    const T row_max = logits.row(i).maxCoeff();
    const T log_sum = std::log((logits.row(i).array() - row_max).exp().sum());
    const Eigen::Array<T, 1, Eigen::Dynamic> log_p = logits.row(i).array() - row_max - log_sum;
    Eigen::Array<T, 1, Eigen::Dynamic> q = Eigen::Array<T, 1, Eigen::Dynamic>::Constant(V, label_smoothing / static_cast<T>(V));
    q(y) += T(1) - label_smoothing;
    out.loss -= (q * log_p).sum();
    out.grad.row(i) = (log_p.exp() - q).matrix();
  }
  out.loss /= static_cast<T>(counted);
  out.grad /= static_cast<T>(counted);
  return out;
}

template <typename T>
LossGrad<T> pattern_loss(const MatT<T>& P, const MatT<T>& target) {
  QKV_ASSERT(P.rows() == target.rows() && P.cols() == target.cols());
  LossGrad<T> out;
  const T n = static_cast<T>(std::max<Eigen::Index>(1, P.rows()));
  out.grad = (P - target) / n;
  out.loss = T(0.5) * (P - target).squaredNorm() / n;
  return out;
}

template LossGrad<float> cross_entropy<float>(const MatT<float>&, const std::vector<int>&, float);
template LossGrad<double> cross_entropy<double>(const MatT<double>&, const std::vector<int>&, double);
template LossGrad<float> pattern_loss<float>(const MatT<float>&, const MatT<float>&);
template LossGrad<double> pattern_loss<double>(const MatT<double>&, const MatT<double>&);

}  // namespace qkv
