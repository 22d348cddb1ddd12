#include "core/config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/tokenizer.h"

namespace qkv {
namespace {

// [SECTION] Enum names
template <typename E, size_t N>
bool parse_with(std::string_view text, E& out, const std::array<const char*, N>& names) {
  for (size_t i = 0; i < N; ++i)
    if (text == names[i]) {
      out = static_cast<E>(i);
      return true;
    }
  return false;
}

constexpr std::array<const char*, 3> kArchNames{"encoder-only", "decoder-only", "encoder-decoder"};
constexpr std::array<const char*, 2> kTokenizerNames{"words", "chars"};
constexpr std::array<const char*, 5> kPosNames{"sinusoidal", "learned", "rope", "alibi", "none"};
constexpr std::array<const char*, 2> kScoringNames{"dot", "additive"};
constexpr std::array<const char*, 2> kScaleNames{"sqrt-dk", "none"};
constexpr std::array<const char*, 4> kNormNames{"layernorm", "batchnorm", "rmsnorm", "none"};
constexpr std::array<const char*, 2> kPlacementNames{"post", "pre"};
constexpr std::array<const char*, 2> kActivationNames{"relu", "gelu"};
constexpr std::array<const char*, 2> kModeNames{"eval", "train"};
constexpr std::array<const char*, 3> kProjectionNames{"learned", "tied-qk", "identity"};
constexpr std::array<const char*, 5> kLossNames{"auto", "next-token", "target", "reconstruct", "pattern"};
constexpr std::array<const char*, 4> kPatternNames{"diagonal", "previous", "anti-diagonal", "first"};
static_assert(kLossNames.size() == static_cast<size_t>(LossKind::Count));
static_assert(kPatternNames.size() == static_cast<size_t>(Pattern::Count));
static_assert(kArchNames.size() == static_cast<size_t>(Arch::Count));
static_assert(kPosNames.size() == static_cast<size_t>(PosEncoding::Count));
static_assert(kNormNames.size() == static_cast<size_t>(NormKind::Count));
static_assert(kProjectionNames.size() == static_cast<size_t>(Projection::Count));

}  // namespace

const char* name(Arch e) { return kArchNames.at(static_cast<size_t>(e)); }
const char* name(TokenizerKind e) { return kTokenizerNames.at(static_cast<size_t>(e)); }
const char* name(PosEncoding e) { return kPosNames.at(static_cast<size_t>(e)); }
const char* name(Scoring e) { return kScoringNames.at(static_cast<size_t>(e)); }
const char* name(ScoreScale e) { return kScaleNames.at(static_cast<size_t>(e)); }
const char* name(NormKind e) { return kNormNames.at(static_cast<size_t>(e)); }
const char* name(NormPlacement e) { return kPlacementNames.at(static_cast<size_t>(e)); }
const char* name(Activation e) { return kActivationNames.at(static_cast<size_t>(e)); }
const char* name(Mode e) { return kModeNames.at(static_cast<size_t>(e)); }
const char* name(Projection e) { return kProjectionNames.at(static_cast<size_t>(e)); }
const char* name(LossKind e) { return kLossNames.at(static_cast<size_t>(e)); }
const char* name(Pattern e) { return kPatternNames.at(static_cast<size_t>(e)); }
bool parse(std::string_view s, LossKind& e) { return parse_with(s, e, kLossNames); }
bool parse(std::string_view s, Pattern& e) { return parse_with(s, e, kPatternNames); }
bool parse(std::string_view s, Arch& e) { return parse_with(s, e, kArchNames); }
bool parse(std::string_view s, TokenizerKind& e) { return parse_with(s, e, kTokenizerNames); }
bool parse(std::string_view s, PosEncoding& e) { return parse_with(s, e, kPosNames); }
bool parse(std::string_view s, Scoring& e) { return parse_with(s, e, kScoringNames); }
bool parse(std::string_view s, ScoreScale& e) { return parse_with(s, e, kScaleNames); }
bool parse(std::string_view s, NormKind& e) { return parse_with(s, e, kNormNames); }
bool parse(std::string_view s, NormPlacement& e) { return parse_with(s, e, kPlacementNames); }
bool parse(std::string_view s, Activation& e) { return parse_with(s, e, kActivationNames); }
bool parse(std::string_view s, Mode& e) { return parse_with(s, e, kModeNames); }
bool parse(std::string_view s, Projection& e) { return parse_with(s, e, kProjectionNames); }

std::string mask_name(MaskFlags flags) {
  if (flags == kMaskNone) return "none";
  std::string out;
  const auto append = [&](MaskBits bit, const char* text) {
    if (flags & bit) out += (out.empty() ? "" : "+") + std::string(text);
  };
  append(kMaskCausal, "causal");
  append(kMaskPadding, "padding");
  append(kMaskCustom, "custom");
  return out;
}

bool parse_mask(std::string_view text, MaskFlags& out) {
  MaskFlags flags = kMaskNone;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of("+,", start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(start, end - start);
    if (part == "causal")
      flags |= kMaskCausal;
    else if (part == "padding")
      flags |= kMaskPadding;
    else if (part == "custom")
      flags |= kMaskCustom;
    else if (part != "none")
      return false;
    start = end + 1;
  }
  out = flags;
  return true;
}

// [SECTION] Validation
double score_scale(const ModelConfig& c) {
  const double sqrt_dk = c.score_scale == ScoreScale::InvSqrtDk ? std::sqrt(static_cast<double>(std::max(1, c.head_dk()))) : 1.0;
  return 1.0 / (sqrt_dk * static_cast<double>(c.temperature));
}

std::optional<Error> validate(const ModelConfig& c) {
  const auto positive = [](int value, const char* what, int upper) -> std::optional<Error> {
    if (value < 1 || value > upper)
      return Error{std::string(what) + " = " + std::to_string(value) + " is out of range",
                   "it must be between 1 and " + std::to_string(upper)};
    return std::nullopt;
  };
  if (auto e = positive(c.layers, "layers", 96)) return e;
  if (auto e = positive(c.d_model, "d_model", 8192)) return e;
  if (auto e = positive(c.heads, "heads", 128)) return e;
  if (auto e = positive(c.d_ff, "d_ff", 65536)) return e;
  if (auto e = positive(c.max_len, "max_len", 65536)) return e;
  if (c.d_k < 0 || c.d_v < 0 || c.d_k > 8192 || c.d_v > 8192)
    return Error{"d_k and d_v must be between 1 and 8192", "use 0 to derive them as d_model / h"};
  if ((c.d_k == 0 || c.d_v == 0) && c.d_model % c.heads != 0)
    return Error{"d_model = " + std::to_string(c.d_model) + " is not divisible by h = " + std::to_string(c.heads) +
                     ", so d_k = d_model / h is not a whole number",
                 "pick a head count that divides d_model, or set d_k and d_v explicitly"};
  if (c.pe == PosEncoding::RoPE && c.head_dk() % 2 != 0)
    return Error{"RoPE needs an even d_k (it rotates pairs of dimensions), but d_k = " + std::to_string(c.head_dk()), "choose an even d_k"};
  if (c.projection == Projection::Identity && (c.head_dk() * c.heads != c.d_model || c.head_dv() * c.heads != c.d_model))
    return Error{"identity projections need h·d_k = h·d_v = d_model, so each head reads its own slice of X",
                 "set d_k and d_v to 0 (derived) with h dividing d_model"};
  if (!(c.pe_base > 1.0) || !std::isfinite(c.pe_base))
    return Error{"the positional-encoding base must be a finite number above 1", "the paper uses 10000"};
  if (!(c.temperature > 0.0f) || !std::isfinite(c.temperature))
    return Error{"the softmax temperature τ must be a finite number above 0", "τ = 1 is plain softmax"};
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) return Error{"dropout must be in [0, 1)", "0.1 is the paper's value"};
  if (!(c.norm_eps > 0.0f)) return Error{"norm_eps must be above 0", "1e-5 is usual"};
  return std::nullopt;
}

