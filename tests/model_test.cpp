// The whole forward pass: invariants of every option, and KV-cache decoding against the parallel pass.
#include "core/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/counters.h"
#include "core/network.h"
#include "core/ops.h"
#include "core/positional.h"

namespace qkv {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Session small_session(Arch arch = Arch::EncoderOnly) {
  Session s;
  s.input = {"the cat sat on the mat .", "le chat"};
  s.model.arch = arch;
  s.model.layers = 2;
  s.model.d_model = 16;
  s.model.heads = 2;
  s.model.d_ff = 32;
  return s;
}

Trace run_ok(const Session& s) {
  Result<Trace> t = run(s);
  if (!t) ADD_FAILURE() << t.error().message();
  return t ? std::move(*t) : Trace{};
}

std::vector<std::string> paths_ending(const Trace& t, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : t.tensors.entries())
    if (e.path.size() >= suffix.size() && e.path.compare(e.path.size() - suffix.size(), suffix.size(), suffix) == 0) out.push_back(e.path);
  return out;
}

// Every combination a learner can reach through the main toggles.
std::vector<Session> option_grid() {
  std::vector<Session> grid;
  for (int a = 0; a < static_cast<int>(Arch::Count); ++a)
    for (int pe = 0; pe < static_cast<int>(PosEncoding::Count); ++pe)
      for (int norm = 0; norm < static_cast<int>(NormKind::Count); ++norm) {
        Session s = small_session(static_cast<Arch>(a));
        s.model.pe = static_cast<PosEncoding>(pe);
        s.model.norm = static_cast<NormKind>(norm);
        s.model.norm_placement = (pe + norm) % 2 ? NormPlacement::Pre : NormPlacement::Post;
        s.model.scoring = (a + pe) % 3 == 0 ? Scoring::Additive : Scoring::Dot;
        s.model.score_scale = norm % 2 ? ScoreScale::None : ScoreScale::InvSqrtDk;
        s.model.projection = static_cast<Projection>((a + norm) % static_cast<int>(Projection::Count));
        s.model.residual = pe != 1;
        s.model.activation = norm % 2 ? Activation::GELU : Activation::ReLU;
        s.mode = pe == 2 ? Mode::Train : Mode::Eval;
        grid.push_back(s);
      }
  return grid;
}

TEST(Model, EveryOptionGivesFiniteTracesAndRowsOfPSumToOne) {
  for (const Session& s : option_grid()) {
    SCOPED_TRACE(to_json(s, -1));
    const Trace t = run_ok(s);
    ASSERT_FALSE(t.heads.empty());
    for (const auto& e : t.tensors.entries()) {
      if (e.path.find(".M") == e.path.size() - 2 || e.path.find("S_masked") != std::string::npos) continue;  // −∞ by design
      ASSERT_TRUE(e.value.allFinite()) << e.path;
    }
    for (const std::string& path : paths_ending(t, ".P")) {
      const Mat& P = t.tensors.at(path);
      for (Eigen::Index i = 0; i < P.rows(); ++i) EXPECT_NEAR(P.row(i).sum(), 1.0f, 1e-5f) << path << " row " << i;
      EXPECT_GE(P.minCoeff(), 0.0f);
    }
  }
}

TEST(Model, ShapesFollowTheConfig) {
  Session s = small_session(Arch::EncoderDecoder);
  s.model.d_k = 5;
  s.model.d_v = 3;
  const Trace t = run_ok(s);
  const int n_src = 7, n_dec = 3;  // "the cat sat on the mat ." and [BOS] le chat
  EXPECT_EQ(t.tensors.at("encoder.0.self_attn.head.1.Q").cols(), 5);
  EXPECT_EQ(t.tensors.at("encoder.0.self_attn.head.1.V").cols(), 3);
  EXPECT_EQ(t.tensors.at("encoder.0.self_attn.head.1.P").rows(), n_src);
  EXPECT_EQ(t.tensors.at("encoder.0.self_attn.concat").cols(), 2 * 3);
  EXPECT_EQ(t.tensors.at("decoder.1.cross_attn.head.0.P").rows(), n_dec);
  EXPECT_EQ(t.tensors.at("decoder.1.cross_attn.head.0.P").cols(), n_src);
  EXPECT_EQ(t.tensors.at("decoder.1.self_attn.head.0.P").cols(), n_dec);
  EXPECT_EQ(t.tensors.at("decoder.0.ffn.hidden").cols(), 32);
  EXPECT_EQ(t.tensors.at("output.logits").cols(), t.vocab.size());
  EXPECT_EQ(t.target_tokens.front(), "[BOS]");
  EXPECT_EQ(t.weights->at("encoder.0.self_attn.W_Q").rows(), 16);
  EXPECT_EQ(t.weights->at("encoder.0.self_attn.W_O").rows(), 6);
}

TEST(Model, TraceMathMatchesNaiveRecomputation) {
  // Recompute one head from the traced Q, K, V with plain loops: S = QKᵀ, S/√d_k, softmax, P·V.
  const Session s = small_session();
  const Trace t = run_ok(s);
  const std::string h = "encoder.1.self_attn.head.1.";
  const Mat &Q = t.tensors.at(h + "Q"), &K = t.tensors.at(h + "K"), &V = t.tensors.at(h + "V");
  const Mat& P = t.tensors.at(h + "P");
  const double scale = 1.0 / std::sqrt(8.0);
  for (int i = 0; i < Q.rows(); ++i) {
    std::vector<double> z(K.rows());
    double mx = -1e300, sum = 0.0;
    for (int j = 0; j < K.rows(); ++j) {
      double dot = 0.0;
      for (int c = 0; c < Q.cols(); ++c) dot += static_cast<double>(Q(i, c)) * K(j, c);
      EXPECT_NEAR(t.tensors.at(h + "S")(i, j), dot, 1e-4);
      z[j] = dot * scale;
      mx = std::max(mx, z[j]);
    }
    for (double& v : z) sum += (v = std::exp(v - mx));
    for (int j = 0; j < K.rows(); ++j) EXPECT_NEAR(P(i, j), z[j] / sum, 1e-6);
    for (int c = 0; c < V.cols(); ++c) {
      double o = 0.0;
      for (int j = 0; j < K.rows(); ++j) o += z[j] / sum * V(j, c);
      EXPECT_NEAR(t.tensors.at(h + "O")(i, c), o, 1e-5);
    }
  }
  // concat·W_O reproduces the block output (biases start at 0).
  const Mat& concat = t.tensors.at("encoder.1.self_attn.concat");
  EXPECT_TRUE((concat * t.weights->at("encoder.1.self_attn.W_O")).isApprox(t.tensors.at("encoder.1.self_attn.out"), 1e-5f));
  EXPECT_TRUE(concat.middleCols(8, 8).isApprox(t.tensors.at(h + "O")));
}

TEST(Model, CausalMaskSeesOnlyThePast) {
  const Trace t = run_ok(small_session(Arch::DecoderOnly));
  for (const std::string& path : paths_ending(t, "self_attn.head.0.P")) {
    const Mat& P = t.tensors.at(path);
    for (int i = 0; i < P.rows(); ++i)
      for (int j = 0; j < P.cols(); ++j)
        if (j > i)
          EXPECT_EQ(P(i, j), 0.0f) << path << " (" << i << "," << j << ")";
        else
          EXPECT_GT(P(i, j), 0.0f);
  }
  // The first token sees only itself.
  EXPECT_FLOAT_EQ(t.tensors.at("decoder.0.self_attn.head.1.P")(0, 0), 1.0f);
}

