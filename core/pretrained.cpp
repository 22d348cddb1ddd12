// QKV Lab core — real checkpoints (see pretrained.h): config.json → ModelConfig, model.safetensors → the core's weights.
#include "core/pretrained.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <mutex>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "core/counters.h"
#include "core/files.h"
#include "core/i18n.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/paths.h"
#include "core/safetensors.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;
using nlohmann::json;

const char* name(ModelFamily f) { return f == ModelFamily::GPT2 ? "gpt2" : "bert"; }  // i18n: name

int64_t PretrainedModel::weight_bytes() const { return weights ? static_cast<int64_t>(weights->bytes()) : 0; }

// [SECTION] config.json
namespace {

// i18n: names begin
constexpr const char* kConfigFile = "config.json";
constexpr const char* kWeightsFile = "model.safetensors";
// i18n: names end

// One key of config.json: a whole number in [lo, hi], a number, a string or a bool; a missing required key, a wrong type
// or a value out of range is an Error naming the key.
class ConfigReader {
 public:
  explicit ConfigReader(const json& j) : j_(j) {}
  int integer(const char* key, int lo, int hi, std::optional<int> fallback = std::nullopt) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (fallback) return *fallback;
      throw Error{trf("core.pretrained.config_missing", arg("key", key)), tr("core.pretrained.config_missing_hint")};
    }
    if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
      throw Error{trf("core.pretrained.config_range", arg("key", key), arg("value", it->dump().substr(0, 40)), arg("lo", lo), arg("hi", hi)), ""};
    return static_cast<int>(it->get<int64_t>());
  }
  double number(const char* key, double fallback) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return fallback;
    if (!it->is_number() || !std::isfinite(it->get<double>()))
      throw Error{trf("core.pretrained.config_type", arg("key", key), arg("value", it->dump().substr(0, 40))), ""};
    return it->get<double>();
  }
  std::string text(const char* key, const std::string& fallback) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return fallback;
    if (!it->is_string()) throw Error{trf("core.pretrained.config_type", arg("key", key), arg("value", it->dump().substr(0, 40))), ""};
    return it->get<std::string>();
  }
  bool flag(const char* key, bool fallback) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw Error{trf("core.pretrained.config_type", arg("key", key), arg("value", it->dump().substr(0, 40))), ""};
    return it->get<bool>();
  }

 private:
  const json& j_;
};

[[noreturn]] void unsupported(const std::string& what) {
  throw Error{trf("core.pretrained.unsupported_option", arg("what", what)), tr("core.pretrained.unsupported_option_hint")};
}

Activation activation_named(const std::string& act) {
  // i18n: names begin
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return Activation::GELUTanh;
  if (act == "gelu") return Activation::GELU;
  if (act == "relu") return Activation::ReLU;
  // i18n: names end
  unsupported("activation " + act);
}

// What GPT-2 and BERT share: biases everywhere, unscaled embeddings plus learned positions, LayerNorm.
ModelConfig hub_model(Arch arch, NormPlacement placement) {
  ModelConfig c;
  c.arch = arch;
  c.bias = true;
  c.scale_embeddings = false;
  c.pe = PosEncoding::Learned;
  c.norm = NormKind::LayerNorm;
  c.norm_placement = placement;
  return c;
}

ModelConfig gpt2_config(const ConfigReader& r) {
  ModelConfig c = hub_model(Arch::DecoderOnly, NormPlacement::Pre);
  c.d_model = r.integer("n_embd", 1, 8192);
  c.heads = r.integer("n_head", 1, 128);
  c.layers = r.integer("n_layer", 1, 96);
  c.max_len = r.integer("n_positions", 1, 65536);
  c.d_ff = r.integer("n_inner", 1, 65536, 4 * c.d_model);
  c.norm_eps = static_cast<float>(r.number("layer_norm_epsilon", 1e-5));
  c.activation = activation_named(r.text("activation_function", "gelu_new"));
  // i18n: names begin
  if (!r.flag("scale_attn_weights", true)) c.score_scale = ScoreScale::None;  // GPT2Config may turn 1/√d_k off
  if (r.flag("scale_attn_by_inverse_layer_idx", false)) unsupported("scale_attn_by_inverse_layer_idx");
  if (r.flag("add_cross_attention", false)) unsupported("add_cross_attention");
  // i18n: names end
  c.dropout = static_cast<float>(r.number("resid_pdrop", 0.1));
  return c;
}

