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
#include "core/i18n.h"
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
constexpr std::array<const char*, 3> kActivationNames{"relu", "gelu", "gelu-tanh"};
constexpr std::array<const char*, 2> kModeNames{"eval", "train"};
constexpr std::array<const char*, 3> kProjectionNames{"learned", "tied-qk", "identity"};
constexpr std::array<const char*, 5> kLossNames{"auto", "next-token", "target", "reconstruct", "pattern"};
constexpr std::array<const char*, 4> kPatternNames{"diagonal", "previous", "anti-diagonal", "first"};
constexpr std::array<const char*, 2> kAblationNames{"zero", "mean"};
static_assert(kAblationNames.size() == static_cast<size_t>(AblationKind::Count));
static_assert(kActivationNames.size() == static_cast<size_t>(Activation::Count));
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
const char* name(AblationKind e) { return kAblationNames.at(static_cast<size_t>(e)); }
bool parse(std::string_view s, AblationKind& e) { return parse_with(s, e, kAblationNames); }

std::optional<AblationTarget> parse_ablation_target(std::string_view target) {
  // "<stack>.<layer>" or "<stack>.<layer>.<self_attn|cross_attn>.head.<i>"
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t dot = target.find('.', start);
    parts.push_back(target.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  const auto number = [](std::string_view digits, int& out) {
    if (digits.empty() || digits.size() > 6) return false;
    out = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return false;
      out = out * 10 + (ch - '0');
    }
    return true;
  };
  AblationTarget t;
  if (parts.size() != 2 && parts.size() != 5) return std::nullopt;
  if (parts[0] != "encoder" && parts[0] != "decoder") return std::nullopt;
  t.stack = std::string(parts[0]);
  if (!number(parts[1], t.layer)) return std::nullopt;
  if (parts.size() == 2) return t;
  if ((parts[2] != "self_attn" && parts[2] != "cross_attn") || parts[3] != "head" || !number(parts[4], t.head)) return std::nullopt;
  t.block = std::string(parts[2]);
  return t;
}
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
      return Error{i18n::trf("core.config.out_of_range", i18n::arg("name", what), i18n::arg("value", std::to_string(value))),
                   i18n::trf("core.config.between_1_and", i18n::arg("upper", upper))};
    return std::nullopt;
  };
  if (auto e = positive(c.layers, "layers", 96)) return e;
  if (auto e = positive(c.d_model, "d_model", 8192)) return e;
  if (auto e = positive(c.heads, "heads", 128)) return e;
  if (auto e = positive(c.d_ff, "d_ff", 65536)) return e;
  if (auto e = positive(c.max_len, "max_len", 65536)) return e;
  if (c.d_k < 0 || c.d_v < 0 || c.d_k > 8192 || c.d_v > 8192)
    return Error{i18n::tr("core.config.dk_dv_range"), i18n::tr("core.config.dk_dv_range_hint")};
  if ((c.d_k == 0 || c.d_v == 0) && c.d_model % c.heads != 0)
    return Error{i18n::trf("core.config.heads_divide", i18n::arg("d_model", c.d_model), i18n::arg("h", c.heads)),
                 i18n::tr("core.config.heads_divide_hint")};
  if (c.pe == PosEncoding::RoPE && c.head_dk() % 2 != 0)
    return Error{i18n::trf("core.config.rope_odd_dk", i18n::arg("dk", c.head_dk())), i18n::tr("core.config.rope_odd_dk_hint")};
  if (c.projection == Projection::Identity && (c.head_dk() * c.heads != c.d_model || c.head_dv() * c.heads != c.d_model))
    return Error{i18n::tr("core.config.identity_shape"), i18n::tr("core.config.identity_shape_hint")};
  if (!(c.pe_base > 1.0) || !std::isfinite(c.pe_base))
    return Error{i18n::tr("core.config.pe_base"), i18n::tr("core.config.pe_base_hint")};
  if (!(c.temperature > 0.0f) || !std::isfinite(c.temperature))
    return Error{i18n::tr("core.config.temperature"), i18n::tr("core.config.temperature_hint")};
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) return Error{i18n::tr("core.config.dropout"), i18n::tr("core.config.dropout_hint")};
  if (!(c.norm_eps > 0.0f)) return Error{i18n::tr("core.config.norm_eps"), i18n::tr("core.config.norm_eps_hint")};
  if (c.token_types < 0 || c.token_types > 1024)
    return Error{i18n::trf("core.config.out_of_range", i18n::arg("name", "token_types"), i18n::arg("value", std::to_string(c.token_types))),
                 i18n::tr("core.config.token_types_hint")};
  return std::nullopt;
}