TEST(Model, PaddingGetsExactlyZeroWeightAndTheMaskShowsMinusInfinity) {
  Session s = small_session();
  s.input.text = "the cat sat [PAD] [PAD]";
  s.padding_positions = {1};  // and "cat", marked by hand
  const Trace t = run_ok(s);
  const Mat& M = t.tensors.at("encoder.0.self_attn.M");
  for (int i = 0; i < M.rows(); ++i) {
    EXPECT_EQ(M(i, 1), -kInf);
    EXPECT_EQ(M(i, 3), -kInf);
    EXPECT_EQ(M(i, 0), 0.0f);
  }
  for (const std::string& path : paths_ending(t, ".P")) {
    const Mat& P = t.tensors.at(path);
    for (int i = 0; i < P.rows(); ++i) {
      EXPECT_EQ(P(i, 1), 0.0f);
      EXPECT_EQ(P(i, 3), 0.0f);
      EXPECT_EQ(P(i, 4), 0.0f);
      EXPECT_NEAR(P(i, 0) + P(i, 2), 1.0f, 1e-6f);
    }
  }
  // Without the padding flag the same tokens are attended.
  s.encoder_mask = kMaskNone;
  EXPECT_GT(run_ok(s).tensors.at("encoder.0.self_attn.head.0.P")(0, 3), 0.0f);
}

TEST(Model, FullyMaskedRowIsZeroFlaggedAndWarned) {
  Session s = small_session();
  s.encoder_mask = kMaskCustom;
  for (int j = 0; j < 7; ++j) s.custom_cells.push_back({2, j});  // query 2 may look at nothing
  const Trace t = run_ok(s);
  const Mat& P = t.tensors.at("encoder.0.self_attn.head.0.P");
  EXPECT_TRUE(P.row(2).isZero(0.0f));
  EXPECT_TRUE(P.allFinite());
  const HeadStats* stats = t.head("encoder.0.self_attn.head.0");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->fully_masked_rows, std::vector<int>{2});
  EXPECT_FALSE(t.warnings.empty());
  EXPECT_NE(t.warnings.front().find("query row 2"), std::string::npos);
}

TEST(Model, TiedQueryKeyWeightsMakeScoresSymmetric) {
  Session s = small_session();
  s.model.projection = Projection::TiedQK;
  const Trace t = run_ok(s);
  for (const std::string& path : paths_ending(t, ".S")) {
    const Mat& S = t.tensors.at(path);
    EXPECT_TRUE(S.isApprox(S.transpose(), 1e-5f)) << path;
  }
  s.model.projection = Projection::Learned;  // and untied they are not
  const Mat S = run_ok(s).tensors.at("encoder.0.self_attn.head.0.S");
  EXPECT_FALSE(S.isApprox(S.transpose(), 1e-2f));
}

TEST(Model, IdentityProjectionsReadEachHeadsSliceOfX) {
  Session s = small_session();
  s.model.projection = Projection::Identity;
  const Trace t = run_ok(s);
  const Mat& X = t.tensors.at("encoder.0.input");
  EXPECT_TRUE(t.tensors.at("encoder.0.self_attn.head.1.Q").isApprox(X.middleCols(8, 8)));
  EXPECT_TRUE(t.tensors.at("encoder.0.self_attn.head.1.V").isApprox(X.middleCols(8, 8)));
}

TEST(Model, WithoutPositionsSelfAttentionIsPermutationEquivariant) {
  // "a b c d e" and the same words shuffled: without PE each output row follows its word.
  Session s = small_session();
  s.model.pe = PosEncoding::None;
  s.input.text = "a b c d e";
  Session shuffled = s;
  shuffled.input.text = "d a e c b";
  const int perm[] = {3, 0, 4, 2, 1};  // shuffled row r holds word perm[r]
  const Trace t = run_ok(s), u = run_ok(shuffled);
  const Mat &Y = t.tensors.at("encoder.1.output"), &Yp = u.tensors.at("encoder.1.output");
  for (int r = 0; r < 5; ++r) EXPECT_TRUE(Yp.row(r).isApprox(Y.row(perm[r]), 1e-5f)) << "row " << r;
  // With sinusoidal positions the same shuffle changes the rows.
  s.model.pe = shuffled.model.pe = PosEncoding::Sinusoidal;
  const Mat Z = run_ok(s).tensors.at("encoder.1.output"), Zp = run_ok(shuffled).tensors.at("encoder.1.output");
  EXPECT_FALSE(Zp.row(0).isApprox(Z.row(3), 1e-3f));
}

TEST(Model, RoPEScoresDependOnlyOnTheOffset) {
  // One word repeated: before rotation every q (and k) is the same, so after RoPE S_ij depends on i − j only.
  Session s = small_session();
  s.model.pe = PosEncoding::RoPE;
  s.model.bias = false;
  s.input.text = "echo echo echo echo echo echo";
  const Mat S = run_ok(s).tensors.at("encoder.0.self_attn.head.0.S");
  for (int i = 1; i < 6; ++i)
    for (int j = 1; j < 6; ++j) EXPECT_NEAR(S(i, j), S(i - 1, j - 1), 1e-4f) << i << "," << j;
  EXPECT_GT(std::fabs(S(0, 1) - S(0, 3)), 1e-4f);  // and it does vary with the offset
}

TEST(Model, ALiBiAddsMinusSlopeTimesDistance) {
  Session s = small_session(Arch::DecoderOnly);
  s.model.pe = PosEncoding::ALiBi;
  s.model.heads = 2;  // slopes 2^-4 and 2^-8
  const Trace t = run_ok(s);
  const Mat& B = t.tensors.at("decoder.0.self_attn.head.0.B");
  EXPECT_FLOAT_EQ(B(5, 2), -3.0f / 16.0f);
  EXPECT_FLOAT_EQ(t.tensors.at("decoder.0.self_attn.head.1.B")(5, 2), -3.0f / 256.0f);
  const Mat &S_scaled = t.tensors.at("decoder.0.self_attn.head.0.S_scaled"),
            &S_masked = t.tensors.at("decoder.0.self_attn.head.0.S_masked");
  EXPECT_FLOAT_EQ(S_masked(5, 2), S_scaled(5, 2) - 3.0f / 16.0f);
  EXPECT_EQ(S_masked(2, 5), -kInf);                      // causal mask on top
  EXPECT_FALSE(t.tensors.contains("decoder.embed.PE"));  // ALiBi adds nothing to the embeddings
}

TEST(Model, ScalingAndTemperatureDivideTheScores) {
  Session s = small_session();
  s.model.temperature = 2.0f;
  const Trace t = run_ok(s);
  const Mat& S = t.tensors.at("encoder.0.self_attn.head.0.S");
  EXPECT_TRUE(t.tensors.at("encoder.0.self_attn.head.0.S_scaled").isApprox(S / (std::sqrt(8.0f) * 2.0f)));
  s.model.score_scale = ScoreScale::None;
  s.model.temperature = 1.0f;
  const Trace u = run_ok(s);
  EXPECT_TRUE(u.tensors.at("encoder.0.self_attn.head.0.S_scaled").isApprox(u.tensors.at("encoder.0.self_attn.head.0.S")));
  // Same weights, same layer-0 scores: only the scale differs, and unscaled attention is sharper.
  EXPECT_TRUE(u.tensors.at("encoder.0.self_attn.head.0.S").isApprox(S));
  EXPECT_LT(u.head("encoder.0.self_attn.head.0")->mean_entropy, t.head("encoder.0.self_attn.head.0")->mean_entropy);
}

