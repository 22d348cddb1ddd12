// QKV Lab core — positional encodings: sinusoidal, learned (a table), RoPE, ALiBi.
#pragma once

#include <cmath>
#include <type_traits>
#include <vector>

#include "core/tensor.h"

namespace qkv {

// Sinusoidal table (Vaswani et al. 2017 §3.5), PE: [rows, d_model]
//   PE[p, 2i] = sin(p / base^(2i/d_model)),  PE[p, 2i+1] = cos(p / base^(2i/d_model))
Mat sinusoidal_table(int rows, int d_model, double base);

// The wavelength, in positions, of sinusoidal dimension `dim` (dims 2i and 2i+1 share it): 2π·base^(2i/d_model).
double sinusoidal_wavelength(int dim, int d_model, double base);

// RoPE (Su et al. 2021): rotate each pair (x_2i, x_2i+1) of row r by angle θ = p·base^(−2i/d), p = pos0 + r.
// Then q_m·k_n depends on m − n only. X: [n, d] with d even.
void apply_rope(Eigen::Ref<Mat> X, int pos0, double base);

// The RoPE kernel (apply_rope and the gradient tape's rope both run it): rotates each d_head-wide block of columns
// (one head each) of X [n, h·d_head] as above; `inverse` rotates by −θ (the transpose: RoPE's backward).
template <typename MatrixType>
void rope_rotate(MatrixType&& X, int pos0, double base, int d_head, bool inverse = false) {
  using Scalar = typename std::decay_t<MatrixType>::Scalar;
  QKV_ASSERT(d_head > 0 && d_head % 2 == 0 && X.cols() % d_head == 0);
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    const double p = static_cast<double>(pos0 + r);
    for (int two_i = 0; two_i < d_head; two_i += 2) {
      const double theta = p * std::pow(base, -static_cast<double>(two_i) / d_head);
      const double c = std::cos(theta), s = inverse ? -std::sin(theta) : std::sin(theta);
      for (Eigen::Index h0 = 0; h0 < X.cols(); h0 += d_head) {
        const double x0 = X(r, h0 + two_i), x1 = X(r, h0 + two_i + 1);
        X(r, h0 + two_i) = static_cast<Scalar>(x0 * c - x1 * s);
        X(r, h0 + two_i + 1) = static_cast<Scalar>(x0 * s + x1 * c);
      }
    }
  }
}

// ALiBi slopes for h heads (Press et al. 2022): the geometric sequence 2^(−8/h), 2^(−16/h), …, and for h not a
// power of two, the slopes of the nearest lower power of two followed by every other slope of the next one.
std::vector<float> alibi_slopes(int h);

// ALiBi bias B: [n, m], B_ij = −slope·|(q_pos0 + i) − j|. Added to the scaled scores before the mask.
Mat alibi_bias(int n, int m, int q_pos0, float slope);

}  // namespace qkv