ModelConfig bert_config(const ConfigReader& r) {
  ModelConfig c = hub_model(Arch::EncoderOnly, NormPlacement::Post);
  c.d_model = r.integer("hidden_size", 1, 8192);
  c.heads = r.integer("num_attention_heads", 1, 128);
  c.layers = r.integer("num_hidden_layers", 1, 96);
  c.d_ff = r.integer("intermediate_size", 1, 65536);
  c.max_len = r.integer("max_position_embeddings", 1, 65536);
  c.token_types = r.integer("type_vocab_size", 1, 1024, 2);
  c.norm_eps = static_cast<float>(r.number("layer_norm_eps", 1e-12));
  c.activation = activation_named(r.text("hidden_act", "gelu"));
  // i18n: names begin
  if (const std::string pe = r.text("position_embedding_type", "absolute"); pe != "absolute") unsupported("position_embedding_type " + pe);
  if (r.flag("is_decoder", false)) unsupported("is_decoder");
  if (r.flag("add_cross_attention", false)) unsupported("add_cross_attention");
  // i18n: names end
  c.embed_norm = true;
  c.mlm_head = true;
  c.dropout = static_cast<float>(r.number("hidden_dropout_prob", 0.1));
  return c;
}

}  // namespace

Result<ModelConfig> pretrained_config(std::string_view text, ModelFamily* family, MaskFlags* mask, std::string* architecture) {
  if (text.size() > kMaxConfigBytes)
    return Error{trf("core.pretrained.config_too_large", arg("bytes", text.size()), arg("max", kMaxConfigBytes)), tr("core.files.hint_damaged")};
  if (auto e = check_json_depth(text, kConfigFile)) return *e;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Error{trf("core.pretrained.config_not_json", arg("reason", e.what())), tr("core.files.hint_damaged")};
  }
  if (!j.is_object()) return Error{trf("core.pretrained.config_not_json", arg("reason", "not an object")), ""};  // i18n: name
  try {
    const ConfigReader r(j);
    const std::string type = r.text("model_type", "");
    ModelFamily f;
    if (type == "gpt2") {  // i18n: name
      f = ModelFamily::GPT2;
    } else if (type == "bert") {  // i18n: name
      f = ModelFamily::BERT;
    } else {
      return Error{trf("core.pretrained.unsupported_family", arg("type", type.empty() ? std::string("?") : type)),
                   tr("core.pretrained.unsupported_family_hint")};
    }
    ModelConfig c = f == ModelFamily::GPT2 ? gpt2_config(r) : bert_config(r);
    if (c.d_model % c.heads != 0)
      return Error{trf("core.config.heads_divide", arg("d_model", c.d_model), arg("h", c.heads)), tr("core.pretrained.config_mismatch_hint")};
    if (auto e = validate(c)) return *e;
    if (family) *family = f;
    if (mask) *mask = f == ModelFamily::GPT2 ? (kMaskCausal | kMaskPadding) : kMaskPadding;
    if (architecture) {
      const auto it = j.find("architectures");
      *architecture = it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string() ? (*it)[0].get<std::string>() : type;
    }
    return c;
  } catch (const Error& e) {
    return e;
  }
}