TEST(Model, ScoreVarianceIsAboutDkUnscaledAndAboutOneScaled) {
  // Layer 0 without PE: X = E·√d_model has unit-variance entries and W_Q, W_K ~ N(0, 1/d_model), so q and k
  // have unit-variance entries and Var(q·k) = d_k; dividing by √d_k brings it back to 1.
  Session s;
  s.model.d_model = 256;
  s.model.heads = 4;  // d_k = 64
  s.model.layers = 1;
  s.model.bias = false;
  s.model.pe = PosEncoding::None;
  s.input.text.clear();
  for (int w = 0; w < 48; ++w) {
    s.input.text += 'w';
    s.input.text += std::to_string(w);
    s.input.text += ' ';
  }
  const Trace t = run_ok(s);
  double var_unscaled = 0.0, var_scaled = 0.0;
  for (int h = 0; h < 4; ++h) {
    const std::string p = "encoder.0.self_attn.head." + std::to_string(h) + ".";
    const Mat& S = t.tensors.at(p + "S");
    const double mean = S.mean();
    var_unscaled += (S.array() - mean).square().mean() / 4.0;
    var_scaled += t.head("encoder.0.self_attn.head." + std::to_string(h))->score_variance / 4.0;
  }
  // 4 heads × 48² scores, strongly correlated within a row: allow ±30%.
  EXPECT_NEAR(var_unscaled, 64.0, 0.3 * 64.0);
  EXPECT_NEAR(var_scaled, 1.0, 0.3);
}

TEST(Model, SameSeedSameNumbersAndNewWordsLeaveOldEmbeddingsAlone) {
  const Session s = small_session();
  const Trace a = run_ok(s), b = run_ok(s);
  for (const auto& e : a.tensors.entries()) ASSERT_EQ(e.value, b.tensors.at(e.path)) << e.path;
  Session other = s;
  other.seed = 43;
  EXPECT_NE(run_ok(other).tensors.at("encoder.0.self_attn.head.0.P"), a.tensors.at("encoder.0.self_attn.head.0.P"));
  Session longer = s;
  longer.input.text = "a dog and the cat sat on the mat .";
  const Trace c = run_ok(longer);
  const Mat& E_a = a.weights->at("embed.E");
  const Mat& E_c = c.weights->at("embed.E");
  EXPECT_EQ(E_a.row(a.vocab.id("cat")), E_c.row(c.vocab.id("cat")));
  EXPECT_EQ(a.weights->at("encoder.1.ffn.W_1"), c.weights->at("encoder.1.ffn.W_1"));
}

TEST(Model, NormsAndPlacement) {
  Session s = small_session();
  const Trace post = run_ok(s);  // Post-Norm LayerNorm: every block output row has mean 0, variance 1
  const Mat& Y = post.tensors.at("encoder.1.output");
  for (int r = 0; r < Y.rows(); ++r) {
    EXPECT_NEAR(Y.row(r).mean(), 0.0f, 1e-5f);
    EXPECT_NEAR((Y.row(r).array() - Y.row(r).mean()).square().mean(), 1.0f, 1e-3f);
  }
  EXPECT_FALSE(post.tensors.contains("encoder.final_norm"));
  s.model.norm_placement = NormPlacement::Pre;  // Pre-Norm: the residual stream is not normalised, a final norm is
  const Trace pre = run_ok(s);
  EXPECT_TRUE(pre.tensors.contains("encoder.final_norm"));
  EXPECT_TRUE(pre.tensors.at("encoder.0.self_attn.residual")
                  .isApprox(pre.tensors.at("encoder.0.input") + pre.tensors.at("encoder.0.self_attn.out")));
  s.model.residual = false;
  const Trace no_res = run_ok(s);
  EXPECT_EQ(no_res.tensors.at("encoder.0.self_attn.residual"), no_res.tensors.at("encoder.0.self_attn.out"));
  s.model.norm = NormKind::RMSNorm;
  s.model.norm_placement = NormPlacement::Post;
  const Mat R = run_ok(s).tensors.at("encoder.0.output");
  for (int r = 0; r < R.rows(); ++r) EXPECT_NEAR(R.row(r).squaredNorm() / R.cols(), 1.0f, 1e-3f);
}

TEST(Model, BatchNormDependsOnTheBatchAndLayerNormDoesNot) {
  Session s = small_session();
  s.extra_batch = {{"a completely different sentence here", ""}};
  Session s2 = s;
  s2.extra_batch = {{"zebras zebras zebras", ""}};
  for (NormKind kind : {NormKind::LayerNorm, NormKind::BatchNorm}) {
    s.model.norm = s2.model.norm = kind;
    const Trace a = run_ok(s), b = run_ok(s2);
    const bool same = a.tensors.at("encoder.1.output").topRows(7).isApprox(b.tensors.at("encoder.1.output").topRows(7));
    EXPECT_EQ(same, kind == NormKind::LayerNorm) << name(kind);
    if (kind == NormKind::BatchNorm) {
      EXPECT_TRUE(a.tensors.contains("encoder.0.self_attn.norm.batch_mean"));
      EXPECT_TRUE(a.tensors.contains("batch.1.encoder.0.self_attn.head.0.P"));
    }
  }
}

TEST(Model, TrainModeDropsWeightsWithTheSeedAndEvalDoesNot) {
  Session s = small_session();
  s.mode = Mode::Train;
  s.model.dropout = 0.5f;
  const Trace a = run_ok(s), b = run_ok(s);
  const Mat& D = a.tensors.at("encoder.0.self_attn.head.0.P_dropout");
  EXPECT_EQ(D, b.tensors.at("encoder.0.self_attn.head.0.P_dropout"));
  EXPECT_GT((D.array() == 0.0f).count(), 0);
  s.mode = Mode::Eval;
  EXPECT_FALSE(run_ok(s).tensors.contains("encoder.0.self_attn.head.0.P_dropout"));
}

TEST(Model, CrossAttentionQueriesComeFromTheDecoderAndKeysFromTheEncoder) {
  Session s = small_session(Arch::EncoderDecoder);
  s.input.text = "the cat sat [PAD]";
  const Trace t = run_ok(s);
  const Mat& memory = t.tensors.at("encoder.1.output");
  const Mat& W_K = t.weights->at("decoder.0.cross_attn.W_K");
  EXPECT_TRUE(t.tensors.at("decoder.0.cross_attn.head.0.K").isApprox((memory * W_K).leftCols(8), 1e-5f));
  const Mat& P = t.tensors.at("decoder.0.cross_attn.head.0.P");
  EXPECT_EQ(P.cols(), 4);
  for (int i = 0; i < P.rows(); ++i) EXPECT_EQ(P(i, 3), 0.0f);  // source padding is masked in cross-attention
}

// KV-cache decoding: the rows computed one token at a time equal the parallel pass's rows.
void expect_decode_matches_parallel(const Session& s) {
  const Trace t = run_ok(s);
  ASSERT_EQ(static_cast<int>(t.decoded_tokens.size()), s.decode_steps);
  const std::vector<std::string> decoded = paths_ending(t, ".P");
  int compared = 0;
  for (const auto& e : t.tensors.entries()) {
    if (e.path.rfind("decode.", 0) != 0) continue;
    const Mat& parallel = t.tensors.at(e.path.substr(7));
    ASSERT_EQ(e.value.rows(), parallel.rows()) << e.path;
    ASSERT_EQ(e.value.cols(), parallel.cols()) << e.path;
    EXPECT_LT((e.value - parallel).cwiseAbs().maxCoeff(), 2e-6f) << e.path;
    ++compared;
  }
  EXPECT_GE(compared, s.model.layers * s.model.heads);
}

TEST(Model, KVCacheDecodingEqualsTheParallelPass) {
  for (PosEncoding pe : {PosEncoding::Sinusoidal, PosEncoding::Learned, PosEncoding::RoPE, PosEncoding::ALiBi}) {
    Session s = small_session(Arch::DecoderOnly);
    s.model.pe = pe;
    s.model.norm_placement = pe == PosEncoding::RoPE ? NormPlacement::Pre : NormPlacement::Post;
    s.decode_steps = 5;
    SCOPED_TRACE(name(pe));
    expect_decode_matches_parallel(s);
  }
  Session s = small_session(Arch::EncoderDecoder);
  s.decode_steps = 4;
  expect_decode_matches_parallel(s);
  // The parallel pass really ran over prompt + fed-back tokens.
  const Trace t = run_ok(s);
  EXPECT_EQ(t.target_tokens.size(), 3u + 4u - 1u);
  EXPECT_EQ(t.target_tokens[3], t.decoded_tokens[0]);
}

