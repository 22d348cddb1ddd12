// QKV Lab core — labs: positional encodings compared, as numbers the Positions tab (and the CLI) draw.
//   table_stats / pe_similarity: a positional table T [P, d_model], its similarity G = T·Tᵀ, and ⟨p_m, p_{m+k}⟩
//                                against the offset k (sinusoidal: a function of k only, for even d_model).
//   rope_demo:                   q_m·k_n of one fixed random q, k after RoPE at two query positions (the curves
//                                coincide: the score depends on m − n only), and with a sinusoid added instead.
//   alibi_demo:                  the ALiBi bias −slope·|j − i| of (up to) eight of the h heads against the offset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace qkv::labs {

// [SECTION] PE·PEᵀ and the offset curves

// ⟨p_m, p_{m+k}⟩ against the offset k, from a similarity matrix G = T·Tᵀ.
struct OffsetCurves {
  std::vector<float> k;          // 0 … P−1
  std::vector<float> from_zero;  // ⟨p_0, p_k⟩
  std::vector<float> mean;       // mean over m of ⟨p_m, p_{m+k}⟩
  float max_deviation = 0.0f;    // max over m, k of |⟨p_m, p_{m+k}⟩ − ⟨p_0, p_k⟩|
};
OffsetCurves offset_curves(const Mat& G);

struct TableStats {
  Mat table;       // T: [P, d_model]
  Mat similarity;  // G = T·Tᵀ: [P, P]
  OffsetCurves curves;
  float rms = 0.0f;  // √(mean of T²): the empirical std of a zero-mean table
};
TableStats table_stats(Mat table);
// The sinusoidal table of `positions` rows (sinusoidal_table) and its statistics.
TableStats pe_similarity(int positions, int d_model, double base);

// [SECTION] RoPE: the score depends on the offset only

inline constexpr int kDemoOffset = 16;  // the RoPE and ALiBi demos span offsets −16 … 16
inline constexpr int kRopeQueryPositions[2] = {16, 200};

struct RopeDemo {
  int d = 0;                  // width rotated: d_k rounded down to even (at least 2)
  std::vector<float> offset;  // m − n = 16 … −16 (row r: key n = m − 16 + r)
  std::vector<float> rope[2];   // q_m·k_n after apply_rope, at m = kRopeQueryPositions[0], [1]
  std::vector<float> added[2];  // (q + p_m)·(k + p_n) with the sinusoid of width d added instead
  float rope_max_gap = 0.0f;    // max over offsets of |rope[0] − rope[1]|: float rounding only
};
// One q and one k, normal_matrix(seed, "positions-lab.rope.q" / ".k", 1, d).
RopeDemo rope_demo(uint64_t seed, int d_k, double base);

// [SECTION] ALiBi: a distance penalty per head

struct AlibiCurve {
  int head = 0;
  float slope = 0.0f;
  std::vector<float> offset;  // j − i = −16 … 16
  std::vector<float> bias;    // B_ij = −slope·|j − i|
};
struct AlibiDemo {
  std::vector<float> slopes;       // alibi_slopes(h), every head
  std::vector<AlibiCurve> curves;  // at most `max_curves` heads, spread over 0 … h−1
};
AlibiDemo alibi_demo(int h, int max_curves = 8);

}  // namespace qkv::labs
