// QKV Lab core — real checkpoints: a model folder as users download it from the model hub (config.json,
// model.safetensors and the tokenizer files), read into the core's own model so that every teaching toggle works on it.
//   GPT-2 family (gpt2, gpt2-medium/large/xl, distilgpt2): decoder-only, Pre-LayerNorm with a final ln_f, GELU (tanh
//     form), learned positions, logits tied to the token embeddings.
//   BERT family (bert-base/large, cased/uncased): encoder-only, Post-LayerNorm (eps 1e-12), exact GELU, token types,
//     an embedding LayerNorm, learned positions, the masked-language-model head for [MASK] predictions.
// Tensors are renamed to the core's paths (embed.E, decoder.0.self_attn.W_Q …) and transposed where the file stores
// [out, in] (BERT's nn.Linear); GPT-2's Conv1D weights are [in, out] already and c_attn holds W_Q | W_K | W_V side by
// side. Every name, dtype and shape is checked against config.json before anything is converted. Buffers (GPT-2's
// attn.bias and attn.masked_bias, BERT's position_ids) and heads the app does not use (BERT's pooler and next-sentence
// head) are read, size-checked and skipped. The folder is untrusted: every fault is an Error{what, hint}.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/pretrained_tokenizer.h"
#include "core/progress.h"
#include "core/tokenizer.h"
#include "core/trace.h"

namespace qkv {

enum class ModelFamily { GPT2, BERT };
const char* name(ModelFamily);  // "gpt2", "bert" (config.json's model_type)

inline constexpr uint64_t kMaxConfigBytes = 1u << 20;  // config.json

// What the model card shows.
struct ModelCard {
  ModelFamily family = ModelFamily::GPT2;
  std::string folder;        // as given
  std::string title;         // the folder's name, e.g. "gpt2"
  std::string architecture;  // config.json's architectures[0], e.g. "GPT2LMHeadModel"
  int layers = 0, heads = 0, d_model = 0, d_ff = 0, positions = 0, vocab = 0;
  int64_t parameters = 0;       // the tensors the app uses (= count_model of the config), each counted once
  int64_t file_parameters = 0;  // every float tensor in the file (the above + what is skipped; buffers not included)
  uint64_t file_bytes = 0;      // model.safetensors
  std::string dtype;            // of the parameters in the file: "F32", "F16", "BF16" (converted to float32 at load)
  std::vector<std::string> skipped;  // tensors read but not used: buffers, pooler, next-sentence head, a tied lm_head
  double load_ms = 0.0;
};

struct PretrainedModel {
  ModelCard card;
  ModelConfig config;        // the architecture as trained; every toggle at its trained value
  MaskFlags mask = kMaskNone;  // the model's own self-attention mask as trained (GPT-2 causal+padding, BERT padding)
  std::shared_ptr<const TensorMap> weights;  // core paths, float32
  std::shared_ptr<const PretrainedTokenizer> tokenizer;
  Vocab vocab;  // the tokenizer's pieces in id order (display: as describe() shows them), shared by every run's trace
  int64_t weight_bytes() const;
};

// Reads config.json alone: the family and the architecture, refused with the reason when the app cannot run it
// (another model_type, or a GPT-2/BERT option it does not implement).
Result<ModelConfig> pretrained_config(std::string_view config_json, ModelFamily* family = nullptr, MaskFlags* mask = nullptr,
                                      std::string* architecture = nullptr);

// The whole folder. `progress` hears (tensors converted, tensors in all); returning false cancels. The memory the weights
// need (float32) is checked against memory_limit() before any is converted.
Result<std::shared_ptr<const PretrainedModel>> load_pretrained(const std::string& dir, const Progress& progress = {});
// The same from bytes in memory (the fuzz target; tests): config.json, model.safetensors and the tokenizer files by name.
Result<std::shared_ptr<const PretrainedModel>> pretrained_from_bytes(std::string_view config_json, std::string_view safetensors,
                                                                    const std::map<std::string, std::string>& tokenizer_files,
                                                                    const std::string& folder = {});

// The model a session's model_dir names, read once and kept (the most recent folder; a changed file is read again).
// Every run, tokenization and generation of a session with model_dir goes through here.
Result<std::shared_ptr<const PretrainedModel>> open_pretrained(const std::string& dir, const Progress& progress = {});
// The model open_pretrained last read for `dir`, or null (never reads).
std::shared_ptr<const PretrainedModel> cached_pretrained(const std::string& dir);

// A session for the model: its architecture and trained toggles, its mask, its tokenizer; the text kept.
Session pretrained_session(const PretrainedModel&, const std::string& dir, Session base = {});
// How many settings the session has away from the model as trained (reset_to_trained): each field of the model that
// differs, each mask, each ablation, the hand-made mask cells and padding marks, training mode.
int changes_from_trained(const Session&, const PretrainedModel&);
// True when the session runs the model as it was trained (no change at all): no toggle changed, nothing ablated.
bool loaded_as_trained(const Session&, const PretrainedModel&);
// The session with every toggle back at the trained value (text, seed and sampling kept).
Session reset_to_trained(const Session&, const PretrainedModel&);
// None when `model` has the checkpoint's shape (the fields a toggle may not change); else what differs.
std::optional<Error> check_shape(const ModelConfig& model, const ModelConfig& checkpoint);

}  // namespace qkv