TEST(Model, DecodedTokensRerunAsTextGiveTheSameAttention) {
  // Independent of the decode bookkeeping: type the generated words back in and run in parallel from scratch.
  Session s = small_session(Arch::DecoderOnly);
  s.decode_steps = 3;
  const Trace t = run_ok(s);
  Session again = s;
  again.decode_steps = 0;
  again.input.text.clear();
  for (const std::string& tok : t.source_tokens) again.input.text += tok + " ";
  const Trace u = run_ok(again);
  EXPECT_LT((t.tensors.at("decode.decoder.1.self_attn.head.1.P") - u.tensors.at("decoder.1.self_attn.head.1.P")).cwiseAbs().maxCoeff(),
            2e-6f);
}

TEST(Model, WeightCountEqualsTheParameterCounter) {
  for (const Session& s : option_grid()) {
    const Trace t = run_ok(s);
    int64_t stored = 0;
    for (const auto& e : t.weights->entries()) {
      const bool identity =
          s.model.projection == Projection::Identity && (e.path.ends_with("W_Q") || e.path.ends_with("W_K") || e.path.ends_with("W_V"));
      const bool tied_copy = s.model.projection == Projection::TiedQK && (e.path.ends_with("W_K") || e.path.ends_with("b_K"));
      if (!identity && !tied_copy) stored += e.value.size();
    }
    EXPECT_EQ(stored, count_model(count_spec_for(s.model, t.vocab.size()), 8).total_params) << to_json(s, -1);
  }
}

TEST(Model, InvalidSessionsAreRefusedWithAReason) {
  Session s = small_session();
  s.model.heads = 3;  // 16 / 3
  Result<Trace> t = run(s);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().what.find("not divisible"), std::string::npos);
  s = small_session();
  s.model.max_len = 4;
  t = run(s);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().what.find("max_len"), std::string::npos);
  s = small_session(Arch::DecoderOnly);
  s.decode_steps = 2;
  s.extra_batch = {{"x", ""}};
  EXPECT_FALSE(run(s).ok());
}

// [SECTION] Incremental recompute
// Every tensor and head of `b` equals `a`'s bit for bit (−∞ included), and they hold the same paths.
void expect_same_trace(const Trace& a, const Trace& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& e : b.tensors.entries()) {
    const Mat* other = a.tensors.find(e.path);
    ASSERT_NE(other, nullptr) << e.path;
    ASSERT_EQ(other->rows(), e.value.rows()) << e.path;
    ASSERT_EQ(other->cols(), e.value.cols()) << e.path;
    EXPECT_TRUE((other->array() == e.value.array()).all()) << e.path;
  }
  ASSERT_EQ(a.heads.size(), b.heads.size());
  for (size_t k = 0; k < a.heads.size(); ++k) {
    EXPECT_EQ(a.heads[k].path, b.heads[k].path);
    EXPECT_EQ(a.heads[k].mean_entropy, b.heads[k].mean_entropy);
    EXPECT_EQ(a.heads[k].score_variance, b.heads[k].score_variance);
  }
  EXPECT_EQ(a.source_tokens, b.source_tokens);
  EXPECT_EQ(a.target_tokens, b.target_tokens);
}

TEST(IncrementalRecompute, AnEncoderDecoderTakesItsEncoderWhenOnlyTheDecodersSideChanged) {
  Session before = small_session(Arch::EncoderDecoder);
  before.input = {"the cat sat on the mat", "le chat"};
  before.extra_batch = {{"a dog ran", "un chien"}};
  Result<Trace> earlier = run(before);
  ASSERT_TRUE(earlier);
  const auto earlier_ptr = std::make_shared<const Trace>(std::move(*earlier));
  Session after = before;
  after.input.target = "le chat noir dort";  // new words: the vocabulary grows, the encoder's rows do not change
  after.decoder_mask = kMaskCausal;
  const Reuse reuse = reusable(before, earlier_ptr, after);
  EXPECT_EQ(reuse.encoder_layers, 2);
  EXPECT_EQ(reuse.decoder_layers, 0);
  RunOptions o;
  o.reuse = reuse;
  std::vector<int> reported;
  o.progress = [&](int done, int) {
    reported.push_back(done);
    return true;
  };
  Result<Trace> incremental = run(after, o), fresh = run(after);
  ASSERT_TRUE(incremental && fresh);
  expect_same_trace(*fresh, *incremental);
  ASSERT_FALSE(reported.empty());
  EXPECT_EQ(reported.front(), 2) << "the encoder's two layers were taken, not run";
}

TEST(IncrementalRecompute, WhenOnlyTheLossChangedTheWholeForwardIsTakenButNotItsGradients) {
  Session before = small_session(Arch::DecoderOnly);
  Result<Trace> earlier = run(before);
  ASSERT_TRUE(earlier);
  ASSERT_FALSE(add_gradients(before, *earlier).has_value());
  ASSERT_TRUE(earlier->tensors.contains("loss"));
  const auto earlier_ptr = std::make_shared<const Trace>(std::move(*earlier));
  Session after = before;
  after.label_smoothing = 0.1f;
  const Reuse reuse = reusable(before, earlier_ptr, after);
  EXPECT_EQ(reuse.decoder_layers, 2);
  RunOptions o;
  o.reuse = reuse;
  int progress_calls = 0;
  o.progress = [&](int, int) { return ++progress_calls, true; };
  Result<Trace> incremental = run(after, o), fresh = run(after);
  ASSERT_TRUE(incremental && fresh);
  EXPECT_FALSE(incremental->tensors.contains("loss")) << "gradients are made again, never taken";
  expect_same_trace(*fresh, *incremental);
  EXPECT_EQ(progress_calls, 1) << "no layer ran";
  ASSERT_FALSE(add_gradients(after, *incremental).has_value());
  Trace fresh_with_gradients = std::move(*fresh);
  ASSERT_FALSE(add_gradients(after, fresh_with_gradients).has_value());
  EXPECT_EQ(incremental->tensors.at("loss")(0, 0), fresh_with_gradients.tensors.at("loss")(0, 0));
}

TEST(IncrementalRecompute, AStackStartsAtAnyLayerFromThatLayersKeptInputFullOrLean) {
  for (const TraceKeep keep : {TraceKeep::Full, TraceKeep::Lean}) {
    Session s = small_session();
    s.model.layers = 3;
    RunOptions o;
    o.keep = keep;
    Result<Trace> earlier = run(s, o);
    ASSERT_TRUE(earlier);
    o.reuse = Reuse{std::make_shared<const Trace>(std::move(*earlier)), 1, 0};
    std::vector<int> reported;
    o.progress = [&](int done, int) { return reported.push_back(done), true; };
    Result<Trace> incremental = run(s, o);
    o.reuse = {};
    Result<Trace> fresh = run(s, o);
    ASSERT_TRUE(incremental && fresh);
    expect_same_trace(*fresh, *incremental);
    EXPECT_EQ(reported.front(), 1) << "layer 0 was taken";
    EXPECT_EQ(incremental->tensors.lean(), keep == TraceKeep::Lean);
    if (keep == TraceKeep::Lean) {  // the taken layer derives its stages like any other
      const Mat* P = incremental->tensors.find("encoder.0.self_attn.head.1.P");
      ASSERT_NE(P, nullptr);
      EXPECT_TRUE((*P - *fresh->tensors.find("encoder.0.self_attn.head.1.P")).isZero(0.0f));
    }
  }
}

