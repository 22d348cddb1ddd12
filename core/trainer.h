// QKV Lab core — live training: toy tasks generated in code, Adam with the Transformer's warm-up schedule,
// gradient clipping and dropout, on the differentiable model of core/network.h. The app runs a Trainer on a
// worker thread; qkvlab-cli train runs it from the command line and ships its weights in assets/weights/.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/model.h"
#include "core/network.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/tokenizer.h"

namespace qkv {

// Copy, Reverse, Sort: an encoder–decoder maps a random string of letters to itself, reversed, or sorted.
// NextToken: a decoder-only model predicts the next word of a small built-in text.
enum class Task { Copy, Reverse, Sort, NextToken, Count };
const char* name(Task);
bool parse(std::string_view, Task&);
// One line for the UI: what the task asks and which attention pattern solves it, in the current language
// (assets/i18n/core_labs.json; valid until the catalog is loaded again).
const char* describe(Task);

struct TrainConfig {
  Task task = Task::Reverse;
  int min_len = 8;  // sequence lengths are drawn uniformly from [min_len, max_len]
  int max_len = 8;
  int alphabet = 12;  // letters a, b, c, … used by copy / reverse / sort (2 to 26)
  int batch = 32;
  int warmup = 400;           // steps of linear warm-up
  double lr_factor = 1.0;     // lr = lr_factor · d_model^−0.5 · min(step^−0.5, step · warmup^−1.5)
  double clip_norm = 1.0;     // global gradient-norm clipping; 0 = off
  double label_smoothing = 0.0;
  double beta1 = 0.9, beta2 = 0.98, epsilon = 1e-9;  // Adam, as in Vaswani et al. 2017 §5.3
  bool freeze_embeddings = false;  // fine-tuning with a fixed table: embed.E (and pos.learned) get gradients, no updates
  MaskFlags encoder_mask = kMaskPadding;
  MaskFlags decoder_mask = kMaskCausal | kMaskPadding;
  uint64_t seed = 1;
};
// Also refuses a run whose estimate_training_memory is over the memory limit (core/memory.h).
std::optional<Error> validate(const TrainConfig&, const ModelConfig&);
// Memory of a training run, before it starts: the weights, Adam's m and v (gradients: 3 × weights), and each step's
// tape over a batch of `batch` sequences of max_len tokens, as core/model.h estimate_memory counts a gradient pass.
MemoryEstimate estimate_training_memory(const TrainConfig&, const ModelConfig&);

// lr(step) of "Attention Is All You Need" §5.3 (step ≥ 1).
double learning_rate(int step, int d_model, int warmup, double factor);

// The built-in text of the next-token task (written for QKV Lab).
const char* builtin_text();

struct StepStats {
  int step = 0;
  float loss = 0.0f;
  float accuracy = 0.0f;   // teacher-forced argmax accuracy on this batch's target tokens
  float lr = 0.0f;
  float grad_norm = 0.0f;  // before clipping
  bool skipped = false;    // the gradient was not finite: no update was made
};

class Trainer {
 public:
  // The model's arch is set by the task (encoder–decoder or decoder-only); call validate() first.
  Trainer(const ModelConfig& model, const TrainConfig& train);

  StepStats step();
  // Teacher-forced token accuracy and mean loss on `batches` fresh batches (dropout off), from a fixed seed.
  std::pair<float, float> evaluate(int batches = 4) const;

  const ModelConfig& model() const { return model_; }
  const TrainConfig& config() const { return train_; }
  const Vocab& vocab() const { return vocab_; }
  const Params<float>& params() const { return params_; }
  TensorMap weights() const { return to_tensor_map(params_); }
  int steps() const { return step_; }
  // A session that shows this model on one example of its task (chars tokenizer for the letter tasks).
  Session example_session(const std::string& source_text) const;
  TokenBatch sample_batch(Rng& rng) const;

  // Weights plus metadata (task, model, vocabulary), atomically.
  std::optional<Error> save(const std::string& path) const;

 private:
  ModelConfig model_;
  TrainConfig train_;
  Vocab vocab_;
  std::vector<int> text_ids_;  // NextToken: the built-in text as token ids
  Params<float> params_;
  std::map<std::string, MatT<float>> adam_m_, adam_v_;
  Rng data_rng_;
  int step_ = 0;
};

// [SECTION] Trained weights files
struct TrainedWeights {
  TensorMap weights;
  Vocab vocab;
  ModelConfig model;
  std::string task;
  int steps = 0;
};
Result<TrainedWeights> load_trained(const std::string& path);
// The same from a file's bytes; `name` (the file) starts every message.
Result<TrainedWeights> parse_trained(std::string_view bytes, const std::string& name);

}  // namespace qkv
