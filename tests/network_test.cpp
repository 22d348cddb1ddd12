// The differentiable model: its float forward equals core::run tensor by tensor, and in float64 every
// parameter's gradient and the gradients of Q, K, V, S and P match central finite differences (< 1e-4
// relative) for small random configs that together cover every option of the forward pass.
#include "core/network.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/model.h"
#include "core/rng.h"
#include "gradcheck.h"

namespace qkv {
namespace {

struct Case {
  const char* label;
  std::function<void(Session&)> setup;
};

Session tiny_session(Arch arch) {
  Session s;
  s.input = {"the cat sat on mat", "le chat dort"};
  s.model.arch = arch;
  s.model.layers = 2;
  s.model.d_model = 8;
  s.model.heads = 2;
  s.model.d_ff = 12;
  s.model.dropout = 0.25f;
  return s;
}

// Every option of the forward pass appears in at least one case.
const std::vector<Case>& cases() {
  static const std::vector<Case> list = {
      {"encoder_post_layernorm_sinusoidal_relu_padding",
       [](Session& s) {
         s.model.activation = Activation::ReLU;
         s.padding_positions = {3};
       }},
      {"decoder_pre_rmsnorm_rope_gelu_tied_unscaled_temperature",
       [](Session& s) {
         s.model.arch = Arch::DecoderOnly;
         s.model.norm = NormKind::RMSNorm;
         s.model.norm_placement = NormPlacement::Pre;
         s.model.pe = PosEncoding::RoPE;
         s.model.activation = Activation::GELU;
         s.model.projection = Projection::TiedQK;
         s.model.score_scale = ScoreScale::None;
         s.model.temperature = 0.7f;
       }},
      {"encoder_decoder_alibi_pre_layernorm_cross_smoothing_batch_dropout",
       [](Session& s) {
         s.model.arch = Arch::EncoderDecoder;
         s.model.pe = PosEncoding::ALiBi;
         s.model.norm_placement = NormPlacement::Pre;
         s.model.activation = Activation::GELU;
         s.extra_batch = {{"a dog", "un chien qui court"}};
         s.label_smoothing = 0.1f;
         s.mode = Mode::Train;
       }},
      {"encoder_additive_batchnorm_learned_no_residual_custom_mask",
       [](Session& s) {
         s.model.scoring = Scoring::Additive;
         s.model.norm = NormKind::BatchNorm;
         s.model.pe = PosEncoding::Learned;
         s.model.max_len = 16;
         s.model.residual = false;
         s.model.activation = Activation::GELU;
         s.extra_batch = {{"one two", ""}};
         s.encoder_mask = kMaskPadding | kMaskCustom;
         for (int j = 0; j < 5; ++j) s.custom_cells.push_back({1, j});  // a fully masked row
         s.custom_cells.push_back({0, 2});
       }},
      {"decoder_identity_no_norm_no_pe_unequal_dk_dv_no_bias",
       [](Session& s) {
         s.model.arch = Arch::DecoderOnly;
         s.model.projection = Projection::Identity;
         s.model.norm = NormKind::None;
         s.model.pe = PosEncoding::None;
         s.model.bias = false;
         s.model.scale_embeddings = false;
         s.model.activation = Activation::GELU;
       }},
      {"decoder_post_layernorm_unequal_dk_dv_train_dropout_causal_custom",
       [](Session& s) {
         s.model.arch = Arch::DecoderOnly;
         s.model.d_k = 3;
         s.model.d_v = 5;
         s.model.activation = Activation::GELU;
         s.mode = Mode::Train;
         s.decoder_mask = kMaskCausal | kMaskCustom;
         s.custom_cells = {{3, 1}};
       }},
      {"encoder_decoder_rope_batchnorm_post_additive_target_loss",
       [](Session& s) {
         s.model.arch = Arch::EncoderDecoder;
         s.model.pe = PosEncoding::RoPE;
         s.model.norm = NormKind::BatchNorm;
         s.model.scoring = Scoring::Additive;
         s.model.activation = Activation::GELU;
         s.model.heads = 1;
         s.loss = LossKind::TargetSequence;
       }},
      // Issue 13's parts of real checkpoints, on a toy model: BERT's token types (a second segment after [EOS]), embedding
      // LayerNorm and MLM head, and ablated heads and layers (zero and mean).
      {"encoder_bert_parts_token_types_embed_norm_mlm_head_ablations",
       [](Session& s) {
         s.input.text = "the cat [EOS] sat on mat";
         s.model.token_types = 2;
         s.model.embed_norm = true;
         s.model.mlm_head = true;
         s.model.pe = PosEncoding::Learned;
         s.model.max_len = 16;
         s.model.scale_embeddings = false;
         s.model.activation = Activation::GELU;
         s.ablations = {{"encoder.0.self_attn.head.1", AblationKind::Mean}, {"encoder.1", AblationKind::Zero}};
       }},
      {"decoder_gpt2_parts_gelu_tanh_pre_layernorm_mean_ablated_layer",
       [](Session& s) {
         s.model.arch = Arch::DecoderOnly;
         s.model.norm_placement = NormPlacement::Pre;
         s.model.activation = Activation::GELUTanh;
         s.model.pe = PosEncoding::Learned;
         s.model.max_len = 16;
         s.ablations = {{"decoder.0", AblationKind::Mean}, {"decoder.1.self_attn.head.0", AblationKind::Zero}};
       }},
      {"encoder_pattern_loss_anti_diagonal",
       [](Session& s) {
         s.loss = LossKind::Pattern;
         s.loss_pattern = Pattern::AntiDiagonal;
         s.model.activation = Activation::GELU;
       }},
  };
  return list;
}

Session make_case(const Case& c) {
  Session s = tiny_session(Arch::EncoderOnly);
  c.setup(s);
  if (auto e = validate(s)) ADD_FAILURE() << c.label << ": " << e->message();
  return s;
}

// Seeded weights plus noise on everything (biases and γ, β start at 0 and 1, which would hide their bugs).
Params<double> noisy_params(const Session& s, const Vocab& vocab) {
  Params<double> W = to_params<double>(make_weights(s.model, vocab, s.seed));
  Rng rng(7);
  for (auto& [path, value] : W) {
    if (!is_trainable(s.model, path)) continue;
    for (Eigen::Index k = 0; k < value.size(); ++k) value.data()[k] += 0.3 * rng.normal();
  }
  if (s.model.projection == Projection::TiedQK)
    for (auto& [path, value] : W)
      if (path.size() > 3 && path.compare(path.size() - 3, 3, "W_K") == 0) value = W.at(path.substr(0, path.size() - 3) + "W_Q");
  return W;
}

class NetworkGradients : public ::testing::TestWithParam<int> {};

TEST_P(NetworkGradients, EveryParameterAndActivationMatchesFiniteDifferences) {
  const Case& c = cases()[GetParam()];
  const Session s = make_case(c);
  Vocab vocab;
  const TokenBatch batch = token_batch(s, &vocab);
  Params<double> W = noisy_params(s, vocab);
  std::map<std::string, MatD> nudges;
  PassOptions o = pass_options(s);
  o.nudges = &nudges;
  const LossOptions lo = loss_options(s);
  const auto loss = [&] {
    NetworkPass<double> p = network_forward<double>(s.model, o, W, batch);
    return backpropagate<double>(p, s.model, batch, lo);
  };

  NetworkPass<double> pass = network_forward<double>(s.model, o, W, batch);
  const double L = backpropagate<double>(pass, s.model, batch, lo);
  ASSERT_TRUE(std::isfinite(L)) << c.label;
  double worst = 0.0;
  int checked = 0;
  for (const auto& [path, id] : pass.params) {
    if (!is_trainable(s.model, path)) continue;
    const MatD analytic = pass.tape.grad(id);
    const double err = testing::max_fd_relative_error(W.at(path), analytic, loss, 1e-4);
    EXPECT_LT(err, 1e-4) << c.label << ": dL/d" << path;
    worst = std::max(worst, err);
    ++checked;
  }
  EXPECT_GE(checked, 5) << c.label;

  // Q, K, V, S, P of the first and last attention blocks, through nudges added to those activations.
  const std::string stack = s.model.arch == Arch::DecoderOnly ? "decoder" : "encoder";
  std::vector<std::string> heads = {stack + ".0.self_attn.head.0", stack + ".1.self_attn.head." + std::to_string(s.model.heads - 1)};
  if (s.model.arch == Arch::EncoderDecoder) heads.push_back("decoder.1.cross_attn.head.0");
  for (const std::string& head : heads)
    for (const char* what : {"Q", "K", "V", "S", "P"}) {
      const std::string path = head + "." + what;
      const MatD value = node_value<double>(pass, path);
      nudges[path] = MatD::Zero(value.rows(), value.cols());
      NetworkPass<double> nudged = network_forward<double>(s.model, o, W, batch);
      backpropagate<double>(nudged, s.model, batch, lo);
      const MatD analytic = node_grad<double>(nudged, path);
      const double err = testing::max_fd_relative_error(nudges[path], analytic, loss, 1e-4);
      EXPECT_LT(err, 1e-4) << c.label << ": dL/d" << path;
      worst = std::max(worst, err);
      nudges.erase(path);
    }
  // Masked cells receive exactly zero gradient through the softmax.
  for (const auto& [path, view] : pass.nodes) {
    if (path.size() < 2 || path.compare(path.size() - 2, 2, ".S") != 0 || path.rfind("batch.", 0) == 0) continue;
    const MatD P = node_value<double>(pass, path.substr(0, path.size() - 1) + "P");
    const MatD dS = node_grad<double>(pass, path);
    for (Eigen::Index k = 0; k < P.size(); ++k)
      if (P.data()[k] == 0.0) {
        EXPECT_EQ(dS.data()[k], 0.0) << c.label << ": " << path;
      }
  }
  std::printf("[ %s ] %d parameters, worst relative error %.2e\n", c.label, checked, worst);
}

INSTANTIATE_TEST_SUITE_P(AllOptions, NetworkGradients, ::testing::Range(0, static_cast<int>(cases().size())),
                         [](const ::testing::TestParamInfo<int>& info) { return std::string(cases()[info.param].label); });

// The float network and core::run compute the same tensors (same paths, same dropout draws).
class NetworkMatchesRun : public ::testing::TestWithParam<int> {};

TEST_P(NetworkMatchesRun, EveryCommonTensorAgrees) {
  const Case& c = cases()[GetParam()];
  const Session s = make_case(c);
  Result<Trace> t = run(s);
  ASSERT_TRUE(t) << t.error().message();
  const TokenBatch batch = token_batch(s);
  NetworkPass<float> pass = network_forward<float>(s.model, pass_options(s), to_params<float>(*t->weights), batch);
  int compared = 0;
  for (const auto& [path, view] : pass.nodes) {
    const Mat* expected = t->tensors.find(path);
    if (!expected) continue;
    const Mat got = pass.tape.value(view.id).middleRows(view.row0, view.rows);
    ASSERT_EQ(got.rows(), expected->rows()) << path;
    ASSERT_EQ(got.cols(), expected->cols()) << path;
    const float scale = 1.0f + expected->cwiseAbs().maxCoeff();
    EXPECT_LT((got - *expected).cwiseAbs().maxCoeff(), 2e-5f * scale) << c.label << ": " << path;
    ++compared;
  }
  EXPECT_TRUE(pass.nodes.count("output.logits") && t->tensors.contains("output.logits"));
  EXPECT_GT(compared, 40) << c.label;
}

INSTANTIATE_TEST_SUITE_P(AllOptions, NetworkMatchesRun, ::testing::Range(0, static_cast<int>(cases().size())),
                         [](const ::testing::TestParamInfo<int>& info) { return std::string(cases()[info.param].label); });

// Hand-checked targets: next token shifts left, the target sequence ends in [EOS], padding is ignored.
TEST(NetworkLoss, OutputTargetsShiftAndIgnorePadding) {
  TokenBatch b;
  b.source = {{1, 5, 6, 0}};
  b.source_pad = {{false, false, false, true}};
  EXPECT_EQ(output_targets(LossKind::NextToken, Arch::DecoderOnly, b), (std::vector<int>{5, 6, -1, -1}));
  EXPECT_EQ(output_targets(LossKind::Reconstruct, Arch::EncoderOnly, b), (std::vector<int>{1, 5, 6, -1}));
  b.decoder_in = {{1, 7, 8}, {1, 9, 0}};
  b.decoder_pad = {{false, false, false}, {false, false, true}};
  b.source = {{3}, {4}};
  b.source_pad = {{false}, {false}};
  EXPECT_EQ(output_targets(LossKind::TargetSequence, Arch::EncoderDecoder, b), (std::vector<int>{7, 8, 2, 9, 2, -1}));
}

TEST(NetworkLoss, PatternTargetsAreOneHotRows) {
  const MatD anti = pattern_target(Pattern::AntiDiagonal, 3, 3);
  EXPECT_EQ(anti(0, 2), 1.0);
  EXPECT_EQ(anti(2, 0), 1.0);
  EXPECT_EQ(anti.sum(), 3.0);
  EXPECT_EQ(pattern_target(Pattern::Previous, 3, 3)(0, 0), 1.0);  // the first row has no previous token
}

// dL/d<path> joins the trace for the app and exports.
TEST(NetworkLoss, GradientsJoinTheTrace) {
  Session s = tiny_session(Arch::DecoderOnly);
  Result<Trace> t = run(s);
  ASSERT_TRUE(t);
  ASSERT_FALSE(add_gradients(s, *t).has_value());
  ASSERT_TRUE(t->tensors.contains("loss"));
  EXPECT_GT(t->tensors.at("loss")(0, 0), 0.0f);
  for (const char* path : {"dL/ddecoder.0.self_attn.W_Q", "dL/ddecoder.0.self_attn.head.0.S", "dL/ddecoder.1.self_attn.head.1.P", "dL/dembed.E"})
    EXPECT_TRUE(t->tensors.contains(path)) << path;
  EXPECT_EQ(t->tensors.at("dL/ddecoder.0.self_attn.head.0.S").rows(), t->tensors.at("decoder.0.self_attn.head.0.S").rows());
  s.decode_steps = 2;
  EXPECT_TRUE(add_gradients(s, *t).has_value());  // refused with a reason, not wrong
}

}  // namespace
}  // namespace qkv
