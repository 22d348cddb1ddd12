// Tests for core/pretrained: tiny GPT-2 and BERT checkpoints written here in the real files' layout (tensor names, the
// Conv1D [in, out] and nn.Linear [out, in] storage, F32/F16/BF16 bytes), read into the core's model. The numbers of a
// forward pass are checked against an independent float64 reference by tests/pretrained_reference_test.sh; here: the
// mapping of every tensor, the parameter count, the name variants, the conversions, every refusal, the sessions.
#include "core/pretrained.h"

#include <gtest/gtest.h>

#include "tests/gpt2_byte_symbols.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/counters.h"
#include "core/model.h"
#include "core/safetensors.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Files = std::map<std::string, std::string>;

// [SECTION] a safetensors writer for any dtype and rank (core's writer stores float32 matrices only)
struct FileTensor {
  std::string name;
  std::string dtype = "F32";
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major; stored in `dtype`
  std::string raw;            // when set: the stored bytes as they are (integer buffers, bad sizes)
};

uint16_t to_f16(float f) {  // exact for the values the tests use (small integers and halves)
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int exponent = static_cast<int>((x >> 23) & 0xFF) - 127 + 15;
  const uint32_t mantissa = x & 0x7FFFFFu;
  if ((x & 0x7FFFFFFFu) == 0) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13));
}
uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return static_cast<uint16_t>(x >> 16);
}

std::string safetensors_of(const std::vector<FileTensor>& tensors) {
  json header = json::object();
  std::string data;
  for (const FileTensor& t : tensors) {
    std::string bytes = t.raw;
    if (bytes.empty()) {
      for (const float v : t.values) {
        if (t.dtype == "F32" || t.dtype == "I32") {  // I32: the float's bits, to test a wrong dtype of the right size
          bytes.append(reinterpret_cast<const char*>(&v), 4);
        } else {
          const uint16_t h = t.dtype == "F16" ? to_f16(v) : to_bf16(v);
          bytes.append(reinterpret_cast<const char*>(&h), 2);
        }
      }
    }
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  const std::string text = header.dump();
  const uint64_t size = text.size();
  return std::string(reinterpret_cast<const char*>(&size), 8) + text + data;
}

int64_t count_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  return n;
}

// Values exact in F16 and BF16 alike: multiples of 1/8 in [−2, 2].
std::vector<float> values_for(const std::vector<int64_t>& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(static_cast<size_t>(count_of(shape)));
  for (float& x : v) x = static_cast<float>(static_cast<int>(rng() % 33) - 16) / 8.0f;
  return v;
}

// [SECTION] tiny checkpoints in the real layout
constexpr int kLayers = 2, kDModel = 8, kHeads = 2, kPositions = 16, kFF = 32;

using test::byte_symbol;

// A byte-level BPE vocabulary: 256 byte symbols, "Ġt", "he", "Ġthe", then <|endoftext|> (id 259).
Files gpt2_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol(b)] = b;
  vocab["Ġt"] = 256;
  vocab["he"] = 257;
  vocab["Ġthe"] = 258;
  vocab["<|endoftext|>"] = 259;
  return {{"vocab.json", vocab.dump()}, {"merges.txt", "#version: 0.2\nĠ t\nh e\nĠt he\n"}};
}
constexpr int kGpt2Vocab = 260;

const std::vector<std::string> kBertPieces = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "a"};
Files bert_tokenizer() {
  std::string text;
  for (const std::string& p : kBertPieces) text += p + "\n";
  return {{"vocab.txt", text}};
}
const int kBertVocab = static_cast<int>(kBertPieces.size());

std::string gpt2_config_json(json extra = json::object()) {
  json c = {{"model_type", "gpt2"},   {"architectures", {"GPT2LMHeadModel"}}, {"n_layer", kLayers}, {"n_embd", kDModel},
            {"n_head", kHeads},       {"n_positions", kPositions},             {"vocab_size", kGpt2Vocab},
            {"n_inner", nullptr},     {"activation_function", "gelu_new"},      {"layer_norm_epsilon", 1e-5}};
  c.update(extra);
  return c.dump();
}
std::string bert_config_json(json extra = json::object()) {
  json c = {{"model_type", "bert"},        {"architectures", {"BertForMaskedLM"}}, {"num_hidden_layers", kLayers},
            {"hidden_size", kDModel},      {"num_attention_heads", kHeads},         {"max_position_embeddings", kPositions},
            {"vocab_size", kBertVocab},    {"intermediate_size", kFF},              {"hidden_act", "gelu"},
            {"type_vocab_size", 2},        {"layer_norm_eps", 1e-12},               {"position_embedding_type", "absolute"}};
  c.update(extra);
  return c.dump();
}

struct Variant {
  std::string prefix;          // "transformer." / "bert." or ""
  std::string dtype = "F32";
  bool buffers = false;        // GPT-2 attn.bias/masked_bias; BERT position_ids
  bool tied_copy = false;      // GPT-2 lm_head.weight; BERT cls.predictions.decoder.{weight,bias}
  bool gamma_beta = false;     // BERT's old LayerNorm names
  bool heads_unused = false;   // BERT pooler and next-sentence head
};

