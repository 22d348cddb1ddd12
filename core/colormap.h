// QKV Lab core — the two colormaps, on the CPU (PNG exports, tests); shaders/ holds the same maths in GLSL.
// Both are built in OKLab (Ottosson 2020), where equal steps look equally different:
//  - sequential, for probabilities in [0, 1]: lightness rises monotonically from deep indigo to pale yellow;
//  - diverging, for signed scores and gradients: blue below 0, near-white at 0, red above, symmetric lightness.
// Masked (−∞) cells get a grey hatch that no value maps to.
#pragma once

#include <array>
#include <cstdint>

namespace qkv {

using Rgb8 = std::array<uint8_t, 3>;

Rgb8 sequential_color(float t);      // t in [0, 1], clamped
Rgb8 diverging_color(float t);       // t in [−1, 1], clamped
Rgb8 masked_color(int x, int y);     // hatch: pixel position decides the stripe
float oklab_lightness(const Rgb8&);  // for tests: L of a colour in OKLab, 0…1

}  // namespace qkv
