// Tests for core/ops: softmax with explicit scale and mask, entropy, the three norms, activations and dropout.
// Each op is checked on hand-computed values and against a naive double-precision loop (printing the max difference).
#include "core/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/gradcheck.h"

namespace qkv {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

RowVec row(std::initializer_list<float> values) {
  RowVec r(static_cast<Eigen::Index>(values.size()));
  Eigen::Index k = 0;
  for (float v : values) r(k++) = v;
  return r;
}

bool all_finite(const Mat& X) { return X.array().isFinite().all(); }

// P_ij = exp(S_ij·scale + M_ij − max_j) / Σ_j exp(…), in double; fully masked rows give zeros.
Mat naive_softmax(const Mat& S, float scale, const Mat* M) {
  Mat P(S.rows(), S.cols());
  for (Eigen::Index i = 0; i < S.rows(); ++i) {
    std::vector<double> z(S.cols());
    double mx = -std::numeric_limits<double>::infinity();
    for (Eigen::Index j = 0; j < S.cols(); ++j) {
      z[j] = static_cast<double>(S(i, j)) * scale + (M ? static_cast<double>((*M)(i, j)) : 0.0);
      mx = std::max(mx, z[j]);
    }
    double sum = 0.0;
    for (Eigen::Index j = 0; j < S.cols(); ++j) sum += mx == -std::numeric_limits<double>::infinity() ? 0.0 : std::exp(z[j] - mx);
    for (Eigen::Index j = 0; j < S.cols(); ++j) P(i, j) = sum == 0.0 ? 0.0f : static_cast<float>(std::exp(z[j] - mx) / sum);
  }
  return P;
}

// [SECTION] softmax_rows

TEST(Softmax, HandValues) {
  // e^0.8 = 2.2255409, e^0.1 = 1.1051709; sum = 2.2255409 + 2·1.1051709 = 4.4358827
  // → [2.2255409/4.4358827, 1.1051709/4.4358827, same] = [0.5017132, 0.2491434, 0.2491434]
  Mat S(1, 3);
  S << 0.8f, 0.1f, 0.1f;
  const Mat P = softmax_rows(S, 1.0f, nullptr);
  EXPECT_NEAR(P(0, 0), 0.5017132f, 1e-4f);
  EXPECT_NEAR(P(0, 1), 0.2491434f, 1e-4f);
  EXPECT_NEAR(P(0, 2), 0.2491434f, 1e-4f);
  // Scale 1/√3 = 0.5773503: logits 0.4618802, 0.0577350; e^… = 1.5870552, 1.0594342; sum = 3.7059237
  // → [0.4282482, 0.2858759, 0.2858759]. Scaling flattens the distribution.
  const Mat Q = softmax_rows(S, 1.0f / std::sqrt(3.0f), nullptr);
  EXPECT_NEAR(Q(0, 0), 0.4282482f, 1e-4f);
  EXPECT_NEAR(Q(0, 1), 0.2858759f, 1e-4f);
  EXPECT_NEAR(Q(0, 2), 0.2858759f, 1e-4f);
}

TEST(Softmax, RowsSumToOneAndArePositive) {
  const Mat S = Mat::Random(7, 11) * 5.0f;
  const Mat P = softmax_rows(S, 0.5f, nullptr);
  for (int i = 0; i < P.rows(); ++i) {
    EXPECT_NEAR(P.row(i).sum(), 1.0f, 1e-6f) << i;
    EXPECT_GT(P.row(i).minCoeff(), 0.0f) << i;
  }
}

TEST(Softmax, ShiftInvariantPerRow) {
  // softmax(z + c) = softmax(z): adding a constant to a whole row changes nothing.
  const Mat S = Mat::Random(4, 6);
  Mat shifted = S;
  shifted.row(2).array() += 50.0f;
  const Mat a = softmax_rows(S, 1.0f, nullptr), b = softmax_rows(shifted, 1.0f, nullptr);
  EXPECT_LT((a - b).cwiseAbs().maxCoeff(), 1e-6f);
}

TEST(Softmax, MaskedCellsAreExactlyZeroAndRestRenormalised) {
  Mat S(2, 4);
  S << 1.0f, 2.0f, 3.0f, 4.0f,  //
      0.5f, -1.0f, 2.0f, 0.0f;
  Mat M = Mat::Zero(2, 4);
  M(0, 1) = -kInf;
  M(0, 3) = -kInf;
  M(1, 2) = -kInf;
  const float scale = 0.7f;
  const Mat P = softmax_rows(S, scale, &M);
  EXPECT_EQ(P(0, 1), 0.0f);
  EXPECT_EQ(P(0, 3), 0.0f);
  EXPECT_EQ(P(1, 2), 0.0f);
  // Row 0 keeps columns 0 and 2: it must equal the softmax of the sub-row [1, 3].
  Mat sub0(1, 2);
  sub0 << 1.0f, 3.0f;
  const Mat P0 = softmax_rows(sub0, scale, nullptr);
  EXPECT_NEAR(P(0, 0), P0(0, 0), 1e-7f);
  EXPECT_NEAR(P(0, 2), P0(0, 1), 1e-7f);
  // Row 1 keeps columns 0, 1, 3.
  Mat sub1(1, 3);
  sub1 << 0.5f, -1.0f, 0.0f;
  const Mat P1 = softmax_rows(sub1, scale, nullptr);
  EXPECT_NEAR(P(1, 0), P1(0, 0), 1e-7f);
  EXPECT_NEAR(P(1, 1), P1(0, 1), 1e-7f);
  EXPECT_NEAR(P(1, 3), P1(0, 2), 1e-7f);
  EXPECT_NEAR(P.row(0).sum(), 1.0f, 1e-6f);
  EXPECT_NEAR(P.row(1).sum(), 1.0f, 1e-6f);
}

TEST(Softmax, MaskedCellIgnoresItsHugeScore) {
  // A masked cell with the largest score must not take (or shift) any weight.
  Mat S(1, 3);
  S << 1000.0f, 0.0f, 0.0f;
  Mat M(1, 3);
  M << -kInf, 0.0f, 0.0f;
  const Mat P = softmax_rows(S, 1.0f, &M);
  EXPECT_EQ(P(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(P(0, 1), 0.5f);
  EXPECT_FLOAT_EQ(P(0, 2), 0.5f);
}

TEST(Softmax, FullyMaskedRowIsZerosAndReported) {
  const Mat S = Mat::Random(4, 3);
  Mat M = Mat::Zero(4, 3);
  M.row(1).setConstant(-kInf);
  M.row(3).setConstant(-kInf);
  M(2, 0) = -kInf;
  std::vector<int> fully;
  const Mat P = softmax_rows(S, 1.0f, &M, &fully);
  EXPECT_TRUE(all_finite(P)) << P;
  EXPECT_EQ(fully, (std::vector<int>{1, 3}));
  EXPECT_TRUE(P.row(1).isZero(0.0f));
  EXPECT_TRUE(P.row(3).isZero(0.0f));
  EXPECT_NEAR(P.row(0).sum(), 1.0f, 1e-6f);
  EXPECT_NEAR(P.row(2).sum(), 1.0f, 1e-6f);
  // Without the out-parameter it still works.
  EXPECT_TRUE(softmax_rows(S, 1.0f, &M) == P);
}

TEST(Softmax, NoFullyMaskedRowsReportsNothing) {
  std::vector<int> fully;
  const Mat M = Mat::Zero(3, 3);
  softmax_rows(Mat::Random(3, 3), 1.0f, &M, &fully);
  EXPECT_TRUE(fully.empty());
}

TEST(Softmax, HugeLogitsStayFinite) {
  // Unscaled logits ±1e4: exp(1e4) overflows a float, so without the max subtraction this would be Inf/NaN.
  Mat S(3, 3);
  S << 1e4f, -1e4f, 0.0f,  //
      -1e4f, -1e4f, 1e4f,  //
      1e4f, 1e4f, -1e4f;
  const Mat P = softmax_rows(S, 1.0f, nullptr);
  ASSERT_TRUE(all_finite(P)) << P;
  // One-hot where one logit dominates; a tie of the two largest splits evenly (e^0 / (e^0 + e^0) = 0.5).
  EXPECT_EQ(P(0, 0), 1.0f);
  EXPECT_EQ(P(0, 1), 0.0f);
  EXPECT_EQ(P(0, 2), 0.0f);
  EXPECT_EQ(P(1, 2), 1.0f);
  EXPECT_EQ(P(1, 0), 0.0f);
  EXPECT_EQ(P(2, 0), 0.5f);
  EXPECT_EQ(P(2, 1), 0.5f);
  EXPECT_EQ(P(2, 2), 0.0f);
}

TEST(Softmax, MatchesNaiveDoubleLoop) {
  double max_diff = 0.0;
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 1 + trial % 7, m = 1 + (trial * 5) % 13;
    const Mat S = Mat::Random(n, m) * 8.0f;
    const float scale = 1.0f / std::sqrt(static_cast<float>(1 + trial));
    // A random mask with some cells (and sometimes whole rows) at −∞.
    Mat M = Mat::Zero(n, m);
    const Mat coin = Mat::Random(n, m);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j)
        if (coin(i, j) > 0.4f) M(i, j) = -kInf;
    const Mat unmasked = softmax_rows(S, scale, nullptr);
    const Mat masked = softmax_rows(S, scale, &M);
    max_diff = std::max<double>(max_diff, (unmasked - naive_softmax(S, scale, nullptr)).cwiseAbs().maxCoeff());
    max_diff = std::max<double>(max_diff, (masked - naive_softmax(S, scale, &M)).cwiseAbs().maxCoeff());
  }
  std::printf("softmax_rows vs naive double loop: max |diff| = %.3g\n", max_diff);
  EXPECT_LT(max_diff, 1e-6);
}

TEST(Softmax, AcceptsABlockOfALargerMatrix) {
  // S is a MatRef: a strided block must give the same result as its copy.
  const Mat big = Mat::Random(6, 8);
  const Mat copy = big.block(1, 2, 3, 4);
  EXPECT_TRUE(softmax_rows(big.block(1, 2, 3, 4), 0.5f, nullptr) == softmax_rows(copy, 0.5f, nullptr));
}

// [SECTION] row_entropy

TEST(RowEntropy, UniformIsLogMOneHotIsZero) {
  for (int m : {1, 2, 5, 64}) {
    const Mat uniform = Mat::Constant(1, m, 1.0f / m);
    EXPECT_NEAR(row_entropy(uniform)(0), std::log(static_cast<float>(m)), 1e-5f) << m;
  }
  Mat one_hot = Mat::Zero(1, 5);
  one_hot(0, 3) = 1.0f;
  EXPECT_EQ(row_entropy(one_hot)(0), 0.0f);
}

TEST(RowEntropy, HandValueAndZeroRows) {
  // [0.5, 0.25, 0.25, 0]: H = −(0.5 ln 0.5 + 2·0.25 ln 0.25) = 0.5 ln 2 + 0.5·2 ln 2 = 1.5 ln 2 = 1.0397208
  Mat P(3, 4);
  P << 0.5f, 0.25f, 0.25f, 0.0f,   //
      0.0f, 0.0f, 0.0f, 0.0f,      // a fully masked row: zeros → 0, not NaN
      0.25f, 0.25f, 0.25f, 0.25f;  // ln 4 = 1.3862944
  const RowVec H = row_entropy(P);
  ASSERT_EQ(H.size(), 3);
  EXPECT_NEAR(H(0), 1.0397208f, 1e-6f);
  EXPECT_EQ(H(1), 0.0f);
  EXPECT_NEAR(H(2), 1.3862944f, 1e-6f);
}

// [SECTION] Norms

TEST(LayerNorm, HandValues) {
  // x = [1, 2, 3]: mean 2, var (1 + 0 + 1)/3 = 2/3, 1/√(2/3) = 1.2247449 → x̂ = [−1.2247449, 0, 1.2247449]
  // γ = [1, 2, 0.5], β = [0, 1, −1] → y = [−1.2247449, 1, 0.5·1.2247449 − 1 = −0.3876276]
  Mat X(1, 3);
  X << 1.0f, 2.0f, 3.0f;
  const Mat Y = layer_norm(X, row({1.0f, 2.0f, 0.5f}), row({0.0f, 1.0f, -1.0f}), 0.0f);
  EXPECT_NEAR(Y(0, 0), -1.2247449f, 1e-6f);
  EXPECT_NEAR(Y(0, 1), 1.0f, 1e-6f);
  EXPECT_NEAR(Y(0, 2), -0.3876276f, 1e-6f);
  // eps enters under the root: var 2/3 + eps 1/3 = 1 → x̂ = x − mean = [−1, 0, 1].
  const Mat Z = layer_norm(X, RowVec::Ones(3), RowVec::Zero(3), 1.0f / 3.0f);
  EXPECT_NEAR(Z(0, 0), -1.0f, 1e-6f);
  EXPECT_NEAR(Z(0, 1), 0.0f, 1e-6f);
  EXPECT_NEAR(Z(0, 2), 1.0f, 1e-6f);
}

TEST(LayerNorm, EachRowHasMeanZeroVarianceOne) {
  Mat X = Mat::Random(6, 32) * 4.0f;
  X.row(2).array() += 100.0f;  // an offset row
  X.row(4) *= 0.01f;           // a tiny row (variance ≈ 5e−5, still ≫ eps)
  const Mat Y = layer_norm(X, RowVec::Ones(32), RowVec::Zero(32), 1e-8f);
  for (int r = 0; r < Y.rows(); ++r) {
    const double mean = Y.row(r).cast<double>().mean();
    const double var = (Y.row(r).cast<double>().array() - mean).square().mean();
    EXPECT_NEAR(mean, 0.0, 1e-4) << r;
    EXPECT_NEAR(var, 1.0, 1e-4) << r;
  }
}

TEST(LayerNorm, MatchesNaiveLoop) {
  const Mat X = Mat::Random(5, 9) * 3.0f;
  const RowVec gamma = RowVec::Random(9), beta = RowVec::Random(9);
  const float eps = 1e-5f;
  const Mat Y = layer_norm(X, gamma, beta, eps);
  double max_diff = 0.0;
  for (int r = 0; r < X.rows(); ++r) {
    double mean = 0.0, var = 0.0;
    for (int c = 0; c < 9; ++c) mean += X(r, c) / 9.0;
    for (int c = 0; c < 9; ++c) var += (X(r, c) - mean) * (X(r, c) - mean) / 9.0;
    for (int c = 0; c < 9; ++c)
      max_diff = std::max(max_diff, std::fabs(Y(r, c) - ((X(r, c) - mean) / std::sqrt(var + eps) * gamma(c) + beta(c))));
  }
  std::printf("layer_norm vs naive loop: max |diff| = %.3g\n", max_diff);
  EXPECT_LT(max_diff, 1e-5);
}

TEST(LayerNorm, RowDoesNotDependOnOtherRowsButBatchNormDoes) {
  const Mat X = Mat::Random(4, 5);
  Mat changed = X;
  changed.row(3) = RowVec::Constant(5, 10.0f) + RowVec::Random(5);
  const RowVec ones = RowVec::Ones(5), zeros = RowVec::Zero(5);
  const Mat a = layer_norm(X, ones, zeros, 1e-5f), b = layer_norm(changed, ones, zeros, 1e-5f);
  EXPECT_TRUE(a.topRows(3) == b.topRows(3));  // rows 0..2 unchanged, bit for bit
  EXPECT_FALSE(a.row(3) == b.row(3));
  const Mat c = batch_norm(X, ones, zeros, 1e-5f, nullptr, nullptr), d = batch_norm(changed, ones, zeros, 1e-5f, nullptr, nullptr);
  for (int r = 0; r < 3; ++r) EXPECT_GT((c.row(r) - d.row(r)).cwiseAbs().maxCoeff(), 1e-2f) << "BatchNorm row " << r;
}

TEST(RmsNorm, HandValues) {
  // x = [3, 4]: mean(x²) = (9 + 16)/2 = 12.5, √12.5 = 3.5355339 → x/rms = [0.8485281, 1.1313708]; γ = [1, 2].
  Mat X(1, 2);
  X << 3.0f, 4.0f;
  const Mat Y = rms_norm(X, row({1.0f, 2.0f}), 0.0f);
  EXPECT_NEAR(Y(0, 0), 0.8485281f, 1e-6f);
  EXPECT_NEAR(Y(0, 1), 2.2627417f, 1e-6f);
  // No mean subtraction: a constant row [2, 2, 2] → rms 2 → [1, 1, 1] (LayerNorm would give zeros).
  const Mat C = rms_norm(Mat::Constant(1, 3, 2.0f), RowVec::Ones(3), 0.0f);
  EXPECT_NEAR(C(0, 0), 1.0f, 1e-6f);
  EXPECT_NEAR(C(0, 2), 1.0f, 1e-6f);
  // eps under the root: [3, 4] with eps 3.5 → √16 = 4 → [0.75, 1].
  const Mat E = rms_norm(X, RowVec::Ones(2), 3.5f);
  EXPECT_NEAR(E(0, 0), 0.75f, 1e-6f);
  EXPECT_NEAR(E(0, 1), 1.0f, 1e-6f);
}

TEST(RmsNorm, EachRowHasUnitRootMeanSquare) {
  const Mat X = Mat::Random(5, 16) * 7.0f;
  const Mat Y = rms_norm(X, RowVec::Ones(16), 1e-8f);
  for (int r = 0; r < 5; ++r) EXPECT_NEAR(std::sqrt(Y.row(r).squaredNorm() / 16.0f), 1.0f, 1e-5f) << r;
}

TEST(BatchNorm, NormalisesEachColumnAndReportsStatistics) {
  Mat X = Mat::Random(8, 4);
  X.col(1) = X.col(1) * 10.0f + Mat::Constant(8, 1, 5.0f);  // a wide, shifted feature
  X.col(3) *= 0.1f;
  RowVec mean, var;
  const Mat Y = batch_norm(X, RowVec::Ones(4), RowVec::Zero(4), 1e-8f, &mean, &var);
  ASSERT_EQ(mean.size(), 4);
  ASSERT_EQ(var.size(), 4);
  for (int c = 0; c < 4; ++c) {
    // The statistics BN reports are the column's mean and population (biased, ÷rows) variance.
    double m = 0.0, v = 0.0;
    for (int r = 0; r < 8; ++r) m += X(r, c) / 8.0;
    for (int r = 0; r < 8; ++r) v += (X(r, c) - m) * (X(r, c) - m) / 8.0;
    EXPECT_NEAR(mean(c), m, 1e-5 * std::max(1.0, std::fabs(m))) << c;
    EXPECT_NEAR(var(c), v, 1e-5 * std::max(1.0, v)) << c;
    // And the output column is standardised.
    const double ym = Y.col(c).cast<double>().mean();
    const double yv = (Y.col(c).cast<double>().array() - ym).square().mean();
    EXPECT_NEAR(ym, 0.0, 1e-4) << c;
    EXPECT_NEAR(yv, 1.0, 1e-4) << c;
  }
}

TEST(BatchNorm, HandValuesWithGammaBeta) {
  // Column 0 = [1, 3]: mean 2, var 1 → x̂ = [−1, 1]; column 1 = [10, 10]: var 0 → x̂ = 0 (eps keeps it finite).
  // γ = [2, 1], β = [0.5, 7] → y = [[−1.5, 7], [2.5, 7]]
  Mat X(2, 2);
  X << 1.0f, 10.0f,  //
      3.0f, 10.0f;
  RowVec mean, var;
  const Mat Y = batch_norm(X, row({2.0f, 1.0f}), row({0.5f, 7.0f}), 1e-6f, &mean, &var);
  EXPECT_NEAR(Y(0, 0), -1.5f, 1e-5f);
  EXPECT_NEAR(Y(1, 0), 2.5f, 1e-5f);
  EXPECT_EQ(Y(0, 1), 7.0f);
  EXPECT_EQ(Y(1, 1), 7.0f);
  EXPECT_EQ(mean(0), 2.0f);
  EXPECT_EQ(mean(1), 10.0f);
  EXPECT_EQ(var(0), 1.0f);
  EXPECT_EQ(var(1), 0.0f);
}

TEST(ApplyNorm, DispatchesByKind) {
  const Mat X = Mat::Random(3, 4);
  const RowVec gamma = RowVec::Random(4), beta = RowVec::Random(4);
  EXPECT_TRUE(apply_norm(NormKind::LayerNorm, X, gamma, beta, 1e-5f) == layer_norm(X, gamma, beta, 1e-5f));
  EXPECT_TRUE(apply_norm(NormKind::RMSNorm, X, gamma, beta, 1e-5f) == rms_norm(X, gamma, 1e-5f));
  EXPECT_TRUE(apply_norm(NormKind::None, X, gamma, beta, 1e-5f) == X);
  RowVec mean, var;
  EXPECT_TRUE(apply_norm(NormKind::BatchNorm, X, gamma, beta, 1e-5f, &mean, &var) == batch_norm(X, gamma, beta, 1e-5f, nullptr, nullptr));
  EXPECT_EQ(mean.size(), 4);
  EXPECT_EQ(var.size(), 4);
  // Only BatchNorm writes the statistics.
  RowVec untouched_mean, untouched_var;
  apply_norm(NormKind::LayerNorm, X, gamma, beta, 1e-5f, &untouched_mean, &untouched_var);
  EXPECT_EQ(untouched_mean.size(), 0);
  EXPECT_EQ(untouched_var.size(), 0);
}

// [SECTION] Activations

TEST(Activation, ReluHandValues) {
  Mat X(1, 5);
  X << -2.0f, -0.0f, 0.0f, 0.5f, 3.0f;
  const Mat Y = relu(X);
  EXPECT_EQ(Y(0, 0), 0.0f);
  EXPECT_EQ(Y(0, 2), 0.0f);
  EXPECT_EQ(Y(0, 3), 0.5f);
  EXPECT_EQ(Y(0, 4), 3.0f);
}

TEST(Activation, GeluHandValues) {
  // x·Φ(x): Φ(1) = 0.8413447, Φ(−1) = 0.1586553, Φ(2) = 0.9772499
  Mat X(1, 5);
  X << 0.0f, 1.0f, -1.0f, 2.0f, -6.0f;
  const Mat Y = gelu(X);
  EXPECT_EQ(Y(0, 0), 0.0f);
  EXPECT_NEAR(Y(0, 1), 0.8413447f, 1e-6f);
  EXPECT_NEAR(Y(0, 2), -0.1586553f, 1e-6f);
  EXPECT_NEAR(Y(0, 3), 1.9544997f, 1e-6f);  // 2·0.9772499
  EXPECT_NEAR(Y(0, 4), 0.0f, 1e-7f);        // −6·Φ(−6) = −6·9.9e−10 ≈ −5.9e−9
  // The exact form, not the tanh approximation: 0.5·(1 + tanh(√(2/π)(1 + 0.044715))) = 0.8411920, 1.5e−4 away.
  EXPECT_GT(std::fabs(Y(0, 1) - 0.8411920f), 1e-4f);
}

TEST(Activation, GeluMatchesNaiveLoop) {
  const Mat X = Mat::Random(4, 50) * 5.0f;
  const Mat Y = gelu(X);
  double max_diff = 0.0;
  for (int i = 0; i < X.size(); ++i) {
    const double x = X.data()[i];
    max_diff = std::max(max_diff, std::fabs(Y.data()[i] - 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)))));
  }
  std::printf("gelu vs naive double loop: max |diff| = %.3g\n", max_diff);
  EXPECT_LT(max_diff, 2e-6);
}

