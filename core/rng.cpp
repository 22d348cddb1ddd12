#include "core/rng.h"

#include <cmath>

namespace qkv {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t stream_seed(uint64_t seed, std::string_view name) {
  uint64_t hash = 0xCBF29CE484222325ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : name) hash = (hash ^ c) * 0x100000001B3ull;
  uint64_t state = seed ^ hash;
  return splitmix64(state);
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();  // log(0) is −∞
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * 3.14159265358979323846 * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

Mat normal_matrix(uint64_t seed, std::string_view name, int rows, int cols, float stddev) {
  Rng rng(stream_seed(seed, name));
  Mat out(rows, cols);
  for (Eigen::Index i = 0; i < out.size(); ++i) out.data()[i] = static_cast<float>(rng.normal()) * stddev;
  return out;
}

}  // namespace qkv