// [SECTION] model.safetensors → the core's weights
namespace {

// How one file tensor becomes core tensors.
enum class Layout {
  Same,       // [rows, cols] as stored (GPT-2 Conv1D [in, out]; embeddings [V, d])
  Transpose,  // nn.Linear [out, in] → [in, out] (BERT)
  Vector,     // [k] → [1, k]
  Thirds,     // GPT-2 c_attn [d, 3d] → W_Q | W_K | W_V, or its bias [3d] → b_Q | b_K | b_V
};
struct Wanted {
  std::string file;                 // the canonical file name (no prefix; LayerNorm as .weight/.bias)
  std::vector<int64_t> shape;       // as stored
  Layout layout = Layout::Same;
  std::vector<std::string> core;    // the core path(s): one, or three for Layout::Thirds
};

// i18n: names begin
std::string gpt2_layer(int l, const char* rest) { return "h." + std::to_string(l) + "." + rest; }
std::string bert_layer(int l, const char* rest) { return "encoder.layer." + std::to_string(l) + "." + rest; }
// i18n: names end

std::vector<Wanted> wanted_tensors(ModelFamily f, const ModelConfig& c, int64_t V) {
  const int64_t d = c.d_model, ff = c.d_ff, P = c.max_len;
  std::vector<Wanted> w;
  const auto norm = [&](const std::string& file, const std::string& core) {
    w.push_back({file + ".weight", {d}, Layout::Vector, {core + ".gamma"}});
    w.push_back({file + ".bias", {d}, Layout::Vector, {core + ".beta"}});
  };
  // i18n: names begin
  if (f == ModelFamily::GPT2) {
    w.push_back({"wte.weight", {V, d}, Layout::Same, {"embed.E"}});
    w.push_back({"wpe.weight", {P, d}, Layout::Same, {"pos.learned"}});
    for (int l = 0; l < c.layers; ++l) {
      const std::string p = paths::layer("decoder", l) + ".";
      norm(gpt2_layer(l, "ln_1"), p + "self_attn.norm");
      w.push_back({gpt2_layer(l, "attn.c_attn.weight"), {d, 3 * d}, Layout::Thirds, {p + "self_attn.W_Q", p + "self_attn.W_K", p + "self_attn.W_V"}});
      w.push_back({gpt2_layer(l, "attn.c_attn.bias"), {3 * d}, Layout::Thirds, {p + "self_attn.b_Q", p + "self_attn.b_K", p + "self_attn.b_V"}});
      w.push_back({gpt2_layer(l, "attn.c_proj.weight"), {d, d}, Layout::Same, {p + "self_attn.W_O"}});
      w.push_back({gpt2_layer(l, "attn.c_proj.bias"), {d}, Layout::Vector, {p + "self_attn.b_O"}});
      norm(gpt2_layer(l, "ln_2"), p + "ffn.norm");
      w.push_back({gpt2_layer(l, "mlp.c_fc.weight"), {d, ff}, Layout::Same, {p + "ffn.W_1"}});
      w.push_back({gpt2_layer(l, "mlp.c_fc.bias"), {ff}, Layout::Vector, {p + "ffn.b_1"}});
      w.push_back({gpt2_layer(l, "mlp.c_proj.weight"), {ff, d}, Layout::Same, {p + "ffn.W_2"}});
      w.push_back({gpt2_layer(l, "mlp.c_proj.bias"), {d}, Layout::Vector, {p + "ffn.b_2"}});
    }
    norm("ln_f", "decoder.final_norm");
    return w;
  }
  w.push_back({"embeddings.word_embeddings.weight", {V, d}, Layout::Same, {"embed.E"}});
  w.push_back({"embeddings.position_embeddings.weight", {P, d}, Layout::Same, {"pos.learned"}});
  w.push_back({"embeddings.token_type_embeddings.weight", {c.token_types, d}, Layout::Same, {"embed.token_type"}});
  norm("embeddings.LayerNorm", "embed.norm");
  for (int l = 0; l < c.layers; ++l) {
    const std::string p = paths::layer("encoder", l) + ".";
    const auto linear = [&](const char* file, int64_t out, int64_t in, const std::string& W, const std::string& b) {
      w.push_back({bert_layer(l, file) + std::string(".weight"), {out, in}, Layout::Transpose, {p + W}});
      w.push_back({bert_layer(l, file) + std::string(".bias"), {out}, Layout::Vector, {p + b}});
    };
    linear("attention.self.query", d, d, "self_attn.W_Q", "self_attn.b_Q");
    linear("attention.self.key", d, d, "self_attn.W_K", "self_attn.b_K");
    linear("attention.self.value", d, d, "self_attn.W_V", "self_attn.b_V");
    linear("attention.output.dense", d, d, "self_attn.W_O", "self_attn.b_O");
    norm(bert_layer(l, "attention.output.LayerNorm"), p + "self_attn.norm");
    linear("intermediate.dense", ff, d, "ffn.W_1", "ffn.b_1");
    linear("output.dense", d, ff, "ffn.W_2", "ffn.b_2");
    norm(bert_layer(l, "output.LayerNorm"), p + "ffn.norm");
  }
  w.push_back({"cls.predictions.transform.dense.weight", {d, d}, Layout::Transpose, {"output.transform.W"}});
  w.push_back({"cls.predictions.transform.dense.bias", {d}, Layout::Vector, {"output.transform.b"}});
  norm("cls.predictions.transform.LayerNorm", "output.transform.norm");
  w.push_back({"cls.predictions.bias", {V}, Layout::Vector, {"output.bias"}});
  // i18n: names end
  return w;
}

// What a file tensor is, after its name is made canonical.
enum class Role { Wanted, Buffer, Unused, TiedCopy };

// i18n: names begin
// The canonical name of a file tensor: GPT-2 without "transformer.", BERT without "bert." (cls.* never has one), and a
// LayerNorm's gamma/beta as weight/bias.
std::string canonical_name(ModelFamily f, std::string name) {
  const std::string prefix = f == ModelFamily::GPT2 ? "transformer." : "bert.";
  if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
  if (name.find("LayerNorm.") != std::string::npos || f == ModelFamily::GPT2) {
    if (paths::ends_with(name, ".gamma")) name.replace(name.size() - 5, 5, "weight");
    if (paths::ends_with(name, ".beta")) name.replace(name.size() - 4, 4, "bias");
  }
  return name;
}

// Buffers and heads the app does not use: read, size-checked and skipped.
Role skipped_role(ModelFamily f, const std::string& name) {
  if (f == ModelFamily::GPT2) {
    if (name.rfind("h.", 0) == 0 && (paths::ends_with(name, ".attn.bias") || paths::ends_with(name, ".attn.masked_bias"))) return Role::Buffer;
    if (name == "lm_head.weight") return Role::TiedCopy;
    return Role::Wanted;
  }
  if (name == "embeddings.position_ids") return Role::Buffer;
  if (name.rfind("pooler.", 0) == 0 || name.rfind("cls.seq_relationship.", 0) == 0) return Role::Unused;
  if (name == "cls.predictions.decoder.weight" || name == "cls.predictions.decoder.bias") return Role::TiedCopy;
  return Role::Wanted;
}
// The tensor a tied copy must equal.
std::string tied_to(const std::string& name) {
  if (name == "lm_head.weight") return "wte.weight";
  if (name == "cls.predictions.decoder.weight") return "embeddings.word_embeddings.weight";
  return "cls.predictions.bias";
}
// i18n: names end

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t k = 0; k < shape.size(); ++k) out += (k ? ", " : "") + std::to_string(shape[k]);
  return out + "]";
}