std::optional<Error> validate(const Session& s) {
  if (auto e = validate(s.model)) return e;
  const ModelConfig& c = s.model;
  if (s.decode_steps < 0 || s.decode_steps > 1024)
    return Error{i18n::trf("core.config.out_of_range", i18n::arg("name", "decode_steps"),
                           i18n::arg("value", std::to_string(s.decode_steps))),
                 i18n::tr("core.config.decode_steps_hint")};
  if (!(s.label_smoothing >= 0.0f && s.label_smoothing < 1.0f))
    return Error{i18n::trf("core.config.out_of_range", i18n::arg("name", "label_smoothing"),
                           i18n::arg("value", std::to_string(s.label_smoothing))),
                 i18n::tr("core.config.label_smoothing_hint")};
  if (s.loss == LossKind::NextToken && c.arch == Arch::EncoderOnly)
    return Error{i18n::tr("core.config.next_token_encoder"), i18n::tr("core.config.next_token_encoder_hint")};
  if (s.loss == LossKind::TargetSequence && c.arch != Arch::EncoderDecoder)
    return Error{i18n::tr("core.config.target_loss_arch"), i18n::tr("core.config.target_loss_arch_hint")};
  if (s.decode_steps > 0 && c.arch == Arch::EncoderOnly)
    return Error{i18n::tr("core.config.encoder_only_decode"), i18n::tr("core.config.encoder_only_decode_hint")};
  if (s.decode_steps > 0 && c.norm == NormKind::BatchNorm)
    return Error{i18n::tr("core.config.batchnorm_decode"), i18n::tr("core.config.batchnorm_decode_hint")};
  if (!std::isfinite(static_cast<double>(c.temperature))) return Error{i18n::tr("core.config.temperature_not_finite"), ""};
  if (s.ablations.size() > kMaxAblations)
    return Error{i18n::trf("core.config.too_many_ablations", i18n::arg("n", s.ablations.size()), i18n::arg("max", kMaxAblations)), ""};
  for (const Ablation& a : s.ablations) {
    const std::optional<AblationTarget> t = parse_ablation_target(a.target);
    const bool stack_ok = t && (t->stack == "encoder" ? c.arch != Arch::DecoderOnly : c.arch != Arch::EncoderOnly);
    const bool block_ok = t && (t->block != "cross_attn" || (t->stack == "decoder" && c.arch == Arch::EncoderDecoder));
    if (!stack_ok || !block_ok || t->layer >= c.layers || t->head >= c.heads)
      return Error{i18n::trf("core.config.bad_ablation", i18n::arg("target", a.target)),
                   i18n::trf("core.config.bad_ablation_hint", i18n::arg("layers", c.layers), i18n::arg("heads", c.heads))};
  }
  // A real checkpoint's tokens are counted by its own tokenizer, when the run opens it (core/pretrained.h).
  if (!s.model_dir.empty()) return std::nullopt;

  std::vector<Sequence> batch{s.input};
  batch.insert(batch.end(), s.extra_batch.begin(), s.extra_batch.end());
  int longest_source = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    const int n = static_cast<int>(tokenize(batch[b].text, s.tokenizer).size()) + (s.add_special_tokens ? 1 : 0);
    // Sequence 0 is "the input text", the others "batch sequence b": one whole sentence per case.
    const bool first = b == 0;
    if (n == 0)
      return Error{first ? i18n::tr("core.config.input_no_tokens") : i18n::trf("core.config.batch_no_tokens", i18n::arg("b", b)),
                   i18n::tr("core.config.no_tokens_hint")};
    longest_source = std::max(longest_source, n);
    const int decoder_n = static_cast<int>(tokenize(batch[b].target, s.tokenizer).size()) + 1;
    const int extra = c.arch == Arch::DecoderOnly ? s.decode_steps : 0;
    if (n + extra > c.max_len)
      return Error{i18n::trf(first ? "core.config.input_too_long" : "core.config.batch_too_long", i18n::arg("b", b),
                             i18n::arg("n", n + extra), i18n::arg("max_len", c.max_len)),
                   i18n::tr("core.config.too_long_hint")};
    if (c.arch == Arch::EncoderDecoder && decoder_n + s.decode_steps > c.max_len)
      return Error{i18n::trf(first ? "core.config.input_target_too_long" : "core.config.batch_target_too_long", i18n::arg("b", b),
                             i18n::arg("n", decoder_n + s.decode_steps), i18n::arg("max_len", c.max_len)),
                   i18n::tr("core.config.target_too_long_hint")};
  }
  for (int p : s.padding_positions)
    if (p < 0 || p >= longest_source)
      return Error{i18n::trf("core.config.padding_outside", i18n::arg("p", p), i18n::arg("n", longest_source)),
                   i18n::tr("core.config.padding_outside_hint")};
  for (const Cell& cell : s.custom_cells)
    if (cell.i < 0 || cell.j < 0 || cell.i >= c.max_len || cell.j >= c.max_len)
      return Error{i18n::trf("core.config.cell_outside", i18n::arg("i", cell.i), i18n::arg("j", cell.j)),
                   i18n::tr("core.config.cell_outside_hint")};
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
  if (!fits)
    throw Error{i18n::trf("core.config.json.not_whole", i18n::arg("what", what), i18n::arg("value", value.dump().substr(0, 40))),
                i18n::tr("core.config.json.a_whole_number")};
  return static_cast<int>(value.get<int64_t>());
}

