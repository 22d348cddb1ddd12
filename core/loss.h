// QKV Lab core — losses and their gradients, for training and for the gradient views.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace qkv {

template <typename T>
struct LossGrad {
  T loss = 0;
  MatT<T> grad;  // dL/d(input), same shape as the input
};

// Mean cross-entropy of the rows of logits [n, V] against target ids (−1: ignored, e.g. padding), with label
// smoothing ε (Szegedy et al. 2016; the Transformer used ε = 0.1): the target distribution is
// q = (1 − ε)·onehot + ε/V, L = −(1/N)·Σ_rows Σ_v q_v·log softmax(logits)_v, and dL/dlogits = (softmax − q)/N,
// N = the number of rows not ignored.
template <typename T>
LossGrad<T> cross_entropy(const MatT<T>& logits, const std::vector<int>& targets, T label_smoothing = T(0));

// "Match this attention pattern": L = ½·Σ (P − P*)² / n over the n rows, dL/dP = (P − P*)/n.
template <typename T>
LossGrad<T> pattern_loss(const MatT<T>& P, const MatT<T>& target);

}  // namespace qkv