TEST(IncrementalRecompute, NothingIsTakenWhenWhatAStackReadsChanged) {
  Session before = small_session(Arch::EncoderDecoder);
  before.input = {"the cat sat", "le chat"};
  Result<Trace> earlier = run(before);
  ASSERT_TRUE(earlier);
  const auto earlier_ptr = std::make_shared<const Trace>(std::move(*earlier));
  const auto taken = [&](const Session& after) {
    const Reuse r = reusable(before, earlier_ptr, after);
    return r.encoder_layers + r.decoder_layers;
  };
  EXPECT_EQ(taken(before), 4) << "nothing changed: both stacks";
  Session source = before;
  source.input.text = "the cat sat down";
  EXPECT_EQ(taken(source), 0);
  Session model = before;
  model.model.norm_placement = NormPlacement::Pre;
  EXPECT_EQ(taken(model), 0);
  Session seed = before;
  seed.seed = 7;
  EXPECT_EQ(taken(seed), 0);
  Session encoder_mask = before;
  encoder_mask.encoder_mask = kMaskNone;
  EXPECT_EQ(taken(encoder_mask), 0);
  Session decoding = before;
  decoding.decode_steps = 2;
  EXPECT_EQ(taken(decoding), 2) << "the encoder only: decoding runs the decoder again";
  Session training = before;
  training.mode = Mode::Train;
  training.model.dropout = 0.1f;
  EXPECT_EQ(taken(training), 0) << "dropout masks come from one stream in forward order";
  EXPECT_EQ(reusable(before, nullptr, before).trace, nullptr);
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(WeightCache, TogglesReuseWeightsAndShapeChangesRedrawThem) {
  WeightCache cache;
  Session s;
  const Trace a = *run(s, &cache);
  s.model.score_scale = ScoreScale::None;  // toggles that leave the weights alone
  s.encoder_mask = kMaskNone;
  s.model.temperature = 3.0f;
  s.model.residual = false;
  const Trace b = *run(s, &cache);
  EXPECT_EQ(cache.builds(), 1);
  EXPECT_EQ(a.weights.get(), b.weights.get());
  EXPECT_EQ(b.tensors.at("encoder.0.self_attn.head.0.P"), run(s)->tensors.at("encoder.0.self_attn.head.0.P"));  // same as uncached
  s.model.d_model = 64;  // a new shape needs new weights
  run(s, &cache);
  EXPECT_EQ(cache.builds(), 2);
  s.input.text = "a brand new sentence";  // a new vocabulary too
  const Trace c = *run(s, &cache);
  EXPECT_EQ(cache.builds(), 3);
  EXPECT_EQ(c.weights->at("embed.E").rows(), 3 + 4);
}

}  // namespace
}  // namespace qkv

// [SECTION] The layer stepper's steps follow the wiring (issue 9, item 5)
namespace qkv {
namespace {

const LayerStepView* find_step(const std::vector<LayerStepView>& v, LayerStep k) {
  for (const LayerStepView& s : v)
    if (s.step == k) return &s;
  return nullptr;
}

Mat norm_of(const Trace& t, const ModelConfig& c, const std::string& p, const Mat& X) {
  const Mat* beta = t.weights->find(p + ".beta");
  return apply_norm(c.norm, X, t.weights->at(p + ".gamma").row(0), beta ? RowVec(beta->row(0)) : RowVec(RowVec::Zero(c.d_model)), c.norm_eps);
}

void expect_close(const Mat& a, const Mat& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  EXPECT_LT((a - b).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + b.cwiseAbs().maxCoeff())) << what;
}

// Each step's tensor is what its label says: it exists, and the wiring between steps holds — the attention's
// input projects to Q, the FFN's input makes the hidden layer, the residual adds the sublayer's input, a norm
// step is the norm of the step it follows (Post-Norm) or of the sublayer input (Pre-Norm), and a Pre-Norm
// stack ends with its final norm.
void check_wiring(NormPlacement placement, bool residual, Arch arch, const std::string& block) {
  Session s = small_session(arch);
  s.model.norm_placement = placement;
  s.model.residual = residual;
  s.model.layers = 2;
  const std::string label = std::string(name(placement)) + (residual ? " +res " : " nores ") + block;
  const Trace t = run_ok(s);
  const ModelConfig& c = s.model;
  const std::vector<LayerStepView> v = layer_steps(c, block, 1);
  for (const LayerStepView& st : v) EXPECT_TRUE(t.tensors.contains(st.tensor)) << label << ": " << st.label << " -> " << st.tensor;
  const auto at = [&](LayerStep k) -> const Mat& { return t.tensors.at(find_step(v, k)->tensor); };
  const auto index = [&](LayerStep k) { return static_cast<int>(find_step(v, k) - v.data()); };
  const bool pre = placement == NormPlacement::Pre;
  // Steps the wiring has, and only those.
  EXPECT_EQ(find_step(v, LayerStep::NormIn) != nullptr, pre) << label;
  EXPECT_EQ(find_step(v, LayerStep::FFNNormIn) != nullptr, pre) << label;
  EXPECT_EQ(find_step(v, LayerStep::NormOut) != nullptr, !pre) << label;
  EXPECT_EQ(find_step(v, LayerStep::FFNNormOut) != nullptr, !pre) << label;
  EXPECT_EQ(find_step(v, LayerStep::Residual) != nullptr, residual) << label;
  EXPECT_EQ(find_step(v, LayerStep::FFNResidual) != nullptr, residual) << label;
  const bool last_layer = block.find(".1.") != std::string::npos;
  EXPECT_EQ(find_step(v, LayerStep::FinalNorm) != nullptr, pre && last_layer) << label;
  for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1].step, v[i].step) << label << ": steps in forward order";
  // Q of head 1 = (the step before the projection)·W_Q + b_Q, columns of head 1.
  const int dk = c.head_dk();
  const Mat& attn_in = t.tensors.at(v[index(LayerStep::Project) - 1].tensor);
  Mat Q = attn_in * t.weights->at(block + ".W_Q");
  Q.rowwise() += t.weights->at(block + ".b_Q").row(0);
  expect_close(at(LayerStep::Project), Q.middleCols(dk, dk), label + ": Q from the step before it");
  // The FFN's hidden layer = (the step before it)·W_1 + b_1; the activation follows.
  const std::string layer = block.substr(0, block.find('.', block.find('.') + 1));
  const Mat& ffn_in = t.tensors.at(v[index(LayerStep::FFNHidden) - 1].tensor);
  Mat hidden = ffn_in * t.weights->at(layer + ".ffn.W_1");
  hidden.rowwise() += t.weights->at(layer + ".ffn.b_1").row(0);
  expect_close(at(LayerStep::FFNHidden), hidden, label + ": hidden from the step before it");
  expect_close(at(LayerStep::FFNAct), relu(hidden), label + ": act = ReLU(hidden)");
  // The residual adds the sublayer's input (the step before the sublayer's first step).
  const int attn_first = pre ? index(LayerStep::NormIn) : index(LayerStep::Project);
  const Mat& sub_in = t.tensors.at(v[attn_first - 1].tensor);
  if (residual) expect_close(at(LayerStep::Residual), sub_in + at(LayerStep::ConcatWO), label + ": x + Attention");
  const int ffn_first = pre ? index(LayerStep::FFNNormIn) : index(LayerStep::FFNHidden);
  const Mat& ffn_sub_in = t.tensors.at(v[ffn_first - 1].tensor);
  if (residual) expect_close(at(LayerStep::FFNResidual), ffn_sub_in + at(LayerStep::FFNOut), label + ": x + FFN");
  if (pre) {
    expect_close(at(LayerStep::NormIn), norm_of(t, c, block + ".norm", sub_in), label + ": the norm before attention");
    expect_close(at(LayerStep::FFNNormIn), norm_of(t, c, layer + ".ffn.norm", ffn_sub_in), label + ": the norm before the FFN");
    EXPECT_NE(find_step(v, LayerStep::FFNNormIn)->label.find("before the FFN"), std::string::npos);
  } else {
    expect_close(at(LayerStep::NormOut), norm_of(t, c, block + ".norm", t.tensors.at(v[index(LayerStep::NormOut) - 1].tensor)), label + ": norm after");
    expect_close(at(LayerStep::FFNNormOut), norm_of(t, c, layer + ".ffn.norm", t.tensors.at(v[index(LayerStep::FFNNormOut) - 1].tensor)),
                 label + ": norm after the FFN");
    EXPECT_NE(find_step(v, LayerStep::FFNNormOut)->label.find("after the FFN"), std::string::npos);
    EXPECT_EQ(v.back().step, LayerStep::FFNNormOut) << label;
  }
  if (pre && last_layer) {
    EXPECT_EQ(v.back().step, LayerStep::FinalNorm) << label;
    const std::string stack = block.substr(0, block.find('.'));
    expect_close(at(LayerStep::FinalNorm), norm_of(t, c, stack + ".final_norm", t.tensors.at(v[v.size() - 2].tensor)), label + ": final norm");
  }
}

