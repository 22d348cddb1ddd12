// Tests for core/positional: the sinusoidal table (hand values, relative-position structure), RoPE (norm-preserving,
// relative), and ALiBi (slopes from the paper's rule, bias values).
#include "core/positional.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace qkv {
namespace {

// [SECTION] Sinusoidal

TEST(Positional, SinusoidalPositionZeroIsZeroOne) {
  // sin(0) = 0, cos(0) = 1 at every frequency: PE[0] = [0, 1, 0, 1, …].
  const Mat PE = sinusoidal_table(4, 10, 10000.0);
  ASSERT_EQ(PE.rows(), 4);
  ASSERT_EQ(PE.cols(), 10);
  for (int c = 0; c < 10; ++c) EXPECT_EQ(PE(0, c), c % 2 == 0 ? 0.0f : 1.0f) << c;
}

TEST(Positional, SinusoidalHandValues) {
  const double base = 10000.0;
  const int d = 4;
  const Mat PE = sinusoidal_table(8, d, base);
  // i = 0: frequency base^0 = 1, so PE[1,0] = sin(1) = 0.8414710, PE[1,1] = cos(1) = 0.5403023.
  EXPECT_NEAR(PE(1, 0), 0.8414710f, 1e-6f);
  EXPECT_NEAR(PE(1, 1), 0.5403023f, 1e-6f);
  // i = 1: base^(2/4) = 100, so PE[5,2] = sin(5/100) = sin(0.05) = 0.04997917, PE[5,3] = cos(0.05) = 0.99875026.
  EXPECT_NEAR(PE(5, 2), 0.04997917f, 1e-7f);
  EXPECT_NEAR(PE(5, 3), 0.99875026f, 1e-7f);
  // The general rule at every p: PE[p,2] = sin(p / base^(2/d)), PE[p,3] = cos(same).
  for (int p = 0; p < 8; ++p) {
    EXPECT_NEAR(PE(p, 2), std::sin(p / std::pow(base, 2.0 / d)), 1e-7) << p;
    EXPECT_NEAR(PE(p, 3), std::cos(p / std::pow(base, 2.0 / d)), 1e-7) << p;
  }
}

TEST(Positional, SinusoidalMatchesNaiveFormula) {
  // PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d)); also with another base.
  for (double base : {10000.0, 100.0}) {
    const int rows = 50, d = 16;
    const Mat PE = sinusoidal_table(rows, d, base);
    double max_diff = 0.0;
    for (int p = 0; p < rows; ++p)
      for (int i = 0; i < d / 2; ++i) {
        const double angle = p / std::pow(base, 2.0 * i / d);
        max_diff = std::max(max_diff, std::fabs(PE(p, 2 * i) - std::sin(angle)));
        max_diff = std::max(max_diff, std::fabs(PE(p, 2 * i + 1) - std::cos(angle)));
      }
    EXPECT_LT(max_diff, 1e-6) << "base " << base;
  }
}

TEST(Positional, SinusoidalDotDependsOnlyOnOffset) {
  // <p_m, p_n> = Σ_i cos((m − n)·ω_i): the same for every pair at the same offset.
  const Mat PE = sinusoidal_table(200, 32, 10000.0);
  for (int offset : {1, 3, 10, 40}) {
    const float reference = PE.row(0).dot(PE.row(offset));
    for (int m : {5, 20, 77, 150}) {
      EXPECT_NEAR(PE.row(m).dot(PE.row(m + offset)), reference, 1e-4f) << "m=" << m << " offset=" << offset;
      EXPECT_NEAR(PE.row(m + offset).dot(PE.row(m)), reference, 1e-4f);
    }
  }
}

TEST(Positional, SinusoidalDotDecaysWithOffset) {
  // At offset 0 every term is cos 0 = 1, so <p, p> = d/2 = 16, the maximum; far offsets lose most of it.
  const int d = 32;
  const Mat PE = sinusoidal_table(200, d, 10000.0);
  const float self = PE.row(50).dot(PE.row(50));
  EXPECT_NEAR(self, d / 2.0f, 1e-4f);
  for (int k = 1; k < 150; ++k) EXPECT_LT(PE.row(0).dot(PE.row(k)), self - 0.1f) << k;
  // Averaged over offsets 50..149 the similarity is well below its value at small offsets.
  double near = 0.0, far = 0.0;
  for (int k = 1; k <= 5; ++k) near += PE.row(0).dot(PE.row(k)) / 5.0;
  for (int k = 50; k < 150; ++k) far += PE.row(0).dot(PE.row(k)) / 100.0;
  EXPECT_LT(far, 0.75 * near) << "near " << near << " far " << far;
}

// [SECTION] RoPE

Mat rope_at(const Mat& x, int pos, double base = 10000.0) {
  Mat y = x;
  apply_rope(y, pos, base);
  return y;
}

TEST(Positional, RopeAtPositionZeroIsIdentity) {
  const Mat X = Mat::Random(1, 8);
  EXPECT_TRUE(rope_at(X, 0) == X);  // θ = 0: cos 1, sin 0, exactly
}

TEST(Positional, RopeHandValues) {
  // d = 4, base = 10000. Pair 0 turns by θ = p, pair 1 by θ = p/100 (base^(−2/4) = 1/100).
  Mat x(1, 4);
  x << 1.0f, 0.0f, 0.0f, 2.0f;
  const Mat y = rope_at(x, 1);
  // (1, 0) by 1 rad → (cos 1, sin 1) = (0.5403023, 0.8414710)
  EXPECT_NEAR(y(0, 0), 0.5403023f, 1e-6f);
  EXPECT_NEAR(y(0, 1), 0.8414710f, 1e-6f);
  // (0, 2) by 0.01 rad → (−2 sin 0.01, 2 cos 0.01) = (−0.01999967, 1.99990000)
  EXPECT_NEAR(y(0, 2), -0.01999967f, 1e-6f);
  EXPECT_NEAR(y(0, 3), 1.99990000f, 1e-6f);
}

TEST(Positional, RopeRowPositionIsPos0PlusRow) {
  // Rotating a block starting at pos0 equals rotating each row alone at pos0 + r.
  const Mat X = Mat::Random(5, 6);
  Mat block = X;
  apply_rope(block, 7, 10000.0);
  for (int r = 0; r < 5; ++r) {
    const Mat row = rope_at(X.row(r), 7 + r);
    EXPECT_TRUE(block.row(r) == row) << r;
  }
}

TEST(Positional, RopeWorksOnAColumnSliceOnly) {
  // model.cpp rotates each head's middleCols in place; the columns outside must not move.
  Mat X = Mat::Random(3, 12);
  const Mat before = X;
  apply_rope(X.middleCols(4, 4), 2, 10000.0);
  EXPECT_TRUE(X.leftCols(4) == before.leftCols(4));
  EXPECT_TRUE(X.rightCols(4) == before.rightCols(4));
  Mat expected = before.middleCols(4, 4);
  apply_rope(expected, 2, 10000.0);
  EXPECT_TRUE(X.middleCols(4, 4) == expected);
}

TEST(Positional, RopePreservesRowNorms) {
  const Mat X = Mat::Random(20, 16) * 3.0f;
  Mat Y = X;
  apply_rope(Y, 100, 10000.0);
  for (int r = 0; r < X.rows(); ++r) EXPECT_NEAR(Y.row(r).norm(), X.row(r).norm(), 1e-5f * X.row(r).norm()) << r;
  EXPECT_FALSE(Y == X);  // it did rotate
}

TEST(Positional, RopeDotDependsOnlyOnRelativePosition) {
  // q_m · k_n = qᵀ R(m)ᵀ R(n) k = qᵀ R(n − m) k.
  const Mat q = Mat::Random(1, 16), k = Mat::Random(1, 16);
  for (int delta : {0, 1, 5, -3, 30}) {
    const float reference = rope_at(q, 50 + delta).row(0).dot(rope_at(k, 50).row(0));
    for (int n : {0, 3, 17, 200}) {
      if (n + delta < 0) continue;
      const float dot = rope_at(q, n + delta).row(0).dot(rope_at(k, n).row(0));
      EXPECT_NEAR(dot, reference, 1e-4f) << "m=" << n + delta << " n=" << n;
    }
  }
  // And it does depend on the offset (otherwise the checks above say nothing).
  EXPECT_GT(std::fabs(rope_at(q, 1).row(0).dot(rope_at(k, 0).row(0)) - rope_at(q, 0).row(0).dot(rope_at(k, 0).row(0))), 1e-3f);
}

// [SECTION] ALiBi

TEST(Positional, AlibiSlopesPowerOfTwo) {
  // h = 8: 2^(−8·k/8) = 2^−k for k = 1..8.
  EXPECT_EQ(alibi_slopes(8), (std::vector<float>{1.0f / 2, 1.0f / 4, 1.0f / 8, 1.0f / 16, 1.0f / 32, 1.0f / 64, 1.0f / 128, 1.0f / 256}));
  // h = 4: 2^(−8·k/4) = 2^(−2k): 1/4, 1/16, 1/64, 1/256.
  EXPECT_EQ(alibi_slopes(4), (std::vector<float>{1.0f / 4, 1.0f / 16, 1.0f / 64, 1.0f / 256}));
  // h = 1: 2^−8; h = 2: 2^−4, 2^−8.
  EXPECT_EQ(alibi_slopes(1), (std::vector<float>{1.0f / 256}));
  EXPECT_EQ(alibi_slopes(2), (std::vector<float>{1.0f / 16, 1.0f / 256}));
  // h = 16: 2^(−k/2), k = 1..16; first √½ = 0.70710678, last 2^−8.
  const std::vector<float> s16 = alibi_slopes(16);
  ASSERT_EQ(s16.size(), 16u);
  EXPECT_FLOAT_EQ(s16[0], 0.70710678f);
  EXPECT_FLOAT_EQ(s16[15], 1.0f / 256);
}

TEST(Positional, AlibiSlopesNonPowerOfTwoFollowPaper) {
  // Press et al.'s get_slopes(6): get_slopes_power_of_2(4) + get_slopes(8)[0::2][:2]
  //   = [1/4, 1/16, 1/64, 1/256] + [1/2, 1/8]
  EXPECT_EQ(alibi_slopes(6), (std::vector<float>{1.0f / 4, 1.0f / 16, 1.0f / 64, 1.0f / 256, 1.0f / 2, 1.0f / 8}));
  // get_slopes(3) = [1/16, 1/256] + get_slopes(4)[0::2][:1] = [1/16, 1/256, 1/4]
  EXPECT_EQ(alibi_slopes(3), (std::vector<float>{1.0f / 16, 1.0f / 256, 1.0f / 4}));
  // get_slopes(12) = the 8 of h = 8, then get_slopes(16)[0::2][:4] = 2^−0.5, 2^−1.5, 2^−2.5, 2^−3.5
  const std::vector<float> s12 = alibi_slopes(12);
  ASSERT_EQ(s12.size(), 12u);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(s12[k], std::ldexp(1.0f, -(k + 1))) << k;
  EXPECT_FLOAT_EQ(s12[8], 0.70710678f);   // 2^−0.5
  EXPECT_FLOAT_EQ(s12[9], 0.35355339f);   // 2^−1.5
  EXPECT_FLOAT_EQ(s12[10], 0.17677670f);  // 2^−2.5
  EXPECT_FLOAT_EQ(s12[11], 0.08838835f);  // 2^−3.5
}

TEST(Positional, AlibiSlopesCountAndAreDistinctPositive) {
  for (int h = 1; h <= 32; ++h) {
    const std::vector<float> s = alibi_slopes(h);
    ASSERT_EQ(static_cast<int>(s.size()), h);
    for (int i = 0; i < h; ++i) {
      EXPECT_GT(s[i], 0.0f);
      EXPECT_LE(s[i], 1.0f);
      for (int j = 0; j < i; ++j) EXPECT_NE(s[i], s[j]) << "h=" << h;
    }
  }
}

TEST(Positional, AlibiBiasHandValues) {
  // n = 2, m = 4, q_pos0 = 0, slope 0.5: B_ij = −0.5·|i − j|
  Mat expected(2, 4);
  expected << 0.0f, -0.5f, -1.0f, -1.5f,  //
      -0.5f, 0.0f, -0.5f, -1.0f;
  EXPECT_TRUE(alibi_bias(2, 4, 0, 0.5f) == expected);
  // A single query at position 3 (decoding with a cache of 3 keys before it), slope 0.25: B_0j = −0.25·|3 − j|
  Mat last(1, 4);
  last << -0.75f, -0.5f, -0.25f, 0.0f;
  EXPECT_TRUE(alibi_bias(1, 4, 3, 0.25f) == last);
}

TEST(Positional, AlibiBiasMatchesNaiveLoop) {
  const int n = 5, m = 9, q_pos0 = 4;
  const float slope = 0.125f;
  const Mat B = alibi_bias(n, m, q_pos0, slope);
  ASSERT_EQ(B.rows(), n);
  ASSERT_EQ(B.cols(), m);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      const int distance = q_pos0 + i > j ? q_pos0 + i - j : j - (q_pos0 + i);
      EXPECT_EQ(B(i, j), -slope * distance) << i << "," << j;
    }
  EXPECT_EQ(B(0, 4), 0.0f);  // the query at position 4 sees itself with no penalty
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(Positional, WavelengthMatchesTheTablesPeriod) {
  // Dims 0 and 1: 2π (angle p/1); dims 4 and 5 of d_model = 8 with base 100: 2π·100^(4/8) = 20π.
  EXPECT_NEAR(sinusoidal_wavelength(0, 8, 100.0), 2.0 * 3.14159265358979, 1e-12);
  EXPECT_NEAR(sinusoidal_wavelength(5, 8, 100.0), 20.0 * 3.14159265358979, 1e-9);
  // The table repeats after one wavelength: PE[p] and PE[p + λ] agree in that dim (λ = 20π ≈ 62.83 positions,
  // so compare the sine at a real-valued shift through the formula).
  const Mat PE = sinusoidal_table(64, 8, 100.0);
  const double lambda = sinusoidal_wavelength(4, 8, 100.0);
  EXPECT_NEAR(PE(1, 4), std::sin((1.0 + lambda) / std::pow(100.0, 4.0 / 8.0)), 1e-6);
}

}  // namespace
}  // namespace qkv
