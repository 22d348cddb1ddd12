#include "core/positional.h"

#include <cmath>
#include <vector>

namespace qkv {

Mat sinusoidal_table(int rows, int d_model, double base) {
  Mat PE(rows, d_model);  // [rows, d_model]
  for (int p = 0; p < rows; ++p) {
    for (int c = 0; c < d_model; ++c) {
      const int two_i = c - (c % 2);
      const double angle = p / std::pow(base, static_cast<double>(two_i) / d_model);
      PE(p, c) = static_cast<float>(c % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return PE;
}

double sinusoidal_wavelength(int dim, int d_model, double base) {
  const int two_i = dim - dim % 2;
  return 2.0 * 3.14159265358979323846 * std::pow(base, static_cast<double>(two_i) / d_model);
}

void apply_rope(Eigen::Ref<Mat> X, int pos0, double base) { rope_rotate(X, pos0, base, static_cast<int>(X.cols())); }

std::vector<float> alibi_slopes(int h) {
  const auto power_of_two_slopes = [](int count) {
    std::vector<float> slopes(count);
    for (int i = 0; i < count; ++i) slopes[i] = static_cast<float>(std::pow(2.0, -8.0 * (i + 1) / count));
    return slopes;
  };
  if (h <= 0) return {};
  int lower = 1;
  while (lower * 2 <= h) lower *= 2;
  std::vector<float> slopes = power_of_two_slopes(lower);
  if (lower < h) {
    const std::vector<float> finer = power_of_two_slopes(2 * lower);
    for (int i = 0; static_cast<int>(slopes.size()) < h; i += 2) slopes.push_back(finer[i]);
  }
  return slopes;
}

Mat alibi_bias(int n, int m, int q_pos0, float slope) {
  Mat B(n, m);  // [n, m]
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) B(i, j) = -slope * static_cast<float>(std::abs(q_pos0 + i - j));
  return B;
}

}  // namespace qkv