Mat to_mat(const SafetensorsEntry& e, std::string_view data, int64_t rows, int64_t cols) {
  Mat M(rows, cols);
  read_floats(e, data, M.data());
  return M;
}

// The config's vocabulary size, or the embedding's rows when config.json leaves it out.
Result<int64_t> vocab_rows(ModelFamily f, const json& config, const SafetensorsIndex& index) {
  const auto it = config.find("vocab_size");
  if (it != config.end() && it->is_number_integer()) {
    const int64_t V = it->get<int64_t>();
    if (V < 1 || V > kMaxVocabEntries)
      return Error{trf("core.pretrained.config_range", arg("key", "vocab_size"), arg("value", V), arg("lo", 1), arg("hi", kMaxVocabEntries)), ""};
    return V;
  }
  for (const SafetensorsEntry& e : index.entries)
    if (canonical_name(f, e.name) == (f == ModelFamily::GPT2 ? "wte.weight" : "embeddings.word_embeddings.weight") && e.shape.size() == 2)
      return std::min<int64_t>(e.shape[0], kMaxVocabEntries);
  return Error{trf("core.pretrained.config_missing", arg("key", "vocab_size")), tr("core.pretrained.config_missing_hint")};
}

}  // namespace

using MakeTokenizer = std::function<Result<std::shared_ptr<const PretrainedTokenizer>>(const TokenizerHints&)>;
// The mapped file's paging hints (core/files.h), when the bytes are a mapping.
struct Paging {
  const MappedFile* file = nullptr;
  void prefetch(std::string_view part) const { if (file) file->prefetch(part); }
  void release(std::string_view part) const { if (file) file->release(part); }
};

