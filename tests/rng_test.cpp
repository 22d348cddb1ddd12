// Tests for core/rng: the project's own PRNG. Every shipped weight comes from it, so its exact stream is pinned by
// golden values; its statistics are checked with tolerances of about five standard errors (the seeds are fixed, so
// the tests are deterministic; the tolerances say how far an honest generator could plausibly land).
#include "core/rng.h"

#include <gtest/gtest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace qkv {
namespace {

// SplitMix64 as published (Steele, Lea & Flood 2014; Vigna's splitmix64.c), written here independently of core.
uint64_t reference_splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// FNV-1a 64-bit as published (Fowler, Noll, Vo).
uint64_t reference_fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// [SECTION] Golden values: a change here changes every shipped weight.

TEST(Rng, SplitMix64GoldenFromStateZero) {
  // The published first outputs of SplitMix64 seeded with 0.
  uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(splitmix64(state), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(splitmix64(state), 0x06C45D188009454Full);
  // The state advances by the golden gamma each call: 3·0x9E3779B97F4A7C15 mod 2^64.
  EXPECT_EQ(state, 3ull * 0x9E3779B97F4A7C15ull);
}

TEST(Rng, SplitMix64MatchesReferenceForManySeeds) {
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xFFFFFFFFFFFFFFFFull, 0x123456789ABCDEFull}) {
    uint64_t a = seed, b = seed;
    for (int i = 0; i < 100; ++i) ASSERT_EQ(splitmix64(a), reference_splitmix64(b)) << "seed " << seed << " draw " << i;
  }
}

