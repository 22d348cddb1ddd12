#include "core/rng.h"

#include <cmath>

namespace qkv {

namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment: 2⁶⁴/φ, odd
constexpr double kTwoPi = 2.0 * 3.14159265358979323846;
// Below this many pairs a matrix is filled on one thread: starting a team costs more than drawing them.
[[maybe_unused]] constexpr int64_t kParallelMinPairs = 1 << 14;  // unused without OpenMP
// Threads take chunks of this many pairs as they come free: on a shared machine a descheduled thread does not
// hold the others up at the end of a static split. Which thread draws a pair never changes its value.
[[maybe_unused]] constexpr int kChunkPairs = 1 << 13;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double to_unit(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

struct Pair {
  double cos_value, sin_value;
};

// Box–Muller on uniforms 2j and 2j+1 of the stream `key`.
Pair normal_pair(uint64_t key, uint64_t j) {
  double u1 = to_unit(counter_u64(key, 2 * j));
  if (u1 <= 0.0) u1 = 0x1.0p-54;
  const double u2 = to_unit(counter_u64(key, 2 * j + 1));
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = kTwoPi * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

}  // namespace

uint64_t splitmix64(uint64_t& state) { return mix(state += kGamma); }

uint64_t stream_seed(uint64_t seed, std::string_view name) {
  uint64_t hash = 0xCBF29CE484222325ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : name) hash = (hash ^ c) * 0x100000001B3ull;
  uint64_t state = seed ^ hash;
  return splitmix64(state);
}

uint64_t counter_u64(uint64_t key, uint64_t i) { return mix(key + (i + 1) * kGamma); }

double counter_normal(uint64_t key, uint64_t k) {
  const Pair p = normal_pair(key, k / 2);
  return k % 2 == 0 ? p.cos_value : p.sin_value;
}

double Rng::uniform() { return to_unit(next_u64()); }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();  // log(0) is −∞
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = kTwoPi * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

// out: [rows, cols], row-major; entry k = r·cols + c is counter_normal(key, k)·std.
Mat normal_matrix(uint64_t seed, std::string_view name, int rows, int cols, float stddev) {
  const uint64_t key = stream_seed(seed, name);
  Mat out(rows, cols);
  float* data = out.data();
  const int64_t size = static_cast<int64_t>(out.size());
  const int64_t pairs = size / 2;
#pragma omp parallel for schedule(dynamic, kChunkPairs) if (pairs >= kParallelMinPairs)
  for (int64_t j = 0; j < pairs; ++j) {
    const Pair p = normal_pair(key, static_cast<uint64_t>(j));
    data[2 * j] = static_cast<float>(p.cos_value) * stddev;
    data[2 * j + 1] = static_cast<float>(p.sin_value) * stddev;
  }
  if (size % 2 == 1) data[size - 1] = static_cast<float>(normal_pair(key, static_cast<uint64_t>(pairs)).cos_value) * stddev;
  return out;
}

}  // namespace qkv