TEST(LayerSteps, FollowTheWiringOfPreAndPostNormWithAndWithoutResiduals) {
  for (NormPlacement placement : {NormPlacement::Post, NormPlacement::Pre})
    for (bool residual : {true, false}) {
      check_wiring(placement, residual, Arch::EncoderOnly, "encoder.0.self_attn");
      check_wiring(placement, residual, Arch::EncoderOnly, "encoder.1.self_attn");
      check_wiring(placement, residual, Arch::DecoderOnly, "decoder.1.self_attn");
      check_wiring(placement, residual, Arch::EncoderDecoder, "decoder.1.cross_attn");
      check_wiring(placement, residual, Arch::EncoderDecoder, "decoder.0.self_attn");
    }
}

TEST(LayerSteps, NoNormMeansNoNormSteps) {
  ModelConfig c;
  c.norm = NormKind::None;
  for (NormPlacement placement : {NormPlacement::Post, NormPlacement::Pre}) {
    c.norm_placement = placement;
    for (const LayerStepView& st : layer_steps(c, "encoder.1.self_attn", 0))
      EXPECT_TRUE(st.step != LayerStep::NormIn && st.step != LayerStep::NormOut && st.step != LayerStep::FFNNormIn &&
                  st.step != LayerStep::FFNNormOut && st.step != LayerStep::FinalNorm)
          << st.label;
  }
}

// [SECTION] Sampling (issue 9, item 20): hand-computed distributions.
TEST(Sampling, TemperatureTopKTopPByHand) {
  const RowVec logits = (RowVec(4) << std::log(0.1f), std::log(0.4f), std::log(0.2f), std::log(0.3f)).finished();  // p = .1 .4 .2 .3
  RowVec p = sampling_distribution(logits, {});
  EXPECT_NEAR(p(0), 0.1f, 1e-6f);
  EXPECT_NEAR(p(1), 0.4f, 1e-6f);
  // T = 2: p ∝ sqrt(p): √.1 √.4 √.2 √.3 = .3162 .6325 .4472 .5477, sum 1.9436
  p = sampling_distribution(logits, {2.0f, 0, 1.0f});
  EXPECT_NEAR(p(0), 0.3162f / 1.9436f, 1e-4f);
  EXPECT_NEAR(p(1), 0.6325f / 1.9436f, 1e-4f);
  // T = 0: greedy.
  p = sampling_distribution(logits, {0.0f, 0, 1.0f});
  EXPECT_EQ(p, (RowVec(4) << 0, 1, 0, 0).finished());
  // top-k = 2 keeps .4 and .3 -> 4/7, 3/7.
  p = sampling_distribution(logits, {1.0f, 2, 1.0f});
  EXPECT_NEAR(p(1), 4.0f / 7.0f, 1e-6f);
  EXPECT_NEAR(p(3), 3.0f / 7.0f, 1e-6f);
  EXPECT_EQ(p(0), 0.0f);
  EXPECT_EQ(p(2), 0.0f);
  // top-p = 0.7: .4 + .3 = .7 reaches it -> the same two; top-p = 0.75 needs .2 as well -> .4/.9 .3/.9 .2/.9.
  p = sampling_distribution(logits, {1.0f, 0, 0.7f});
  EXPECT_NEAR(p(1), 4.0f / 7.0f, 1e-6f);
  EXPECT_EQ(p(2), 0.0f);
  p = sampling_distribution(logits, {1.0f, 0, 0.75f});
  EXPECT_NEAR(p(2), 0.2f / 0.9f, 1e-6f);
  EXPECT_EQ(p(0), 0.0f);
  // top-p on the top-k distribution: k = 3 (.4 .3 .2 -> 4/9 3/9 2/9), p = 0.5 -> 4/9 < .5, so two: 4/7, 3/7.
  p = sampling_distribution(logits, {1.0f, 3, 0.5f});
  EXPECT_NEAR(p(1), 4.0f / 7.0f, 1e-6f);
  EXPECT_EQ(p(2), 0.0f);
  // A tiny top-p keeps the argmax alone.
  p = sampling_distribution(logits, {1.0f, 0, 0.01f});
  EXPECT_EQ(p(1), 1.0f);
  EXPECT_TRUE(validate(SamplingOptions{-1.0f, 0, 1.0f}).has_value());
  EXPECT_TRUE(validate(SamplingOptions{1.0f, 0, 0.0f}).has_value());
  EXPECT_TRUE(validate(SamplingOptions{1.0f, -2, 1.0f}).has_value());
  EXPECT_FALSE(validate(SamplingOptions{}).has_value());
}

TEST(Sampling, DrawsFollowTheDistributionAndTheSeed) {
  const RowVec p = (RowVec(4) << 0.1f, 0.4f, 0.0f, 0.5f).finished();
  Rng rng(7);
  std::vector<int> counts(4);
  for (int i = 0; i < 20000; ++i) ++counts[static_cast<size_t>(sample_token(p, rng))];
  EXPECT_EQ(counts[2], 0);  // no mass, never drawn
  EXPECT_NEAR(counts[0] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(counts[1] / 20000.0, 0.4, 0.015);
  EXPECT_NEAR(counts[3] / 20000.0, 0.5, 0.015);
  Rng a(3), b(3);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample_token(p, a), sample_token(p, b));  // same seed, same tokens
}

// Step-by-step generation through the KV cache gives the parallel pass's attention rows and core::run's greedy tokens.
TEST(Generator, StepByStepMatchesTheParallelPassAndGreedyRun) {
  for (Arch arch : {Arch::DecoderOnly, Arch::EncoderDecoder}) {
    Session s = small_session(arch);
    s.model.pe = arch == Arch::DecoderOnly ? PosEncoding::RoPE : PosEncoding::Sinusoidal;
    Result<std::unique_ptr<Generator>> g = Generator::start(s);
    ASSERT_TRUE(g) << g.error().message();
    Generator& gen = **g;
    std::vector<std::string> greedy;
    for (int k = 0; k < 4; ++k) {
      const RowVec p = sampling_distribution(gen.logits(), {0.0f, 0, 1.0f});
      Eigen::Index next = 0;
      p.maxCoeff(&next);
      greedy.push_back(gen.vocab().token(static_cast<int>(next)));
      ASSERT_TRUE(gen.feed(static_cast<int>(next)));
    }
    Session d = s;
    d.decode_steps = 4;
    const Trace t = run_ok(d);
    EXPECT_EQ(greedy, t.decoded_tokens) << name(arch);
    // The last fed position's row through the cache equals the parallel pass's row over the same tokens.
    Session full = s;
    std::vector<std::string> fed;
    for (int id : gen.ids()) fed.push_back(gen.vocab().token(id));
    const int n = static_cast<int>(gen.ids().size());
    const Mat P_cache = gen.all_rows().at("decoder.1.self_attn.head.0.P");
    EXPECT_EQ(P_cache.rows(), n);
    EXPECT_EQ(gen.last_rows().at("decoder.1.self_attn.head.0.P").size(), n);
    const Mat& P_parallel = t.tensors.at("decoder.1.self_attn.head.0.P");
    ASSERT_EQ(P_parallel.rows(), n - 1);  // run() feeds back all but the last generated token
    EXPECT_LT((P_cache.topLeftCorner(n - 1, n - 1) - P_parallel).cwiseAbs().maxCoeff(), 1e-5f) << name(arch);
  }
  Session enc;
  EXPECT_FALSE(Generator::start(enc));  // an encoder-only model does not generate
}

