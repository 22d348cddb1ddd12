// QKV Lab core — parameter, FLOP and memory counters, for the teaching model and for published models.
//
// Symbols as in core/tensor.h (n, m, d_model, h, d_k, d_v, d_ff, L, V).
//
// FLOP convention (one forward pass over n tokens; dense, so a causal mask saves nothing):
//   - a matmul X[n, in]·W[in, out] costs 2·n·in·out (one multiply-add = 2 FLOPs);
//   - per head: scores QKᵀ 2·n·m·d_k; additive scores w_aᵀ tanh(q_i + k_j) cost 8·n·m·d_k
//     (add 1 + tanh kElementwiseFlops + dot with w_a 2, per element of the [n, m, d_k] sum);
//     softmax kSoftmaxFlops·n·m (max, subtract, exp, sum, divide); P·V 2·n·m·d_v;
//   - every norm and every activation (FFN ReLU/GELU, pooler tanh): kElementwiseFlops per element;
//   - 0 FLOPs (cheap and fused in practice, stated so the totals can be checked by hand): embedding
//     lookups, adding positions (sinusoidal/learned), RoPE and ALiBi, bias additions, residual additions,
//     scaling by 1/√d_k and τ, adding the mask M, dropout, and the softmax over the vocabulary.
//   - encoder–decoder: source and target are both n tokens (so m = n for every attention block).
// Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", Table 1) use the same 2·params·n rule
// for the matmuls; they drop norms, softmax and activations, which we keep to show where the n² goes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace qkv {

inline constexpr int64_t kElementwiseFlops = 5;  // per element of a norm or an activation
inline constexpr int64_t kSoftmaxFlops = 5;      // per score: max, subtract, exp, sum, divide

// Everything needed to count a model, beyond ModelConfig (which is the teaching model's config).
struct CountSpec {
  // arch, L, d_model, h, d_k/d_v (0 = d_model/h), d_ff, bias, norm kind and placement, pe;
  // projection: TiedQK shares W_Q = W_K (and b_Q = b_K) so they count once, Identity has no W_Q/W_K/W_V
  // (W_O stays); scoring: Additive adds a w_a vector of d_k per head.
  ModelConfig model;
  int64_t vocab_size = 0;                   // V: token embedding rows (0 = no token embedding, e.g. ViT)
  bool tie_output = true;                   // the output projection is the embedding matrix (no extra params)
  bool output_head = true;                  // logits over V; if !tie_output: d_model·V (+V bias if model.bias)
  int64_t learned_positions = 0;            // rows of a learned position table; 0 and model.pe == Learned: max_len
  int64_t token_types = 0;                  // BERT segment embeddings (2)
  bool embedding_norm = false;              // BERT: a norm after the embeddings
  bool final_norm = false;                  // one norm at the end of each stack (GPT-2 ln_f, ViT norm); set, not implied
  bool pooler = false;                      // BERT pooler on [CLS]: d_model·d_model + d_model, tanh
  bool mlm_transform = false;               // BERT's MLM head: dense d_model² + d_model, act, norm, and a bias of V
  int64_t patch_size = 0, in_channels = 0;  // ViT patch embedding conv: p·p·C·d_model + d_model
  bool cls_token = false;                   // ViT [CLS] token: d_model (counted among the n tokens)
  int64_t num_classes = 0;                  // ViT classifier head on [CLS]: d_model·classes + classes
};

// params: summed over the L layers the row covers. flops: one forward pass over n tokens.
struct ComponentCount {
  std::string component;
  int64_t params = 0;
  int64_t flops = 0;
};
struct CountTable {
  std::vector<ComponentCount> rows;  // rows with 0 params and 0 FLOPs are left out
  int64_t total_params = 0;
  int64_t total_flops = 0;
};

// Rows, in reading order: embedding.tokens, patch_embedding, cls_token, embedding.positions,
// embedding.token_types, embedding.norm, {encoder,decoder}.self_attn (×L), decoder.cross_attn (×L),
// {encoder,decoder}.ffn (×L), {encoder,decoder}.norms (×L), final_norm (enc–dec: encoder.final_norm and
// decoder.final_norm), pooler, output, classifier. "(×L)" is printed with the number, e.g. "(×12)".
// Norms per layer: 2 (encoder, decoder-only), 3 (decoder of an encoder–decoder), whatever the placement.
CountTable count_model(const CountSpec& spec, int64_t n);

// The teaching model as core runs it: tied output head, final norm iff Pre-Norm, learned positions =
// max_len when pe == Learned.
CountSpec count_spec_for(const ModelConfig& model, int64_t vocab_size);

struct Preset {
  std::string name;   // "transformer-base", "bert-base", "gpt2-small", "vit-b16"
  std::string title;  // for the UI: the model's name and its citation (the same in every language)
  CountSpec spec;
  int64_t published_total = 0;  // exact parameter count; count_model(spec, n).total_params equals it
  std::string source;  // English, as `params --json` writes it (a citation and how the total was checked)
};
const std::vector<Preset>& presets();
const Preset* find_preset(std::string_view name);  // nullptr if unknown
// The preset's source in the current language (assets/i18n/core_labs.json), for display; valid until the catalog is
// loaded again.
const char* source_text(const Preset&);

// Bytes held by the attention matrices S, S_scaled, S_masked and P (4 float32 matrices per head per
// attention block), over all layers and heads:
//   encoder-only, decoder-only: L·h blocks of [n, m]  ->  16·L·h·n·m bytes;
//   encoder–decoder: n = target (query) length, m = source length; per layer the encoder self-attention
//   is [m, m], the decoder self-attention [n, n] and the cross-attention [n, m].
int64_t attention_matrix_bytes(const ModelConfig& model, int64_t n, int64_t m);

}  // namespace qkv