std::optional<Error> validate(const Session& s) {
  if (auto e = validate(s.model)) return e;
  const ModelConfig& c = s.model;
  if (s.decode_steps < 0 || s.decode_steps > 1024)
    return Error{"decode_steps = " + std::to_string(s.decode_steps) + " is out of range", "use 0 to 1024"};
  if (!(s.label_smoothing >= 0.0f && s.label_smoothing < 1.0f))
    return Error{"label_smoothing = " + std::to_string(s.label_smoothing) + " is out of range", "use 0 (none) to 0.3; the Transformer used 0.1"};
  if (s.loss == LossKind::NextToken && c.arch == Arch::EncoderOnly)
    return Error{"next-token loss needs a decoder: an encoder sees every token, so predicting the next one is trivial",
                 "choose decoder-only, or the reconstruct loss"};
  if (s.loss == LossKind::TargetSequence && c.arch != Arch::EncoderDecoder)
    return Error{"the target-sequence loss needs an encoder–decoder model", "choose encoder-decoder, or the loss auto"};
  if (s.decode_steps > 0 && c.arch == Arch::EncoderOnly)
    return Error{"an encoder-only model does not generate text", "choose decoder-only or encoder-decoder to decode"};
  if (s.decode_steps > 0 && c.norm == NormKind::BatchNorm)
    return Error{
        "step-by-step decoding cannot use BatchNorm: its statistics span every position, which a decoder "
        "does not have yet",
        "choose LayerNorm or RMSNorm — one reason Transformers use them"};
  if (!std::isfinite(static_cast<double>(c.temperature))) return Error{"temperature is not finite", ""};

  std::vector<Sequence> batch{s.input};
  batch.insert(batch.end(), s.extra_batch.begin(), s.extra_batch.end());
  int longest_source = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    const int n = static_cast<int>(tokenize(batch[b].text, s.tokenizer).size()) + (s.add_special_tokens ? 1 : 0);
    const std::string which = b == 0 ? "the input text" : "batch sequence " + std::to_string(b);
    if (n == 0) return Error{which + " has no tokens", "type a sentence"};
    longest_source = std::max(longest_source, n);
    const int decoder_n = static_cast<int>(tokenize(batch[b].target, s.tokenizer).size()) + 1;
    const int extra = c.arch == Arch::DecoderOnly ? s.decode_steps : 0;
    if (n + extra > c.max_len)
      return Error{
          which + " has " + std::to_string(n + extra) + " positions but the positional table has max_len = " + std::to_string(c.max_len),
          "shorten the text or raise max_len"};
    if (c.arch == Arch::EncoderDecoder && decoder_n + s.decode_steps > c.max_len)
      return Error{"the target of " + which + " needs " + std::to_string(decoder_n + s.decode_steps) +
                       " positions but max_len = " + std::to_string(c.max_len),
                   "shorten the target or raise max_len"};
  }
  for (int p : s.padding_positions)
    if (p < 0 || p >= longest_source)
      return Error{"padding position " + std::to_string(p) + " is outside the input (" + std::to_string(longest_source) + " tokens)",
                   "mark a token that exists"};
  for (const Cell& cell : s.custom_cells)
    if (cell.i < 0 || cell.j < 0 || cell.i >= c.max_len || cell.j >= c.max_len)
      return Error{"custom mask cell (" + std::to_string(cell.i) + ", " + std::to_string(cell.j) + ") is outside the matrix",
                   "cells are (query row, key column) from 0"};
  return std::nullopt;
}

