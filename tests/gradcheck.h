// Test helper: compare an analytic gradient with central finite differences, in float64.
#pragma once

#include "core/tensor.h"

#include <algorithm>
#include <cmath>

namespace qkv::testing {

// The largest relative error |a − n| / max(1e-6, |a| + |n|) over every entry of X, where n is the central
// difference (L(x + h) − L(x − h)) / 2h of loss() and a is the same entry of `analytic`. X is perturbed in
// place and restored. A whole model sums many more rounding errors into L, so its checks take h = 1e-4.
template <typename M, typename F>
double max_fd_relative_error(M& X, const M& analytic, F loss, double h = 1e-6) {
  double worst = 0.0;
  for (Eigen::Index k = 0; k < X.size(); ++k) {
    const double saved = X.data()[k];
    X.data()[k] = saved + h;
    const double up = loss();
    X.data()[k] = saved - h;
    const double down = loss();
    X.data()[k] = saved;
    const double numeric = (up - down) / (2 * h), a = analytic.data()[k];
    worst = std::max(worst, std::fabs(a - numeric) / std::max(1e-6, std::fabs(a) + std::fabs(numeric)));
  }
  return worst;
}

}  // namespace qkv::testing
