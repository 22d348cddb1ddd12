// One attention head against hand-computed numbers: the kernels of core/ops.h, composed as the passes run them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/ops.h"
#include "core/rng.h"
#include "tests/gradcheck.h"
#include "tests/reference_head.h"

namespace qkv {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Mat mat(std::initializer_list<std::initializer_list<float>> rows) {
  Mat M(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.begin()->size()));
  int i = 0;
  for (const auto& row : rows) {
    int j = 0;
    for (float v : row) M(i, j++) = v;
    ++i;
  }
  return M;
}

TEST(Attention, TwoTokensByHand) {
  // Q = K = I₂, V = [[1,2],[3,4]], d_k = 2, scale = 1/√2.
  // S = I, S_scaled = diag(0.70711); row 0: softmax([0.70711, 0]) = [e^0.70711, 1]/(e^0.70711 + 1)
  //   e^0.70711 = 2.02811 → [0.66976, 0.33024]; O_0 = 0.66976·[1,2] + 0.33024·[3,4] = [1.66048, 2.66048]
  const Mat Q = Mat::Identity(2, 2), K = Mat::Identity(2, 2), V = mat({{1, 2}, {3, 4}});
  const HeadPasses r = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f / std::sqrt(2.0f), Mat::Zero(2, 2));
  EXPECT_FLOAT_EQ(r.S(0, 0), 1.0f);
  EXPECT_FLOAT_EQ(r.S(0, 1), 0.0f);
  EXPECT_NEAR(r.S_scaled(1, 1), 0.70711f, 1e-5f);
  EXPECT_NEAR(r.P(0, 0), 0.66976f, 1e-5f);
  EXPECT_NEAR(r.P(0, 1), 0.33024f, 1e-5f);
  EXPECT_NEAR(r.P(1, 0), 0.33024f, 1e-5f);  // by symmetry
  EXPECT_NEAR(r.O(0, 0), 1.66048f, 1e-4f);
  EXPECT_NEAR(r.O(0, 1), 2.66048f, 1e-4f);
  EXPECT_NEAR(r.O(1, 0), 0.33024f * 1 + 0.66976f * 3, 1e-4f);
}

TEST(Attention, WorkedExampleScalingBySqrt3) {
  // q = [0.8, 0.1, 0.1] against K = I₃ makes S = q itself: the interview example.
  //   softmax([0.8,0.1,0.1]): e^0.8 = 2.22554, e^0.1 = 1.10517 → sum 4.43588 → [0.50172, 0.24914, 0.24914]
  //   ÷√3: [0.46188, 0.05774, 0.05774] → e: [1.58707, 1.05944, 1.05944] → sum 3.70595 → [0.42825, 0.28588, 0.28588]
  const Mat Q = mat({{0.8f, 0.1f, 0.1f}}), K = Mat::Identity(3, 3), V = Mat::Identity(3, 3);
  const HeadPasses unscaled = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f, Mat::Zero(1, 3));
  EXPECT_NEAR(unscaled.P(0, 0), 0.50172f, 1e-4f);
  EXPECT_NEAR(unscaled.P(0, 1), 0.24914f, 1e-4f);
  EXPECT_NEAR(unscaled.P(0, 2), 0.24914f, 1e-4f);
  const HeadPasses scaled = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f / std::sqrt(3.0f), Mat::Zero(1, 3));
  EXPECT_NEAR(scaled.P(0, 0), 0.42825f, 1e-4f);
  EXPECT_NEAR(scaled.P(0, 1), 0.28588f, 1e-4f);
  EXPECT_NEAR(scaled.P(0, 2), 0.28588f, 1e-4f);
  // O = P·I = P: each output row is the weighted sum of V's rows.
  EXPECT_TRUE(scaled.O.isApprox(scaled.P));
}

TEST(Attention, HugeUnscaledLogitsStayFinite) {
  // S = [1e4, 0, −1e4]: exp(1e4) overflows float, the row-max subtraction must prevent it.
  const Mat Q = mat({{100.0f, 0.0f}}), K = mat({{100.0f, 0.0f}, {0.0f, 100.0f}, {-100.0f, 0.0f}}), V = Mat::Identity(3, 3);
  const HeadPasses r = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f, Mat::Zero(1, 3));
  EXPECT_FLOAT_EQ(r.S(0, 0), 1e4f);
  EXPECT_TRUE(r.P.allFinite());
  EXPECT_TRUE(r.O.allFinite());
  EXPECT_FLOAT_EQ(r.P(0, 0), 1.0f);
  EXPECT_FLOAT_EQ(r.P(0, 1), 0.0f);
  EXPECT_FLOAT_EQ(r.P(0, 2), 0.0f);
}