TEST(Activation, GeluTanhHandValues) {
  // GPT-2's gelu_new 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))): at 1, tanh(0.7978846·1.044715) = tanh(0.8335624) = 0.6823840,
  // so 0.5·1.6823840 = 0.8411920; and g(−x) = g(x) − x, so g(−1) = 0.8411920 − 1 = −0.1588080.
  Mat X(1, 4);
  X << 0.0f, 1.0f, -1.0f, -2.7f;
  const Mat Y = gelu(X, true);
  EXPECT_EQ(Y(0, 0), 0.0f);
  EXPECT_NEAR(Y(0, 1), 0.8411920f, 1e-6f);
  EXPECT_NEAR(Y(0, 2), -0.1588080f, 1e-6f);
  // Near x = −2.7 the two forms differ most: by about 4.7e−4, more than the 1e−4 a real model's test allows.
  EXPECT_NEAR(std::fabs(Y(0, 3) - gelu(X)(0, 3)), 4.7e-4f, 0.3e-4f);
}

TEST(Activation, ActivateDispatches) {
  const Mat X = Mat::Random(3, 3);
  EXPECT_TRUE(activate(Activation::ReLU, X) == relu(X));
  EXPECT_TRUE(activate(Activation::GELU, X) == gelu(X));
  EXPECT_TRUE(activate(Activation::GELUTanh, X) == gelu(X, true));
  EXPECT_FALSE(relu(X) == gelu(X));
}

