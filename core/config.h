// QKV Lab core — the Session: everything a run depends on (text, model config, teaching toggles, seed).
// core::run(Session) -> Trace is pure: the same Session gives the same numbers on every machine.
#pragma once

#include <array>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace qkv {

// [SECTION] Teaching toggles: enums ending in a Count sentinel, iterated by the UI for its combos.
enum class Arch { EncoderOnly, DecoderOnly, EncoderDecoder, Count };
enum class TokenizerKind { Words, Chars, Count };
enum class PosEncoding { Sinusoidal, Learned, RoPE, ALiBi, None, Count };
enum class Scoring { Dot, Additive, Count };       // Dot: S = QKᵀ; Additive: S_ij = w_aᵀ tanh(q_i + k_j)
enum class ScoreScale { InvSqrtDk, None, Count };  // S_scaled = S/√d_k, or S unchanged
enum class NormKind { LayerNorm, BatchNorm, RMSNorm, None, Count };
enum class NormPlacement { Post, Pre, Count };  // Post: Norm(x + F(x)); Pre: x + F(Norm(x))
enum class Activation { ReLU, GELU, GELUTanh, Count };  // GELU: exact (erf); GELUTanh: GPT-2's tanh approximation
enum class Mode { Eval, Train, Count };                      // Train applies (seeded) dropout
enum class Projection { Learned, TiedQK, Identity, Count };  // TiedQK: W_K = W_Q; Identity: Q = K = V = head slice of X
// An ablated head's output O_i (or an ablated layer's attention and FFN outputs) is replaced by zeros, or by its mean
// over the sequence's positions (every row the same): "what does the model predict without this head?"
enum class AblationKind { Zero, Mean, Count };

// The loss the gradient views and the trainer use. Auto: next token (decoder-only), target sequence
// (encoder–decoder), reconstruct each input token (encoder-only). Pattern: make the first self-attention head's
// P match a fixed pattern (a demo of gradients flowing into W_Q and W_K).
enum class LossKind { Auto, NextToken, TargetSequence, Reconstruct, Pattern, Count };
enum class Pattern { Diagonal, Previous, AntiDiagonal, First, Count };

// Masks combine, so they are bit flags. M is 0 where allowed and −∞ where masked.
enum MaskBits : unsigned { kMaskNone = 0, kMaskCausal = 1u << 0, kMaskPadding = 1u << 1, kMaskCustom = 1u << 2 };
using MaskFlags = unsigned;

// Names, for JSON, the CLI and the UI. parse_* return false on an unknown name.
const char* name(Arch);
const char* name(TokenizerKind);
const char* name(PosEncoding);
const char* name(Scoring);
const char* name(ScoreScale);
const char* name(NormKind);
const char* name(NormPlacement);
const char* name(Activation);
const char* name(Mode);
const char* name(Projection);
const char* name(LossKind);
const char* name(Pattern);
const char* name(AblationKind);
bool parse(std::string_view, Arch&);
bool parse(std::string_view, TokenizerKind&);
bool parse(std::string_view, PosEncoding&);
bool parse(std::string_view, Scoring&);
bool parse(std::string_view, ScoreScale&);
bool parse(std::string_view, NormKind&);
bool parse(std::string_view, NormPlacement&);
bool parse(std::string_view, Activation&);
bool parse(std::string_view, Mode&);
bool parse(std::string_view, Projection&);
bool parse(std::string_view, LossKind&);
bool parse(std::string_view, Pattern&);
bool parse(std::string_view, AblationKind&);
// "none", "causal", "padding", "custom" joined with '+' or ',' (e.g. "causal+padding").
std::string mask_name(MaskFlags);
bool parse_mask(std::string_view, MaskFlags&);

// All names of an enum, in order, e.g. for "--pe one of: sinusoidal, learned, ...".
template <typename E>
std::string all_names() {
  std::string out;
  for (int i = 0; i < static_cast<int>(E::Count); ++i) out += (i ? ", " : "") + std::string(name(static_cast<E>(i)));
  return out;
}

// [SECTION] The model's shape and behaviour.
struct ModelConfig {
  Arch arch = Arch::EncoderOnly;
  int layers = 2;  // L (encoder–decoder: L encoder layers and L decoder layers)
  int d_model = 32;
  int heads = 4;  // h
  int d_k = 0;    // 0: derive d_model / h
  int d_v = 0;    // 0: derive d_model / h
  int d_ff = 128;
  int max_len = 512;  // rows of the positional table; longer sequences are refused
  bool bias = true;   // biases in the projections and the FFN

  bool scale_embeddings = true;  // X = E[token]·√d_model + PE
  PosEncoding pe = PosEncoding::Sinusoidal;
  double pe_base = 10000.0;  // sinusoidal and RoPE base

  Scoring scoring = Scoring::Dot;
  ScoreScale score_scale = ScoreScale::InvSqrtDk;
  float temperature = 1.0f;  // τ: S_scaled = S·scale/τ
  Projection projection = Projection::Learned;