// [SECTION] JSON
namespace {
using nlohmann::json;

template <typename E>
json enum_json(E e) {
  return name(e);
}

// A float as the shortest decimal that reads back to it (0.1, not 0.10000000149011612).
double float_json(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", f);
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, f);
    if (std::strtof(buf, nullptr) == f) break;
  }
  return std::strtod(buf, nullptr);
}

json sequence_json(const Sequence& q) { return json{{"text", q.text}, {"target", q.target}}; }

// A JSON number as an int: a whole number within int's range, never truncated or wrapped (5e9 in an array of positions
// was silently taken as 705032704, and a float there is undefined behaviour in the conversion).
int whole_int(const json& value, const std::string& what) {
  const bool fits = value.is_number_integer() && (value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(INT_MAX)
                                                                             : value.get<int64_t>() >= INT_MIN && value.get<int64_t>() <= INT_MAX);
  if (!fits) throw Error{what + " = " + value.dump().substr(0, 40) + " is not a whole number in range", "a whole number"};
  return static_cast<int>(value.get<int64_t>());
}

// Reads keys of an object, refusing unknown ones; errors name the key path.
class Reader {
 public:
  Reader(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) throw Error{where_ + " must be a JSON object", ""};
    for (const auto& item : object_.items()) unread_.push_back(item.key());
  }
  template <typename T>
  void get(const char* key, T& out) {
    const json* value = take(key);
    if (!value) return;
    if constexpr (std::is_floating_point_v<T>) {  // a finite number: inf or NaN could not be saved back as JSON
      if (!value->is_number()) throw Error{where_ + key + " has the wrong type", "a number"};
      out = value->get<T>();
      if (!std::isfinite(out)) throw Error{where_ + key + " = " + value->dump() + " is out of range", "a finite number"};
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {  // a whole number that fits, never wrapped
      if (!value->is_number()) throw Error{where_ + key + " has the wrong type", "a whole number"};
      const bool fits = std::is_unsigned_v<T> ? value->is_number_unsigned() && value->get<uint64_t>() <= std::numeric_limits<T>::max()
                                               : value->is_number_integer() && value->get<int64_t>() >= std::numeric_limits<T>::min() &&
                                                     value->get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max());
      if (!fits)
        throw Error{where_ + key + " = " + value->dump() + " is not a whole number in range",
                    std::is_unsigned_v<T> ? "a whole number ≥ 0" : "a whole number"};
      out = value->get<T>();
    } else {
      try {
        out = value->get<T>();
      } catch (const json::exception&) {
        throw Error{where_ + key + " has the wrong type", "see the session schema in README.md"};
      }
    }
  }
  template <typename E>
  void get_enum(const char* key, E& out) {
    std::string text;
    get(key, text);
    if (text.empty() && !object_.contains(key)) return;
    if (!parse(text, out)) throw Error{where_ + key + " = \"" + text + "\" is not known", "one of: " + all_names<E>()};
  }
  void get_mask(const char* key, MaskFlags& out) {
    if (!object_.contains(key)) return;
    std::string text;
    get(key, text);
    if (!parse_mask(text, out))
      throw Error{where_ + key + " = \"" + text + "\" is not a mask", "use none, causal, padding, custom joined by +"};
  }
  const json* take(const char* key) {
    const auto it = object_.find(key);
    if (it == object_.end()) return nullptr;
    std::erase(unread_, std::string(key));
    return &*it;
  }
  void finish() const {
    if (!unread_.empty()) throw Error{"unknown key " + where_ + unread_.front(), "see the session schema in README.md"};
  }
  const std::string& where() const { return where_; }

 private:
  const json& object_;
  std::string where_;
  std::vector<std::string> unread_;
};