// Reads keys of an object, refusing unknown ones; errors name the key path.
class Reader {
 public:
  Reader(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) throw Error{i18n::trf("core.config.json.not_object", i18n::arg("where", where_)), ""};
    for (const auto& item : object_.items()) unread_.push_back(item.key());
  }
  template <typename T>
  void get(const char* key, T& out) {
    const json* value = take(key);
    if (!value) return;
    if constexpr (std::is_floating_point_v<T>) {  // a finite number: inf or NaN could not be saved back as JSON
      if (!value->is_number()) throw Error{wrong_type(key), i18n::tr("core.config.json.a_number")};
      out = value->get<T>();
      if (!std::isfinite(out))
        throw Error{i18n::trf("core.config.out_of_range", i18n::arg("name", where_ + key), i18n::arg("value", value->dump())),
                    i18n::tr("core.config.json.a_finite_number")};
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {  // a whole number that fits, never wrapped
      if (!value->is_number()) throw Error{wrong_type(key), i18n::tr("core.config.json.a_whole_number")};
      const bool fits = std::is_unsigned_v<T> ? value->is_number_unsigned() && value->get<uint64_t>() <= std::numeric_limits<T>::max()
                                               : value->is_number_integer() && value->get<int64_t>() >= std::numeric_limits<T>::min() &&
                                                     value->get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max());
      if (!fits)
        throw Error{i18n::trf("core.config.json.not_whole", i18n::arg("what", where_ + key), i18n::arg("value", value->dump())),
                    i18n::tr(std::is_unsigned_v<T> ? "core.config.json.a_whole_number_unsigned" : "core.config.json.a_whole_number")};
      out = value->get<T>();
    } else {
      try {
        out = value->get<T>();
      } catch (const json::exception&) {
        throw Error{wrong_type(key), i18n::tr("core.config.json.schema_hint")};
      }
    }
  }
  template <typename E>
  void get_enum(const char* key, E& out) {
    std::string text;
    get(key, text);
    if (text.empty() && !object_.contains(key)) return;
    if (!parse(text, out))
      throw Error{i18n::trf("core.config.json.unknown_value", i18n::arg("key", where_ + key), i18n::arg("value", text)),
                  i18n::trf("core.config.json.one_of", i18n::arg("names", all_names<E>()))};
  }
  void get_mask(const char* key, MaskFlags& out) {
    if (!object_.contains(key)) return;
    std::string text;
    get(key, text);
    if (!parse_mask(text, out))
      throw Error{i18n::trf("core.config.json.not_mask", i18n::arg("key", where_ + key), i18n::arg("value", text)),
                  i18n::tr("core.config.json.not_mask_hint")};
  }
  const json* take(const char* key) {
    const auto it = object_.find(key);
    if (it == object_.end()) return nullptr;
    std::erase(unread_, std::string(key));
    return &*it;
  }
  void finish() const {
    if (!unread_.empty())
      throw Error{i18n::trf("core.config.json.unknown_key", i18n::arg("key", where_ + unread_.front())),
                  i18n::tr("core.config.json.schema_hint")};
  }
  const std::string& where() const { return where_; }

 private:
  std::string wrong_type(const char* key) const { return i18n::trf("core.config.json.wrong_type", i18n::arg("key", where_ + key)); }

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
             {"norm_eps", float_json(c.norm_eps)},
             {"token_types", c.token_types},
             {"embed_norm", c.embed_norm},
             {"mlm_head", c.mlm_head}};
  json batch = json::array();
  for (const Sequence& q : s.extra_batch) batch.push_back(sequence_json(q));
  json cells = json::array();
  for (const Cell& cell : s.custom_cells) cells.push_back({cell.i, cell.j});
  json ablations = json::array();
  for (const Ablation& a : s.ablations) ablations.push_back({{"target", a.target}, {"kind", enum_json(a.kind)}});
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
           {"weights", s.weights},
           {"model_dir", s.model_dir},
           {"ablations", ablations}};
  return out.dump(indent);
}