TEST(Attention, MaskedCellsGetExactlyZeroAndRowsRenormalise) {
  // Two equal scores and one masked key: the two allowed keys share the weight, 1/2 each.
  const Mat Q = mat({{1.0f, 1.0f}}), K = mat({{1.0f, 1.0f}, {1.0f, 1.0f}, {5.0f, 5.0f}}), V = mat({{1, 0}, {0, 1}, {100, 100}});
  const Mat M = mat({{0.0f, 0.0f, -kInf}});
  const HeadPasses r = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f, M);
  EXPECT_EQ(r.P(0, 2), 0.0f);
  EXPECT_FLOAT_EQ(r.P(0, 0), 0.5f);
  EXPECT_FLOAT_EQ(r.P(0, 1), 0.5f);
  EXPECT_EQ(r.S_masked(0, 2), -kInf);
  EXPECT_FLOAT_EQ(r.O(0, 0), 0.5f);  // the masked value row (100, 100) contributes nothing
  EXPECT_FLOAT_EQ(r.O(0, 1), 0.5f);
}

TEST(Attention, FullyMaskedRowGivesZerosAndAFlag) {
  const Mat Q = mat({{1.0f}, {2.0f}}), K = mat({{1.0f}, {1.0f}}), V = mat({{1.0f}, {2.0f}});
  const Mat M = mat({{0.0f, 0.0f}, {-kInf, -kInf}});
  const HeadPasses r = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f, M);
  ASSERT_EQ(r.fully_masked_rows, std::vector<int>{1});
  EXPECT_EQ(r.P(1, 0), 0.0f);
  EXPECT_EQ(r.P(1, 1), 0.0f);
  EXPECT_EQ(r.O(1, 0), 0.0f);
  EXPECT_TRUE(r.P.allFinite());
  EXPECT_FLOAT_EQ(r.P.row(0).sum(), 1.0f);
}

TEST(Attention, AdditiveScoringByHand) {
  // S_ij = w_aᵀ tanh(q_i + k_j): q = [0.5, −1], k = [0.5, 2], w_a = [2, 1] → tanh([1, 1]) = 0.761594 → S = 3·0.761594
  const Mat Q = mat({{0.5f, -1.0f}}), K = mat({{0.5f, 2.0f}}), V = mat({{7.0f}});
  const RowVec w_a = mat({{2.0f, 1.0f}});
  const HeadPasses r = attention_head(Q, K, V, Scoring::Additive, &w_a, 1.0f, Mat::Zero(1, 1));
  EXPECT_NEAR(r.S(0, 0), 3.0f * 0.761594f, 1e-5f);
  EXPECT_FLOAT_EQ(r.P(0, 0), 1.0f);
  EXPECT_FLOAT_EQ(r.O(0, 0), 7.0f);
}

TEST(Attention, DropoutUsesInvertedScalingAndIsSeeded) {
  const Mat Q = Mat::Zero(64, 4), K = Mat::Zero(64, 4), V = Mat::Ones(64, 1);  // uniform P = 1/64
  Rng a(7), b(7);
  const HeadPasses r1 = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f, Mat::Zero(64, 64), &a, 0.5f);
  const HeadPasses r2 = attention_head(Q, K, V, Scoring::Dot, nullptr, 1.0f, Mat::Zero(64, 64), &b, 0.5f);
  EXPECT_EQ(r1.P_dropout, r2.P_dropout);
  int kept = 0;
  for (Eigen::Index k = 0; k < r1.P_dropout.size(); ++k) {
    const float v = r1.P_dropout.data()[k];
    EXPECT_TRUE(v == 0.0f || std::fabs(v - 2.0f / 64.0f) < 1e-7f);
    kept += v != 0.0f;
  }
  EXPECT_NEAR(kept / 4096.0, 0.5, 0.05);        // 4096 Bernoulli(0.5): std 0.0078
  EXPECT_NEAR(r1.P.row(0).sum(), 1.0f, 1e-6f);  // P itself is untouched
}

}  // namespace
}  // namespace qkv

// [SECTION] Backward: analytic gradients against central finite differences, in float64.

