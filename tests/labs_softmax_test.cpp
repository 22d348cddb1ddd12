// Labs: the softmax of one head — the Jacobian of a row, the gradient through it, the scale, the score statistics.
#include "core/labs/softmax.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/model.h"
#include "core/network.h"
#include "core/ops.h"
#include "core/paths.h"

namespace qkv::labs {
namespace {

// A small decoder-only model (causal: masked cells) with its gradients.
Trace traced_with_gradients(Session& s) {
  s.input.text = "the cat sat on the mat and the dog sat too";
  s.model.arch = Arch::DecoderOnly;
  s.decoder_mask = kMaskCausal | kMaskPadding;
  s.model.layers = 2;
  s.model.d_model = 16;
  s.model.heads = 2;
  s.model.temperature = 0.7f;
  Result<Trace> t = run(s);
  EXPECT_TRUE(t.ok());
  EXPECT_FALSE(add_gradients(s, *t).has_value());
  return std::move(*t);
}

TEST(LabsSoftmax, ScoreScaleIsOneOverSqrtDkTimesTau) {
  ModelConfig c;
  c.d_model = 64;
  c.heads = 4;  // d_k = 16
  c.temperature = 2.0f;
  EXPECT_DOUBLE_EQ(score_scale(c), 1.0 / 8.0);
  c.score_scale = ScoreScale::None;
  EXPECT_DOUBLE_EQ(score_scale(c), 0.5);
  EXPECT_TRUE(scale_includes_sqrt_dk(1.0 / 8.0, 16, 2.0f));
  EXPECT_FALSE(scale_includes_sqrt_dk(0.5, 16, 2.0f));
}

TEST(LabsSoftmax, JacobianByHandForAThreeKeyRow) {
  RowVec p(3);
  p << 0.5f, 0.3f, 0.2f;
  const Mat J = softmax_jacobian(p);
  // J_ii = p_i(1 − p_i), J_ij = −p_i p_j
  EXPECT_FLOAT_EQ(J(0, 0), 0.25f);
  EXPECT_FLOAT_EQ(J(1, 1), 0.21f);
  EXPECT_FLOAT_EQ(J(2, 2), 0.16f);
  EXPECT_FLOAT_EQ(J(0, 1), -0.15f);
  EXPECT_FLOAT_EQ(J(1, 2), -0.06f);
  EXPECT_FLOAT_EQ(J(2, 0), -0.10f);
}

TEST(LabsSoftmax, JacobianRowsSumToZeroAndEqualAFiniteDifferenceOfSoftmax) {
  RowVec z(5);
  z << 0.3f, -1.2f, 2.0f, 0.0f, 0.7f;
  Mat Z = z;
  const Mat P = softmax_rows(Z, 1.0f, nullptr);
  const Mat J = softmax_jacobian(P.row(0));
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(J.row(i).sum(), 0.0f, 1e-6f);
    EXPECT_NEAR(J.col(i).sum(), 0.0f, 1e-6f);
  }
  EXPECT_NEAR((J - J.transpose()).cwiseAbs().maxCoeff(), 0.0f, 1e-7f);
  // Central differences in double: ∂p_i/∂z_j.
  const auto softmax_d = [](Eigen::VectorXd v) {
    v = (v.array() - v.maxCoeff()).exp();
    return Eigen::VectorXd(v / v.sum());
  };
  const double h = 1e-5;
  for (int j = 0; j < 5; ++j) {
    Eigen::VectorXd up = z.transpose().cast<double>(), down = up;
    up[j] += h, down[j] -= h;
    const Eigen::VectorXd fd = (softmax_d(up) - softmax_d(down)) / (2 * h);
    for (int i = 0; i < 5; ++i) EXPECT_NEAR(J(i, j), fd[i], 1e-5) << "i = " << i << ", j = " << j;
  }
}

TEST(LabsSoftmax, RowJacobianOfATracedRowAgreesWithTheTapesGradient) {
  Session s;
  const Trace t = traced_with_gradients(s);
  const std::string head = paths::head(paths::block("decoder", 1, paths::kSelf), 1);
  const RowJacobian r = row_jacobian(t, head, 3);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.m, static_cast<int>(t.tensors.at(paths::join(head, "P")).cols()));
  EXPECT_EQ(r.allowed, 4);  // causal: row 3 sees keys 0 … 3
  EXPECT_NEAR(r.uniform_entropy, std::log(4.0), 1e-9);
  EXPECT_FLOAT_EQ(static_cast<float>(r.scale), t.head(head)->scale);
  EXPECT_NEAR(r.scale, 1.0 / (std::sqrt(8.0) * 0.7), 1e-6);
  EXPECT_FLOAT_EQ(static_cast<float>(r.entropy), t.head(head)->entropy[3]);
  for (int j = 4; j < r.m; ++j) EXPECT_EQ(r.J.row(j).cwiseAbs().sum(), 0.0f) << "a masked key's row of J is 0";
  ASSERT_TRUE(r.checked);
  EXPECT_TRUE(r.agrees) << "diff " << r.check_max_diff << ", largest " << r.check_largest;
  EXPECT_GT(r.check_largest, 0.0);
}

