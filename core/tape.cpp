#include "core/tape.h"

#include <cmath>

#include "core/positional.h"

namespace qkv {

template <typename T>
int Tape<T>::push(M value, std::function<void(Tape&)> back) {
  nodes_.push_back(Node{std::move(value), M(), std::move(back)});
  return static_cast<int>(nodes_.size()) - 1;
}

template <typename T>
typename Tape<T>::M& Tape<T>::acc(int id) {
  Node& node = nodes_[id];
  if (node.grad.size() == 0) node.grad = M::Zero(node.value.rows(), node.value.cols());
  return node.grad;
}

template <typename T>
const typename Tape<T>::M& Tape<T>::grad(int id) {
  return acc(id);
}

template <typename T>
int Tape<T>::leaf(M value) {
  return push(std::move(value), nullptr);
}

template <typename T>
void Tape<T>::backward(int id, const M& seed) {
  QKV_ASSERT(seed.rows() == value(id).rows() && seed.cols() == value(id).cols());
  acc(id) += seed;
  for (int k = id; k >= 0; --k)
    if (nodes_[k].back && nodes_[k].grad.size() != 0) nodes_[k].back(*this);
}

// [SECTION] Linear algebra
template <typename T>
int Tape<T>::matmul(int a, int b) {
  QKV_ASSERT(value(a).cols() == value(b).rows());
  M out;
  out.noalias() = value(a) * value(b);
  const int self = size();
  return push(std::move(out), [a, b, self](Tape& t) {
    const M& g = t.nodes_[self].grad;  // dY: [r, c]
    t.acc(a).noalias() += g * t.value(b).transpose();
    t.acc(b).noalias() += t.value(a).transpose() * g;
  });
}

template <typename T>
int Tape<T>::matmul_bt(int a, int b) {
  QKV_ASSERT(value(a).cols() == value(b).cols());
  M out;
  out.noalias() = value(a) * value(b).transpose();
  const int self = size();
  return push(std::move(out), [a, b, self](Tape& t) {
    const M& g = t.nodes_[self].grad;  // dY: [r, c]
    t.acc(a).noalias() += g * t.value(b);
    t.acc(b).noalias() += g.transpose() * t.value(a);
  });
}

template <typename T>
int Tape<T>::add(int a, int b) {
  QKV_ASSERT(value(a).rows() == value(b).rows() && value(a).cols() == value(b).cols());
  const int self = size();
  return push(value(a) + value(b), [a, b, self](Tape& t) {
    t.acc(a) += t.nodes_[self].grad;
    t.acc(b) += t.nodes_[self].grad;
  });
}

template <typename T>
int Tape<T>::add_row(int a, int row) {
  QKV_ASSERT(value(row).rows() == 1 && value(row).cols() == value(a).cols());
  M out = value(a);
  out.rowwise() += value(row).row(0);
  const int self = size();
  return push(std::move(out), [a, row, self](Tape& t) {
    t.acc(a) += t.nodes_[self].grad;
    t.acc(row) += t.nodes_[self].grad.colwise().sum();
  });
}

template <typename T>
int Tape<T>::add_constant(int a, const M& c) {
  QKV_ASSERT(value(a).rows() == c.rows() && value(a).cols() == c.cols());
  const int self = size();
  return push(value(a) + c, [a, self](Tape& t) { t.acc(a) += t.nodes_[self].grad; });
}

template <typename T>
int Tape<T>::scale(int a, T s) {
  const int self = size();
  return push(value(a) * s, [a, s, self](Tape& t) { t.acc(a) += t.nodes_[self].grad * s; });
}

template <typename T>
int Tape<T>::mul_constant(int a, const M& c) {
  QKV_ASSERT(value(a).rows() == c.rows() && value(a).cols() == c.cols());
  const int self = size();
  return push(value(a).cwiseProduct(c), [a, c, self](Tape& t) { t.acc(a) += t.nodes_[self].grad.cwiseProduct(c); });
}

template <typename T>
int Tape<T>::cols(int a, int c0, int width) {
  QKV_ASSERT(c0 >= 0 && c0 + width <= value(a).cols());
  const int self = size();
  return push(value(a).middleCols(c0, width), [a, c0, width, self](Tape& t) {
    t.acc(a).middleCols(c0, width) += t.nodes_[self].grad;
  });
}

template <typename T>
int Tape<T>::rows(int a, int r0, int count) {
  QKV_ASSERT(r0 >= 0 && r0 + count <= value(a).rows());
  const int self = size();
  return push(value(a).middleRows(r0, count), [a, r0, count, self](Tape& t) {
    t.acc(a).middleRows(r0, count) += t.nodes_[self].grad;
  });
}

template <typename T>
int Tape<T>::concat_cols(const std::vector<int>& parts) {
  QKV_ASSERT(!parts.empty());
  Eigen::Index width = 0;
  for (int p : parts) width += value(p).cols();
  M out(value(parts[0]).rows(), width);
  Eigen::Index c = 0;
  for (int p : parts) {
    out.middleCols(c, value(p).cols()) = value(p);
    c += value(p).cols();
  }
  const int self = size();
  return push(std::move(out), [parts, self](Tape& t) {
    Eigen::Index col = 0;
    for (int p : parts) {
      t.acc(p) += t.nodes_[self].grad.middleCols(col, t.value(p).cols());
      col += t.value(p).cols();
    }
  });
}

template <typename T>
int Tape<T>::concat_rows(const std::vector<int>& parts) {
  QKV_ASSERT(!parts.empty());
  Eigen::Index height = 0;
  for (int p : parts) height += value(p).rows();
  M out(height, value(parts[0]).cols());
  Eigen::Index r = 0;
  for (int p : parts) {
    out.middleRows(r, value(p).rows()) = value(p);
    r += value(p).rows();
  }
  const int self = size();
  return push(std::move(out), [parts, self](Tape& t) {
    Eigen::Index row = 0;
    for (int p : parts) {
      t.acc(p) += t.nodes_[self].grad.middleRows(row, t.value(p).rows());
      row += t.value(p).rows();
    }
  });
}

template <typename T>
int Tape<T>::gather_rows(int table, const std::vector<int>& ids) {
  M out(static_cast<Eigen::Index>(ids.size()), value(table).cols());
  for (size_t i = 0; i < ids.size(); ++i) {
    QKV_ASSERT(ids[i] >= 0 && ids[i] < value(table).rows());
    out.row(static_cast<Eigen::Index>(i)) = value(table).row(ids[i]);
  }
  const int self = size();
  return push(std::move(out), [table, ids, self](Tape& t) {
    M& g = t.acc(table);
    for (size_t i = 0; i < ids.size(); ++i) g.row(ids[i]) += t.nodes_[self].grad.row(static_cast<Eigen::Index>(i));
  });
}

// [SECTION] Attention
template <typename T>
int Tape<T>::softmax(int S, T scale, const M& bias_and_mask) {
  const int self = size();
  return push(softmax_rows_t<T>(value(S), scale, &bias_and_mask), [S, scale, self](Tape& t) {
    t.acc(S) += softmax_rows_backward<T>(t.value(self), t.nodes_[self].grad, scale);
  });
}

template <typename T>
int Tape<T>::additive_scores(int Q, int K, int w_a) {
  const int self = size();
  return push(additive_scores_t<T>(value(Q), value(K), value(w_a)), [Q, K, w_a, self](Tape& t) {
    const M& dS = t.nodes_[self].grad;
    M& dQ = t.acc(Q);
    M& dK = t.acc(K);
    M& dw = t.acc(w_a);
    const M& q = t.value(Q);
    const M& k = t.value(K);
    const Row w = t.value(w_a).row(0);
    for (Eigen::Index i = 0; i < q.rows(); ++i)
      for (Eigen::Index j = 0; j < k.rows(); ++j) {
        if (dS(i, j) == T(0)) continue;
        const Row th = (q.row(i) + k.row(j)).array().tanh().matrix();
        const Row g = dS(i, j) * w.cwiseProduct((T(1) - th.array().square()).matrix());  // d/d(q_i + k_j)
        dQ.row(i) += g;
        dK.row(j) += g;
        dw.row(0) += dS(i, j) * th;
      }
  });
}

template <typename T>
int Tape<T>::rope(int X, int pos0, double base, int d_head) {
  M out = value(X);
  rope_rotate(out, pos0, base, d_head);
  const int self = size();
  return push(std::move(out), [X, pos0, base, d_head, self](Tape& t) {
    M g = t.nodes_[self].grad;  // the transpose of the rotation: rotate back by −θ
    rope_rotate(g, pos0, base, d_head, /*inverse=*/true);
    t.acc(X) += g;
  });
}

// [SECTION] Norms and activations
template <typename T>
int Tape<T>::layer_norm(int X, int gamma, int beta, T eps) {
  const Row zero = Row::Zero(value(X).cols());
  M out = layer_norm_t<T>(value(X), value(gamma).row(0), beta >= 0 ? Row(value(beta).row(0)) : zero, eps);
  const int self = size();
  return push(std::move(out), [X, gamma, beta, eps, self](Tape& t) {
    const NormGrads<T> g = layer_norm_backward<T>(t.value(X), t.value(gamma).row(0), eps, t.nodes_[self].grad);
    t.acc(X) += g.dX;
    t.acc(gamma).row(0) += g.dgamma;
    if (beta >= 0) t.acc(beta).row(0) += g.dbeta;
  });
}

template <typename T>
int Tape<T>::rms_norm(int X, int gamma, T eps) {
  const int self = size();
  return push(rms_norm_t<T>(value(X), value(gamma).row(0), eps), [X, gamma, eps, self](Tape& t) {
    const NormGrads<T> g = rms_norm_backward<T>(t.value(X), t.value(gamma).row(0), eps, t.nodes_[self].grad);
    t.acc(X) += g.dX;
    t.acc(gamma).row(0) += g.dgamma;
  });
}

template <typename T>
int Tape<T>::batch_norm(int X, int gamma, int beta, T eps) {
  // Per column c over the N rows: x̂ = (x − μ_c)/σ_c, y = γ_c·x̂ + β_c.
  BatchStats<T> st = batch_stats_t<T>(value(X), eps);
  const Row inv_sigma = std::move(st.inv_sigma);
  const M x_hat = std::move(st.x_hat);
  M out = (x_hat.array().rowwise() * value(gamma).row(0).array()).matrix();
  if (beta >= 0) out.rowwise() += value(beta).row(0);
  const int self = size();
  return push(std::move(out), [X, gamma, beta, inv_sigma, x_hat, self](Tape& t) {
    // dX = (1/σ)·(dx̂ − mean_col(dx̂) − x̂ ⊙ mean_col(dx̂ ⊙ x̂)),  dx̂ = dY ⊙ γ
    const M& dY = t.nodes_[self].grad;
    const M dx_hat = (dY.array().rowwise() * t.value(gamma).row(0).array()).matrix();
    const Row mean_dx_hat = dx_hat.colwise().mean();
    const Row mean_dx_hat_x_hat = dx_hat.cwiseProduct(x_hat).colwise().mean();
    const M centred = dx_hat.rowwise() - mean_dx_hat;
    t.acc(X) += ((centred - (x_hat.array().rowwise() * mean_dx_hat_x_hat.array()).matrix()).array().rowwise() * inv_sigma.array()).matrix();
    t.acc(gamma).row(0) += dY.cwiseProduct(x_hat).colwise().sum();
    if (beta >= 0) t.acc(beta).row(0) += dY.colwise().sum();
  });
}

template <typename T>
int Tape<T>::relu(int X) {
  const int self = size();
  return push(value(X).cwiseMax(T(0)), [X, self](Tape& t) { t.acc(X) += relu_backward<T>(t.value(X), t.nodes_[self].grad); });
}

template <typename T>
int Tape<T>::gelu(int X, bool tanh_form) {
  const int self = size();
  return push(gelu_t<T>(value(X), tanh_form),
              [X, self, tanh_form](Tape& t) { t.acc(X) += gelu_backward<T>(t.value(X), t.nodes_[self].grad, tanh_form); });
}

template class Tape<float>;
template class Tape<double>;

}  // namespace qkv
