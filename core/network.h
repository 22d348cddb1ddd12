// QKV Lab core — the differentiable model: the same Transformer as core::run's forward pass, written on the
// gradient tape (core/tape.h) so every parameter and every activation gets dL/d(·). The trainer runs it in
// float; tests run it in double against central finite differences, and check its float forward against
// core::run tensor by tensor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/tape.h"
#include "core/trace.h"

namespace qkv {

template <typename T>
using Params = std::map<std::string, MatT<T>>;  // parameter path -> value (paths as in Trace::weights)

template <typename T>
Params<T> to_params(const TensorMap& weights);
TensorMap to_tensor_map(const Params<float>& params);

// Whether the optimiser updates this parameter: identity projections are fixed, and with tied W_Q = W_K the
// stored W_K is a copy of W_Q (its gradient is added to W_Q's).
bool is_trainable(const ModelConfig&, const std::string& path);

// The token ids of one pass, padded to equal length.
struct TokenBatch {
  std::vector<std::vector<int>> source;       // [B][n_src] encoder input, or the decoder-only input
  std::vector<std::vector<int>> decoder_in;   // [B][n_dec] encoder–decoder only: [BOS] + target
  std::vector<std::vector<bool>> source_pad;  // [B][n_src] true where the key is padding
  std::vector<std::vector<bool>> decoder_pad;  // [B][n_dec]
};

struct PassOptions {
  MaskFlags encoder_mask = kMaskPadding;
  MaskFlags decoder_mask = kMaskCausal | kMaskPadding;
  std::vector<Cell> custom_cells;
  bool dropout = false;  // training: drop with the config's p, masks drawn from dropout_seed in forward order
  uint64_t dropout_seed = 0;
  // Added to the named activations (tests nudge Q, K, V, S, P this way to check their gradients).
  const std::map<std::string, MatD>* nudges = nullptr;
  // Heads ("decoder.1.self_attn.head.3") and layers ("decoder.1") whose outputs are replaced (Session::ablations).
  std::map<std::string, AblationKind> ablations;
  int segment_separator = -1;  // token types: the id after which the next segment starts (BERT's [SEP]); −1: one segment

};

// Where a named activation lives on the tape: rows [row0, row0 + rows) of node id.
struct NodeView {
  int id = -1;
  int row0 = 0;
  int rows = 0;
};

template <typename T>
struct NetworkPass {
  Tape<T> tape;
  std::map<std::string, int> params;       // parameter path -> leaf (tied W_K shares W_Q's leaf and is absent)
  std::map<std::string, NodeView> nodes;   // activation path (Trace paths; batch.<b>. for b > 0) -> view
  int logits = -1;                         // [B·n_out, V]
  int n_out = 0;                           // output rows per sequence
  int sequences = 0;                       // B
};

template <typename T>
NetworkPass<T> network_forward(const ModelConfig&, const PassOptions&, const Params<T>&, const TokenBatch&);
// The same, moving each parameter onto the tape instead of copying it (a one-off pass: the weights are not held twice).
template <typename T>
NetworkPass<T> network_forward(const ModelConfig&, const PassOptions&, Params<T>&&, const TokenBatch&);

// The value of a named activation, or of a parameter, on the tape (rows of sequence 0 only for activations).
template <typename T>
MatT<T> node_value(NetworkPass<T>&, const std::string& path);
template <typename T>
MatT<T> node_grad(NetworkPass<T>&, const std::string& path);

// [SECTION] Losses of a pass
// Auto: next token (decoder-only), target sequence (encoder–decoder), reconstruct the input (encoder-only).
LossKind resolve(LossKind, Arch);

// Output targets for the rows of the logits, −1 where ignored (padding, and the last row of next-token).
//   NextToken: row t predicts source[t+1]; TargetSequence: row t predicts decoder_in[t+1], the last row [EOS];
//   Reconstruct: row t predicts source[t].
std::vector<int> output_targets(LossKind, Arch, const TokenBatch&);

// "Match this attention pattern" targets [n, m]: rows sum to 1.
MatD pattern_target(Pattern, int n, int m);

// Runs the loss on the pass and backpropagates it; returns L. Pattern uses pattern_head's P (sequence 0).
struct LossOptions {
  LossKind kind = LossKind::Auto;
  double label_smoothing = 0.0;
  Pattern pattern = Pattern::Diagonal;
  std::string pattern_head;  // e.g. "encoder.0.self_attn.head.0"; empty = the first self-attention head
};
LossOptions loss_options(const Session&);
template <typename T>
T backpropagate(NetworkPass<T>&, const ModelConfig&, const TokenBatch&, const LossOptions&);

// The session's masks, custom cells and dropout (Train mode, drawn from stream_seed(seed, "dropout")).
PassOptions pass_options(const Session&);

// The session's tokens as a TokenBatch (tokenize_batch + padding flags).
TokenBatch token_batch(const Session&, Vocab* vocab = nullptr);

// Adds dL/d<path> for the session's loss to the trace: every trainable parameter, and for sequence 0 every
// head's Q, K, V, S, P and O and each block's activations; also "loss" [1, 1]. Needs the trace's weights.
std::optional<Error> add_gradients(const Session&, Trace&);

}  // namespace qkv
