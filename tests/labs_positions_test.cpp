// Labs: positional encodings — PE·PEᵀ and its offset curves, the RoPE demo, the ALiBi demo.
#include "core/labs/positions.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/positional.h"
#include "core/rng.h"

namespace qkv::labs {
namespace {

TEST(LabsPositions, SinusoidalSimilarityDependsOnTheOffsetOnly) {
  const TableStats st = pe_similarity(64, 16, 10000.0);
  ASSERT_EQ(st.similarity.rows(), 64);
  // ⟨p_m, p_m⟩ = Σ_i sin² + cos² = d_model/2
  for (int m = 0; m < 64; ++m) EXPECT_NEAR(st.similarity(m, m), 8.0f, 1e-4f);
  // ⟨p_0, p_k⟩ = Σ_i cos(k·ω_i), ω_i = base^(−2i/d)
  for (int k : {1, 5, 63}) {
    double want = 0;
    for (int i = 0; i < 8; ++i) want += std::cos(k * std::pow(10000.0, -2.0 * i / 16));
    EXPECT_NEAR(st.curves.from_zero[k], want, 1e-4) << "k = " << k;
  }
  EXPECT_LT(st.curves.max_deviation, 1e-4f);
  EXPECT_NEAR(st.rms, std::sqrt(0.5), 1e-5);  // each row: d/2 sin² + cos² pairs over d entries
  EXPECT_NEAR(st.curves.mean[5], st.curves.from_zero[5], 1e-4f);
  ASSERT_EQ(st.curves.k.size(), 64u);
}

TEST(LabsPositions, OddWidthLeavesAnUnpairedSineThatDependsOnPosition) {
  // d_model = 3, base 100: the unpaired sine of dim 2 turns at ω = 100^(−2/3) ≈ 0.046, far within 64 positions.
  EXPECT_GT(pe_similarity(64, 3, 100.0).curves.max_deviation, 0.1f);
  EXPECT_LT(pe_similarity(64, 4, 100.0).curves.max_deviation, 1e-4f);
}

TEST(LabsPositions, OffsetCurvesOfAHandMadeMatrix) {
  Mat G(3, 3);
  G << 1, 2, 3,  //
      2, 5, 6,   //
      3, 6, 9;
  const OffsetCurves c = offset_curves(G);
  EXPECT_FLOAT_EQ(c.mean[0], 5.0f);  // (1 + 5 + 9) / 3
  EXPECT_FLOAT_EQ(c.mean[1], 4.0f);  // (2 + 6) / 2
  EXPECT_FLOAT_EQ(c.mean[2], 3.0f);
  EXPECT_FLOAT_EQ(c.from_zero[1], 2.0f);
  EXPECT_FLOAT_EQ(c.max_deviation, 8.0f);  // |9 − 1|
}

TEST(LabsPositions, RopeScoresDependOnTheOffsetOnlyAndAddedSinusoidsDoNot) {
  const RopeDemo d = rope_demo(42, 16, 10000.0);
  EXPECT_EQ(d.d, 16);
  ASSERT_EQ(d.offset.size(), 33u);
  EXPECT_FLOAT_EQ(d.offset.front(), 16.0f);
  EXPECT_FLOAT_EQ(d.offset.back(), -16.0f);
  EXPECT_LT(d.rope_max_gap, 1e-4f);
  float added_gap = 0.0f;
  for (size_t r = 0; r < d.offset.size(); ++r) added_gap = std::max(added_gap, std::fabs(d.added[0][r] - d.added[1][r]));
  EXPECT_GT(added_gap, 0.1f);
  // At offset 0 the rotations cancel: q_m·k_m = q·k.
  const Mat q = normal_matrix(42, "positions-lab.rope.q", 1, 16, 1.0f), k = normal_matrix(42, "positions-lab.rope.k", 1, 16, 1.0f);
  EXPECT_NEAR(d.rope[0][16], q.row(0).dot(k.row(0)), 1e-4f);
  EXPECT_NEAR(d.rope[1][16], q.row(0).dot(k.row(0)), 1e-4f);
  EXPECT_EQ(rope_demo(42, 15, 10000.0).d, 14);  // RoPE rotates pairs
}

TEST(LabsPositions, AlibiSlopesOfEightHeadsAreHalfToOneOver256) {
  const AlibiDemo d = alibi_demo(8);
  ASSERT_EQ(d.slopes.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(d.slopes[i], std::pow(2.0f, -(i + 1.0f)));
  ASSERT_EQ(d.curves.size(), 8u);
  for (const AlibiCurve& c : d.curves)
    for (size_t j = 0; j < c.offset.size(); ++j) EXPECT_FLOAT_EQ(c.bias[j], -c.slope * std::fabs(c.offset[j]));
}

TEST(LabsPositions, AlibiDemoSpreadsItsCurvesOverManyHeads) {
  const AlibiDemo d = alibi_demo(16, 8);
  ASSERT_EQ(d.curves.size(), 8u);
  EXPECT_EQ(d.curves.front().head, 0);
  EXPECT_EQ(d.curves.back().head, 15);
  EXPECT_TRUE(alibi_demo(0).curves.empty());
  EXPECT_EQ(alibi_demo(1).curves.size(), 1u);
}

}  // namespace
}  // namespace qkv::labs