Result<Session> session_from_json(std::string_view text) {
  if (auto e = check_json_depth(text, i18n::tr("core.config.json.the_session"))) return *e;
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number beyond double (1e309)
    return Error{i18n::trf("core.config.json.invalid", i18n::arg("error", e.what())), i18n::tr("core.config.json.invalid_hint")};
  }
  Session s;
  try {
    Reader r(root, "");
    r.get("text", s.input.text);
    r.get("target", s.input.target);
    if (const json* batch = r.take("extra_batch")) {
      if (!batch->is_array()) throw Error{i18n::trf("core.config.json.extra_batch"), ""};  // trf: the text has literal braces
      for (size_t i = 0; i < batch->size(); ++i)
        s.extra_batch.push_back(read_sequence((*batch)[i], "extra_batch[" + std::to_string(i) + "]."));
    }
    r.get_enum("tokenizer", s.tokenizer);
    r.get("add_special_tokens", s.add_special_tokens);
    if (const json* positions = r.take("padding_positions")) {
      if (!positions->is_array())
        throw Error{i18n::tr("core.config.json.padding_positions"), i18n::tr("core.config.json.padding_positions_hint")};
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
      m.get("token_types", c.token_types);
      m.get("embed_norm", c.embed_norm);
      m.get("mlm_head", c.mlm_head);
      m.finish();
    }
    r.get_mask("encoder_mask", s.encoder_mask);
    r.get_mask("decoder_mask", s.decoder_mask);
    if (const json* cells = r.take("custom_cells")) {
      if (!cells->is_array()) throw Error{i18n::tr("core.config.json.custom_cells"), ""};
      for (const json& cell : *cells) {
        if (!cell.is_array() || cell.size() != 2 || !cell[0].is_number_integer() || !cell[1].is_number_integer())
          throw Error{i18n::tr("core.config.json.custom_cell"), ""};
        s.custom_cells.push_back(
            {whole_int(cell[0], i18n::tr("core.config.json.cell_row")), whole_int(cell[1], i18n::tr("core.config.json.cell_column"))});
      }
    }
    r.get_enum("mode", s.mode);
    r.get("decode_steps", s.decode_steps);
    r.get("seed", s.seed);
    r.get_enum("loss", s.loss);
    r.get("label_smoothing", s.label_smoothing);
    r.get_enum("loss_pattern", s.loss_pattern);
    r.get("weights", s.weights);
    r.get("model_dir", s.model_dir);
    if (const json* list = r.take("ablations")) {
      if (!list->is_array()) throw Error{i18n::tr("core.config.json.ablations"), i18n::tr("core.config.json.ablations_hint")};
      if (list->size() > kMaxAblations)
        throw Error{i18n::trf("core.config.too_many_ablations", i18n::arg("n", list->size()), i18n::arg("max", kMaxAblations)), ""};
      for (size_t i = 0; i < list->size(); ++i) {
        Ablation a;
        Reader item((*list)[i], "ablations[" + std::to_string(i) + "].");
        item.get("target", a.target);
        item.get_enum("kind", a.kind);
        item.finish();
        s.ablations.push_back(std::move(a));
      }
    }
    r.finish();
  } catch (const Error& e) {
    return e;
  }
  if (auto e = validate(s)) return *e;
  return s;
}

Result<Session> load_session(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text) return Error{i18n::trf("core.config.cannot_open", i18n::arg("error", text.error().what)), text.error().hint};
  Result<Session> s = session_from_json(*text);
  if (!s) return Error{i18n::trf("core.config.in_file", i18n::arg("path", path), i18n::arg("error", s.error().what)), s.error().hint};
  return s;
}

std::optional<Error> save_session(const Session& s, const std::string& path) {
  if (auto e = validate(s)) return Error{i18n::trf("core.config.not_saving", i18n::arg("error", e->what)), e->hint};
  return write_file_atomically(path, to_json(s) + "\n");
}

}  // namespace qkv