TEST(Rng, NextU64IsSplitMix64OfTheSeed) {
  Rng rng(0);
  EXPECT_EQ(rng.next_u64(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.next_u64(), 0x6E789E6AA1B965F4ull);
}

TEST(Rng, StreamSeedIsSplitMixOfSeedXorFnv1a) {
  // Published FNV-1a test vectors pin the hash itself.
  EXPECT_EQ(reference_fnv1a("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(reference_fnv1a("foobar"), 0x85944171f73967e8ull);
  for (uint64_t seed : {0ull, 42ull, 7777ull}) {
    for (std::string_view name : {"", "a", "W_Q", "layer0.attn.W_K", "token:cat"}) {
      uint64_t state = seed ^ reference_fnv1a(name);
      EXPECT_EQ(stream_seed(seed, name), reference_splitmix64(state)) << seed << " " << name;
    }
  }
  // One literal: splitmix64(42 ^ fnv1a("W_Q")), computed with the Python port of the two reference functions above.
  EXPECT_EQ(stream_seed(42, "W_Q"), 0x62f4ed91031fc914ull);
}

TEST(Rng, UniformAndNormalGoldenFromSeedZero) {
  // uniform = (u64 >> 11)·2^−53. From seed 0: u1 = (0xE220A8397B1DCDAF >> 11)·2^−53 = 0.8833108082136426,
  // u2 = (0x6E789E6AA1B965F4 >> 11)·2^−53 = 0.43152799704850997.
  Rng u(0);
  EXPECT_EQ(u.uniform(), static_cast<double>(0xE220A8397B1DCDAFull >> 11) * 0x1.0p-53);
  EXPECT_NEAR(Rng(0).uniform(), 0.8833108082136426, 1e-16);
  // Box–Muller, cosine first then the sine as the spare: r = √(−2 ln u1) = 0.4981528864…,
  // z0 = r·cos(2π·u2) = −0.4527577402174582, z1 = r·sin(2π·u2) = 0.20776603893419202.
  Rng n(0);
  EXPECT_NEAR(n.normal(), -0.4527577402174582, 1e-14);
  EXPECT_NEAR(n.normal(), 0.20776603893419202, 1e-14);
}

// [SECTION] Streams

TEST(Rng, SameSeedSameStream) {
  Rng a(12345), b(12345);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next_u64(), b.next_u64()) << i;
  Rng c(777), d(777);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(c.normal(), d.normal()) << i;
}

TEST(Rng, DifferentSeedsDifferentStreams) {
  Rng a(1), b(2);
  int equal = 0;
  for (int i = 0; i < 1000; ++i) equal += a.next_u64() == b.next_u64();
  EXPECT_EQ(equal, 0);
}

TEST(Rng, StreamSeedDiffersByNameAndBySeed) {
  const std::vector<std::string> names = {"W_Q", "W_K", "W_V", "W_O", "layer0.W_Q", "layer1.W_Q", "", "a", "b", "ab", "ba"};
  std::set<uint64_t> seen;
  for (const std::string& name : names) seen.insert(stream_seed(42, name));
  EXPECT_EQ(seen.size(), names.size()) << "two names share a stream";
  EXPECT_NE(stream_seed(42, "W_Q"), stream_seed(43, "W_Q"));
  EXPECT_EQ(stream_seed(42, "W_Q"), stream_seed(42, "W_Q"));
  // Different streams actually produce different numbers.
  Rng q(stream_seed(42, "W_Q")), k(stream_seed(42, "W_K"));
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += q.next_u64() == k.next_u64();
  EXPECT_EQ(equal, 0);
}

// [SECTION] Distributions

TEST(Rng, UniformIsInHalfOpenUnitIntervalWith53Bits) {
  Rng rng(99);
  constexpr int N = 200000;
  double sum = 0.0;
  for (int i = 0; i < N; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const double scaled = u * 0x1.0p53;  // an integer if u has exactly 53 random bits
    ASSERT_EQ(scaled, std::floor(scaled));
    sum += u;
  }
  // Mean 1/2, standard error √(1/12/N) = 6.5e−4; 5 SE ≈ 3.2e−3.
  EXPECT_NEAR(sum / N, 0.5, 3.2e-3);
}

TEST(Rng, NormalHasMeanZeroAndVarianceOne) {
  Rng rng(2024);
  constexpr int N = 200000;
  double sum = 0.0, sum_sq = 0.0;
  int within_one = 0;
  for (int i = 0; i < N; ++i) {
    const double z = rng.normal();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum_sq += z * z;
    within_one += std::fabs(z) < 1.0;
  }
  const double mean = sum / N;
  const double var = sum_sq / N - mean * mean;
  // SE(mean) = 1/√N = 2.24e−3  → 5 SE = 0.0112.
  EXPECT_NEAR(mean, 0.0, 0.0112);
  // SE(var) = √(2/N) = 3.16e−3 for a normal → 5 SE = 0.0158.
  EXPECT_NEAR(var, 1.0, 0.0158);
  // P(|z| < 1) = 0.682689; SE = √(p(1−p)/N) = 1.04e−3 → 5 SE = 0.0052. Catches a right-variance wrong-shape law.
  EXPECT_NEAR(static_cast<double>(within_one) / N, 0.682689, 0.0052);
}

TEST(Rng, NormalPairsAreNotCorrelated) {
  // Box–Muller returns (r cos, r sin) pairs; consecutive values must still be uncorrelated.
  Rng rng(5);
  constexpr int N = 100000;
  double sum_xy = 0.0;
  for (int i = 0; i < N; ++i) {
    const double x = rng.normal(), y = rng.normal();
    sum_xy += x * y;
  }
  // E[xy] = 0, SE = 1/√N = 3.2e−3 → 5 SE = 0.016.
  EXPECT_NEAR(sum_xy / N, 0.0, 0.016);
}

// [SECTION] normal_matrix

TEST(Rng, NormalMatrixIsDeterministicAndNamed) {
  const Mat A = normal_matrix(42, "W_Q", 8, 5, 0.02f);
  const Mat B = normal_matrix(42, "W_Q", 8, 5, 0.02f);
  ASSERT_EQ(A.rows(), 8);
  ASSERT_EQ(A.cols(), 5);
  EXPECT_TRUE(A == B);
  EXPECT_FALSE(A == normal_matrix(42, "W_K", 8, 5, 0.02f));
  EXPECT_FALSE(A == normal_matrix(43, "W_Q", 8, 5, 0.02f));
}

TEST(Rng, NormalMatrixFillsRowMajorFromTheNamedStream) {
  // Pins the layout: entry (r, c) is draw r·cols + c of Rng(stream_seed(seed, name)), times the std.
  const Mat A = normal_matrix(7, "ffn.W_1", 3, 4, 0.5f);
  Rng rng(stream_seed(7, "ffn.W_1"));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(A(r, c), static_cast<float>(rng.normal()) * 0.5f) << r << "," << c;
}

TEST(Rng, NormalMatrixHasTheRequestedStd) {
  constexpr int rows = 200, cols = 200;  // N = 40000
  for (float stddev : {0.02f, 1.0f, 3.0f}) {
    const Mat A = normal_matrix(1, "std_test", rows, cols, stddev);
    const double mean = A.cast<double>().mean();
    const double var = (A.cast<double>().array() - mean).square().mean();
    // SE(mean) = σ/√N = σ·5e−3 → 5 SE = σ·0.025; SE(sample std)/σ = 1/√(2N) = 3.5e−3 → 5 SE = 1.8 %.
    EXPECT_NEAR(mean, 0.0, stddev * 0.025) << stddev;
    EXPECT_NEAR(std::sqrt(var) / stddev, 1.0, 0.018) << stddev;
  }
}

// [SECTION] Counter-based draws: entry k of a named tensor is a pure function of (stream_seed(seed, name), k).

TEST(RngCounter, GoldenValuesFromThePythonScript) {
  // Printed by tests/rng_golden.py, which implements the formula of core/rng.h on its own (Python integers, math).
  const uint64_t key = stream_seed(42, "W_Q");
  EXPECT_EQ(counter_u64(key, 0), 0x071d4077b60c9574ull);
  EXPECT_EQ(counter_u64(key, 1), 0xa5435333c22574d5ull);
  EXPECT_EQ(counter_u64(key, 1000000), 0xcacfbc8234a0b1ceull);
  EXPECT_NEAR(counter_normal(key, 1000001), -0.021116002283452045, 1e-15);
  const Mat A = normal_matrix(42, "W_Q", 2, 3, 1.0f);
  const float a[6] = {-0x1.a21fd8p+0f, -0x1.0f7bbep+1f, -0x1.50e334p+0f, 0x1.500318p-1f, 0x1.371b7cp-1f, 0x1.b7c78cp-2f};
  for (int k = 0; k < 6; ++k) EXPECT_EQ(A.data()[k], a[k]) << "k " << k;
  // A GPT-2-sized block weight, filled by several threads: its first, second, a middle and its last entry.
  const Mat W = normal_matrix(7, "decoder.3.ffn.W_1", 768, 3072, 0.036f);
  EXPECT_EQ(W.data()[0], 0x1.1c7806p-6f);
  EXPECT_EQ(W.data()[1], 0x1.01304ap-5f);
  EXPECT_EQ(W.data()[1000001], 0x1.550738p-5f);
  EXPECT_EQ(W.data()[768 * 3072 - 1], -0x1.932888p-6f);
  // An odd number of entries: the last is the cosine of its pair, whose sine is never used.
  EXPECT_EQ(normal_matrix(7, "w_a", 3, 5, 2.0f)(2, 4), -0x1.500ec6p-1f);
}

TEST(RngCounter, CounterIsTheSequentialSplitMix64Stream) {
  // u64(key, i) = mix(key + (i+1)·γ) is the i-th output of SplitMix64 started at key, so weights seeded before the
  // counter form keep their values (Rng's normal() = counter_normal(key, k) for k = 0, 1, 2, …).
  for (uint64_t key : {uint64_t{0}, uint64_t{42}, stream_seed(42, "W_Q"), ~uint64_t{0}}) {
    uint64_t state = key;
    Rng rng(key);
    for (uint64_t i = 0; i < 1000; ++i) {
      ASSERT_EQ(counter_u64(key, i), reference_splitmix64(state)) << key << " " << i;
      ASSERT_EQ(counter_normal(key, i), rng.normal()) << key << " " << i;
    }
  }
}

TEST(RngCounter, LargeMatrixEqualsTheSequentialStream) {
  // The parallel fill (above the one-thread threshold) gives exactly the sequential stream, entry by entry.
  const Mat A = normal_matrix(3, "decoder.0.self_attn.W_V", 768, 768, 0.5f);
  Rng rng(stream_seed(3, "decoder.0.self_attn.W_V"));
  for (Eigen::Index k = 0; k < A.size(); ++k) ASSERT_EQ(A.data()[k], static_cast<float>(rng.normal()) * 0.5f) << "k " << k;
}

TEST(RngCounter, SameNumbersOnOneTwoAndThreeThreads) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP (QKVLAB_OPENMP=OFF): one thread only";
#else
  const int before = omp_get_max_threads();
  std::vector<Mat> fills;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    fills.push_back(normal_matrix(42, "decoder.0.ffn.W_2", 3072, 768, 0.018f));  // 1.2 M pairs: the parallel path
    fills.push_back(normal_matrix(42, "pos.learned", 1025, 77, 1.0f));           // odd size, uneven chunks
  }
  omp_set_num_threads(before);
  for (size_t i = 2; i < fills.size(); ++i) EXPECT_TRUE(fills[i] == fills[i % 2]) << "fill " << i << " differs from one thread's";
#endif
}