std::vector<FileTensor> gpt2_tensors(const Variant& v = {}) {
  std::vector<FileTensor> t;
  uint32_t seed = 1;
  const auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    t.push_back({v.prefix + name, v.dtype, shape, values_for(shape, seed++), {}});
  };
  add("wte.weight", {kGpt2Vocab, kDModel});
  add("wpe.weight", {kPositions, kDModel});
  for (int l = 0; l < kLayers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {kDModel});
    add(h + "ln_1.bias", {kDModel});
    add(h + "attn.c_attn.weight", {kDModel, 3 * kDModel});
    add(h + "attn.c_attn.bias", {3 * kDModel});
    add(h + "attn.c_proj.weight", {kDModel, kDModel});
    add(h + "attn.c_proj.bias", {kDModel});
    add(h + "ln_2.weight", {kDModel});
    add(h + "ln_2.bias", {kDModel});
    add(h + "mlp.c_fc.weight", {kDModel, kFF});
    add(h + "mlp.c_fc.bias", {kFF});
    add(h + "mlp.c_proj.weight", {kFF, kDModel});
    add(h + "mlp.c_proj.bias", {kDModel});
    if (v.buffers) {
      t.push_back({v.prefix + h + "attn.bias", "F32", {1, 1, kPositions, kPositions}, values_for({1, 1, kPositions, kPositions}, 0), {}});
      t.push_back({v.prefix + h + "attn.masked_bias", "F32", {}, {-1e4f}, {}});
    }
  }
  add("ln_f.weight", {kDModel});
  add("ln_f.bias", {kDModel});
  if (v.tied_copy) t.push_back({"lm_head.weight", v.dtype, {kGpt2Vocab, kDModel}, t[0].values, {}});
  return t;
}

std::vector<FileTensor> bert_tensors(const Variant& v = {}) {
  std::vector<FileTensor> t;
  uint32_t seed = 100;
  const auto add = [&](const std::string& name, std::vector<int64_t> shape, bool prefixed = true) {
    t.push_back({(prefixed ? v.prefix : "") + name, v.dtype, shape, values_for(shape, seed++), {}});
  };
  const auto norm = [&](const std::string& name, bool prefixed = true) {
    add(name + (v.gamma_beta ? ".gamma" : ".weight"), {kDModel}, prefixed);
    add(name + (v.gamma_beta ? ".beta" : ".bias"), {kDModel}, prefixed);
  };
  add("embeddings.word_embeddings.weight", {kBertVocab, kDModel});
  add("embeddings.position_embeddings.weight", {kPositions, kDModel});
  add("embeddings.token_type_embeddings.weight", {2, kDModel});
  norm("embeddings.LayerNorm");
  if (v.buffers) {
    std::string ids;
    for (int64_t p = 0; p < kPositions; ++p) ids.append(reinterpret_cast<const char*>(&p), 8);
    t.push_back({v.prefix + "embeddings.position_ids", "I64", {1, kPositions}, {}, ids});
  }
  for (int l = 0; l < kLayers; ++l) {
    const std::string e = "encoder.layer." + std::to_string(l) + ".";
    for (const char* part : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(e + part + ".weight", {kDModel, kDModel});
      add(e + part + ".bias", {kDModel});
    }
    norm(e + "attention.output.LayerNorm");
    add(e + "intermediate.dense.weight", {kFF, kDModel});
    add(e + "intermediate.dense.bias", {kFF});
    add(e + "output.dense.weight", {kDModel, kFF});
    add(e + "output.dense.bias", {kDModel});
    norm(e + "output.LayerNorm");
  }
  if (v.heads_unused) {  // seeds of their own: the tensors after them get the same values with or without them
    const uint32_t next = seed;
    seed = 1000;
    add("pooler.dense.weight", {kDModel, kDModel});
    add("pooler.dense.bias", {kDModel});
    add("cls.seq_relationship.weight", {2, kDModel}, false);
    add("cls.seq_relationship.bias", {2}, false);
    seed = next;
  }
  add("cls.predictions.transform.dense.weight", {kDModel, kDModel}, false);
  add("cls.predictions.transform.dense.bias", {kDModel}, false);
  norm("cls.predictions.transform.LayerNorm", false);
  add("cls.predictions.bias", {kBertVocab}, false);
  if (v.tied_copy) {
    t.push_back({"cls.predictions.decoder.weight", v.dtype, {kBertVocab, kDModel}, t[0].values, {}});
    t.push_back({"cls.predictions.decoder.bias", v.dtype, {kBertVocab}, t.end()[-2].values, {}});
  }
  return t;
}

const FileTensor& tensor_named(const std::vector<FileTensor>& t, const std::string& name) {
  for (const FileTensor& x : t)
    if (x.name == name) return x;
  throw std::runtime_error("no tensor " + name);
}

