// Tests for core/colormap: the perceptual promises of the two colormaps (measured in OKLab lightness), clamping,
// and a masked hatch that no value can be mistaken for.
#include "core/colormap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qkv {
namespace {

int spread(const Rgb8& c) { return std::max({c[0], c[1], c[2]}) - std::min({c[0], c[1], c[2]}); }

// [SECTION] oklab_lightness itself

TEST(Colormap, OklabLightnessOfBlackWhiteAndGrey) {
  // Black L = 0, white L = 1 (OKLab is normalised so). sRGB 119 ≈ 18 % linear grey: L = ∛0.1845 ≈ 0.569.
  EXPECT_NEAR(oklab_lightness({0, 0, 0}), 0.0f, 1e-6f);
  EXPECT_NEAR(oklab_lightness({255, 255, 255}), 1.0f, 1e-3f);
  // linear(119/255) = ((0.46667 + 0.055)/1.055)^2.4 = 0.18447; L of a grey is ∛Y = 0.5693.
  EXPECT_NEAR(oklab_lightness({119, 119, 119}), 0.5693f, 1e-3f);
  // Pure sRGB blue is dark and yellow light (published OKLab L: blue 0.452, yellow 0.968).
  EXPECT_NEAR(oklab_lightness({0, 0, 255}), 0.452f, 2e-3f);
  EXPECT_NEAR(oklab_lightness({255, 255, 0}), 0.968f, 2e-3f);
}

// [SECTION] Sequential

TEST(Colormap, SequentialLightnessStrictlyIncreases) {
  // 64 steps over [0, 1]: the design L = 0.22 + 0.74 t rises 0.0117 per step, well above 8-bit rounding.
  float previous = -1.0f;
  for (int k = 0; k < 64; ++k) {
    const float t = k / 63.0f;
    const float L = oklab_lightness(sequential_color(t));
    EXPECT_GT(L, previous) << "step " << k << " t=" << t;
    previous = L;
  }
}

TEST(Colormap, SequentialEndsAreDarkAndLight) {
  // Designed L: 0.22 at 0 and 0.96 at 1; gamut clipping and 8 bits may move them a little.
  EXPECT_NEAR(oklab_lightness(sequential_color(0.0f)), 0.22f, 0.03f);
  EXPECT_NEAR(oklab_lightness(sequential_color(1.0f)), 0.96f, 0.03f);
}

TEST(Colormap, SequentialIsNeverGrey) {
  // Chroma ≥ 0.09 everywhere: every colour has clearly unequal channels, unlike the grey hatch.
  for (int k = 0; k <= 1000; ++k) EXPECT_GE(spread(sequential_color(k / 1000.0f)), 10) << "t=" << k / 1000.0f;
}

TEST(Colormap, SequentialClampsOutOfRangeAndNaN) {
  EXPECT_EQ(sequential_color(-0.5f), sequential_color(0.0f));
  EXPECT_EQ(sequential_color(-std::numeric_limits<float>::infinity()), sequential_color(0.0f));
  EXPECT_EQ(sequential_color(1.5f), sequential_color(1.0f));
  EXPECT_EQ(sequential_color(std::numeric_limits<float>::infinity()), sequential_color(1.0f));
  EXPECT_EQ(sequential_color(std::numeric_limits<float>::quiet_NaN()), sequential_color(0.0f));
  // And the ends really differ, so the checks above can fail.
  EXPECT_NE(sequential_color(0.0f), sequential_color(1.0f));
}

// [SECTION] Diverging

TEST(Colormap, DivergingIsNearWhiteAtZero) {
  const Rgb8 c = diverging_color(0.0f);
  EXPECT_GT(c[0], 230);
  EXPECT_GT(c[1], 230);
  EXPECT_GT(c[2], 230);
  EXPECT_LE(spread(c), 2);  // zero chroma: neutral
}

TEST(Colormap, DivergingIsBlueBelowAndRedAbove) {
  for (int k = 1; k <= 20; ++k) {
    const float t = k / 20.0f;
    const Rgb8 neg = diverging_color(-t), pos = diverging_color(t);
    EXPECT_GT(neg[2], neg[0]) << "t=" << -t << " should be blue-ish";
    EXPECT_GT(pos[0], pos[2]) << "t=" << t << " should be red-ish";
  }
}

TEST(Colormap, DivergingLightnessIsSymmetricAndFallsWithMagnitude) {
  // Designed L = 0.97 − 0.47|t| on both sides; 8-bit rounding (and clipping of the most saturated blue) moves each side
  // by at most a couple of thousandths, far less than the 0.0235 that one step of 0.05 in |t| changes L by.
  float previous = 2.0f;
  for (int k = 0; k <= 20; ++k) {
    const float t = k / 20.0f;
    const float Lpos = oklab_lightness(diverging_color(t)), Lneg = oklab_lightness(diverging_color(-t));
    EXPECT_NEAR(Lpos, Lneg, 0.005f) << "t=" << t;
    EXPECT_LT(Lpos, previous) << "t=" << t;
    previous = Lpos;
  }
}

TEST(Colormap, DivergingClampsOutOfRangeAndNaN) {
  EXPECT_EQ(diverging_color(-3.0f), diverging_color(-1.0f));
  EXPECT_EQ(diverging_color(3.0f), diverging_color(1.0f));
  EXPECT_EQ(diverging_color(-std::numeric_limits<float>::infinity()), diverging_color(-1.0f));
  EXPECT_EQ(diverging_color(std::numeric_limits<float>::infinity()), diverging_color(1.0f));
  EXPECT_EQ(diverging_color(std::numeric_limits<float>::quiet_NaN()), diverging_color(0.0f));
  EXPECT_NE(diverging_color(-1.0f), diverging_color(1.0f));
}

// [SECTION] Masked

TEST(Colormap, MaskedIsGreyHatch) {
  bool seen_dark = false, seen_light = false;
  for (int y = 0; y < 12; ++y) {
    for (int x = 0; x < 12; ++x) {
      const Rgb8 c = masked_color(x, y);
      EXPECT_EQ(c[0], c[1]);
      EXPECT_EQ(c[1], c[2]);
      seen_dark |= c == masked_color(0, 0);
      seen_light |= c != masked_color(0, 0);
    }
  }
  EXPECT_TRUE(seen_dark && seen_light) << "a hatch has two stripe colours";
  // Diagonal stripes: moving one pixel right and one up keeps x + y, so the colour.
  EXPECT_EQ(masked_color(4, 7), masked_color(5, 6));
}

TEST(Colormap, MaskedDiffersFromEverySequentialColour) {
  const Rgb8 stripes[2] = {masked_color(0, 0), masked_color(3, 0)};
  ASSERT_NE(stripes[0], stripes[1]);
  for (const Rgb8& m : stripes) {
    for (int k = 0; k <= 1000; ++k) {
      const Rgb8 s = sequential_color(k / 1000.0f);
      EXPECT_NE(s, m) << "t=" << k / 1000.0f;
      // Not even nearly equal: at least 10 levels apart in some channel.
      const int distance = std::max({std::abs(s[0] - m[0]), std::abs(s[1] - m[1]), std::abs(s[2] - m[2])});
      EXPECT_GE(distance, 10) << "t=" << k / 1000.0f;
    }
  }
}

}  // namespace
}  // namespace qkv