TEST(RngCounter, PrefixStability) {
  // Entry k depends on k alone, not on the shape: a [2, 3] and a [4, 3] tensor of one name share their first 6
  // numbers, and a [1, 5] (odd: the last is a pair's cosine) shares its 5 with both.
  const Mat small = normal_matrix(42, "W_Q", 2, 3, 1.0f), large = normal_matrix(42, "W_Q", 4, 3, 1.0f);
  const Mat odd = normal_matrix(42, "W_Q", 1, 5, 1.0f), big = normal_matrix(42, "W_Q", 300, 300, 1.0f);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(small.data()[k], large.data()[k]) << k;
  for (int k = 0; k < 5; ++k) EXPECT_EQ(odd.data()[k], small.data()[k]) << k;
  for (int k = 0; k < 12; ++k) EXPECT_EQ(big.data()[k], large.data()[k]) << k;
  // The std scales, nothing else: σ·z for the same z.
  EXPECT_EQ(normal_matrix(42, "W_Q", 2, 3, 0.5f).data()[4], small.data()[4] * 0.5f);
}

TEST(RngCounter, MillionDrawsHaveMeanZeroAndStdSigma) {
  constexpr int N = 1000 * 1000;
  for (float stddev : {0.036f, 1.0f}) {
    const Mat A = normal_matrix(11, "moments", 1000, 1000, stddev);
    double sum = 0.0, sum_sq = 0.0, sum_4 = 0.0;
    int within = 0;
    for (int k = 0; k < N; ++k) {
      const double z = static_cast<double>(A.data()[k]) / stddev;
      ASSERT_TRUE(std::isfinite(z)) << k;
      sum += z, sum_sq += z * z, sum_4 += z * z * z * z;
      within += std::fabs(z) < 1.0;
    }
    const double mean = sum / N, var = sum_sq / N - mean * mean;
    // SE(mean) = 1e−3 → 5 SE = 5e−3; SE(var) = √(2/N) = 1.41e−3 → 5 SE = 7.1e−3; E z⁴ = 3, SE = √(96/N) ≈ 9.8e−3.
    EXPECT_NEAR(mean, 0.0, 5e-3) << stddev;
    EXPECT_NEAR(var, 1.0, 7.1e-3) << stddev;
    EXPECT_NEAR(sum_4 / N, 3.0, 0.049) << stddev;
    // P(|z| < 1) = 0.682689, SE = 4.65e−4 → 5 SE = 2.3e−3.
    EXPECT_NEAR(static_cast<double>(within) / N, 0.682689, 2.3e-3) << stddev;
  }
}

