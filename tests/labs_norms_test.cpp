// Labs: gradient norms — the Pre/Post × residual sweep and the weight-gradient norms per head.
#include "core/labs/norms.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/model.h"
#include "core/network.h"
#include "core/paths.h"

namespace qkv::labs {
namespace {

Session small_session() {
  Session s;
  s.input.text = "the cat sat on the mat";
  s.model.layers = 3;
  s.model.d_model = 16;
  s.model.heads = 2;
  s.model.d_ff = 32;
  return s;
}

TEST(LabsNorms, SweepRunsFourVariantsWithTheGradientOfEveryLayerInput) {
  Session s = small_session();
  s.model.norm_placement = NormPlacement::Pre;
  const NormSweep r = norm_sweep(s);
  ASSERT_EQ(r.variants.size(), 4u);
  EXPECT_EQ(r.stack, "encoder");
  EXPECT_FALSE(r.cancelled);
  int current = 0;
  for (const NormVariant& v : r.variants) {
    SCOPED_TRACE(v.label(true));
    EXPECT_EQ(v.error, "");
    ASSERT_EQ(v.norms.size(), 4u);  // 3 layer inputs, then the last output
    for (float n : v.norms) EXPECT_TRUE(std::isfinite(n) && n > 0.0f) << n;
    current += r.is_current(v) ? 1 : 0;
  }
  EXPECT_EQ(current, 1);
  EXPECT_EQ(r.variants[2].label(true), "Pre-Norm, residual");
  EXPECT_EQ(r.variants[1].label(false), "no norm, no residual");
}

TEST(LabsNorms, SweepNormsEqualTheLiveModelsGradient) {
  // The variant that is the session itself reads the same ‖∂L/∂x_l‖ as add_gradients on the session.
  Session s = small_session();
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok());
  ASSERT_FALSE(add_gradients(s, *t).has_value());
  const NormSweep r = norm_sweep(s);
  for (const NormVariant& v : r.variants) {
    if (!r.is_current(v)) continue;
    for (int l = 0; l < 3; ++l)
      EXPECT_NEAR(v.norms[l], t->tensors.at(paths::grad(paths::join(paths::layer("encoder", l), "input"))).norm(), 1e-4 * v.norms[l]);
  }
}

TEST(LabsNorms, WithoutNormsOnlyResidualOnAndOffAreCompared) {
  Session s = small_session();
  s.model.norm = NormKind::None;
  const NormSweep r = norm_sweep(s);
  ASSERT_EQ(r.variants.size(), 2u);
  EXPECT_FALSE(r.norms);
}

TEST(LabsNorms, SweepReportsProgressAndStopsWhenCancelled) {
  const Session s = small_session();
  std::vector<std::pair<int, int>> calls;
  const NormSweep all = norm_sweep(s, {}, [&](int done, int total) {
    calls.push_back({done, total});
    return true;
  });
  ASSERT_EQ(calls.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(calls[i], std::make_pair(i, 4));
  const NormSweep stopped = norm_sweep(s, {}, [](int done, int) { return done < 1; });
  EXPECT_TRUE(stopped.cancelled);
  EXPECT_EQ(stopped.variants.size(), 1u);
}

TEST(LabsNorms, WeightGradientNormsSliceEachHeadAndAddUpToTheWholeMatrix) {
  Session s = small_session();
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok());
  ASSERT_FALSE(add_gradients(s, *t).has_value());
  const WeightGradNorms g = weight_gradient_norms(*t, {"encoder.0.self_attn", "encoder.2.self_attn", "encoder.9.self_attn"});
  ASSERT_EQ(g.blocks.size(), 2u);  // encoder.9 does not exist
  EXPECT_EQ(g.heads, 2);
  for (const BlockGradNorms& b : g.blocks) {
    ASSERT_EQ(b.heads.size(), 3u);
    for (int k = 0; k < 4; ++k) {
      ASSERT_EQ(b.heads[2].state[k], GradCell::Value);
      // ‖G‖² = Σ over heads of ‖slice‖²: the slices partition the matrix.
      const double parts = std::pow(b.heads[0].v[k], 2) + std::pow(b.heads[1].v[k], 2);
      EXPECT_NEAR(parts, std::pow(b.heads[2].v[k], 2), 1e-4 * parts) << b.block << " " << kProjectionNames[k];
      EXPECT_LE(b.heads[0].v[k], g.max_by_kind[k]);
    }
  }
}

TEST(LabsNorms, TiedAndIdentityProjectionsAreMarkedNotZero) {
  Session s = small_session();
  s.model.projection = Projection::TiedQK;
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok());
  ASSERT_FALSE(add_gradients(s, *t).has_value());
  const WeightGradNorms g = weight_gradient_norms(*t, {"encoder.0.self_attn"});
  ASSERT_EQ(g.blocks.size(), 1u);
  EXPECT_EQ(g.blocks[0].heads[0].state[0], GradCell::Value);
  EXPECT_EQ(g.blocks[0].heads[0].state[1], GradCell::Tied);
}

}  // namespace
}  // namespace qkv::labs
