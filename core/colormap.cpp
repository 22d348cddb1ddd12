#include "core/colormap.h"

#include <algorithm>
#include <cmath>

namespace qkv {
namespace {

constexpr float kPi = 3.14159265358979f;

float to_srgb(float linear) {
  linear = std::clamp(linear, 0.0f, 1.0f);
  return linear <= 0.0031308f ? 12.92f * linear : 1.055f * std::pow(linear, 1.0f / 2.4f) - 0.055f;
}
float from_srgb(float s) { return s <= 0.04045f ? s / 12.92f : std::pow((s + 0.055f) / 1.055f, 2.4f); }

// OKLCh (lightness, chroma, hue in degrees) to 8-bit sRGB, clipping out-of-gamut channels.
Rgb8 oklch_to_rgb8(float L, float C, float hue_deg) {
  const float a = C * std::cos(hue_deg * kPi / 180.0f), b = C * std::sin(hue_deg * kPi / 180.0f);
  const float l_ = L + 0.3963377774f * a + 0.2158037573f * b;
  const float m_ = L - 0.1055613458f * a - 0.0638541728f * b;
  const float s_ = L - 0.0894841775f * a - 1.2914855480f * b;
  const float l = l_ * l_ * l_, m = m_ * m_ * m_, s = s_ * s_ * s_;
  const float r = 4.0767416621f * l - 3.3077115913f * m + 0.2309699292f * s;
  const float g = -1.2684380046f * l + 2.6097574011f * m - 0.3413193965f * s;
  const float bl = -0.0041960863f * l - 0.7034186147f * m + 1.7076147010f * s;
  const auto byte = [](float v) { return static_cast<uint8_t>(std::lround(to_srgb(v) * 255.0f)); };
  return {byte(r), byte(g), byte(bl)};
}

}  // namespace

Rgb8 sequential_color(float t) {
  t = std::isnan(t) ? 0.0f : std::clamp(t, 0.0f, 1.0f);
  const float L = 0.22f + 0.74f * t;                  // monotonic lightness: order reads at a glance
  const float C = 0.09f + 0.07f * std::sin(kPi * t);  // most colourful in the middle
  const float hue = 290.0f - 190.0f * t;              // indigo → teal → yellow
  return oklch_to_rgb8(L, C, hue);
}

Rgb8 diverging_color(float t) {
  t = std::isnan(t) ? 0.0f : std::clamp(t, -1.0f, 1.0f);
  const float x = std::fabs(t);
  const float L = 0.97f - 0.47f * x;
  const float C = 0.17f * x;
  return oklch_to_rgb8(L, C, t < 0.0f ? 255.0f : 28.0f);
}

Rgb8 masked_color(int x, int y) {
  const bool stripe = ((x + y) / 3) % 2 == 0;
  return stripe ? Rgb8{96, 96, 96} : Rgb8{150, 150, 150};
}

float oklab_lightness(const Rgb8& c) {
  const float r = from_srgb(c[0] / 255.0f), g = from_srgb(c[1] / 255.0f), b = from_srgb(c[2] / 255.0f);
  const float l = 0.4122214708f * r + 0.5363325363f * g + 0.0514459929f * b;
  const float m = 0.2119034982f * r + 0.6806995451f * g + 0.1073969566f * b;
  const float s = 0.0883024619f * r + 0.2817188376f * g + 0.6299787005f * b;
  return 0.2104542553f * std::cbrt(l) + 0.7936177850f * std::cbrt(m) - 0.0040720468f * std::cbrt(s);
}

}  // namespace qkv