namespace {

Result<std::shared_ptr<const PretrainedModel>> load_parts(std::string_view config_text, std::string_view safetensors, const MakeTokenizer& make_tokenizer,
                                                          const std::string& folder, const Progress& progress, const Paging& paging = {}) {
  const auto start = std::chrono::steady_clock::now();
  auto m = std::make_shared<PretrainedModel>();
  ModelFamily f = ModelFamily::GPT2;
  Result<ModelConfig> config = pretrained_config(config_text, &f, &m->mask, &m->card.architecture);
  if (!config) return Error{trf("core.pretrained.in_file", arg("file", kConfigFile), arg("error", config.error().what)), config.error().hint};
  const ModelConfig& c = *config;
  Result<SafetensorsIndex> index = index_safetensors(safetensors);
  if (!index) return Error{trf("core.pretrained.in_file", arg("file", kWeightsFile), arg("error", index.error().what)), index.error().hint};
  Result<int64_t> V = vocab_rows(f, json::parse(config_text), *index);  // parsed once already: no exception here
  if (!V) return V.error();

  // Every tensor of the file by its canonical name; each one wanted, a buffer, unused, a tied copy, or refused.
  std::map<std::string, const SafetensorsEntry*> by_name;
  for (const SafetensorsEntry& e : index->entries) {
    const std::string canonical = canonical_name(f, e.name);
    if (auto [it, inserted] = by_name.emplace(canonical, &e); !inserted)
      return Error{trf("core.pretrained.tensor_twice", arg("first", it->second->name), arg("second", e.name)), tr("core.files.hint_damaged")};
  }
  const std::vector<Wanted> wanted = wanted_tensors(f, c, *V);
  std::map<std::string, const Wanted*> wanted_by_name;
  for (const Wanted& w : wanted) wanted_by_name[w.file] = &w;
  int64_t file_parameters = 0;
  for (const auto& [canonical, e] : by_name) {
    const Role role = skipped_role(f, canonical);
    if (role == Role::Wanted && !wanted_by_name.count(canonical))
      return Error{trf("core.pretrained.unknown_tensor", arg("name", e->name), arg("family", name(f))), tr("core.pretrained.unknown_tensor_hint")};
    if (role == Role::Wanted || role == Role::Unused) file_parameters += static_cast<int64_t>(e->count);
    if (role != Role::Wanted) m->card.skipped.push_back(e->name);
  }
  std::string dtype;
  int64_t parameters = 0;
  for (const Wanted& w : wanted) {
    const auto it = by_name.find(w.file);
    if (it == by_name.end())
      return Error{trf("core.pretrained.missing_tensor", arg("name", w.file), arg("shape", shape_text(w.shape))), tr("core.pretrained.missing_tensor_hint")};
    const SafetensorsEntry& e = *it->second;
    if (!is_float(e.dtype))
      return Error{trf("core.pretrained.tensor_dtype", arg("name", e.name), arg("dtype", name(e.dtype))), tr("core.pretrained.tensor_dtype_hint")};
    if (e.shape != w.shape)
      return Error{trf("core.pretrained.tensor_shape", arg("name", e.name), arg("shape", shape_text(e.shape)), arg("expected", shape_text(w.shape))),
                   tr("core.pretrained.config_mismatch_hint")};
    if (dtype.empty()) dtype = name(e.dtype);
    if (dtype != name(e.dtype)) dtype = "mixed";  // i18n: name
    parameters += static_cast<int64_t>(e.count);
  }
  MemoryEstimate need;
  need.weights = 4.0 * static_cast<double>(parameters);
  if (auto e = check_memory(need, tr("core.pretrained.memory_what"))) return *e;

  // Convert: float32, in the core's layout.
  auto W = std::make_shared<TensorMap>();
  const int total = static_cast<int>(wanted.size());
  for (int k = 0; k < total; ++k) {
    if (progress && !progress(k, total)) return Error{tr("core.model.cancelled"), ""};
    const Wanted& w = wanted[static_cast<size_t>(k)];
    const SafetensorsEntry& e = *by_name.at(w.file);
    const std::string_view bytes = index->data.substr(e.begin, e.end - e.begin);
    paging.prefetch(bytes);
    switch (w.layout) {
      case Layout::Same:
        W->put(w.core[0], to_mat(e, index->data, w.shape[0], w.shape[1]));
        break;
      case Layout::Transpose:
        W->put(w.core[0], to_mat(e, index->data, w.shape[0], w.shape[1]).transpose());
        break;
      case Layout::Vector:
        W->put(w.core[0], to_mat(e, index->data, 1, w.shape[0]));
        break;
      case Layout::Thirds: {  // Q | K | V side by side, each d_model columns
        const Mat all = to_mat(e, index->data, w.shape.size() == 2 ? w.shape[0] : 1, w.shape.back());
        const Eigen::Index third = all.cols() / 3;
        for (int part = 0; part < 3; ++part) W->put(w.core[static_cast<size_t>(part)], all.middleCols(part * third, third));
        break;
      }
    }
    paging.release(bytes);
  }
  // A tied copy (lm_head, BERT's decoder) must hold the same numbers as the tensor it is tied to; else it is not tied.
  for (const auto& [canonical, e] : by_name) {
    if (skipped_role(f, canonical) != Role::TiedCopy) continue;
    const Wanted& target = *wanted_by_name.at(tied_to(canonical));
    const Mat& tied = W->at(target.core[0]);
    bool same = is_float(e->dtype) && e->shape == target.shape;
    if (same) {
      const Mat copy = to_mat(*e, index->data, tied.rows(), tied.cols());
      same = copy == tied;
    }
    if (!same) return Error{trf("core.pretrained.untied", arg("name", e->name), arg("tied", target.file)), tr("core.pretrained.untied_hint")};
  }
  if (progress && !progress(total, total)) return Error{tr("core.model.cancelled"), ""};

  // The tokenizer: its vocabulary must fit the embedding's rows.
  TokenizerHints hints;
  hints.family = f == ModelFamily::GPT2 ? TokenizerFamily::ByteLevelBPE : TokenizerFamily::WordPiece;
  const std::string title = std::filesystem::path(folder).filename().string();
  hints.lowercase = !(title.find("cased") != std::string::npos && title.find("uncased") == std::string::npos);  // i18n: name
  hints.max_positions = f == ModelFamily::BERT ? c.max_len : 0;
  Result<std::shared_ptr<const PretrainedTokenizer>> tokenizer = make_tokenizer(hints);
  if (!tokenizer) return tokenizer.error();
  if ((*tokenizer)->size() > *V)
    return Error{trf("core.pretrained.vocab_too_big", arg("n", (*tokenizer)->size()), arg("rows", *V)), tr("core.pretrained.config_mismatch_hint")};
  std::vector<std::string> pieces, shown;
  pieces.reserve(static_cast<size_t>(*V));
  shown.reserve(static_cast<size_t>(*V));
  for (int id = 0; id < *V; ++id) {
    if (id < (*tokenizer)->size()) {
      const TokenPiece piece = (*tokenizer)->describe(id);
      pieces.push_back(piece.raw);
      shown.push_back(piece.continues_word ? "##" + piece.display : piece.display);  // i18n: name (BERT's own mark)
    } else {  // rows the embedding has beyond the tokenizer's pieces (padded vocabularies): never produced
      pieces.push_back("<unused " + std::to_string(id) + ">");  // i18n: name
      shown.push_back(pieces.back());
    }
  }
  m->vocab = Vocab::fixed(std::move(pieces), std::move(shown), (*tokenizer)->pad_id);
  m->tokenizer = *tokenizer;
  m->config = c;
  m->weights = std::move(W);

  ModelCard& card = m->card;
  card.family = f;
  card.folder = folder;
  card.title = title.empty() ? name(f) : title;
  card.layers = c.layers;
  card.heads = c.heads;
  card.d_model = c.d_model;
  card.d_ff = c.d_ff;
  card.positions = c.max_len;
  card.vocab = static_cast<int>(*V);
  card.parameters = parameters;
  card.file_parameters = file_parameters;
  card.file_bytes = safetensors.size();
  card.dtype = dtype;
  card.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return std::shared_ptr<const PretrainedModel>(std::move(m));
}

}  // namespace