  bool residual = true;
  NormKind norm = NormKind::LayerNorm;
  NormPlacement norm_placement = NormPlacement::Post;
  Activation activation = Activation::ReLU;
  float dropout = 0.1f;  // used only in Mode::Train
  float norm_eps = 1e-5f;

  // Parts real checkpoints have (BERT), which toy models may use too.
  int token_types = 0;      // > 0: a table embed.token_type [token_types, d_model] added to X by segment (BERT: 2)
  bool embed_norm = false;  // a norm (the config's kind) of X after the sum, embed.norm (BERT's embeddings.LayerNorm)
  // BERT's masked-language-model head: logits = Norm(act(H·W_T + b_T))·Eᵀ + b_out (output.transform.*, output.bias)
  // instead of H·Eᵀ.
  bool mlm_head = false;

  // Derived widths (after validation these are > 0).
  int head_dk() const { return d_k > 0 ? d_k : (heads > 0 ? d_model / heads : 0); }
  int head_dv() const { return d_v > 0 ? d_v : (heads > 0 ? d_model / heads : 0); }
  bool operator==(const ModelConfig&) const = default;
};

// A cell (query row i, key column j) the user masked by hand.
struct Cell {
  int i = 0, j = 0;
  bool operator==(const Cell&) const = default;
};

// One item of the batch. text is the source (encoder, or the decoder-only prompt); target feeds the decoder
// of an encoder–decoder model (shifted right behind [BOS]).
struct Sequence {
  std::string text;
  std::string target;
};

// A head ("decoder.3.self_attn.head.5") or a whole layer ("decoder.3") whose output is replaced (AblationKind).
inline constexpr size_t kMaxAblations = 4096;  // heads and layers of the largest model (GPT-2 XL: 48 × 25 heads)
struct Ablation {
  std::string target;
  AblationKind kind = AblationKind::Zero;
  bool operator==(const Ablation&) const = default;
};
// The head or layer an ablation target names, taken apart; nullopt when it names neither.
struct AblationTarget {
  std::string stack;  // "encoder" or "decoder"
  int layer = 0;
  std::string block;  // "self_attn" / "cross_attn" for a head; empty for a layer
  int head = -1;      // −1 for a layer
};
std::optional<AblationTarget> parse_ablation_target(std::string_view target);

// [SECTION] The Session: the single input of core::run.
struct Session {
  // The default input is data, not a message: it is saved into session files and the tests and lessons read its tokens.
  Sequence input{"The animal didn't cross the street because it was too tired.", ""};  // i18n: name
  std::vector<Sequence> extra_batch;  // more sequences: padded to the longest; BatchNorm's statistics span them all
  TokenizerKind tokenizer = TokenizerKind::Words;
  bool add_special_tokens = false;     // source gets [EOS]; decoder-only input and targets get [BOS]
  std::vector<int> padding_positions;  // source positions the user marked as padding (like a [PAD] token)

  ModelConfig model;
  MaskFlags encoder_mask = kMaskPadding;                // encoder self-attention (and cross-attention's padding)
  MaskFlags decoder_mask = kMaskCausal | kMaskPadding;  // decoder self-attention (decoder-only or enc–dec)
  std::vector<Cell> custom_cells;                       // applied where kMaskCustom is set
  Mode mode = Mode::Eval;
  int decode_steps = 0;  // > 0: also greedy-decode this many tokens with a KV cache
  uint64_t seed = 42;

  LossKind loss = LossKind::Auto;  // for the gradient views
  float label_smoothing = 0.0f;    // ε of the cross-entropy (the Transformer used 0.1)
  Pattern loss_pattern = Pattern::AntiDiagonal;
  // Trained weights (safetensors) to use instead of the seeded ones; a relative path is looked up next to the
  // session file, then in the app's assets/weights/. Empty: weights drawn from the seed.
  std::string weights;
  // A real checkpoint's folder (core/pretrained.h: GPT-2 or BERT as downloaded from the model hub). When set, the model's
  // shape, weights and tokenizer come from it (tokenizer and weights above are not used) and `model` must have the
  // checkpoint's shape; its teaching toggles (√d_k, τ, residuals, positions, norms, activation …) stay free.
  std::string model_dir;
  std::vector<Ablation> ablations;  // heads and layers switched off (any model)
};

// What the scores S are multiplied by before the mask and softmax: 1/(√d_k·τ) with √d_k scaling on, 1/τ with it off.
double score_scale(const ModelConfig&);

// Checks everything a run needs; the Error says what is wrong and why.
std::optional<Error> validate(const Session&);
std::optional<Error> validate(const ModelConfig&);

// JSON (schema in README.md). from_json refuses unknown keys and bad values with a message.
std::string to_json(const Session&, int indent = 2);
Result<Session> session_from_json(std::string_view text);
Result<Session> load_session(const std::string& path);
std::optional<Error> save_session(const Session&, const std::string& path);  // atomic: temp file + rename

}  // namespace qkv
