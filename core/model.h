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

struct TrainedWeights;  // core/trainer.h

// Keeps the last weights so that a run whose weights would be the same (only toggles such as √d_k, masks,
// temperature or residuals changed) reuses them instead of drawing millions of numbers again.
class WeightCache {
 public:
  std::shared_ptr<const TensorMap> get(const ModelConfig&, const Vocab&, uint64_t seed);
  // Session::weights: the seeded weights with every tensor of the trained file whose shape matches, and
  // embedding rows matched by token; what could not be used is said in *warnings. Files are read once.
  Result<std::shared_ptr<const TensorMap>> get_trained(const std::string& path, const ModelConfig&, const Vocab&, uint64_t seed,
                                                       std::vector<std::string>* warnings);
  // Serves `weights` for Session::weights == name without reading a file (the live training run's latest).
  void set_trained(const std::string& name, std::shared_ptr<const TrainedWeights> weights);
  // Folders a relative Session::weights path is looked up in (the app adds its assets/weights/).
  std::vector<std::string> search_dirs;
  int builds() const { return builds_; }  // how many times weights were drawn (for tests and the status bar)

 private:
  std::string key_;
  std::shared_ptr<const TensorMap> weights_;
  std::string trained_path_;
  std::shared_ptr<const TrainedWeights> trained_;  // the last file read, or the weights given to set_trained
  int builds_ = 0;
};

// M: [n, m], 0 where query (q_pos0 + i) may look at key j and −∞ where it may not: causal (j > q_pos0 + i),
// padding (key_is_pad[j]) and the custom cells, as the flags say.
Mat attention_mask(MaskFlags flags, int n, int m, int q_pos0, const std::vector<bool>& key_is_pad, const std::vector<Cell>& cells);
// true where ids[i] is [PAD] or i is one of the positions the user marked as padding.
std::vector<bool> pad_flags(const std::vector<int>& ids, const std::vector<int>& marked);

// Validates the session, then runs the forward pass (and greedy KV-cache decoding when decode_steps > 0).
// With decoding, the parallel (teacher-forced) pass runs over the prompt plus the generated tokens that were
// fed back, and decode.<path> holds the same attention rows computed one token at a time.
Result<Trace> run(const Session&, WeightCache* cache = nullptr);

}  // namespace qkv