using Model = std::shared_ptr<const PretrainedModel>;
Model load_gpt2(const std::vector<FileTensor>& t, const std::string& config = gpt2_config_json()) {
  auto m = pretrained_from_bytes(config, safetensors_of(t), gpt2_tokenizer(), "gpt2");
  if (!m) ADD_FAILURE() << m.error().what << " / " << m.error().hint;
  return m ? *m : nullptr;
}
Model load_bert(const std::vector<FileTensor>& t, const std::string& config = bert_config_json()) {
  auto m = pretrained_from_bytes(config, safetensors_of(t), bert_tokenizer(), "bert-base-uncased");
  if (!m) ADD_FAILURE() << m.error().what << " / " << m.error().hint;
  return m ? *m : nullptr;
}
std::string refusal_gpt2(const std::vector<FileTensor>& t, const std::string& config = gpt2_config_json(), Files tokenizer = gpt2_tokenizer()) {
  auto m = pretrained_from_bytes(config, safetensors_of(t), tokenizer, "gpt2");
  EXPECT_FALSE(m.ok()) << "expected a refusal";
  return m ? std::string() : m.error().what;
}
std::string refusal_bert(const std::vector<FileTensor>& t, const std::string& config = bert_config_json()) {
  auto m = pretrained_from_bytes(config, safetensors_of(t), bert_tokenizer(), "bert-base-uncased");
  EXPECT_FALSE(m.ok()) << "expected a refusal";
  return m ? std::string() : m.error().what;
}

bool same_weights(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const TensorMap::Entry& e : a.entries()) {
    const Mat* other = b.find(e.path);
    if (!other || other->rows() != e.value.rows() || other->cols() != e.value.cols() || *other != e.value) return false;
  }
  return true;
}

// The file tensor's element (r, c) of a 2-D [rows, cols] tensor.
float at2(const FileTensor& t, int64_t r, int64_t c) { return t.values[static_cast<size_t>(r * t.shape[1] + c)]; }

// [SECTION] GPT-2
TEST(PretrainedGpt2, ArchitectureComesFromTheConfig) {
  const Model m = load_gpt2(gpt2_tensors());
  ASSERT_TRUE(m);
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.arch, Arch::DecoderOnly);
  EXPECT_EQ(c.layers, kLayers);
  EXPECT_EQ(c.d_model, kDModel);
  EXPECT_EQ(c.heads, kHeads);
  EXPECT_EQ(c.d_ff, 4 * kDModel);  // n_inner null: 4·d_model
  EXPECT_EQ(c.max_len, kPositions);
  EXPECT_EQ(c.norm_placement, NormPlacement::Pre);
  EXPECT_EQ(c.activation, Activation::GELUTanh);
  EXPECT_EQ(c.pe, PosEncoding::Learned);
  EXPECT_EQ(c.score_scale, ScoreScale::InvSqrtDk);
  EXPECT_TRUE(c.residual);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(m->mask, kMaskCausal | kMaskPadding);
  EXPECT_EQ(m->card.family, ModelFamily::GPT2);
  EXPECT_EQ(m->card.architecture, "GPT2LMHeadModel");
  EXPECT_EQ(m->card.vocab, kGpt2Vocab);
  EXPECT_EQ(m->card.dtype, "F32");
  EXPECT_EQ(m->vocab.size(), kGpt2Vocab);
  EXPECT_EQ(m->vocab.pad_id(), -1);
}

TEST(PretrainedGpt2, ParameterCountIsTheFilesTensorsAndTheCounters) {
  const std::vector<FileTensor> t = gpt2_tensors();
  const Model m = load_gpt2(t);
  ASSERT_TRUE(m);
  int64_t in_file = 0;
  for (const FileTensor& x : t) in_file += count_of(x.shape);
  // By hand: wte V·d + wpe P·d + per layer (2d + d·3d + 3d + d·d + d + 2d + d·4d + 4d + 4d·d + d) + ln_f 2d.
  const int64_t d = kDModel, V = kGpt2Vocab, P = kPositions;
  const int64_t by_hand = V * d + P * d + kLayers * (12 * d * d + 13 * d) + 2 * d;
  EXPECT_EQ(in_file, by_hand);
  EXPECT_EQ(m->card.parameters, by_hand);
  EXPECT_EQ(m->card.file_parameters, by_hand);
  EXPECT_EQ(count_model(count_spec_for(m->config, V), 1).total_params, by_hand);
  int64_t converted = 0;
  for (const TensorMap::Entry& e : m->weights->entries()) converted += e.value.size();
  EXPECT_EQ(converted, by_hand);
}

