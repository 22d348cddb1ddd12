// QKV Lab core — the Trace: every intermediate of a run, named by path, read-only for its consumers.
//
// Paths (also the names of exported .npy files), for stack ∈ {encoder, decoder}, layer l, head i:
//   <stack>.embed.E_x [n, d_model]   token embeddings (after ×√d_model when enabled)
//   <stack>.embed.PE  [n, d_model]   positional encoding added (sinusoidal / learned)
//   <stack>.embed.X   [n, d_model]   the stack's input
//   <stack>.l.self_attn.M            [n, m]  mask (0 or −∞)          <stack>.l.cross_attn.* for the decoder's cross-attention
//   <stack>.l.self_attn.head.i.{Q [n,d_k], K [m,d_k], V [m,d_v], S [n,m], B [n,m] (ALiBi), S_scaled, S_masked, P, O [n,d_v]}
//   <stack>.l.self_attn.{input, concat [n,h·d_v], out [n,d_model], residual, norm}
//   <stack>.l.ffn.{input, hidden [n,d_ff], act [n,d_ff], out [n,d_model], residual, norm}
//   <stack>.l.output, <stack>.final_norm, output.logits [n, V], output.probs [n, V]
// Sequences of the batch after the first carry the prefix batch.<b>.
// With gradients (core/network.h add_gradients): loss [1, 1], and dL/d<path> for every trainable weight and every
// activation of sequence 0 (dL/d…head.i.S is with respect to the raw scores S, before the ·scale).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "core/tokenizer.h"

namespace qkv {

// Named matrices in insertion order (the order of the forward pass).
class TensorMap {
 public:
  struct Entry {
    std::string path;
    Mat value;
  };
  void put(const std::string& path, Mat value);
  const Mat* find(const std::string& path) const;
  Mat* find_mutable(const std::string& path);
  const Mat& at(const std::string& path) const;  // asserts the tensor exists
  bool contains(const std::string& path) const { return index_.count(path) != 0; }
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  size_t bytes() const;
  std::vector<Entry> take_entries() &&;  // moves every entry out

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Recomputes what a lean trace did not keep. A unit is what one recompute yields: a layer's rows ("encoder.3": its
// norms, Q, K, V, O of every head, FFN …, but no n×m matrix), one n×m stage of one head ("encoder.3.self_attn.head.1.P",
// likewise S, B, S_scaled, S_masked) or a block's mask ("encoder.3.self_attn.M"), or "output" (probs).
class Deriver {
 public:
  // A tensor of the trace by path, kept or derived (nullptr: none); a unit's derive() may ask for another unit's tensors.
  using Lookup = std::function<const Mat*(const std::string& path)>;
  virtual ~Deriver() = default;
  virtual std::vector<std::string> units() const = 0;               // in forward order; a layer before its heads
  virtual std::string unit_of(const std::string& path) const = 0;  // "" when no unit yields the path
  // The unit's tensors (none that the trace keeps, none of another unit), recomputed from what `trace` finds.
  virtual void derive(const std::string& unit, const Lookup& trace, TensorMap& out) const = 0;
};

// The trace's activations. A full trace keeps every one. A lean trace (large models and inputs: core::run decides, see
// RunOptions) keeps what is cheap — each layer's input and output, the embeddings, the logits — and derives the rest
// (Q, K, V, the n×n stages S, S_scaled, S_masked, P, the FFN's hidden rows …) on demand: find() recomputes the one
// unit that holds the path — one layer's rows, or one head's one n×m stage — and keeps it until release_derived().
// Memory then grows with L·n·d, not L·h·n². Pointers from find() stay valid until release_derived(); find() may be
// called from several threads.
class TraceTensors : public TensorMap {
 public:
  const Mat* find(const std::string& path) const;  // kept, else derived (nullptr: no such tensor)
  const Mat& at(const std::string& path) const;     // asserts the tensor exists
  bool contains(const std::string& path) const { return find(path) != nullptr; }
  bool lean() const { return deriver_ != nullptr; }
  // Every tensor, kept and derived, one unit at a time (derived ones are dropped after their unit: memory stays bounded).
  void for_each(const std::function<void(const std::string& path, const Mat& value)>& fn) const;
  size_t count() const;  // every tensor, kept and derivable (derives each unit once when lean)
  size_t derived_bytes() const;
  // Drops the derived tensors; call only where no pointer from find() is still held (e.g. at the start of a frame).
  void release_derived() const;
  void set_deriver(std::shared_ptr<const Deriver> d) { deriver_ = std::move(d); }

 private:
  const Mat* find_derived(const std::string& path) const;  // with cache_->mutex held
  struct Cache {
    std::recursive_mutex mutex;  // a unit's derive() finds tensors of another unit (a head: its layer's Q and K)
    std::unordered_map<std::string, std::unique_ptr<Mat>> tensors;
    std::unordered_map<std::string, bool> units_done;
  };
  std::shared_ptr<const Deriver> deriver_;
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
};

// Statistics of one head's attention (sequence 0).
struct HeadStats {
  std::string path;           // e.g. "encoder.0.self_attn.head.2"
  RowVec entropy;             // [n] nats per query row
  RowVec max_weight;          // [n] largest weight per query row
  float mean_entropy = 0.0f;  // over rows that have a distribution
  float mean_max_weight = 0.0f;
  float scale = 1.0f;       // what S was multiplied by before the mask and softmax: 1/(√d_k·τ), or 1/τ with scaling off
  float score_mean = 0.0f;  // of S_scaled over unmasked cells
  float score_variance = 0.0f;
  std::vector<int> fully_masked_rows;
};

struct Trace {
  Vocab vocab;
  std::vector<std::string> source_tokens;    // sequence 0, after padding to the batch (as shown: GPT-2's "Ġ" as "␣")
  std::vector<int> source_ids;               // their ids
  std::vector<std::string> target_tokens;    // decoder input of an encoder–decoder model ([BOS] + target)
  std::vector<std::string> decoded_tokens;   // greedy continuation when decode_steps > 0
  std::shared_ptr<const TensorMap> weights;  // every parameter, by path (e.g. encoder.0.self_attn.W_Q); shared with a WeightCache
  TraceTensors tensors;                      // every activation, by path (kept, or derived on demand in a lean trace)
  std::vector<HeadStats> heads;
  std::vector<std::string> warnings;  // e.g. fully masked rows; the UI shows them
  double elapsed_ms = 0.0;

  const HeadStats* head(const std::string& path) const;
};

}  // namespace qkv