Result<std::shared_ptr<const PretrainedModel>> pretrained_from_bytes(std::string_view config_text, std::string_view safetensors,
                                                                    const std::map<std::string, std::string>& tokenizer_files,
                                                                    const std::string& folder) {
  return load_parts(
      config_text, safetensors, [&](const TokenizerHints& hints) { return PretrainedTokenizer::from_files(tokenizer_files, hints); }, folder, {});
}

Result<std::shared_ptr<const PretrainedModel>> load_pretrained(const std::string& dir, const Progress& progress) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error{trf("core.pretrained.not_a_folder", arg("path", dir)), tr("core.pretrained.folder_hint")};
  const std::string config_path = (fs::path(dir) / kConfigFile).string(), weights_path = (fs::path(dir) / kWeightsFile).string();
  if (!fs::exists(weights_path, ec)) {
    // i18n: names begin
    for (const char* pickle : {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.ckpt.index"})
      if (fs::exists(fs::path(dir) / pickle, ec))
        return Error{trf("core.pretrained.pickle_only", arg("path", dir), arg("file", pickle)), tr("core.pretrained.pickle_only_hint")};
    if (fs::exists(fs::path(dir) / "model.safetensors.index.json", ec))
      return Error{trf("core.pretrained.sharded", arg("path", dir)), tr("core.pretrained.sharded_hint")};
    // i18n: names end
    return Error{trf("core.pretrained.no_weights", arg("path", dir)), tr("core.pretrained.folder_hint")};
  }
  Result<std::string> config = read_file(config_path, kMaxConfigBytes);
  if (!config) return Error{trf("core.pretrained.in_file", arg("file", kConfigFile), arg("error", config.error().what)), tr("core.pretrained.folder_hint")};
  // Mapped, not read: the bytes are paged in as each tensor is converted and never held twice; unmapped when done.
  Result<MappedFile> file = MappedFile::open(weights_path);
  if (!file) return Error{trf("core.pretrained.in_file", arg("file", kWeightsFile), arg("error", file.error().what)), file.error().hint};
  return load_parts(
      *config, file->bytes(), [&](const TokenizerHints& hints) { return PretrainedTokenizer::load(dir, hints); }, dir, progress, Paging{&*file});
}

// [SECTION] The open model, shared by every run of the sessions that name it
namespace {
struct OpenModel {
  std::mutex loading;  // held for a whole read: two runs asking at once read the folder once
  std::mutex mutex;    // held only to look at or swap the fields below: cached_pretrained (the UI thread) never waits for a read
  std::string key;  // the folder and its files' sizes and times
  std::string dir;
  std::shared_ptr<const PretrainedModel> model;
};
OpenModel& open_model() {
  static OpenModel m;
  return m;
}
std::string folder_key(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string key = fs::weakly_canonical(dir, ec).string();
  for (const char* file : {kConfigFile, kWeightsFile}) {
    const fs::path p = fs::path(dir) / file;
    key += "|" + std::to_string(fs::file_size(p, ec)) + "@" + std::to_string(fs::last_write_time(p, ec).time_since_epoch().count());
  }
  return key;
}
}  // namespace

Result<std::shared_ptr<const PretrainedModel>> open_pretrained(const std::string& dir, const Progress& progress) {
  OpenModel& open = open_model();
  const std::string key = folder_key(dir);
  std::lock_guard<std::mutex> reading(open.loading);
  {
    std::lock_guard<std::mutex> lock(open.mutex);
    if (open.model && open.key == key) return open.model;
    open.model.reset();  // the old model's memory goes before the new one is read (GPT-2 XL is 6 GB)
    open.dir.clear();
  }
  Result<std::shared_ptr<const PretrainedModel>> m = load_pretrained(dir, progress);
  if (!m) return m.error();
  std::lock_guard<std::mutex> lock(open.mutex);
  open.model = *m;
  open.key = key;
  open.dir = dir;
  return open.model;
}

std::shared_ptr<const PretrainedModel> cached_pretrained(const std::string& dir) {
  OpenModel& open = open_model();
  std::lock_guard<std::mutex> lock(open.mutex);
  return open.dir == dir ? open.model : nullptr;
}

// [SECTION] Sessions of a real model
std::optional<Error> check_shape(const ModelConfig& m, const ModelConfig& c) {
  const auto text = [](const auto& v) -> std::string {
    using V = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<V, bool>) return v ? "true" : "false";  // i18n: name
    else if constexpr (std::is_enum_v<V>) return name(v);                // "decoder-only", "dot" …
    else return std::to_string(v);
  };
  const auto differs = [&](const char* key, auto mine, auto theirs) -> std::optional<Error> {
    if (mine == theirs) return std::nullopt;
    return Error{trf("core.pretrained.shape_fixed", arg("key", key), arg("value", text(mine)), arg("trained", text(theirs))),
                 tr("core.pretrained.shape_fixed_hint")};
  };
  // i18n: names begin
  if (auto e = differs("arch", m.arch, c.arch)) return e;
  if (auto e = differs("layers", m.layers, c.layers)) return e;
  if (auto e = differs("d_model", m.d_model, c.d_model)) return e;
  if (auto e = differs("heads", m.heads, c.heads)) return e;
  if (auto e = differs("d_k", m.head_dk(), c.head_dk())) return e;
  if (auto e = differs("d_v", m.head_dv(), c.head_dv())) return e;
  if (auto e = differs("d_ff", m.d_ff, c.d_ff)) return e;
  if (auto e = differs("max_len", m.max_len, c.max_len)) return e;
  if (auto e = differs("bias", m.bias, c.bias)) return e;
  if (auto e = differs("token_types", m.token_types, c.token_types)) return e;
  if (auto e = differs("embed_norm", m.embed_norm, c.embed_norm)) return e;
  if (auto e = differs("mlm_head", m.mlm_head, c.mlm_head)) return e;
  if (auto e = differs("scoring", m.scoring, c.scoring)) return e;
  // i18n: names end
  return std::nullopt;
}

