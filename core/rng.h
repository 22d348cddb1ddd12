// QKV Lab core — the project's own PRNG, so the same seed gives the same weights on every machine
// (std::normal_distribution differs between standard libraries).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace qkv {

// SplitMix64 (Steele, Lea & Flood 2014): a full-period 64-bit generator, used as is and to mix seeds.
uint64_t splitmix64(uint64_t& state);
// FNV-1a over the bytes, then mixed with the seed: a stable stream id for a named tensor or a token.
uint64_t stream_seed(uint64_t seed, std::string_view name);

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64() { return splitmix64(state_); }
  double uniform();  // [0, 1), 53 random bits
  double normal();   // N(0, 1) by Box–Muller
 private:
  uint64_t state_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// A matrix of N(0, std²) entries drawn from the stream named `name` under `seed`.
Mat normal_matrix(uint64_t seed, std::string_view name, int rows, int cols, float stddev);

}  // namespace qkv
