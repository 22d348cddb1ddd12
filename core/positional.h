// QKV Lab core — positional encodings: sinusoidal, learned (a table), RoPE, ALiBi.
#pragma once

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

// ALiBi slopes for h heads (Press et al. 2022): the geometric sequence 2^(−8/h), 2^(−16/h), …, and for h not a
// power of two, the slopes of the nearest lower power of two followed by every other slope of the next one.
std::vector<float> alibi_slopes(int h);

// ALiBi bias B: [n, m], B_ij = −slope·|(q_pos0 + i) − j|. Added to the scaled scores before the mask.
Mat alibi_bias(int n, int m, int q_pos0, float slope);

}  // namespace qkv