Sequence read_sequence(const json& j, const std::string& where) {
  Sequence q;
  Reader r(j, where);
  r.get("text", q.text);
  r.get("target", q.target);
  r.finish();
  return q;
}

}  // namespace

std::string to_json(const Session& s, int indent) {
  const ModelConfig& c = s.model;
  json model{{"arch", enum_json(c.arch)},
             {"layers", c.layers},
             {"d_model", c.d_model},
             {"heads", c.heads},
             {"d_k", c.d_k},
             {"d_v", c.d_v},
             {"d_ff", c.d_ff},
             {"max_len", c.max_len},
             {"bias", c.bias},
             {"scale_embeddings", c.scale_embeddings},
             {"pe", enum_json(c.pe)},
             {"pe_base", c.pe_base},
             {"scoring", enum_json(c.scoring)},
             {"score_scale", enum_json(c.score_scale)},
             {"temperature", float_json(c.temperature)},
             {"projection", enum_json(c.projection)},
             {"residual", c.residual},
             {"norm", enum_json(c.norm)},
             {"norm_placement", enum_json(c.norm_placement)},
             {"activation", enum_json(c.activation)},
             {"dropout", float_json(c.dropout)},
             {"norm_eps", float_json(c.norm_eps)}};
  json batch = json::array();
  for (const Sequence& q : s.extra_batch) batch.push_back(sequence_json(q));
  json cells = json::array();
  for (const Cell& cell : s.custom_cells) cells.push_back({cell.i, cell.j});
  json out{{"text", s.input.text},
           {"target", s.input.target},
           {"extra_batch", batch},
           {"tokenizer", enum_json(s.tokenizer)},
           {"add_special_tokens", s.add_special_tokens},
           {"padding_positions", s.padding_positions},
           {"model", model},
           {"encoder_mask", mask_name(s.encoder_mask)},
           {"decoder_mask", mask_name(s.decoder_mask)},
           {"custom_cells", cells},
           {"mode", enum_json(s.mode)},
           {"decode_steps", s.decode_steps},
           {"seed", s.seed},
           {"loss", enum_json(s.loss)},
           {"label_smoothing", float_json(s.label_smoothing)},
           {"loss_pattern", enum_json(s.loss_pattern)},
           {"weights", s.weights}};
  return out.dump(indent);
}