TEST(PretrainedGpt2, Conv1DIsInOutAndCAttnHoldsQKVSideBySide) {
  const std::vector<FileTensor> t = gpt2_tensors();
  const Model m = load_gpt2(t);
  ASSERT_TRUE(m);
  const TensorMap& W = *m->weights;
  const FileTensor& c_attn = tensor_named(t, "h.1.attn.c_attn.weight");
  const FileTensor& c_attn_b = tensor_named(t, "h.1.attn.c_attn.bias");
  const char* parts[] = {"Q", "K", "V"};
  for (int part = 0; part < 3; ++part) {
    const Mat& Wp = W.at(std::string("decoder.1.self_attn.W_") + parts[part]);  // [d_model, d_model]
    const Mat& bp = W.at(std::string("decoder.1.self_attn.b_") + parts[part]);  // [1, d_model]
    ASSERT_EQ(Wp.rows(), kDModel);
    ASSERT_EQ(Wp.cols(), kDModel);
    for (int i = 0; i < kDModel; ++i)
      for (int o = 0; o < kDModel; ++o) EXPECT_EQ(Wp(i, o), at2(c_attn, i, part * kDModel + o)) << parts[part] << " " << i << "," << o;
    for (int o = 0; o < kDModel; ++o) EXPECT_EQ(bp(0, o), c_attn_b.values[static_cast<size_t>(part * kDModel + o)]);
  }
  const FileTensor& fc = tensor_named(t, "h.0.mlp.c_fc.weight");  // [d, 4d] stored as used: x·W
  EXPECT_EQ(W.at("decoder.0.ffn.W_1").rows(), kDModel);
  EXPECT_EQ(W.at("decoder.0.ffn.W_1")(3, 17), at2(fc, 3, 17));
  EXPECT_EQ(W.at("embed.E")(259, 2), at2(tensor_named(t, "wte.weight"), 259, 2));
  EXPECT_EQ(W.at("pos.learned")(15, 7), at2(tensor_named(t, "wpe.weight"), 15, 7));
  EXPECT_EQ(W.at("decoder.final_norm.gamma")(0, 5), tensor_named(t, "ln_f.weight").values[5]);
}

TEST(PretrainedGpt2, NameVariantsGiveTheSameModel) {
  const Model plain = load_gpt2(gpt2_tensors());
  Variant hub;  // as GPT2LMHeadModel saves it: prefix, buffers, the tied lm_head
  hub.prefix = "transformer.";
  hub.buffers = true;
  hub.tied_copy = true;
  const Model prefixed = load_gpt2(gpt2_tensors(hub));
  ASSERT_TRUE(plain && prefixed);
  EXPECT_TRUE(same_weights(*plain->weights, *prefixed->weights));
  EXPECT_EQ(prefixed->card.parameters, plain->card.parameters);
  EXPECT_EQ(prefixed->card.file_parameters, plain->card.file_parameters);  // buffers and the tied copy not counted
  EXPECT_EQ(prefixed->card.skipped.size(), static_cast<size_t>(2 * kLayers + 1));
}

TEST(PretrainedGpt2, HalfPrecisionIsConvertedExactly) {
  for (const char* dtype : {"F16", "BF16"}) {
    Variant v;
    v.dtype = dtype;
    const Model half = load_gpt2(gpt2_tensors(v));
    const Model full = load_gpt2(gpt2_tensors());
    ASSERT_TRUE(half && full) << dtype;
    EXPECT_EQ(half->card.dtype, dtype);
    EXPECT_TRUE(same_weights(*half->weights, *full->weights)) << dtype << ": multiples of 1/8 are exact in both";
  }
  // The bit patterns themselves.
  EXPECT_EQ(f16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_float(0xC000), -2.0f);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));  // the smallest subnormal
  EXPECT_EQ(f16_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::isinf(f16_to_float(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_float(0xC2F7), -123.5f);
}

// [SECTION] BERT
TEST(PretrainedBert, ArchitectureComesFromTheConfig) {
  const Model m = load_bert(bert_tensors());
  ASSERT_TRUE(m);
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.arch, Arch::EncoderOnly);
  EXPECT_EQ(c.norm_placement, NormPlacement::Post);
  EXPECT_EQ(c.activation, Activation::GELU);
  EXPECT_EQ(c.pe, PosEncoding::Learned);
  EXPECT_EQ(c.token_types, 2);
  EXPECT_TRUE(c.embed_norm);
  EXPECT_TRUE(c.mlm_head);
  EXPECT_FALSE(c.scale_embeddings);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-12f);
  EXPECT_EQ(c.d_ff, kFF);
  EXPECT_EQ(m->mask, kMaskPadding);
  EXPECT_EQ(m->vocab.pad_id(), 0);
  EXPECT_EQ(m->tokenizer->mask_id, 4);
}