namespace qkv {
namespace {

MatD random_matrix(uint64_t seed, const char* name, int rows, int cols) {
  return normal_matrix(seed, name, rows, cols, 1.0f).cast<double>();
}

// L = Σ G ⊙ O with O = softmax(Q·Kᵀ·scale + M)·V: dL/dO = G.
double head_loss(const MatD& Q, const MatD& K, const MatD& V, const MatD& M, double scale, const MatD& G) {
  const MatD S = Q * K.transpose();
  const MatD O = softmax_rows_t<double>(S, scale, &M) * V;
  return O.cwiseProduct(G).sum();
}

TEST(AttentionBackward, EveryHeadGradientMatchesFiniteDifferences) {
  const int n = 4, m = 5, d_k = 3, d_v = 2;
  MatD Q = random_matrix(2, "Q", n, d_k), K = random_matrix(2, "K", m, d_k), V = random_matrix(2, "V", m, d_v);
  const MatD G = random_matrix(2, "G", n, d_v);
  MatD M = MatD::Zero(n, m);
  for (int i = 0; i < n; ++i)
    for (int j = i + 2; j < m; ++j) M(i, j) = -std::numeric_limits<double>::infinity();  // a causal-like band
  for (double scale : {1.0 / std::sqrt(3.0), 1.0}) {
    const MatD P = softmax_rows_t<double>(Q * K.transpose(), scale, &M);
    const HeadGrads<double> g = attention_head_backward<double>(Q, K, V, P, scale, G);
    const auto loss = [&] { return head_loss(Q, K, V, M, scale, G); };
    const double eq = testing::max_fd_relative_error(Q, g.dQ, loss), ek = testing::max_fd_relative_error(K, g.dK, loss),
                 ev = testing::max_fd_relative_error(V, g.dV, loss);
    std::printf("head backward (scale %.3f): dQ %.2e, dK %.2e, dV %.2e\n", scale, eq, ek, ev);
    EXPECT_LT(eq, 1e-6);
    EXPECT_LT(ek, 1e-6);
    EXPECT_LT(ev, 1e-6);
    for (int i = 0; i < n; ++i)
      for (int j = i + 2; j < m; ++j) EXPECT_EQ(g.dS(i, j), 0.0) << i << "," << j;
  }
}

TEST(AttentionBackward, AFullyMaskedRowPassesNoGradient) {
  const MatD Q = random_matrix(3, "Q", 2, 2), K = random_matrix(3, "K", 3, 2), V = random_matrix(3, "V", 3, 2);
  MatD M = MatD::Zero(2, 3);
  M.row(1).setConstant(-std::numeric_limits<double>::infinity());
  const MatD P = softmax_rows_t<double>(Q * K.transpose(), 1.0, &M);
  const HeadGrads<double> g = attention_head_backward<double>(Q, K, V, P, 1.0, MatD::Ones(2, 2));
  EXPECT_TRUE(g.dQ.row(1).isZero(0.0));
  EXPECT_TRUE(g.dS.row(1).isZero(0.0));
  EXPECT_TRUE(g.dQ.allFinite() && g.dK.allFinite() && g.dV.allFinite());
}

TEST(AttentionBackward, UnscaledWideHeadsSaturateAndTheirGradientVanishes) {
  // The "why √d_k" claim, measured: with d_k = 256 and unit-variance q, k the unscaled logits have std 16, the
  // softmax is close to one-hot, and the gradient reaching the logits, dL/dZ = P ⊙ (dP − rowsum(P ⊙ dP)),
  // shrinks. (Measured here: 1.98 unscaled against 3.36 scaled; with only 8 keys the saturation is partial.)
  const int n = 8, m = 8, d_k = 256;
  const MatD Q = random_matrix(4, "Q", n, d_k), K = random_matrix(4, "K", m, d_k), V = random_matrix(4, "V", m, 4);
  const MatD G = random_matrix(4, "G", n, 4), M = MatD::Zero(n, m);
  double norm[2];
  for (int scaled = 0; scaled < 2; ++scaled) {
    const double scale = scaled ? 1.0 / std::sqrt(static_cast<double>(d_k)) : 1.0;
    const MatD P = softmax_rows_t<double>(Q * K.transpose(), scale, &M);
    norm[scaled] = attention_head_backward<double>(Q, K, V, P, scale, G).dS.norm() / scale;  // dL/d(scaled scores)
  }
  std::printf("|dL/dZ| unscaled %.3e vs scaled %.3e\n", norm[0], norm[1]);
  EXPECT_LT(norm[0], 0.75 * norm[1]);
}

}  // namespace
}  // namespace qkv