TEST(LabsSoftmax, RowJacobianRefusesAMissingHeadOrRowWithAReason) {
  Session s;
  const Trace t = traced_with_gradients(s);
  EXPECT_NE(row_jacobian(t, "decoder.7.self_attn.head.0", 0).error.find("no head"), std::string::npos);
  const RowJacobian r = row_jacobian(t, "decoder.0.self_attn.head.0", 99);
  EXPECT_NE(r.error.find("outside"), std::string::npos) << r.error;
}

TEST(LabsSoftmax, HeadGradientSummaryMaskedCellsGetExactlyZero) {
  Session s;
  const Trace t = traced_with_gradients(s);
  const std::string head = "decoder.0.self_attn.head.0";
  const HeadGradientSummary g = head_gradient_summary(t, head);
  ASSERT_TRUE(g.ok);
  const long n = static_cast<long>(t.tensors.at(paths::join(head, "P")).rows());
  EXPECT_EQ(g.cells, n * n);
  EXPECT_EQ(g.masked, n * (n - 1) / 2);  // the causal mask's upper triangle
  EXPECT_EQ(g.leaked, 0);
  EXPECT_NEAR(g.norm_dZ * g.scale, g.norm_dS, 1e-9 * g.norm_dS);
  EXPECT_GT(g.ratio, 0.0);
  EXPECT_LT(g.ratio, 1.0);  // ‖J‖₂ ≤ 1/2: the softmax never amplifies a gradient
}

TEST(LabsSoftmax, HeadRowsComeFromHeadStatsAndCountTheAllowedKeys) {
  Session s;
  const Trace t = traced_with_gradients(s);
  const std::string head = "decoder.1.self_attn.head.0";
  const HeadRows rows = head_rows(t, head);
  ASSERT_NE(rows.stats, nullptr);
  ASSERT_EQ(rows.rows.size(), static_cast<size_t>(rows.stats->entropy.size()));
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    EXPECT_EQ(rows.rows[i].allowed, static_cast<int>(i) + 1);
    EXPECT_FLOAT_EQ(rows.rows[i].uniform, std::log(static_cast<float>(i + 1)));
    EXPECT_LE(rows.rows[i].entropy, rows.rows[i].uniform + 1e-5f);
    EXPECT_FLOAT_EQ(rows.rows[i].max_weight, rows.stats->max_weight[static_cast<Eigen::Index>(i)]);
  }
  EXPECT_FLOAT_EQ(rows.rows[0].max_weight, 1.0f);  // the first query sees only itself
  EXPECT_EQ(head_rows(t, "nope").stats, nullptr);
}

TEST(LabsSoftmax, ScoreHistogramCountsEveryUnmaskedCellOnce) {
  Session s;
  const Trace t = traced_with_gradients(s);
  const ScoreHistogram h = score_histogram(t, "decoder.0.self_attn.head.1");
  ASSERT_TRUE(h.found);
  const long n = h.rows;
  EXPECT_EQ(h.values, n * (n + 1) / 2);
  double total = 0;
  for (float c : h.counts) total += c;
  EXPECT_EQ(total, static_cast<double>(h.values));
  EXPECT_GE(h.counts.size(), 4u);
  EXPECT_LE(h.counts.size(), 30u);
  EXPECT_LT(h.lo, h.hi);
}

TEST(LabsSoftmax, WorkedExampleSoftmaxOfThreeScoresByHand) {
  RowVec s(3);
  s << 0.8f, 0.1f, 0.1f;
  const SoftmaxExample e = softmax_example(s, 3.0f);
  EXPECT_FLOAT_EQ(e.scale, 1.0f / std::sqrt(3.0f));
  // softmax: e^0.8 / (e^0.8 + 2e^0.1) = 0.50168…
  const double a = std::exp(0.8), b = std::exp(0.1);
  EXPECT_NEAR(e.plain[0], a / (a + 2 * b), 1e-6);
  EXPECT_NEAR(e.plain[1], b / (a + 2 * b), 1e-6);
  const double as = std::exp(0.8 / std::sqrt(3.0)), bs = std::exp(0.1 / std::sqrt(3.0));
  EXPECT_NEAR(e.scaled[0], as / (as + 2 * bs), 1e-6);
  double H = 0;
  for (int j = 0; j < 3; ++j) H -= e.plain[j] * std::log(static_cast<double>(e.plain[j]));
  EXPECT_NEAR(e.entropy_plain, H, 1e-5);
  EXPECT_GT(e.entropy_scaled, e.entropy_plain);  // dividing by √d flattens the row
}

}  // namespace
}  // namespace qkv::labs