TEST(PretrainedBert, LinearWeightsAreTransposedAndHeadsMapped) {
  const std::vector<FileTensor> t = bert_tensors();
  const Model m = load_bert(t);
  ASSERT_TRUE(m);
  const TensorMap& W = *m->weights;
  const FileTensor& key = tensor_named(t, "encoder.layer.1.attention.self.key.weight");  // [out, in]
  const Mat& W_K = W.at("encoder.1.self_attn.W_K");                                       // [in, out]
  for (int i = 0; i < kDModel; ++i)
    for (int o = 0; o < kDModel; ++o) EXPECT_EQ(W_K(i, o), at2(key, o, i));
  const FileTensor& up = tensor_named(t, "encoder.layer.0.intermediate.dense.weight");  // [4d, d]
  ASSERT_EQ(W.at("encoder.0.ffn.W_1").rows(), kDModel);
  ASSERT_EQ(W.at("encoder.0.ffn.W_1").cols(), kFF);
  EXPECT_EQ(W.at("encoder.0.ffn.W_1")(2, 30), at2(up, 30, 2));
  EXPECT_EQ(W.at("embed.token_type")(1, 3), at2(tensor_named(t, "embeddings.token_type_embeddings.weight"), 1, 3));
  EXPECT_EQ(W.at("embed.norm.gamma")(0, 4), tensor_named(t, "embeddings.LayerNorm.weight").values[4]);
  EXPECT_EQ(W.at("output.transform.W")(1, 6), at2(tensor_named(t, "cls.predictions.transform.dense.weight"), 6, 1));
  EXPECT_EQ(W.at("output.bias")(0, 12), tensor_named(t, "cls.predictions.bias").values[12]);
  EXPECT_EQ(W.at("encoder.1.ffn.norm.beta")(0, 0), tensor_named(t, "encoder.layer.1.output.LayerNorm.bias").values[0]);
}

TEST(PretrainedBert, NameVariantsAndSkippedHeadsGiveTheSameModel) {
  const Model plain = load_bert(bert_tensors());
  Variant hub;  // as BertForPreTraining saves it in old files: bert. prefix, gamma/beta, position_ids, pooler, NSP, decoder
  hub.prefix = "bert.";
  hub.gamma_beta = true;
  hub.buffers = true;
  hub.tied_copy = true;
  hub.heads_unused = true;
  const Model variant = load_bert(bert_tensors(hub));
  ASSERT_TRUE(plain && variant);
  EXPECT_TRUE(same_weights(*plain->weights, *variant->weights));
  // Counted: every tensor used; the file's count adds the pooler and the next-sentence head (not buffers, not copies).
  const int64_t d = kDModel, V = kBertVocab, P = kPositions;
  const int64_t by_hand = V * d + P * d + 2 * d + 2 * d + kLayers * (4 * (d * d + d) + 2 * d + (d * kFF + kFF) + (kFF * d + d) + 2 * d) +
                          (d * d + d) + 2 * d + V;
  EXPECT_EQ(plain->card.parameters, by_hand);
  EXPECT_EQ(count_model(count_spec_for(plain->config, V), 1).total_params, by_hand);
  EXPECT_EQ(variant->card.parameters, by_hand);
  EXPECT_EQ(variant->card.file_parameters, by_hand + (d * d + d) + (2 * d + 2));
  EXPECT_EQ(variant->card.skipped.size(), 7u);  // position_ids, pooler ×2, seq_relationship ×2, decoder ×2
}

// [SECTION] refusals: each a clear message, never a crash
TEST(PretrainedRefusals, ConfigOfAnotherFamilyOrOption) {
  std::string what = refusal_gpt2(gpt2_tensors(), R"({"model_type": "llama", "hidden_size": 8})");
  EXPECT_NE(what.find("llama"), std::string::npos) << what;
  what = refusal_gpt2(gpt2_tensors(), "{not json");
  EXPECT_NE(what.find("config.json"), std::string::npos) << what;
  what = refusal_gpt2(gpt2_tensors(), R"([1, 2])");
  EXPECT_NE(what.find("config.json"), std::string::npos) << what;
  what = refusal_gpt2(gpt2_tensors(), gpt2_config_json({{"activation_function", "swish"}}));
  EXPECT_NE(what.find("swish"), std::string::npos) << what;
  what = refusal_bert(bert_tensors(), bert_config_json({{"position_embedding_type", "relative_key"}}));
  EXPECT_NE(what.find("relative_key"), std::string::npos) << what;
  what = refusal_gpt2(gpt2_tensors(), gpt2_config_json({{"n_head", 3}}));  // 8 is not a multiple of 3
  EXPECT_FALSE(what.empty());
  what = refusal_gpt2(gpt2_tensors(), gpt2_config_json({{"n_layer", -1}}));
  EXPECT_NE(what.find("n_layer"), std::string::npos) << what;
  what = refusal_gpt2(gpt2_tensors(), gpt2_config_json({{"n_embd", "eight"}}));
  EXPECT_NE(what.find("n_embd"), std::string::npos) << what;
  what = refusal_gpt2(gpt2_tensors(), std::string(kMaxConfigBytes + 1, ' '));
  EXPECT_NE(what.find("config.json"), std::string::npos) << what;
}