Result<Session> session_from_json(std::string_view text) {
  if (auto e = check_json_depth(text, "the session")) return *e;
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number beyond double (1e309)
    return Error{std::string("the session is not valid JSON: ") + e.what(), "check for a missing comma or quote, or a number too large"};
  }
  Session s;
  try {
    Reader r(root, "");
    r.get("text", s.input.text);
    r.get("target", s.input.target);
    if (const json* batch = r.take("extra_batch")) {
      if (!batch->is_array()) throw Error{"extra_batch must be an array of {\"text\", \"target\"}", ""};
      for (size_t i = 0; i < batch->size(); ++i)
        s.extra_batch.push_back(read_sequence((*batch)[i], "extra_batch[" + std::to_string(i) + "]."));
    }
    r.get_enum("tokenizer", s.tokenizer);
    r.get("add_special_tokens", s.add_special_tokens);
    if (const json* positions = r.take("padding_positions")) {
      if (!positions->is_array()) throw Error{"padding_positions must be an array of token positions", "e.g. [5, 6]"};
      for (size_t i = 0; i < positions->size(); ++i)
        s.padding_positions.push_back(whole_int((*positions)[i], "padding_positions[" + std::to_string(i) + "]"));
    }
    if (const json* model = r.take("model")) {
      ModelConfig& c = s.model;
      Reader m(*model, "model.");
      m.get_enum("arch", c.arch);
      m.get("layers", c.layers);
      m.get("d_model", c.d_model);
      m.get("heads", c.heads);
      m.get("d_k", c.d_k);
      m.get("d_v", c.d_v);
      m.get("d_ff", c.d_ff);
      m.get("max_len", c.max_len);
      m.get("bias", c.bias);
      m.get("scale_embeddings", c.scale_embeddings);
      m.get_enum("pe", c.pe);
      m.get("pe_base", c.pe_base);
      m.get_enum("scoring", c.scoring);
      m.get_enum("score_scale", c.score_scale);
      m.get("temperature", c.temperature);
      m.get_enum("projection", c.projection);
      m.get("residual", c.residual);
      m.get_enum("norm", c.norm);
      m.get_enum("norm_placement", c.norm_placement);
      m.get_enum("activation", c.activation);
      m.get("dropout", c.dropout);
      m.get("norm_eps", c.norm_eps);
      m.finish();
    }
    r.get_mask("encoder_mask", s.encoder_mask);
    r.get_mask("decoder_mask", s.decoder_mask);
    if (const json* cells = r.take("custom_cells")) {
      if (!cells->is_array()) throw Error{"custom_cells must be an array of [i, j] pairs", ""};
      for (const json& cell : *cells) {
        if (!cell.is_array() || cell.size() != 2 || !cell[0].is_number_integer() || !cell[1].is_number_integer())
          throw Error{"each custom cell must be [query row, key column], two integers", ""};
        s.custom_cells.push_back({whole_int(cell[0], "a custom cell's row"), whole_int(cell[1], "a custom cell's column")});
      }
    }
    r.get_enum("mode", s.mode);
    r.get("decode_steps", s.decode_steps);
    r.get("seed", s.seed);
    r.get_enum("loss", s.loss);
    r.get("label_smoothing", s.label_smoothing);
    r.get_enum("loss_pattern", s.loss_pattern);
    r.get("weights", s.weights);
    r.finish();
  } catch (const Error& e) {
    return e;
  }
  if (auto e = validate(s)) return *e;
  return s;
}

Result<Session> load_session(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text) return Error{"cannot open the session file: " + text.error().what, text.error().hint};
  Result<Session> s = session_from_json(*text);
  if (!s) return Error{path + ": " + s.error().what, s.error().hint};
  return s;
}

std::optional<Error> save_session(const Session& s, const std::string& path) {
  if (auto e = validate(s)) return Error{"not saving an invalid session: " + e->what, e->hint};
  return write_file_atomically(path, to_json(s) + "\n");
}

}  // namespace qkv