// [SECTION] Dropout

TEST(Dropout, KeptFractionScaleAndMask) {
  const float p = 0.25f;
  const Mat X = Mat::Random(200, 500).array() + 2.0f;  // all entries in [1, 3]: never zero
  Rng rng(31);
  Mat keep;
  const Mat Y = dropout(X, p, rng, &keep);
  ASSERT_EQ(keep.rows(), X.rows());
  ASSERT_EQ(keep.cols(), X.cols());
  // N = 100 000: kept fraction 1 − p = 0.75, SE = √(0.75·0.25/N) = 1.37e−3 → 5 SE ≈ 0.007.
  const double kept = keep.cast<double>().mean();
  EXPECT_NEAR(kept, 0.75, 0.007);
  for (int i = 0; i < X.size(); ++i) {
    const float k = keep.data()[i];
    ASSERT_TRUE(k == 0.0f || k == 1.0f) << i;
    if (k == 1.0f)
      ASSERT_FLOAT_EQ(Y.data()[i], X.data()[i] / (1.0f - p)) << i;  // inverted dropout: ×1/(1 − p) = ×4/3
    else
      ASSERT_EQ(Y.data()[i], 0.0f) << i;
  }
  // Inverted dropout keeps the expected value: mean(Y) ≈ mean(X) (relative SE ≈ 2e−3).
  EXPECT_NEAR(Y.mean() / X.mean(), 1.0, 0.012);
}

