// QKV Lab core — parameter, FLOP and memory counters. Conventions are stated in counters.h.
//
// [SECTION] Per-block counts (norm, attention, FFN)
// [SECTION] count_model
// [SECTION] Presets (with the arithmetic of each published total)
// [SECTION] attention_matrix_bytes
#include "core/counters.h"

#include <utility>

#include "core/i18n.h"

namespace qkv {
namespace {

// [SECTION] Per-block counts (norm, attention, FFN)

// LayerNorm and BatchNorm learn γ and β; BatchNorm's running mean/variance are buffers, not parameters.
// RMSNorm learns γ only (Zhang & Sennrich 2019).
int64_t norm_params(NormKind kind, int64_t d_model) {
  switch (kind) {
    case NormKind::LayerNorm:
    case NormKind::BatchNorm:
      return 2 * d_model;
    case NormKind::RMSNorm:
      return d_model;
    case NormKind::None:
    case NormKind::Count:
      break;
  }
  return 0;
}

// One norm over [n, d_model].
int64_t norm_flops(NormKind kind, int64_t n, int64_t d_model) { return kind == NormKind::None ? 0 : kElementwiseFlops * n * d_model; }

struct Widths {
  int64_t d_model, h, d_k, d_v, d_ff;
};

Widths widths(const ModelConfig& c) { return {c.d_model, c.heads, c.head_dk(), c.head_dv(), c.d_ff}; }

// One attention block: W_Q, W_K: [d_model, h·d_k], W_V: [d_model, h·d_v], W_O: [h·d_v, d_model],
// biases b_Q, b_K: [h·d_k], b_V: [h·d_v], b_O: [d_model]; Additive scoring adds w_a: [d_k] per head.
int64_t attention_params(const ModelConfig& c) {
  const Widths w = widths(c);
  int64_t p = 0;
  if (c.projection != Projection::Identity) {
    p += w.d_model * w.h * w.d_k + (c.bias ? w.h * w.d_k : 0);                                           // W_Q, b_Q
    if (c.projection == Projection::Learned) p += w.d_model * w.h * w.d_k + (c.bias ? w.h * w.d_k : 0);  // W_K, b_K
    p += w.d_model * w.h * w.d_v + (c.bias ? w.h * w.d_v : 0);                                           // W_V, b_V
  }
  p += w.h * w.d_v * w.d_model + (c.bias ? w.d_model : 0);  // W_O, b_O (Identity keeps it: heads still mix)
  if (c.scoring == Scoring::Additive) p += w.h * w.d_k;     // w_a
  return p;
}

// One attention block with n queries and m keys.
//   Q = X_q·W_Q [n, h·d_k], K = X_kv·W_K [m, h·d_k], V = X_kv·W_V [m, h·d_v]
//   per head: S = QKᵀ [n, m], P = softmax(S/√d_k + M), O = P·V [n, d_v];  out = concat(O)·W_O [n, d_model]
// Tied Q/K in self-attention: X_q = X_kv and W_K = W_Q, so K = Q and is not computed twice.
int64_t attention_flops(const ModelConfig& c, int64_t n, int64_t m, bool self_attention) {
  const Widths w = widths(c);
  int64_t f = 0;
  if (c.projection != Projection::Identity) {
    f += 2 * n * w.d_model * w.h * w.d_k;                                                              // Q
    if (c.projection == Projection::Learned || !self_attention) f += 2 * m * w.d_model * w.h * w.d_k;  // K
    f += 2 * m * w.d_model * w.h * w.d_v;                                                              // V
  }
  const int64_t scores = c.scoring == Scoring::Additive ? (1 + kElementwiseFlops + 2) * n * m * w.d_k  // w_aᵀ tanh(q_i + k_j)
                                                        : 2 * n * m * w.d_k;                           // q_i·k_j
  f += w.h * (scores + kSoftmaxFlops * n * m + 2 * n * m * w.d_v);                                     // S, softmax, P·V
  f += 2 * n * w.h * w.d_v * w.d_model;                                                                // W_O
  return f;
}

// FFN(x) = act(x·W_1 + b_1)·W_2 + b_2,  W_1: [d_model, d_ff], W_2: [d_ff, d_model].
int64_t ffn_params(const ModelConfig& c) {
  const Widths w = widths(c);
  return w.d_model * w.d_ff + w.d_ff * w.d_model + (c.bias ? w.d_ff + w.d_model : 0);
}

int64_t ffn_flops(const ModelConfig& c, int64_t n) {
  const Widths w = widths(c);
  return 2 * n * w.d_model * w.d_ff + kElementwiseFlops * n * w.d_ff + 2 * n * w.d_ff * w.d_model;
}

void add_row(CountTable& t, std::string component, int64_t params, int64_t flops) {
  if (params == 0 && flops == 0) return;
  t.rows.push_back({std::move(component), params, flops});
  t.total_params += params;
  t.total_flops += flops;
}

// Rows of one stack of L layers. The decoder of an encoder–decoder adds cross-attention and a third norm.
void add_stack(CountTable& t, const CountSpec& s, const std::string& stack, bool cross, int64_t n) {
  const ModelConfig& c = s.model;
  const int64_t L = c.layers;
  const std::string times = " (×" + std::to_string(L) + ")";
  const int64_t norms_per_layer = cross ? 3 : 2;
  add_row(t, stack + ".self_attn" + times, L * attention_params(c), L * attention_flops(c, n, n, true));
  if (cross) add_row(t, stack + ".cross_attn" + times, L * attention_params(c), L * attention_flops(c, n, n, false));
  add_row(t, stack + ".ffn" + times, L * ffn_params(c), L * ffn_flops(c, n));
  add_row(t, stack + ".norms" + times, L * norms_per_layer * norm_params(c.norm, c.d_model),
          L * norms_per_layer * norm_flops(c.norm, n, c.d_model));
}

}  // namespace

// [SECTION] count_model

CountTable count_model(const CountSpec& s, int64_t n) {
  QKV_ASSERT(n >= 0);
  const ModelConfig& c = s.model;
  const int64_t d = c.d_model;
  CountTable t;

  // Embeddings: table lookups, 0 FLOPs.
  add_row(t, "embedding.tokens", s.vocab_size * d, 0);
  if (s.patch_size > 0) {
    // A p×p stride-p convolution = a matmul of each flattened patch [p·p·C] by [p·p·C, d_model].
    const int64_t patch_in = s.patch_size * s.patch_size * s.in_channels;
    const int64_t patches = s.cls_token ? (n > 0 ? n - 1 : 0) : n;
    add_row(t, "patch_embedding", patch_in * d + d, 2 * patches * patch_in * d);
  }
  if (s.cls_token) add_row(t, "cls_token", d, 0);
  const int64_t positions = s.learned_positions > 0 ? s.learned_positions : (c.pe == PosEncoding::Learned ? c.max_len : 0);
  add_row(t, "embedding.positions", positions * d, 0);
  add_row(t, "embedding.token_types", s.token_types * d, 0);
  if (s.embedding_norm) add_row(t, "embedding.norm", norm_params(c.norm, d), norm_flops(c.norm, n, d));

  // Layers.
  switch (c.arch) {
    case Arch::EncoderOnly:
      add_stack(t, s, "encoder", false, n);
      if (s.final_norm) add_row(t, "final_norm", norm_params(c.norm, d), norm_flops(c.norm, n, d));
      break;
    case Arch::DecoderOnly:
      add_stack(t, s, "decoder", false, n);
      if (s.final_norm) add_row(t, "final_norm", norm_params(c.norm, d), norm_flops(c.norm, n, d));
      break;
    case Arch::EncoderDecoder:
      add_stack(t, s, "encoder", false, n);
      if (s.final_norm) add_row(t, "encoder.final_norm", norm_params(c.norm, d), norm_flops(c.norm, n, d));
      add_stack(t, s, "decoder", true, n);
      if (s.final_norm) add_row(t, "decoder.final_norm", norm_params(c.norm, d), norm_flops(c.norm, n, d));
      break;
    case Arch::Count:
      QKV_ASSERT(false && "Arch::Count is not an architecture");  // i18n: name (an assertion's diagnostic)
  }

  // Heads. The pooler and the classifier see the [CLS] token only (one row of [1, d_model]).
  if (s.pooler) add_row(t, "pooler", d * d + d, 2 * d * d + kElementwiseFlops * d);
  if (s.mlm_transform)  // Norm(act(H·W_T + b_T)) over every position
    add_row(t, "output.transform", d * d + d + norm_params(c.norm, d), 2 * n * d * d + kElementwiseFlops * n * d + norm_flops(c.norm, n, d));
  if (s.output_head && s.vocab_size > 0) {
    const int64_t V = s.vocab_size;
    const int64_t params = (s.tie_output ? 0 : d * V + (c.bias ? V : 0)) + (s.mlm_transform ? V : 0);
    add_row(t, "output", params, 2 * n * d * V);  // logits = X·Eᵀ (or X·W_out): [n, V]
  }
  if (s.num_classes > 0) add_row(t, "classifier", d * s.num_classes + s.num_classes, 2 * d * s.num_classes);
  return t;
}

CountSpec count_spec_for(const ModelConfig& model, int64_t vocab_size) {
  CountSpec s;
  s.model = model;
  s.vocab_size = vocab_size;
  s.tie_output = true;
  s.output_head = true;
  s.learned_positions = model.pe == PosEncoding::Learned ? model.max_len : 0;
  s.token_types = model.token_types;
  s.embedding_norm = model.embed_norm;
  s.mlm_transform = model.mlm_head;
  // Pre-Norm leaves the residual stream un-normalised, so each stack ends with a norm (Xiong et al. 2020).
  s.final_norm = model.norm_placement == NormPlacement::Pre;
  return s;
}

// [SECTION] Presets (with the arithmetic of each published total)
//
// A preset's title (model name and citation) and source are written by `params --json`, the same in every language;
// source_text() gives the source in the current language, for display.
//
// Shared by BERT-base, GPT-2 small and ViT-B/16 (d_model 768, h 12, d_k = d_v = 64, d_ff 3072, biases,
// 2 LayerNorms per layer):
//   attention  4·(768·768 + 768)              = 4·590,592            = 2,362,368
//   FFN        768·3072 + 3072 + 3072·768 + 768                      = 4,722,432
//   norms      2·(2·768)                                             =     3,072
//   one layer                                                        = 7,087,872
//   12 layers                                                        = 85,054,464

namespace {

ModelConfig base_768() {
  ModelConfig c;
  c.arch = Arch::EncoderOnly;
  c.layers = 12;
  c.d_model = 768;
  c.heads = 12;
  c.d_ff = 3072;
  c.bias = true;
  c.norm = NormKind::LayerNorm;
  c.activation = Activation::GELU;
  c.pe = PosEncoding::Learned;
  return c;
}

std::vector<Preset> make_presets() {
  std::vector<Preset> out;
  // i18n: names begin

  // Transformer base (Vaswani et al. 2017, "Attention Is All You Need"): §3.1 6+6 layers, §3.2.2 h = 8,
  // d_k = d_v = 64, §3.3 d_ff = 2048, §3.4 one weight matrix shared by both embeddings and the pre-softmax
  // linear, §3.5 sinusoidal positions (no params), §5.1 a shared source–target BPE vocabulary of ~37000.
  //   embedding  37000·512                                       = 18,944,000
  //   encoder layer: attention 4·(512·512 + 512) = 1,050,624; FFN 512·2048 + 2048 + 2048·512 + 512
  //                  = 2,099,712; 2 LayerNorms 2·1024 = 2,048    ->  3,152,384;  ×6 = 18,914,304
  //   decoder layer: 2 attentions 2,101,248; FFN 2,099,712; 3 LayerNorms 3,072 -> 4,204,032; ×6 = 25,224,192
  //   total      18,944,000 + 18,914,304 + 25,224,192            = 63,082,496
  {
    Preset p;
    p.name = "transformer-base";
    p.title = "Transformer (base), Vaswani et al. 2017";
    CountSpec& s = p.spec;
    s.model.arch = Arch::EncoderDecoder;
    s.model.layers = 6;
    s.model.d_model = 512;
    s.model.heads = 8;
    s.model.d_ff = 2048;
    s.model.max_len = 512;
    s.model.bias = true;
    s.model.pe = PosEncoding::Sinusoidal;
    s.model.norm = NormKind::LayerNorm;
    s.model.norm_placement = NormPlacement::Post;
    s.model.activation = Activation::ReLU;
    s.vocab_size = 37000;
    s.tie_output = true;
    s.output_head = true;
    p.published_total = 63'082'496;
    p.source =
        "Vaswani et al. 2017, Attention Is All You Need, §3 and §5.1. Table 3 prints 65M (rounded); the paper "
        "does not publish its exact accounting, so why it differs from this 63,082,496 is not documented.";
    out.push_back(std::move(p));
  }

  // BERT-base (Devlin et al. 2019 report "110M"); the exact count is that of the released bert-base-uncased
  // checkpoint loaded as BertModel (encoder + pooler; the pre-training heads cls.* are not counted).
  //   embeddings  words 30522·768 = 23,440,896; positions 512·768 = 393,216; token types 2·768 = 1,536;
  //               LayerNorm 1,536                                     = 23,837,184
  //   12 layers                                                       = 85,054,464
  //   pooler      768·768 + 768                                       =    590,592
  //   total                                                           = 109,482,240
  {
    Preset p;
    p.name = "bert-base";
    p.title = "BERT-base (uncased), Devlin et al. 2019";
    CountSpec& s = p.spec;
    s.model = base_768();
    s.model.max_len = 512;
    s.model.norm_placement = NormPlacement::Post;
    s.vocab_size = 30522;
    s.learned_positions = 512;
    s.token_types = 2;
    s.embedding_norm = true;
    s.pooler = true;
    s.output_head = false;
    p.published_total = 109'482'240;
    p.source =
        "Devlin et al. 2019, BERT, §3 (reports 110M); exact count of the released bert-base-uncased checkpoint "
        "(BertModel: embeddings, encoder, pooler).";
    out.push_back(std::move(p));
  }

  // GPT-2 small (Radford et al. 2019 report "117M", known to be miscounted); exact count of the released
  // checkpoint (GPT2Model; lm_head is tied to wte).
  //   embeddings  wte 50257·768 = 38,597,376; wpe 1024·768 = 786,432     = 39,383,808
  //   12 layers (Pre-Norm, 2 LayerNorms each)                           = 85,054,464
  //   ln_f        2·768                                                 =      1,536
  //   total                                                             = 124,439,808
  {
    Preset p;
    p.name = "gpt2-small";
    p.title = "GPT-2 small, Radford et al. 2019";
    CountSpec& s = p.spec;
    s.model = base_768();
    s.model.arch = Arch::DecoderOnly;
    s.model.max_len = 1024;
    s.model.norm_placement = NormPlacement::Pre;
    s.vocab_size = 50257;
    s.learned_positions = 1024;
    s.final_norm = true;
    s.tie_output = true;
    s.output_head = true;
    p.published_total = 124'439'808;
    p.source =
        "Radford et al. 2019, Language Models are Unsupervised Multitask Learners, Table 2 (reports 117M, a "
        "known miscount); exact count of the released gpt2 checkpoint, output tied to the token embedding.";
    out.push_back(std::move(p));
  }

  // ViT-B/16 (Dosovitskiy et al. 2021, Table 1 "86M"); exact count of the ImageNet-1k 224px model.
  //   patch embedding  16·16·3·768 + 768 = 590,592; [CLS] 768; positions 197·768 = 151,296 = 742,656
  //   12 layers (Pre-Norm, 2 LayerNorms each)                                          = 85,054,464
  //   final norm 1,536; classifier 768·1000 + 1000 = 769,000                            =    770,536
  //   total                                                                              = 86,567,656
  {
    Preset p;
    p.name = "vit-b16";
    p.title = "ViT-B/16 (ImageNet-1k, 224px), Dosovitskiy et al. 2021";
    CountSpec& s = p.spec;
    s.model = base_768();
    s.model.max_len = 197;
    s.model.norm_placement = NormPlacement::Pre;
    s.vocab_size = 0;
    s.output_head = false;
    s.learned_positions = 197;  // 14·14 patches + [CLS]
    s.patch_size = 16;
    s.in_channels = 3;
    s.cls_token = true;
    s.final_norm = true;
    s.num_classes = 1000;
    p.published_total = 86'567'656;
    p.source =
        "Dosovitskiy et al. 2021, An Image is Worth 16x16 Words, Table 1 (reports 86M); exact count of ViT-B/16 "
        "at 224px with a 1000-class head.";
    out.push_back(p);
    // ViT-L/16: d_model 1024, 24 layers, 16 heads, d_ff 4096 — 24 × 12,596,224 + embeddings 990,208 + norm 2,048
    // + head 1,025,000 = 304,326,632.  ViT-H/14: d_model 1280, 32 layers, 16 heads, d_ff 5120, 14×14 patches (257
    // positions) — 32 × 19,677,440 + 1,084,160 + 2,560 + 1,281,000 = 632,045,800.
    const auto larger = [&](const char* name, const char* title, int layers, int d_model, int d_ff, int patch, int positions,
                            int64_t total, const char* source) {
      Preset q = p;
      q.name = name;
      q.title = title;
      q.spec.model.layers = layers;
      q.spec.model.d_model = d_model;
      q.spec.model.heads = 16;
      q.spec.model.d_ff = d_ff;
      q.spec.model.max_len = positions;
      q.spec.learned_positions = positions;
      q.spec.patch_size = patch;
      q.published_total = total;
      q.source = source;
      out.push_back(std::move(q));
    };
    larger("vit-l16", "ViT-L/16 (ImageNet-1k, 224px), Dosovitskiy et al. 2021", 24, 1024, 4096, 16, 197, 304'326'632,
           "Dosovitskiy et al. 2021, Table 1 (reports 307M); exact count of ViT-L/16 at 224px with a 1000-class head.");
    larger("vit-h14", "ViT-H/14 (ImageNet-1k, 224px), Dosovitskiy et al. 2021", 32, 1280, 5120, 14, 257, 632'045'800,
           "Dosovitskiy et al. 2021, Table 1 (reports 632M); exact count of ViT-H/14 at 224px with a 1000-class head.");
  }
  // i18n: names end
  return out;
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = make_presets();
  return all;
}

const char* source_text(const Preset& p) {
  std::string key = "core.counters.source." + p.name;
  for (char& c : key)
    if (c == '-') c = '_';
  return i18n::has(key.c_str()) ? i18n::tr(key.c_str()) : p.source.c_str();
}

const Preset* find_preset(std::string_view name) {
  for (const Preset& p : presets())
    if (p.name == name) return &p;
  return nullptr;
}

// [SECTION] attention_matrix_bytes

int64_t attention_matrix_bytes(const ModelConfig& c, int64_t n, int64_t m) {
  QKV_ASSERT(n >= 0 && m >= 0);
  constexpr int64_t kBytesPerBlockCell = 4 * static_cast<int64_t>(sizeof(float));  // S, S_scaled, S_masked, P
  const int64_t cells_per_layer = c.arch == Arch::EncoderDecoder ? m * m + n * n + n * m : n * m;
  return kBytesPerBlockCell * c.layers * c.heads * cells_per_layer;
}

}  // namespace qkv