// Pearson correlation of two equally long arrays.
double correlation(const Mat& a, const Mat& b) {
  const Eigen::ArrayXd x = Eigen::Map<const Eigen::VectorXf>(a.data(), a.size()).cast<double>().array();
  const Eigen::ArrayXd y = Eigen::Map<const Eigen::VectorXf>(b.data(), b.size()).cast<double>().array();
  const Eigen::ArrayXd dx = x - x.mean(), dy = y - y.mean();
  return (dx * dy).sum() / std::sqrt(dx.square().sum() * dy.square().sum());
}

TEST(RngCounter, DifferentNamesAndSeedsAreUncorrelated) {
  // 1e6 pairs: SE of r is 1/√N = 1e−3 → 5 SE = 5e−3. Neighbouring names, one letter apart, and the same name under
  // neighbouring seeds; then lag 1 inside one stream (the cosine and sine of a pair).
  const Mat q = normal_matrix(42, "decoder.0.self_attn.W_Q", 1000, 1000, 1.0f);
  EXPECT_NEAR(correlation(q, normal_matrix(42, "decoder.0.self_attn.W_K", 1000, 1000, 1.0f)), 0.0, 5e-3);
  EXPECT_NEAR(correlation(q, normal_matrix(42, "decoder.1.self_attn.W_Q", 1000, 1000, 1.0f)), 0.0, 5e-3);
  EXPECT_NEAR(correlation(q, normal_matrix(43, "decoder.0.self_attn.W_Q", 1000, 1000, 1.0f)), 0.0, 5e-3);
  const Mat s = normal_matrix(42, "lag", 1, 1000001, 1.0f);
  const Mat head = s.leftCols(1000000), tail = s.rightCols(1000000);
  EXPECT_NEAR(correlation(head, tail), 0.0, 5e-3);
}

