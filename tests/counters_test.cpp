// Tests for core/counters: published totals, hand-computed tiny models, and how FLOPs and memory scale.
#include "core/counters.h"

#include <gtest/gtest.h>

#include <string>

namespace qkv {
namespace {

int64_t row_params(const CountTable& t, const std::string& component) {
  for (const ComponentCount& r : t.rows)
    if (r.component == component) return r.params;
  ADD_FAILURE() << "no row " << component;
  return -1;
}

int64_t row_flops(const CountTable& t, const std::string& component) {
  for (const ComponentCount& r : t.rows)
    if (r.component == component) return r.flops;
  ADD_FAILURE() << "no row " << component;
  return -1;
}

bool has_row(const CountTable& t, const std::string& component) {
  for (const ComponentCount& r : t.rows)
    if (r.component == component) return true;
  return false;
}

void expect_rows_sum_to_totals(const CountTable& t) {
  int64_t params = 0, flops = 0;
  for (const ComponentCount& r : t.rows) {
    params += r.params;
    flops += r.flops;
    EXPECT_TRUE(r.params != 0 || r.flops != 0) << r.component << " is an empty row";
  }
  EXPECT_EQ(params, t.total_params);
  EXPECT_EQ(flops, t.total_flops);
}

// Encoder-only, L = 1, d_model = 4, h = 2 (d_k = d_v = 2), d_ff = 8, biases, Post-Norm LayerNorm,
// sinusoidal positions, V = 10, tied output.
ModelConfig tiny() {
  ModelConfig c;
  c.arch = Arch::EncoderOnly;
  c.layers = 1;
  c.d_model = 4;
  c.heads = 2;
  c.d_ff = 8;
  c.bias = true;
  c.norm = NormKind::LayerNorm;
  c.norm_placement = NormPlacement::Post;
  c.pe = PosEncoding::Sinusoidal;
  c.projection = Projection::Learned;
  c.scoring = Scoring::Dot;
  return c;
}

TEST(Counters, PresetsMatchPublishedTotals) {
  ASSERT_EQ(presets().size(), 6u);
  for (const Preset& p : presets()) {
    SCOPED_TRACE(p.name);
    const CountTable t = count_model(p.spec, 128);
    EXPECT_EQ(t.total_params, p.published_total);
    expect_rows_sum_to_totals(t);
    EXPECT_FALSE(p.title.empty());
    EXPECT_FALSE(p.source.empty());
  }
  EXPECT_EQ(find_preset("bert-base")->published_total, 109'482'240);
  EXPECT_EQ(find_preset("gpt2-small")->published_total, 124'439'808);
  EXPECT_EQ(find_preset("vit-b16")->published_total, 86'567'656);
  EXPECT_EQ(find_preset("vit-l16")->published_total, 304'326'632);  // timm's vit_large_patch16_224: 304.33M
  EXPECT_EQ(find_preset("vit-h14")->published_total, 632'045'800);  // timm's vit_huge_patch14_224: 632.05M
  EXPECT_EQ(find_preset("transformer-base")->published_total, 63'082'496);
  EXPECT_EQ(find_preset("gpt3"), nullptr);
}

TEST(Counters, PresetRowsMatchHandArithmetic) {
  // Per-layer subtotals as written beside the presets in counters.cpp.
  const CountTable bert = count_model(find_preset("bert-base")->spec, 128);
  EXPECT_EQ(row_params(bert, "embedding.tokens"), 23'440'896);
  EXPECT_EQ(row_params(bert, "embedding.positions"), 393'216);
  EXPECT_EQ(row_params(bert, "embedding.token_types"), 1'536);
  EXPECT_EQ(row_params(bert, "embedding.norm"), 1'536);
  EXPECT_EQ(row_params(bert, "encoder.self_attn (×12)"), 12 * 2'362'368);
  EXPECT_EQ(row_params(bert, "encoder.ffn (×12)"), 12 * 4'722'432);
  EXPECT_EQ(row_params(bert, "encoder.norms (×12)"), 12 * 3'072);
  EXPECT_EQ(row_params(bert, "pooler"), 590'592);
  EXPECT_FALSE(has_row(bert, "output"));

  const CountTable gpt2 = count_model(find_preset("gpt2-small")->spec, 128);
  EXPECT_EQ(row_params(gpt2, "decoder.self_attn (×12)"), 12 * 2'362'368);
  EXPECT_EQ(row_params(gpt2, "final_norm"), 1'536);
  EXPECT_EQ(row_params(gpt2, "output"), 0);  // tied to wte, but the logits still cost FLOPs
  EXPECT_EQ(row_flops(gpt2, "output"), int64_t{2} * 128 * 768 * 50257);

  const CountTable vit = count_model(find_preset("vit-b16")->spec, 197);
  EXPECT_EQ(row_params(vit, "patch_embedding"), 590'592);
  EXPECT_EQ(row_flops(vit, "patch_embedding"), 2 * 196 * (16 * 16 * 3) * 768);  // 196 patches + [CLS]
  EXPECT_EQ(row_params(vit, "cls_token"), 768);
  EXPECT_EQ(row_params(vit, "classifier"), 769'000);
  EXPECT_FALSE(has_row(vit, "embedding.tokens"));

  const CountTable base = count_model(find_preset("transformer-base")->spec, 128);
  EXPECT_EQ(row_params(base, "embedding.tokens"), 18'944'000);
  EXPECT_FALSE(has_row(base, "embedding.positions"));  // sinusoidal
  EXPECT_EQ(row_params(base, "encoder.self_attn (×6)") + row_params(base, "encoder.ffn (×6)") + row_params(base, "encoder.norms (×6)"),
            18'914'304);
  EXPECT_EQ(row_params(base, "decoder.self_attn (×6)") + row_params(base, "decoder.cross_attn (×6)") +
                row_params(base, "decoder.ffn (×6)") + row_params(base, "decoder.norms (×6)"),
            25'224'192);
}

// Tiny model by hand:
//   embedding.tokens  10·4                                        = 40
//   attention         W_Q, W_K, W_V, W_O 4·(4·2·2) = 64; biases 4+4+4+4 = 16   = 80
//   FFN               4·8 + 8 + 8·4 + 4                           = 76
//   norms             2 LayerNorms · 2·4                          = 16
//   output            tied                                        = 0
//   total                                                         = 212
TEST(Counters, TinyParamsByHand) {
  const CountTable t = count_model(count_spec_for(tiny(), 10), 3);
  EXPECT_EQ(row_params(t, "embedding.tokens"), 40);
  EXPECT_EQ(row_params(t, "encoder.self_attn (×1)"), 80);
  EXPECT_EQ(row_params(t, "encoder.ffn (×1)"), 76);
  EXPECT_EQ(row_params(t, "encoder.norms (×1)"), 16);
  EXPECT_EQ(row_params(t, "output"), 0);
  EXPECT_FALSE(has_row(t, "final_norm"));
  EXPECT_EQ(t.total_params, 212);
  expect_rows_sum_to_totals(t);
}

TEST(Counters, TinyVariantsByHand) {
  ModelConfig c = tiny();
  c.bias = false;  // attention 64, FFN 64: 40 + 64 + 64 + 16
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 184);

  c = tiny();
  c.projection = Projection::TiedQK;  // W_K (16) and b_K (4) shared with W_Q, b_Q: 212 − 20
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 192);

  c = tiny();
  c.projection = Projection::Identity;  // attention keeps W_O 16 + b_O 4 only: 212 − 60
  EXPECT_EQ(row_params(count_model(count_spec_for(c, 10), 3), "encoder.self_attn (×1)"), 20);
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 152);

  c = tiny();
  c.norm = NormKind::RMSNorm;  // γ only: 2 norms · 4 = 8 instead of 16
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 204);

  c = tiny();
  c.norm = NormKind::BatchNorm;  // γ, β; running statistics are buffers
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 212);

  c = tiny();
  c.norm = NormKind::None;
  const CountTable no_norm = count_model(count_spec_for(c, 10), 3);
  EXPECT_EQ(no_norm.total_params, 196);
  EXPECT_FALSE(has_row(no_norm, "encoder.norms (×1)"));

  c = tiny();
  c.norm_placement = NormPlacement::Pre;  // same 2 norms per layer plus a final LayerNorm 2·4
  const CountTable pre = count_model(count_spec_for(c, 10), 3);
  EXPECT_EQ(row_params(pre, "final_norm"), 8);
  EXPECT_EQ(pre.total_params, 220);

  c = tiny();
  c.scoring = Scoring::Additive;  // w_a: d_k = 2 per head, 2 heads
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 216);

  c = tiny();
  c.pe = PosEncoding::Learned;
  c.max_len = 16;  // positions table 16·4
  EXPECT_EQ(count_model(count_spec_for(c, 10), 3).total_params, 212 + 64);

  CountSpec untied = count_spec_for(tiny(), 10);
  untied.tie_output = false;  // W_out 4·10 + b_out 10
  EXPECT_EQ(count_model(untied, 3).total_params, 212 + 50);
}

// Encoder–decoder, same widths: embedding 40; encoder layer 80 + 76 + 16 = 172;
// decoder layer 2·80 + 76 + 3 LayerNorms 24 = 260; total 472. Pre-Norm adds one final norm per stack: +2·8.
TEST(Counters, TinyEncoderDecoderByHand) {
  ModelConfig c = tiny();
  c.arch = Arch::EncoderDecoder;
  const CountTable t = count_model(count_spec_for(c, 10), 3);
  EXPECT_EQ(row_params(t, "decoder.cross_attn (×1)"), 80);
  EXPECT_EQ(row_params(t, "decoder.norms (×1)"), 24);
  EXPECT_EQ(t.total_params, 472);
  expect_rows_sum_to_totals(t);

  c.norm_placement = NormPlacement::Pre;
  const CountTable pre = count_model(count_spec_for(c, 10), 3);
  EXPECT_EQ(row_params(pre, "encoder.final_norm"), 8);
  EXPECT_EQ(row_params(pre, "decoder.final_norm"), 8);
  EXPECT_EQ(pre.total_params, 488);
}

TEST(Counters, MoreHeadsDoNotAddParamsWhenDkIsDmodelOverH) {
  ModelConfig one;
  one.d_model = 512;
  one.heads = 1;
  ModelConfig eight = one;
  eight.heads = 8;
  const int64_t a1 = row_params(count_model(count_spec_for(one, 100), 10), "encoder.self_attn (×2)");
  const int64_t a8 = row_params(count_model(count_spec_for(eight, 100), 10), "encoder.self_attn (×2)");
  EXPECT_EQ(a1, a8);
  EXPECT_EQ(a1, 2 * (4 * 512 * 512 + 4 * 512));  // 2 layers of 4 projections + biases
}

// Tiny model, n = 3 (h = 2, d_k = d_v = 2):
//   attention  Q, K, V, W_O 4·(2·3·4·4) = 384; scores 2·(2·3·3·2) = 72; softmax 2·(5·3·3) = 90;
//              P·V 72                                              = 618
//   FFN        2·(2·3·4·8) = 384; activation 5·3·8 = 120           = 504
//   norms      2·(5·3·4)                                           = 120
//   output     logits 2·3·4·10                                     = 240
//   total                                                          = 1482
TEST(Counters, TinyFlopsByHand) {
  const CountTable t = count_model(count_spec_for(tiny(), 10), 3);
  EXPECT_EQ(row_flops(t, "encoder.self_attn (×1)"), 618);
  EXPECT_EQ(row_flops(t, "encoder.ffn (×1)"), 504);
  EXPECT_EQ(row_flops(t, "encoder.norms (×1)"), 120);
  EXPECT_EQ(row_flops(t, "output"), 240);
  EXPECT_EQ(row_flops(t, "embedding.tokens"), 0);
  EXPECT_EQ(t.total_flops, 1482);

  ModelConfig c = tiny();
  c.projection = Projection::TiedQK;  // self-attention: K = Q, one projection fewer (96)
  EXPECT_EQ(row_flops(count_model(count_spec_for(c, 10), 3), "encoder.self_attn (×1)"), 618 - 96);

  c = tiny();
  c.scoring = Scoring::Additive;  // scores 2·(8·3·3·2) = 288 instead of 72
  EXPECT_EQ(row_flops(count_model(count_spec_for(c, 10), 3), "encoder.self_attn (×1)"), 618 - 72 + 288);
}

TEST(Counters, AttentionFlopsGrowAsNSquared) {
  ModelConfig c;
  c.layers = 1;
  c.d_model = 512;
  c.heads = 8;  // d_k = d_v = 64
  c.d_ff = 2048;
  const CountSpec s = count_spec_for(c, 0);
  auto attn = [&](int64_t n) { return row_flops(count_model(s, n), "encoder.self_attn (×1)"); };
  auto ffn = [&](int64_t n) { return row_flops(count_model(s, n), "encoder.ffn (×1)"); };

  // attn(n) = a·n + b·n², so attn(2n) − 2·attn(n) = 2·b·n² with b = h·(2·d_k + 5 + 2·d_v) = 8·261 = 2088.
  for (int64_t n : {1, 7, 100, 4096}) EXPECT_EQ(attn(2 * n) - 2 * attn(n), 2 * 2088 * n * n) << "n = " << n;
  // The projections (a = 4·2·512·512) dominate short sequences; the n² part dominates long ones.
  EXPECT_NEAR(static_cast<double>(attn(2)) / static_cast<double>(attn(1)), 2.0, 0.01);
  EXPECT_NEAR(static_cast<double>(attn(2'000'000)) / static_cast<double>(attn(1'000'000)), 4.0, 0.01);
  EXPECT_EQ(ffn(2000), 2 * ffn(1000));  // the FFN is per token
}

TEST(Counters, AttentionMatrixBytes) {
  ModelConfig c;
  c.arch = Arch::EncoderOnly;
  c.layers = 2;
  c.heads = 4;
  // 4 matrices · 4 bytes · L 2 · h 4 · 3·5 cells = 1920
  EXPECT_EQ(attention_matrix_bytes(c, 3, 5), 1920);
  EXPECT_EQ(attention_matrix_bytes(c, 6, 10), 4 * 1920);

  c.arch = Arch::EncoderDecoder;
  c.layers = 1;
  c.heads = 2;
  // encoder self 5·5 + decoder self 3·3 + cross 3·5 = 49 cells; 16 bytes · h 2 · 49 = 1568
  EXPECT_EQ(attention_matrix_bytes(c, 3, 5), 1568);
  EXPECT_EQ(attention_matrix_bytes(c, 6, 10), 4 * 1568);
}

}  // namespace
}  // namespace qkv
