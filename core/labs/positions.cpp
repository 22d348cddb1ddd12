#include "core/labs/positions.h"

#include <algorithm>
#include <cmath>

#include "core/positional.h"
#include "core/rng.h"

namespace qkv::labs {

// [SECTION] PE·PEᵀ and the offset curves

OffsetCurves offset_curves(const Mat& G) {
  OffsetCurves c;
  const int P = static_cast<int>(G.rows());
  for (int k = 0; k < P; ++k) {
    double sum = 0.0;
    for (int m = 0; m + k < P; ++m) {
      sum += G(m, m + k);
      c.max_deviation = std::max(c.max_deviation, std::fabs(G(m, m + k) - G(0, k)));
    }
    c.k.push_back(static_cast<float>(k));
    c.from_zero.push_back(G(0, k));
    c.mean.push_back(static_cast<float>(sum / (P - k)));
  }
  return c;
}

TableStats table_stats(Mat table) {
  TableStats st;
  st.table = std::move(table);
  st.similarity = st.table * st.table.transpose();  // [P, d]·[d, P] = [P, P]
  st.curves = offset_curves(st.similarity);
  st.rms = st.table.size() ? std::sqrt(st.table.cast<double>().squaredNorm() / static_cast<double>(st.table.size())) : 0.0f;
  return st;
}

TableStats pe_similarity(int positions, int d_model, double base) { return table_stats(sinusoidal_table(positions, d_model, base)); }

// [SECTION] RoPE: the score depends on the offset only

RopeDemo rope_demo(uint64_t seed, int d_k, double base) {
  RopeDemo demo;
  demo.d = std::max(2, d_k - d_k % 2);  // RoPE rotates pairs: an odd d_k (only possible when PE ≠ RoPE) loses its last dim here
  const Mat q = normal_matrix(seed, "positions-lab.rope.q", 1, demo.d, 1.0f);
  const Mat k = normal_matrix(seed, "positions-lab.rope.k", 1, demo.d, 1.0f);
  const int span = 2 * kDemoOffset + 1;
  for (int r = 0; r < span; ++r) demo.offset.push_back(static_cast<float>(kDemoOffset - r));  // row r: n = m − 16 + r
  const Mat PE = sinusoidal_table(kRopeQueryPositions[1] + kDemoOffset + 1, demo.d, base);
  for (int which = 0; which < 2; ++which) {
    const int m = kRopeQueryPositions[which], n0 = m - kDemoOffset;
    Mat q_rot = q;
    apply_rope(q_rot, m, base);
    Mat k_rot = k.replicate(span, 1);
    apply_rope(k_rot, n0, base);
    const Mat scores = k_rot * q_rot.transpose();  // [span, 1]
    const Mat q_added = q + PE.row(m);
    const Mat k_added = k.replicate(span, 1) + PE.middleRows(n0, span);
    const Mat scores_added = k_added * q_added.transpose();
    for (int r = 0; r < span; ++r) {
      demo.rope[which].push_back(scores(r, 0));
      demo.added[which].push_back(scores_added(r, 0));
    }
  }
  for (int r = 0; r < span; ++r) demo.rope_max_gap = std::max(demo.rope_max_gap, std::fabs(demo.rope[0][r] - demo.rope[1][r]));
  return demo;
}

// [SECTION] ALiBi: a distance penalty per head

AlibiDemo alibi_demo(int h, int max_curves) {
  AlibiDemo demo;
  if (h < 1) return demo;
  demo.slopes = alibi_slopes(h);
  const int span = 2 * kDemoOffset + 1;
  const int shown = std::clamp(max_curves, 1, h);
  for (int c = 0; c < shown; ++c) {
    AlibiCurve curve;
    curve.head = shown == h || shown == 1 ? c : c * (h - 1) / (shown - 1);  // spread over the heads when there are many
    curve.slope = demo.slopes[curve.head];
    const Mat B = alibi_bias(1, span, kDemoOffset, curve.slope);  // [1, span], query at position 16
    for (int j = 0; j < span; ++j) {
      curve.offset.push_back(static_cast<float>(j - kDemoOffset));
      curve.bias.push_back(B(0, j));
    }
    demo.curves.push_back(std::move(curve));
  }
  return demo;
}

}  // namespace qkv::labs
