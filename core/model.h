// QKV Lab core — the model: weights made from the seed, and core::run, the only way numbers are made.
#pragma once

#include <map>
#include <memory>

#include "core/config.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/trace.h"

namespace qkv {

// Tokenizes the session's batch and builds the vocabulary (specials first, then tokens in order of appearance).
// A session with model_dir: the checkpoint's own tokenizer and fixed vocabulary (core/pretrained.h); GPT-2 reads the
// text as it is, BERT as [CLS] text [SEP]. (An unreadable folder gives no ids: run() says why.)
struct TokenizedBatch {
  Vocab vocab;
  int pad_id = Vocab::kPadId;  // −1: the vocabulary has no padding token (GPT-2)
  std::vector<std::vector<int>> source_ids;  // [B][n], padded with [PAD] to the longest
  std::vector<std::vector<int>> target_ids;  // [B][n_dec] decoder inputs ([BOS] + target), enc–dec only
  int cut_tokens = 0;  // a real BERT model: tokens of sequence 0 past its positions, dropped (the trace warns)
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
  int builds() const { return builds_; }
  // The trained weights file last read (or given to set_trained), with its task; null before any.
  std::shared_ptr<const TrainedWeights> trained() const { return trained_; }  // how many times weights were drawn (for tests and the status bar)

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
// true where ids[i] is the padding token (pad_id; −1: none) or i is one of the positions the user marked as padding.
std::vector<bool> pad_flags(const std::vector<int>& ids, const std::vector<int>& marked, int pad_id = Vocab::kPadId);
// Token types: the id that ends a segment (a real BERT's [SEP]; the toy models' [EOS]).
int segment_separator(const Session&);
// The decoder's key padding for its input ids: [PAD], and the positions the user marked only when the decoder reads the
// source itself (decoder-only; an encoder–decoder's marks belong to its source).
std::vector<bool> decoder_pad_flags(const Session&, const std::vector<int>& ids, int pad_id = Vocab::kPadId);

// Validates the session, then runs the forward pass (and greedy KV-cache decoding when decode_steps > 0).
// With decoding, the parallel (teacher-forced) pass runs over the prompt plus the generated tokens that were
// fed back, and decode.<path> holds the same attention rows computed one token at a time.
// `progress` is told (layers done, layers in all); returning false stops the run with an Error saying so.
Result<Trace> run(const Session&, WeightCache* cache = nullptr, const Progress& progress = {});

// What the trace keeps (core/trace.h TraceTensors): everything, or only what is cheap (lean: the rest is derived on
// demand). Auto keeps everything unless the n×n stages would take more than lean_above_bytes; training with dropout
// always keeps everything (a recompute would draw other dropout masks).
enum class TraceKeep { Auto, Full, Lean, Count };

// [SECTION] Incremental recompute
// What a run may take from an earlier trace instead of recomputing: the first layers of each stack, whose inputs and
// weights did not change. The run takes every tensor and head statistic of those layers (a whole stack also its
// final norm; both whole stacks also the logits and the decoded tokens) and starts the stack at the first layer it
// did not take, from that layer's kept input. Never the gradients: they are made again.
struct Reuse {
  std::shared_ptr<const Trace> trace;  // null: nothing is taken
  int encoder_layers = 0;              // encoder layers 0 … k−1 are taken
  int decoder_layers = 0;              // decoder (or decoder-only) layers 0 … k−1 are taken
};
// What a run of `after` can take from `trace`, the run of `before`. Today's edits change a whole stack or none of it —
// the model, the seed, the weights, the tokenizer and the source feed both stacks; the target, the decoder's mask and
// decoding only the decoder; the loss settings neither — so each stack is taken whole or not at all (RunOptions::reuse
// itself starts at any layer k). Nothing is taken while training with dropout (the masks come from one stream in
// forward order) or when the two runs would keep their traces differently (lean or full).
Reuse reusable(const Session& before, std::shared_ptr<const Trace> trace, const Session& after);

struct RunOptions {
  WeightCache* cache = nullptr;
  Progress progress;
  TraceKeep keep = TraceKeep::Auto;
  size_t lean_above_bytes = size_t{256} << 20;
  Reuse reuse;  // layers to take from an earlier trace (they must come from the same model, weights and inputs)
  // Bytes the run may take (core/memory.h): 0 is memory_limit(), the machine's default or the override. A caller that
  // still holds memory while the run allocates (the app: the trace on screen) says how much in memory_in_use.
  int64_t memory_limit = 0;
  double memory_in_use = 0.0;
};
Result<Trace> run(const Session&, const RunOptions&);

// [SECTION] Memory, estimated before anything is allocated
// A run is refused when weights + trace + working + gradients + memory_in_use exceeds the limit. Each part is an upper
// estimate from the shapes (float32 everywhere; tests hold it between the bytes a run takes and a quarter more):
//   weights   every parameter (count_model of the teaching model; a trained file has the same shapes);
//   trace     full: per sequence and stack, the embeddings 3·n·d; per layer its input and output 2·n·d; per
//             attention block of n queries over m keys the mask n·m, per head Q, K, V, O (n·d_k + m·d_k + m·d_v +
//             n·d_v) and its stages S, S_scaled, S_masked, P (+ B with ALiBi) of n·m each, the concat n·h·d_v and
//             out, residual, norm 3·n·d; the FFN's hidden and act 2·n·d_ff and out, residual, norm 3·n·d; the final
//             norm n·d; logits and probs 2·n·V; decoding adds each step's P rows (h·n² per layer) and the KV cache.
//             lean: only the embeddings, each layer's input and output, the final norm and the logits;
//   working   while one layer runs: that layer's rows for the whole batch, and a lean run's row blocks of every thread;
//             the output softmax's n·V; the KV cache while decoding;
//   gradients (add_gradients) the tape's copy of the weights and their gradients, each node's value and gradient
//             (kTapeNodesPerActivation times the full trace's activations, as the tape keeps the sublayers' inner
//             steps too), and dL/d… of sequence 0 kept in the trace.
struct MemoryEstimate {
  double weights = 0.0;
  double trace = 0.0;
  double working = 0.0;
  double gradients = 0.0;
  bool lean = false;  // the run keeps a lean trace
  double total() const { return weights + trace + working + gradients; }
};
inline constexpr double kTapeNodesPerActivation = 2.0;
MemoryEstimate estimate_memory(const Session&, const RunOptions& = {}, bool gradients = false);
// None when `estimate` + in_use fits in `limit` bytes (0: memory_limit()); else the Error that refuses `what` with
// the estimate, its largest part and the limit. `what` is a phrase in the current language ("this run"), the subject of the
// sentence "{what} would take about …" (core.model.memory.refused).
std::optional<Error> check_memory(const MemoryEstimate& estimate, const std::string& what, int64_t limit = 0, double in_use = 0.0);
// Bytes of the per-head n×n stages (S, S_scaled, S_masked, P, and B with ALiBi) a full trace of the session keeps.
double stage_bytes(const ModelConfig&, int sequences, int n_source, int n_target);
// The Error a cancelled run returns (is_cancelled tells it apart from a real one, in whichever language it was made).
bool is_cancelled(const Error&);

// [SECTION] The layer stepper's sub-steps, as the config wires them
// One attention block (self or cross) of one layer, with the layer's FFN: the steps a reader walks through, in
// the order the forward pass runs them. Pre-Norm puts each norm before its sublayer and ends the stack with
// the final norm; Post-Norm puts it after the residual sum; without residuals there is no sum; without a norm
// there are no norm steps. In an encoder–decoder's decoder the other attention sublayer appears as one step
// (SelfSublayer before a cross-attention block, CrossSublayer after a self-attention block).
enum class LayerStep {
  Embed, AddPE, Input, SelfSublayer, NormIn, Project, Scores, Scale, Mask, Softmax, WeightedSum, ConcatWO, Residual, NormOut,
  CrossSublayer, FFNNormIn, FFNHidden, FFNAct, FFNOut, FFNResidual, FFNNormOut, FinalNorm, Count
};
struct LayerStepView {
  LayerStep step;
  std::string tensor;  // the trace path the step produces (per-head steps: of `head`)
  std::string label;   // for people, in the current language (core.model.step.*), e.g. "layernorm before the FFN (Pre-Norm)"
};
// block: an attention block path such as "decoder.1.cross_attn".
std::vector<LayerStepView> layer_steps(const ModelConfig&, const std::string& block, int head);
// A stable name per step, as lessons' views write it ("softmax", "norm", "activation", "final norm", ...). The two
// norms of a sublayer share one name: a model has one of them (Pre-Norm before, Post-Norm after).
const char* name(LayerStep);

// [SECTION] Decoding: sampling and step-by-step generation through the KV cache
// Sampling of the next token (Holtzman et al. 2020 for top-p):
//   p = softmax(logits / T); keep the k most likely (top_k > 0); then keep the smallest set of most likely
//   tokens whose mass reaches top_p (top_p < 1); renormalise. T = 0 is greedy: all mass on the argmax.
// Ties keep the lower token id first. At least one token always survives.
struct SamplingOptions {
  float temperature = 1.0f;  // T ≥ 0
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // (0, 1]; 1: off
};
std::optional<Error> validate(const SamplingOptions&);
RowVec sampling_distribution(const RowVec& logits, const SamplingOptions&);  // [V] -> [V], sums to 1
// The k most likely ids of a distribution (ties: the lower id first), with their probabilities.
std::vector<std::pair<int, float>> top_tokens(const RowVec& distribution, int k);
// Draws a token id from a distribution (inverse CDF with one uniform of rng).
int sample_token(const RowVec& distribution, Rng& rng);

// Autoregressive decoding of a decoder-only or encoder–decoder session, one token at a time: each new token's
// query attends to the cached keys and values of every earlier position (the prompt first fills the cache).
class Generator {
 public:
  // Runs the encoder (encoder–decoder) and feeds the prompt: the decoder-only input, or [BOS] + target.
  static Result<std::unique_ptr<Generator>> start(const Session&, WeightCache* cache = nullptr);
  // The same with the weights already made (core::run's greedy decoding uses this).
  static Result<std::unique_ptr<Generator>> start_with(const Session&, std::shared_ptr<const TensorMap> weights);
  ~Generator();
  const RowVec& logits() const;  // [V] of the last fed position: the next token's scores
  // Appends a token and runs its one position through the cache; false (nothing fed) once max_len positions are used.
  bool feed(int id);
  const std::vector<int>& ids() const;
  const Vocab& vocab() const;
  int prompt_length() const;
  // Attention rows of the last fed position: path (e.g. "decoder.0.self_attn.head.1.P") -> [m] over every key so far.
  const std::map<std::string, RowVec>& last_rows() const;
  // Every fed position's rows, stacked: path -> [positions, m] (zero-padded on the right).
  std::map<std::string, Mat> all_rows() const;

 private:
  struct Impl;
  explicit Generator(std::unique_ptr<Impl>);
  std::unique_ptr<Impl> impl_;
};

// [SECTION] Targets of a trained task
// The decoder target a model trained on `task` (copy / reverse / sort, core/trainer.h) expects for `source`,
// token by token with the session's tokenizer; nullopt for other tasks (next-token) or an unknown one.
std::optional<std::string> task_target(const std::string& task, const std::string& source, TokenizerKind);
// The target after the source changes from old_source to new_source: the task's target of the new source while
// `target` was the task's target of the old one (it follows the source); otherwise `target` (the user edited it).
std::string follow_task_target(const std::string& task, const std::string& old_source, const std::string& new_source, const std::string& target,
                               TokenizerKind);

}  // namespace qkv
