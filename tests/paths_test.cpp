#include "core/paths.h"

#include <gtest/gtest.h>

namespace qkv {
namespace {

TEST(Paths, BuildTheTraceNames) {
  EXPECT_EQ(paths::layer("encoder", 0), "encoder.0");
  EXPECT_EQ(paths::block("decoder", 1, true), "decoder.1.cross_attn");
  EXPECT_EQ(paths::block("decoder", 1, false), "decoder.1.self_attn");
  EXPECT_EQ(paths::block("encoder", 3, paths::kFFN), "encoder.3.ffn");
  EXPECT_EQ(paths::head("decoder.1.cross_attn", 2), "decoder.1.cross_attn.head.2");
  EXPECT_EQ(paths::head_tensor("encoder.0.self_attn", 11, "S_scaled"), "encoder.0.self_attn.head.11.S_scaled");
  EXPECT_EQ(paths::join("", "loss"), "loss");
  EXPECT_EQ(paths::grad("encoder.0.self_attn.W_Q"), "dL/dencoder.0.self_attn.W_Q");
  EXPECT_TRUE(paths::is_grad("dL/dX"));
  EXPECT_FALSE(paths::is_grad("dL"));
}

TEST(Paths, ParseHeadTakesAPathApartAndRefusesWhatIsNotAHead) {
  const auto a = paths::parse_head("batch.1.decoder.0.cross_attn.head.12.P");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->block, "batch.1.decoder.0.cross_attn");
  EXPECT_EQ(a->index, 12);
  EXPECT_EQ(a->tensor, "P");
  const auto own = paths::parse_head("encoder.0.self_attn.head.3");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->index, 3);
  EXPECT_EQ(own->tensor, "");
  EXPECT_FALSE(paths::parse_head("encoder.0.self_attn.W_Q"));
  EXPECT_FALSE(paths::parse_head("encoder.0.self_attn.head.x.P"));
  EXPECT_FALSE(paths::parse_head("encoder.0.self_attn.head..P"));
  // Round trip with the builder.
  const auto r = paths::parse_head(paths::head_tensor("decoder.2.self_attn", 7, "S_masked"));
  ASSERT_TRUE(r);
  EXPECT_EQ(paths::head_tensor(r->block, r->index, r->tensor), "decoder.2.self_attn.head.7.S_masked");
}

}  // namespace
}  // namespace qkv
