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

// [SECTION] Counter-based draws: draw k of a stream is a pure function of (key, k), so a tensor can be filled
// in any order, in parallel chunks, with the same numbers on every thread count.
//
//   γ = 0x9E3779B97F4A7C15,  mix(z) = SplitMix64's finaliser:
//        z ← (z ⊕ z≫30)·0xBF58476D1CE4E5B9;  z ← (z ⊕ z≫27)·0x94D049BB133111EB;  z ← z ⊕ z≫31   (all mod 2⁶⁴)
//   u64(key, i)   = mix(key + (i+1)·γ)                 — the i-th output of SplitMix64 started at `key`
//   uniform(x)    = (x ≫ 11)·2⁻⁵³ ∈ [0, 1)
//   normal(key, k), with j = ⌊k/2⌋ (Box–Muller on the pair of uniforms 2j, 2j+1):
//        u1 = uniform(u64(key, 2j)), replaced by 2⁻⁵⁴ when it is 0 (probability 2⁻⁵³; log 0 = −∞)
//        u2 = uniform(u64(key, 2j+1)),  r = √(−2 ln u1),  θ = 2π·u2
//        normal = r·cos θ for even k, r·sin θ for odd k
//
// The counter is SplitMix64's own Weyl sequence, so these are the numbers a sequential SplitMix64 Box–Muller
// (Rng below, cosine first) gives: weights seeded before the counter form are unchanged, except in the 2⁻⁵³
// case where Rng draws u1 again. Streams of two names are windows of one 2⁶⁴ cycle at unrelated offsets
// (the keys come from the mixer); two windows of a GPT-2-sized model overlap with probability ~1e−8.
uint64_t counter_u64(uint64_t key, uint64_t i);
double counter_normal(uint64_t key, uint64_t k);

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

// A matrix of N(0, std²) entries drawn from the stream named `name` under `seed`:
//   entry (r, c) = float(counter_normal(stream_seed(seed, name), r·cols + c))·std     (row-major index k)
// so a [2, 3] and a [4, 3] matrix of the same name share their first 6 entries. Large matrices are filled by
// OpenMP threads over pairs of entries; the result does not depend on the number of threads.
Mat normal_matrix(uint64_t seed, std::string_view name, int rows, int cols, float stddev);

}  // namespace qkv
