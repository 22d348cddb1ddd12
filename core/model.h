// QKV Lab core — the model: weights made from the seed, and core::run, the only way numbers are made.
#pragma once

#include "core/config.h"
#include "core/trace.h"

namespace qkv {

// Tokenizes the session's batch and builds the vocabulary (specials first, then tokens in order of appearance).
struct TokenizedBatch {
  Vocab vocab;
  std::vector<std::vector<int>> source_ids;  // [B][n], padded with [PAD] to the longest
  std::vector<std::vector<int>> target_ids;  // [B][n_dec] decoder inputs ([BOS] + target), enc–dec only
};
TokenizedBatch tokenize_batch(const Session&);

// Every parameter of the model, named by path, drawn from the seed. Each tensor has its own stream
// (stream_seed(seed, path)), and each embedding row its own (seed, token), so adding a word or a layer
// leaves every other number unchanged.
TensorMap make_weights(const ModelConfig&, const Vocab&, uint64_t seed);

// Keeps the last weights so that a run whose weights would be the same (only toggles such as √d_k, masks,
// temperature or residuals changed) reuses them instead of drawing millions of numbers again.
class WeightCache {
 public:
  std::shared_ptr<const TensorMap> get(const ModelConfig&, const Vocab&, uint64_t seed);
  int builds() const { return builds_; }  // how many times weights were drawn (for tests and the status bar)

 private:
  std::string key_;
  std::shared_ptr<const TensorMap> weights_;
  int builds_ = 0;
};

// Validates the session, then runs the forward pass (and greedy KV-cache decoding when decode_steps > 0).
// With decoding, the parallel (teacher-forced) pass runs over the prompt plus the generated tokens that were
// fed back, and decode.<path> holds the same attention rows computed one token at a time.
Result<Trace> run(const Session&, WeightCache* cache = nullptr);

}  // namespace qkv