TEST(PretrainedRefusals, MissingMisshapedWrongTypeUnknownAndDoubledTensors) {
  std::vector<FileTensor> t = gpt2_tensors();
  t.erase(t.begin() + 5);  // h.0.attn.c_attn.bias
  EXPECT_NE(refusal_gpt2(t).find("h.0.attn.c_attn.bias"), std::string::npos);

  t = gpt2_tensors();
  for (FileTensor& x : t)
    if (x.name == "h.1.mlp.c_fc.weight") x.shape = {kFF, kDModel};  // stored the nn.Linear way
  std::string what = refusal_gpt2(t);
  EXPECT_NE(what.find("h.1.mlp.c_fc.weight"), std::string::npos) << what;
  EXPECT_NE(what.find("[32, 8]"), std::string::npos) << what;
  EXPECT_NE(what.find("[8, 32]"), std::string::npos) << what;

  t = gpt2_tensors();
  t[1].dtype = "I32";  // wpe as integers: the same byte count as F32
  what = refusal_gpt2(t);
  EXPECT_NE(what.find("wpe.weight"), std::string::npos) << what;
  EXPECT_NE(what.find("I32"), std::string::npos) << what;

  t = gpt2_tensors();
  t.push_back({"h.0.attn.rotary.inv_freq", "F32", {4}, {1, 2, 3, 4}, {}});
  EXPECT_NE(refusal_gpt2(t).find("h.0.attn.rotary.inv_freq"), std::string::npos);

  t = gpt2_tensors();
  t.push_back(t[0]);
  t.back().name = "transformer.wte.weight";  // the same parameter with and without the prefix
  what = refusal_gpt2(t);
  EXPECT_NE(what.find("transformer.wte.weight"), std::string::npos) << what;

  t = gpt2_tensors();
  t.push_back({"lm_head.weight", "F32", {kGpt2Vocab, kDModel}, values_for({kGpt2Vocab, kDModel}, 999), {}});  // fine-tuned head
  what = refusal_gpt2(t);
  EXPECT_NE(what.find("lm_head.weight"), std::string::npos) << what;

  std::vector<FileTensor> b = bert_tensors();
  for (FileTensor& x : b)
    if (x.name == "cls.predictions.bias") x.shape = {kBertVocab - 1}, x.values.pop_back();
  what = refusal_bert(b);
  EXPECT_NE(what.find("cls.predictions.bias"), std::string::npos) << what;
}

TEST(PretrainedRefusals, TokenizerMustFitTheEmbedding) {
  // The config says 200 rows but the tokenizer has 260 pieces.
  std::vector<FileTensor> t = gpt2_tensors();
  t[0].shape = {200, kDModel};
  t[0].values.resize(200 * kDModel);
  const std::string what = refusal_gpt2(t, gpt2_config_json({{"vocab_size", 200}}));
  EXPECT_NE(what.find("260"), std::string::npos) << what;
  // No tokenizer files at all.
  EXPECT_FALSE(refusal_gpt2(gpt2_tensors(), gpt2_config_json(), Files{}).empty());
}

TEST(PretrainedRefusals, EveryTruncationOfTheFileIsAnError) {
  const std::string whole = safetensors_of(gpt2_tensors());
  const std::string config = gpt2_config_json();
  const Files tokenizer = gpt2_tokenizer();
  // Every cut in the header and the first tensors, then coarser steps through the data.
  for (size_t cut = 0; cut < whole.size(); cut += cut < 2048 ? 1 : 97) {
    auto m = pretrained_from_bytes(config, std::string_view(whole).substr(0, cut), tokenizer, "gpt2");
    ASSERT_FALSE(m.ok()) << "cut at " << cut;
    EXPECT_FALSE(m.error().what.empty());
  }
  // A header length past the end, or over the limit.
  std::string huge = whole;
  const uint64_t lie = uint64_t{1} << 40;
  std::memcpy(huge.data(), &lie, 8);
  auto m = pretrained_from_bytes(config, huge, tokenizer, "gpt2");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().what.find("model.safetensors"), std::string::npos) << m.error().what;
}

TEST(PretrainedRefusals, ByteFlipsNeverCrash) {
  const std::string whole = safetensors_of(bert_tensors());
  const std::string config = bert_config_json();
  const Files tokenizer = bert_tokenizer();
  std::mt19937 rng(7);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = whole;
    const uint64_t header = *reinterpret_cast<const uint64_t*>(whole.data());
    const size_t at = 8 + rng() % header;  // in the JSON header, where a flip changes names, shapes and offsets
    bytes[at] = static_cast<char>(rng());
    auto m = pretrained_from_bytes(config, bytes, tokenizer, "bert-base-uncased");
    if (m) ++loaded;
    else EXPECT_FALSE(m.error().what.empty());
  }
  EXPECT_LT(loaded, 300);
}