// [SECTION] The target of a trained task (issue 9, item 9)
TEST(TaskTarget, ReverseCopySortTokenByToken) {
  EXPECT_EQ(task_target("reverse", "attention", TokenizerKind::Chars).value(), "noitnetta");
  EXPECT_EQ(task_target("reverse", "cat", TokenizerKind::Chars).value(), "tac");
  EXPECT_EQ(task_target("copy", "cab", TokenizerKind::Chars).value(), "cab");
  EXPECT_EQ(task_target("sort", "cab", TokenizerKind::Chars).value(), "abc");
  EXPECT_EQ(task_target("reverse", "the cat sat", TokenizerKind::Words).value(), "sat cat the");
  EXPECT_EQ(task_target("reverse", "", TokenizerKind::Chars).value(), "");
  EXPECT_FALSE(task_target("next-token", "the cat", TokenizerKind::Words).has_value());
  EXPECT_FALSE(task_target("", "the cat", TokenizerKind::Words).has_value());
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {
// Typing a new source on a trained task model: the target follows while it was the task's, and stays once edited.
TEST(TaskTarget, FollowsTheSourceUntilTheUserEditsIt) {
  const TokenizerKind chars = TokenizerKind::Chars;
  EXPECT_EQ(follow_task_target("reverse", "attention", "cat", "noitnetta", chars), "tac");  // the README's "type a word"
  EXPECT_EQ(follow_task_target("reverse", "attention", "cat", "xyz", chars), "xyz");       // edited: left alone
  EXPECT_EQ(follow_task_target("sort", "cab", "dcab", "abc", chars), "abcd");
  EXPECT_EQ(follow_task_target("next-token", "a", "b", "t", chars), "t");  // no derivable target
}
}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(Model, ProgressCountsLayersAndCancellingStopsTheRun) {
  Session s = small_session(Arch::EncoderDecoder);
  s.input = {"the cat sat", "le chat"};
  std::vector<std::pair<int, int>> calls;
  Result<Trace> t = run(s, nullptr, [&](int done, int total) {
    calls.emplace_back(done, total);
    return true;
  });
  ASSERT_TRUE(t) << t.error().message();
  // 2 encoder + 2 decoder layers: told before each (and asked again, with the same count, between heads), then once
  // at the end.
  calls.erase(std::unique(calls.begin(), calls.end()), calls.end());
  ASSERT_EQ(calls.size(), 5u);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(calls[k], std::make_pair(k, 4));
  // Cancelled at the first question inside layer 1: asked nothing more, and no later layer ran.
  std::vector<std::pair<int, int>> asked;
  Result<Trace> stopped = run(s, nullptr, [&](int done, int total) {
    asked.emplace_back(done, total);
    return done < 1 || asked.size() < 3 || asked[asked.size() - 2].first != 1;
  });
  ASSERT_FALSE(stopped);
  EXPECT_TRUE(is_cancelled(stopped.error()));
  ASSERT_GE(asked.size(), 3u);
  EXPECT_EQ(asked.back().first, 1) << "stopped inside the second layer";
  EXPECT_EQ(std::count_if(asked.begin(), asked.end(), [](const auto& c) { return c.first == 1; }), 2)
      << "told before layer 1, then stopped at the first head";
  EXPECT_FALSE(is_cancelled(Error{"d_model must be divisible by h", ""}));
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(Model, EveryHeadRecordsTheScaleItsScoresWereMultipliedBy) {
  Session s = small_session();  // d_model 16, h 2: d_k = 8
  s.model.temperature = 2.0f;
  Trace t = run_ok(s);
  ASSERT_FALSE(t.heads.empty());
  for (const HeadStats& h : t.heads) EXPECT_FLOAT_EQ(h.scale, 1.0f / (std::sqrt(8.0f) * 2.0f)) << h.path;
  s.model.score_scale = ScoreScale::None;
  for (const HeadStats& h : run_ok(s).heads) EXPECT_FLOAT_EQ(h.scale, 0.5f) << h.path;
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

// A lean trace keeps layer inputs and outputs and derives the rest by re-running one layer: every tensor of the full
// trace must come back, equal, for every option that changes what a layer computes.
std::vector<std::pair<std::string, Session>> lean_cases() {
  std::vector<std::pair<std::string, Session>> cases;
  {
    Session s = small_session(Arch::EncoderOnly);
    s.input = {"the cat sat on the mat", ""};
    s.extra_batch = {{"a dog ran", ""}};
    s.encoder_mask = kMaskPadding | kMaskCustom;
    s.custom_cells = {{1, 2}, {3, 0}};
    s.padding_positions = {4};
    cases.emplace_back("encoder_post_layernorm_sinusoidal_batch_pad_custom", s);
  }
  {
    Session s = small_session(Arch::DecoderOnly);
    s.input = {"one two three four five", ""};
    s.model.norm = NormKind::RMSNorm;
    s.model.norm_placement = NormPlacement::Pre;
    s.model.pe = PosEncoding::RoPE;
    s.model.activation = Activation::GELU;
    s.decode_steps = 2;
    cases.emplace_back("decoder_pre_rmsnorm_rope_gelu_decoding", s);
  }
  {
    Session s = small_session(Arch::EncoderDecoder);
    s.input = {"the cat sat", "le chat"};
    s.extra_batch = {{"a dog", "un chien assis"}};
    s.model.norm = NormKind::BatchNorm;
    s.model.pe = PosEncoding::ALiBi;
    s.model.scoring = Scoring::Additive;
    cases.emplace_back("encoder_decoder_batchnorm_alibi_additive_batch", s);
  }
  {
    Session s = small_session(Arch::EncoderDecoder);
    s.input = {"the cat sat on the mat", "le chat"};
    s.model.norm_placement = NormPlacement::Pre;
    s.model.pe = PosEncoding::Learned;
    s.model.projection = Projection::TiedQK;
    s.model.score_scale = ScoreScale::None;
    cases.emplace_back("encoder_decoder_pre_learned_tied_unscaled", s);
  }
  return cases;
}

TEST(LeanTrace, EveryTensorOfTheFullTraceIsDerivedEquallyFromTheLeanOne) {
  for (const auto& [name, s] : lean_cases()) {
    SCOPED_TRACE(name);
    RunOptions full_options, lean_options;
    full_options.keep = TraceKeep::Full;
    lean_options.keep = TraceKeep::Lean;
    Result<Trace> full = run(s, full_options), lean = run(s, lean_options);
    ASSERT_TRUE(full && lean) << (full ? lean.error().message() : full.error().message());
    EXPECT_FALSE(full->tensors.lean());
    ASSERT_TRUE(lean->tensors.lean());
    EXPECT_LT(lean->tensors.bytes() * 2, full->tensors.bytes()) << "a lean trace keeps much less";
    EXPECT_EQ(lean->tensors.count(), full->tensors.size());
    for (const auto& e : full->tensors.entries()) {
      const Mat* derived = lean->tensors.find(e.path);
      ASSERT_NE(derived, nullptr) << e.path;
      ASSERT_EQ(derived->rows(), e.value.rows()) << e.path;
      ASSERT_EQ(derived->cols(), e.value.cols()) << e.path;
      // The same ops on the same inputs: equal, with −∞ where the mask is.
      const float scale = 1.0f + e.value.array().isFinite().select(e.value.array().abs(), 0.0f).maxCoeff();
      const float diff = (derived->array().isFinite() == e.value.array().isFinite())
                             .select(e.value.array().isFinite().select((*derived - e.value).array().abs(), 0.0f), 1e30f)
                             .maxCoeff();
      EXPECT_LE(diff, 1e-5f * scale) << e.path;
    }
    ASSERT_EQ(lean->heads.size(), full->heads.size());
    for (size_t k = 0; k < full->heads.size(); ++k) {
      EXPECT_EQ(lean->heads[k].path, full->heads[k].path);
      EXPECT_FLOAT_EQ(lean->heads[k].mean_entropy, full->heads[k].mean_entropy);
      EXPECT_FLOAT_EQ(lean->heads[k].score_variance, full->heads[k].score_variance);
    }
    EXPECT_GT(lean->tensors.derived_bytes(), 0u);
    lean->tensors.release_derived();
    EXPECT_EQ(lean->tensors.derived_bytes(), 0u);
    EXPECT_EQ(lean->tensors.find("encoder.0.self_attn.head.0.nothing"), nullptr);
    EXPECT_EQ(lean->tensors.find("encoder.9.self_attn.head.0.P"), nullptr);  // no layer 9
  }
}

// Max |a − b| over cells finite in both, relative to the largest |b|; infinite where only one of them is finite.
float relative_difference(const Mat& a, const Mat& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<float>::infinity();
  if ((a.array().isFinite() != b.array().isFinite()).any()) return std::numeric_limits<float>::infinity();
  const float scale = 1.0f + b.array().isFinite().select(b.array().abs(), 0.0f).maxCoeff();
  return b.array().isFinite().select((a - b).array().abs(), 0.0f).maxCoeff() / scale;
}

TEST(LeanTrace, LongInputsRunInRowBlocksThatMatchTheWholeMatrices) {
  // 1,100 tokens: a lean run splits each head's 1,100 query rows into blocks (about 2^20 scores each: 953 rows), so the
  // causal mask, ALiBi's distances and a custom cell at row 1,000 must be made for the right rows of the second block.
  Session s = small_session(Arch::DecoderOnly);
  std::string text;
  for (int i = 0; i < 1100; ++i) text += "w" + std::to_string(i % 97) + " ";
  s.input = {text, ""};
  s.model.layers = 1;
  s.model.d_model = 8;
  s.model.d_ff = 16;
  s.model.max_len = 2048;
  s.model.pe = PosEncoding::ALiBi;
  s.decoder_mask = kMaskCausal | kMaskCustom;
  s.custom_cells = {{1000, 3}, {1000, 999}, {10, 2}};
  RunOptions full_options, lean_options;
  full_options.keep = TraceKeep::Full;
  lean_options.keep = TraceKeep::Lean;
  Result<Trace> full = run(s, full_options), lean = run(s, lean_options);
  ASSERT_TRUE(full && lean) << (full ? lean.error().message() : full.error().message());
  ASSERT_TRUE(lean->tensors.lean());
  for (const char* path : {"decoder.0.self_attn.head.1.O", "decoder.0.output", "output.logits", "decoder.0.self_attn.head.1.P"})
    EXPECT_LE(relative_difference(lean->tensors.at(path), full->tensors.at(path)), 1e-5f) << path;
  const Mat& P = lean->tensors.at("decoder.0.self_attn.head.1.P");
  EXPECT_EQ(P(1000, 3), 0.0f);
  EXPECT_EQ(P(1000, 999), 0.0f);
  EXPECT_GT(P(1000, 998), 0.0f);
  EXPECT_EQ(P(999, 1000), 0.0f) << "causal";
  ASSERT_EQ(lean->heads.size(), full->heads.size());
  for (size_t k = 0; k < full->heads.size(); ++k) {
    EXPECT_NEAR(lean->heads[k].mean_entropy, full->heads[k].mean_entropy, 1e-5f * full->heads[k].mean_entropy);
    EXPECT_NEAR(lean->heads[k].score_variance, full->heads[k].score_variance, 1e-5f * full->heads[k].score_variance);
    EXPECT_EQ(lean->heads[k].entropy.size(), 1100);
    EXPECT_FLOAT_EQ(lean->heads[k].entropy(1000), full->heads[k].entropy(1000));
    EXPECT_FLOAT_EQ(lean->heads[k].max_weight(1050), full->heads[k].max_weight(1050));
  }
}

TEST(LeanTrace, EachStageOfOneHeadIsDerivedAlone) {
  Session s = small_session();
  s.extra_batch.clear();
  s.model.heads = 4;
  RunOptions o;
  o.keep = TraceKeep::Lean;
  Result<Trace> t = run(s, o);
  ASSERT_TRUE(t);
  const size_t n = t->source_tokens.size();
  const size_t stage = n * n * sizeof(float);  // one n×n matrix
  ASSERT_NE(t->tensors.find("encoder.1.self_attn.head.2.Q"), nullptr);  // the layer's rows: no n×n matrix
  const size_t layer_rows = t->tensors.derived_bytes();
  ASSERT_NE(t->tensors.find("encoder.1.self_attn.head.2.P"), nullptr);
  EXPECT_EQ(t->tensors.derived_bytes(), layer_rows + stage) << "head 2's P alone: not its S, not the other heads";
  ASSERT_NE(t->tensors.find("encoder.1.self_attn.head.0.S_masked"), nullptr);
  EXPECT_EQ(t->tensors.derived_bytes(), layer_rows + 2 * stage);
  ASSERT_NE(t->tensors.find("encoder.1.self_attn.M"), nullptr);
  EXPECT_EQ(t->tensors.derived_bytes(), layer_rows + 3 * stage);
  EXPECT_EQ(t->tensors.find("encoder.1.self_attn.head.4.P"), nullptr) << "no head 4";
  EXPECT_EQ(t->tensors.find("encoder.1.self_attn.head.1.B"), nullptr) << "no ALiBi: no B";
  t->tensors.release_derived();
  // A stage asked for first derives its layer's rows on the way (its head's Q and K).
  ASSERT_NE(t->tensors.find("encoder.0.self_attn.head.3.P"), nullptr);
  EXPECT_GT(t->tensors.derived_bytes(), stage);
  EXPECT_NE(t->tensors.find("encoder.0.ffn.hidden"), nullptr);
}

TEST(LeanTrace, AutoKeepsEverythingUntilTheStagesWouldBeLargeAndAlwaysWhenTrainingWithDropout) {
  Session s = small_session();
  RunOptions o;
  Result<Trace> small = run(s, o);
  ASSERT_TRUE(small);
  EXPECT_FALSE(small->tensors.lean());
  // S, S_scaled, S_masked, P: 4 stages × 4 bytes × h 2 × L 2 × 2 sequences × n² cells.
  const int n = static_cast<int>(small->source_tokens.size());
  EXPECT_DOUBLE_EQ(stage_bytes(s.model, 2, n, n), 4.0 * 4 * 2 * 2 * 2 * n * n);
  o.lean_above_bytes = 1;
  Result<Trace> lean = run(s, o);
  ASSERT_TRUE(lean);
  EXPECT_TRUE(lean->tensors.lean());
  s.mode = Mode::Train;
  s.model.dropout = 0.1f;
  Result<Trace> training = run(s, o);
  ASSERT_TRUE(training);
  EXPECT_FALSE(training->tensors.lean()) << "a recompute would draw other dropout masks";
}

}  // namespace
}  // namespace qkv
