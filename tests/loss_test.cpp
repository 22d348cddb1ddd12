// Losses: hand-computed values and gradients against central finite differences.
#include "core/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "tests/gradcheck.h"

namespace qkv {
namespace {

TEST(Loss, CrossEntropyByHand) {
  // Two equal logits: p = [½, ½], L = ln 2 whatever the target; dL/dz = p − onehot = [−½, ½].
  MatD z = MatD::Zero(1, 2);
  LossGrad<double> r = cross_entropy<double>(z, {0});
  EXPECT_NEAR(r.loss, std::log(2.0), 1e-12);
  EXPECT_NEAR(r.grad(0, 0), -0.5, 1e-12);
  EXPECT_NEAR(r.grad(0, 1), 0.5, 1e-12);
  // logits [0, ln 3]: p = [¼, ¾]; target 1 → L = −ln ¾. With ε = 0.2, V = 2: q = [0.1, 0.9],
  // L = −(0.1·ln ¼ + 0.9·ln ¾) = 0.1·1.386294 + 0.9·0.287682 = 0.397543.
  z(0, 1) = std::log(3.0);
  EXPECT_NEAR(cross_entropy<double>(z, {1}).loss, -std::log(0.75), 1e-12);
  r = cross_entropy<double>(z, {1}, 0.2);
  EXPECT_NEAR(r.loss, 0.1 * std::log(4.0) + 0.9 * -std::log(0.75), 1e-12);
  EXPECT_NEAR(r.grad(0, 0), 0.25 - 0.1, 1e-12);
}

TEST(Loss, IgnoredRowsCountNothingAndHugeLogitsStayFinite) {
  MatD z(3, 3);
  z << 1e4, 0, -1e4, 5, 5, 5, 0, 1, 2;
  const LossGrad<double> r = cross_entropy<double>(z, {0, -1, 2});
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_TRUE(r.grad.row(1).isZero(0.0));
  // Row 0 is certain and right (loss 0); row 2: −log softmax([0,1,2])_2 = log(1 + e^−1 + e^−2) = 0.407606; mean over 2 rows.
  EXPECT_NEAR(r.loss, 0.4076059644 / 2.0, 1e-9);
}

TEST(Loss, GradientsMatchFiniteDifferences) {
  MatD z = normal_matrix(9, "z", 4, 6, 2.0f).cast<double>();
  const std::vector<int> y{3, -1, 0, 5};
  const LossGrad<double> ce = cross_entropy<double>(z, y, 0.1);
  MatD P = normal_matrix(9, "P", 3, 3, 1.0f).cast<double>();
  const MatD target = MatD::Identity(3, 3);
  const LossGrad<double> pl = pattern_loss<double>(P, target);
  const double e_ce = testing::max_fd_relative_error(z, ce.grad, [&] { return cross_entropy<double>(z, y, 0.1).loss; });
  const double e_pl = testing::max_fd_relative_error(P, pl.grad, [&] { return pattern_loss<double>(P, target).loss; });
  std::printf("cross-entropy backward %.2e, pattern loss backward %.2e\n", e_ce, e_pl);
  EXPECT_LT(e_ce, 1e-6);
  EXPECT_LT(e_pl, 1e-6);
}

}  // namespace
}  // namespace qkv