TEST(Dropout, DeterministicForTheSameSeed) {
  const Mat X = Mat::Random(20, 30);
  Rng a(5), b(5), c(6);
  Mat keep_a, keep_b;
  const Mat Ya = dropout(X, 0.5f, a, &keep_a), Yb = dropout(X, 0.5f, b, &keep_b);
  EXPECT_TRUE(Ya == Yb);
  EXPECT_TRUE(keep_a == keep_b);
  EXPECT_FALSE(dropout(X, 0.5f, c) == Ya);
  // The generator advances: a second call with the same Rng gives a new mask.
  EXPECT_FALSE(dropout(X, 0.5f, a) == Ya);
}

TEST(Dropout, ZeroProbabilityIsIdentity) {
  const Mat X = Mat::Random(10, 10);
  Rng rng(1);
  Mat keep;
  EXPECT_TRUE(dropout(X, 0.0f, rng, &keep) == X);
  EXPECT_TRUE(keep == Mat::Ones(10, 10));
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(Softmax, ScoresThatOverflowToInfinitySplitTheWeightInsteadOfNaN) {
  // 3e38·10 overflows float to +∞ in two cells: the softmax's limit gives them 1/2 each, never NaN.
  Mat S(1, 3);
  S << 3e38f, 1.0f, 3e38f;
  const Mat P = softmax_rows(S, 10.0f, nullptr);
  EXPECT_FLOAT_EQ(P(0, 0), 0.5f);
  EXPECT_FLOAT_EQ(P(0, 1), 0.0f);
  EXPECT_FLOAT_EQ(P(0, 2), 0.5f);
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(Softmax, BackwardMatchesFiniteDifferencesInFloat64) {
  MatD S = normal_matrix(1, "S", 3, 5, 1.0f).cast<double>();
  const MatD G = normal_matrix(1, "G", 3, 5, 1.0f).cast<double>();
  MatD M = MatD::Zero(3, 5);
  M(1, 2) = -std::numeric_limits<double>::infinity();
  for (double scale : {1.0, 0.5}) {
    const MatD P = softmax_rows_t<double>(S, scale, &M);
    const MatD dS = softmax_rows_backward<double>(P, G, scale);
    const double err = testing::max_fd_relative_error(S, dS, [&] { return softmax_rows_t<double>(S, scale, &M).cwiseProduct(G).sum(); });
    std::printf("softmax backward (scale %.1f): max relative error %.2e\n", scale, err);
    EXPECT_LT(err, 1e-6);
    EXPECT_EQ(dS(1, 2), 0.0);  // a masked cell gets exactly zero gradient
  }
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

MatD randd(uint64_t seed, const char* name, int rows, int cols) { return normal_matrix(seed, name, rows, cols, 1.0f).cast<double>(); }

TEST(Backward, LayerNormAndRMSNormMatchFiniteDifferences) {
  MatD X = randd(5, "X", 3, 6);
  const MatD G = randd(5, "G", 3, 6);
  RowT<double> gamma = randd(5, "gamma", 1, 6), beta = randd(5, "beta", 1, 6);
  const double eps = 1e-5;
  const NormGrads<double> ln = layer_norm_backward<double>(X, gamma, eps, G);
  const auto ln_loss = [&] { return layer_norm_t<double>(X, gamma, beta, eps).cwiseProduct(G).sum(); };
  const double e_x = testing::max_fd_relative_error(X, ln.dX, ln_loss), e_g = testing::max_fd_relative_error(gamma, ln.dgamma, ln_loss),
               e_b = testing::max_fd_relative_error(beta, ln.dbeta, ln_loss);
  std::printf("LayerNorm backward: dX %.2e, dγ %.2e, dβ %.2e\n", e_x, e_g, e_b);
  EXPECT_LT(std::max({e_x, e_g, e_b}), 1e-6);
  const NormGrads<double> rms = rms_norm_backward<double>(X, gamma, eps, G);
  const auto rms_loss = [&] { return rms_norm_t<double>(X, gamma, eps).cwiseProduct(G).sum(); };
  const double r_x = testing::max_fd_relative_error(X, rms.dX, rms_loss), r_g = testing::max_fd_relative_error(gamma, rms.dgamma, rms_loss);
  std::printf("RMSNorm backward: dX %.2e, dγ %.2e\n", r_x, r_g);
  EXPECT_LT(std::max(r_x, r_g), 1e-6);
  // LayerNorm's output is invariant to shifting a row, so its dX rows sum to zero.
  EXPECT_LT(ln.dX.rowwise().sum().cwiseAbs().maxCoeff(), 1e-12);
}

TEST(Backward, ActivationsAndLinearMatchFiniteDifferences) {
  MatD X = randd(6, "X", 4, 5);
  const MatD G = randd(6, "G", 4, 5);
  const double e_gelu =
      testing::max_fd_relative_error(X, gelu_backward<double>(X, G), [&] { return gelu_t<double>(X).cwiseProduct(G).sum(); });
  // ReLU away from its kink at 0 (no entry of X is within 1e-3 of 0 for this seed).
  ASSERT_GT(X.cwiseAbs().minCoeff(), 1e-3);
  const double e_relu =
      testing::max_fd_relative_error(X, relu_backward<double>(X, G), [&] { return X.cwiseMax(0.0).cwiseProduct(G).sum(); });
  const double e_gelu_tanh = testing::max_fd_relative_error(X, gelu_backward<double>(X, G, true),
                                                           [&] { return gelu_t<double>(X, true).cwiseProduct(G).sum(); });
  std::printf("GELU backward %.2e, GELU (tanh) backward %.2e, ReLU backward %.2e\n", e_gelu, e_gelu_tanh, e_relu);
  EXPECT_LT(e_gelu, 1e-6);
  EXPECT_LT(e_gelu_tanh, 1e-6);
  EXPECT_LT(e_relu, 1e-6);

  MatD W = randd(6, "W", 5, 3);
  RowT<double> b = randd(6, "b", 1, 3);
  const MatD H = randd(6, "H", 4, 3);
  const LinearGrads<double> lin = linear_backward<double>(X, W, H);
  const auto loss = [&] { return (MatD((X * W).rowwise() + b)).cwiseProduct(H).sum(); };
  const double l_x = testing::max_fd_relative_error(X, lin.dX, loss), l_w = testing::max_fd_relative_error(W, lin.dW, loss),
               l_b = testing::max_fd_relative_error(b, lin.db, loss);
  std::printf("linear backward: dX %.2e, dW %.2e, db %.2e\n", l_x, l_w, l_b);
  EXPECT_LT(std::max({l_x, l_w, l_b}), 1e-6);
}

}  // namespace
}  // namespace qkv