TEST(RngCounter, StreamsOfEveryShippedNameNeverOverlap) {
  // Every name's stream is a window of one cycle: key_b = key_a + d·γ (mod 2⁶⁴) makes draw i of b draw i + d of a.
  // Compute d = (key_b − key_a)·γ⁻¹ for every pair of names a GPT-2-sized encoder–decoder would seed (and 2,000
  // token rows) under three seeds: no window of 2²³ draws (> 3072·768·2) may reach another's.
  const uint64_t gamma = 0x9E3779B97F4A7C15ull;
  uint64_t inverse = gamma;  // Newton's iteration doubles the correct low bits: 5 → 10 → … → 64+
  for (int i = 0; i < 6; ++i) inverse *= 2 - gamma * inverse;
  ASSERT_EQ(gamma * inverse, 1ull);
  std::vector<std::string> names = {"pos.learned"};
  for (const char* stack : {"encoder", "decoder"})
    for (int l = 0; l < 12; ++l) {
      const std::string p = std::string(stack) + "." + std::to_string(l) + ".";
      for (const char* block : {"self_attn.", "cross_attn."})
        for (const char* w : {"W_Q", "W_K", "W_V", "W_O", "w_a"}) names.push_back(p + block + w);
      names.push_back(p + "ffn.W_1");
      names.push_back(p + "ffn.W_2");
    }
  for (int t = 0; t < 2000; ++t) names.push_back("embed.E/w" + std::to_string(t));
  for (uint64_t seed : {0ull, 42ull, 1234ull}) {
    std::vector<uint64_t> keys;
    for (const std::string& name : names) keys.push_back(stream_seed(seed, name));
    constexpr uint64_t kWindow = 1ull << 23;
    for (size_t a = 0; a < keys.size(); ++a)
      for (size_t b = a + 1; b < keys.size(); ++b) {
        const uint64_t d = (keys[b] - keys[a]) * inverse;
        ASSERT_TRUE(d > kWindow && 0 - d > kWindow) << names[a] << " and " << names[b] << " under seed " << seed << " are " << d << " draws apart";
      }
  }
}

}  // namespace
}  // namespace qkv