// [SECTION] folders as downloaded
struct TempFolder {
  fs::path path;
  TempFolder() {
    path = fs::temp_directory_path() / ("qkvlab_pretrained_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(path / name, std::ios::binary);
    out << bytes;
  }
  std::string dir() const { return path.string(); }
};

void write_gpt2(const TempFolder& f, const Variant& v = {}) {
  f.write("config.json", gpt2_config_json());
  f.write("model.safetensors", safetensors_of(gpt2_tensors(v)));
  for (const auto& [name, bytes] : gpt2_tokenizer()) f.write(name, bytes);
}

TEST(PretrainedFolder, RefusesPickleShardsAndNonFolders) {
  TempFolder f;
  f.write("config.json", gpt2_config_json());
  f.write("pytorch_model.bin", "PK\x03\x04 pickle");
  auto m = load_pretrained(f.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().what.find("pytorch_model.bin"), std::string::npos) << m.error().what;
  EXPECT_NE(m.error().hint.find("pickle"), std::string::npos) << m.error().hint;

  fs::remove(f.path / "pytorch_model.bin");
  f.write("model.safetensors.index.json", "{}");
  m = load_pretrained(f.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().what.find("several"), std::string::npos) << m.error().what;

  fs::remove(f.path / "model.safetensors.index.json");
  m = load_pretrained(f.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().what.find("model.safetensors"), std::string::npos) << m.error().what;

  m = load_pretrained((f.path / "config.json").string());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().what.find("not a folder"), std::string::npos) << m.error().what;
}

TEST(PretrainedFolder, LoadsWithProgressAndCancels) {
  TempFolder f;
  write_gpt2(f);
  int calls = 0, last_done = -1, last_total = 0;
  auto m = load_pretrained(f.dir(), [&](int done, int total) {
    ++calls;
    EXPECT_GE(done, last_done);
    last_done = done, last_total = total;
    return true;
  });
  ASSERT_TRUE(m.ok()) << m.error().what;
  EXPECT_GT(calls, 2);
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ((*m)->card.file_bytes, fs::file_size(f.path / "model.safetensors"));
  EXPECT_EQ((*m)->card.title, f.path.filename().string());
  auto cancelled = load_pretrained(f.dir(), [](int done, int) { return done < 3; });
  EXPECT_FALSE(cancelled.ok());
}

TEST(PretrainedFolder, OpenModelIsKeptUntilTheFileChanges) {
  TempFolder f;
  write_gpt2(f);
  auto first = open_pretrained(f.dir());
  ASSERT_TRUE(first.ok()) << first.error().what;
  auto again = open_pretrained(f.dir());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->get(), again->get());
  EXPECT_EQ(cached_pretrained(f.dir()).get(), first->get());
  Variant hub;
  hub.prefix = "transformer.";
  hub.buffers = true;  // a different size: read again
  write_gpt2(f, hub);
  auto changed = open_pretrained(f.dir());
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(changed->get(), first->get());
  EXPECT_TRUE(same_weights(*(*changed)->weights, *(*first)->weights));
}

// [SECTION] sessions of a real model: every toggle free, the shape fixed
TEST(PretrainedSession, TogglesLeaveTrainedStateAndResetBringsItBack) {
  TempFolder f;
  write_gpt2(f);
  auto m = open_pretrained(f.dir());
  ASSERT_TRUE(m.ok());
  Session s = pretrained_session(**m, f.dir());
  s.input.text = " the the the";
  EXPECT_TRUE(loaded_as_trained(s, **m));
  EXPECT_FALSE(check_shape(s.model, (*m)->config));

  Session toggled = s;
  toggled.model.score_scale = ScoreScale::None;
  EXPECT_FALSE(loaded_as_trained(toggled, **m));
  toggled.ablations.push_back({"decoder.1.self_attn.head.0", AblationKind::Mean});
  toggled.decoder_mask = kMaskPadding;
  const Session reset = reset_to_trained(toggled, **m);
  EXPECT_TRUE(loaded_as_trained(reset, **m));
  EXPECT_EQ(reset.input.text, " the the the");

  ModelConfig wider = s.model;
  wider.d_model = 16;
  const auto e = check_shape(wider, (*m)->config);
  ASSERT_TRUE(e);
  EXPECT_NE(e->what.find("d_model"), std::string::npos) << e->what;
  ModelConfig encoder = s.model;
  encoder.arch = Arch::EncoderOnly;
  const auto arch = check_shape(encoder, (*m)->config);
  ASSERT_TRUE(arch);
  EXPECT_NE(arch->what.find("decoder-only"), std::string::npos) << arch->what;  // names, not enum numbers
}

