// QKV Lab core — a gradient tape: each op computes its forward value and records its hand-written backward
// (the chain rule for that op only), so a model written with these ops gets reverse-mode gradients. Every op
// of a Transformer block is here, named as in the stepper; no autodiff library is involved.
//
// Node ids are ints; value(id) is the forward tensor, grad(id) the accumulated dL/d(value) after backward().
// A node used twice (tied W_Q = W_K, the embedding reused as the output projection) sums both gradients.
// Instantiated for float (the trainer, the app) and double (finite-difference checks in tests/).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/tensor.h"

namespace qkv {

template <typename T>
class Tape {
 public:
  using M = MatT<T>;
  using Row = RowT<T>;

  // A leaf: a parameter or an input. Its gradient is kept after backward().
  int leaf(M value);
  const M& value(int id) const { return nodes_[id].value; }
  // dL/d(value); a zero matrix if nothing flowed into the node.
  const M& grad(int id);
  // Moves dL/d(value) out (the tape is done with it: e.g. a parameter's gradient going into the Trace).
  M take_grad(int id) { return std::move(acc(id)); }
  bool has_grad(int id) const { return nodes_[id].grad.size() != 0; }
  int size() const { return static_cast<int>(nodes_.size()); }

  // [SECTION] Linear algebra.   shapes: a [r, k], b [k, c]
  int matmul(int a, int b);     // a·b
  int matmul_bt(int a, int b);  // a·bᵀ     b: [c, k]
  int add(int a, int b);        // a + b (same shape)
  int add_row(int a, int row);  // a + 1·row    row: [1, c], broadcast over the rows of a
  int add_constant(int a, const M& c);  // a + C, C not trained (sinusoidal PE, ALiBi bias)
  int scale(int a, T s);                // s·a
  int mul_constant(int a, const M& c);  // a ⊙ C (dropout keep mask already divided by 1 − p)
  int cols(int a, int c0, int width);   // a[:, c0 : c0 + width]
  int rows(int a, int r0, int count);   // a[r0 : r0 + count, :]
  int concat_cols(const std::vector<int>& parts);
  int concat_rows(const std::vector<int>& parts);
  int gather_rows(int table, const std::vector<int>& ids);  // embedding lookup: out.row(i) = table.row(ids[i])

  // [SECTION] Attention.
  // P = softmax(S·scale + C) row by row; C holds the −∞ mask and any ALiBi bias. Fully masked rows are 0.
  int softmax(int S, T scale, const M& bias_and_mask);
  // Additive scores S_ij = w_aᵀ tanh(q_i + k_j)   Q: [n, d], K: [m, d], w_a: [1, d] -> [n, m]
  int additive_scores(int Q, int K, int w_a);
  // RoPE on each d_head-wide block (head) of X: rotate each pair (x_2i, x_2i+1) of row r by θ = (pos0 + r)·base^(−2i/d_head);
  // the backward rotates by −θ.
  int rope(int X, int pos0, double base, int d_head);

  // [SECTION] Norms and activations.
  int layer_norm(int X, int gamma, int beta, T eps);  // beta < 0: none
  int rms_norm(int X, int gamma, T eps);
  int batch_norm(int X, int gamma, int beta, T eps);  // each column over all rows (the whole batch's tokens)
  int relu(int X);
  int gelu(int X, bool tanh_form = false);

  // Seeds dL/d(value(id)) = seed and runs every recorded backward in reverse order. Call once per tape.
  void backward(int id, const M& seed);

 private:
  struct Node {
    M value;
    M grad;
    std::function<void(Tape&)> back;  // adds this node's grad into its inputs' grads
  };
  int push(M value, std::function<void(Tape&)> back);
  M& acc(int id);  // the gradient of id, allocated as zeros on first use
  std::vector<Node> nodes_;
  M zero_;
};

}  // namespace qkv