Session pretrained_session(const PretrainedModel& m, const std::string& dir, Session base) {
  base.model_dir = dir;
  base.weights.clear();
  base.extra_batch.clear();
  base.input.target.clear();
  base.add_special_tokens = false;
  return reset_to_trained(base, m);
}

Session reset_to_trained(const Session& s, const PretrainedModel& m) {
  Session out = s;
  out.model = m.config;
  if (m.config.arch == Arch::DecoderOnly) {
    out.decoder_mask = m.mask;
    out.encoder_mask = kMaskPadding;
  } else {
    out.encoder_mask = m.mask;
    out.decoder_mask = kMaskCausal | kMaskPadding;
  }
  out.ablations.clear();
  out.custom_cells.clear();
  out.padding_positions.clear();
  out.mode = Mode::Eval;
  if (out.loss == LossKind::TargetSequence || (out.loss == LossKind::NextToken && m.config.arch == Arch::EncoderOnly)) out.loss = LossKind::Auto;
  out.decode_steps = 0;
  return out;
}

int changes_from_trained(const Session& s, const PretrainedModel& m) {
  const Session t = reset_to_trained(s, m);
  const ModelConfig &a = s.model, &b = t.model;
  int n = 0;
  const auto count = [&n](bool differs) { n += differs ? 1 : 0; };
  count(a.arch != b.arch), count(a.layers != b.layers), count(a.d_model != b.d_model), count(a.heads != b.heads), count(a.d_k != b.d_k);
  count(a.d_v != b.d_v), count(a.d_ff != b.d_ff), count(a.max_len != b.max_len), count(a.bias != b.bias);
  count(a.scale_embeddings != b.scale_embeddings), count(a.pe != b.pe), count(a.pe_base != b.pe_base), count(a.scoring != b.scoring);
  count(a.score_scale != b.score_scale), count(a.temperature != b.temperature), count(a.projection != b.projection);
  count(a.residual != b.residual), count(a.norm != b.norm), count(a.norm_placement != b.norm_placement), count(a.activation != b.activation);
  count(a.dropout != b.dropout), count(a.norm_eps != b.norm_eps), count(a.token_types != b.token_types), count(a.embed_norm != b.embed_norm);
  count(a.mlm_head != b.mlm_head);
  if (n == 0 && a != b) n = 1;  // a field of ModelConfig this list does not name yet still counts
  count(s.encoder_mask != t.encoder_mask), count(s.decoder_mask != t.decoder_mask), count(s.mode != Mode::Eval);
  count(!s.custom_cells.empty()), count(!s.padding_positions.empty());
  return n + static_cast<int>(s.ablations.size());
}

bool loaded_as_trained(const Session& s, const PretrainedModel& m) { return changes_from_trained(s, m) == 0; }

}  // namespace qkv