TEST(PretrainedSession, EveryToggleChangesThePredictionOfARealModel) {
  TempFolder f;
  write_gpt2(f);
  auto m = open_pretrained(f.dir());
  ASSERT_TRUE(m.ok());
  Session s = pretrained_session(**m, f.dir());
  s.input.text = " the cat the";
  auto trained = run(s);
  ASSERT_TRUE(trained.ok()) << trained.error().what;
  // " the cat the": Ġthe (258), Ġ (32), c, a, t, Ġthe — the merges never join "Ġ" and "c".
  EXPECT_EQ(trained->source_ids, (std::vector<int>{258, 32, 99, 97, 116, 258}));
  EXPECT_EQ(trained->source_tokens.front(), "␣the");
  const Mat logits = trained->tensors.at("output.logits");  // [n, V]
  ASSERT_EQ(logits.rows(), 6);
  ASSERT_EQ(logits.cols(), kGpt2Vocab);
  const Mat& P = trained->tensors.at("decoder.0.self_attn.head.1.P");  // causal: nothing above the diagonal
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(P.row(i).sum(), 1.0f, 1e-5f);
    for (int j = i + 1; j < 6; ++j) EXPECT_EQ(P(i, j), 0.0f);
  }
  const auto changes = [&](const char* what, const std::function<void(Session&)>& toggle) {
    Session t = s;
    toggle(t);
    EXPECT_FALSE(loaded_as_trained(t, **m)) << what;
    auto r = run(t);
    ASSERT_TRUE(r.ok()) << what << ": " << r.error().what;
    const Mat& other = r->tensors.at("output.logits");
    EXPECT_GT((other - logits).cwiseAbs().maxCoeff(), 1e-4f) << what << " left the logits as they were";
  };
  changes("√d_k off", [](Session& t) { t.model.score_scale = ScoreScale::None; });
  changes("τ = 3", [](Session& t) { t.model.temperature = 3.0f; });
  changes("causal mask off", [](Session& t) { t.decoder_mask = kMaskPadding; });
  changes("head ablated (zero)", [](Session& t) { t.ablations.push_back({"decoder.0.self_attn.head.1", AblationKind::Zero}); });
  changes("head ablated (mean)", [](Session& t) { t.ablations.push_back({"decoder.0.self_attn.head.1", AblationKind::Mean}); });
  changes("layer ablated", [](Session& t) { t.ablations.push_back({"decoder.1", AblationKind::Zero}); });
  changes("residuals off", [](Session& t) { t.model.residual = false; });
  changes("positions off", [](Session& t) { t.model.pe = PosEncoding::None; });
  changes("Post-Norm", [](Session& t) { t.model.norm_placement = NormPlacement::Post; });
  // The causal mask off: the first row now sees the future.
  Session future = s;
  future.decoder_mask = kMaskPadding;
  auto r = run(future);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->tensors.at("decoder.0.self_attn.head.1.P")(0, 5), 0.0f);
  // A shape change is refused with the reason.
  Session wider = s;
  wider.model.d_model = 16;
  auto refused = run(wider);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().what.find("d_model"), std::string::npos) << refused.error().what;
}

TEST(PretrainedSession, BertPredictsAtMaskAndSegmentsAfterSep) {
  TempFolder f;
  f.path += "-uncased";
  fs::create_directories(f.path);
  f.write("config.json", bert_config_json());
  f.write("model.safetensors", safetensors_of(bert_tensors()));
  f.write("vocab.txt", bert_tokenizer().at("vocab.txt"));
  auto m = open_pretrained(f.dir());
  ASSERT_TRUE(m.ok()) << m.error().what;
  Session s = pretrained_session(**m, f.dir());
  s.input.text = "The cat [MASK] on the mats.";
  auto r = run(s);
  ASSERT_TRUE(r.ok()) << r.error().what;
  // [CLS] the cat [MASK] on the mat ##s . [SEP]
  EXPECT_EQ(r->source_ids, (std::vector<int>{2, 5, 6, 4, 8, 5, 9, 10, 11, 3}));
  const Mat& logits = r->tensors.at("output.logits");
  ASSERT_EQ(logits.cols(), kBertVocab);
  const auto top = top_tokens(RowVec(logits.row(3)), 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_GE(top[0].second, top[1].second);
  // A second segment after [SEP] reads token type 1: the same words give other hidden states.
  Session pair = s;
  pair.input.text = "the cat [SEP] the cat";
  auto two = run(pair);
  ASSERT_TRUE(two.ok()) << two.error().what;
  EXPECT_EQ(two->source_ids, (std::vector<int>{2, 5, 6, 3, 5, 6, 3}));
  const Mat& H = two->tensors.at("output.logits");
  EXPECT_GT((H.row(1) - H.row(4)).cwiseAbs().maxCoeff(), 1e-4f);
  // A text past the 16 positions is cut to [CLS] + 14 + [SEP], and the trace says how many tokens were lost.
  Session long_text = s;
  long_text.input.text = "the cat sat on the mat . the cat sat on the mat . the cat sat";  // 17 words: 19 with [CLS], [SEP]
  auto cut = run(long_text);
  ASSERT_TRUE(cut.ok()) << cut.error().what;
  ASSERT_EQ(cut->source_ids.size(), static_cast<size_t>(kPositions));
  EXPECT_EQ(cut->source_ids.back(), 3);
  ASSERT_EQ(cut->warnings.size(), 1u);
  EXPECT_NE(cut->warnings[0].find("3 token"), std::string::npos) << cut->warnings[0];
  EXPECT_TRUE(r->warnings.empty());
}


}  // namespace
}  // namespace qkv
