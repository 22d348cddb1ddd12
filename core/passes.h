// QKV Lab core — the model's passes, written once.
//   embed → +PE → per layer: [norm] → Q,K,V → (RoPE) → S = QKᵀ → ·scale → +B+M → softmax → ·V → concat·W_O →
//   +residual → [norm] → FFN → +residual → [norm] → final norm → logits = H·Eᵀ
//
// `Passes<Backend>` describes the Transformer once; a backend supplies the ops. Two backends run it:
//   - core/model.cpp's eager backend (float): values only, recorded into the Trace (core::run), or into the
//     KV-cache decoder's rows (core::Generator). It also records the stages the app shows but the gradient does
//     not need (M, B, S_scaled, S_masked, batch statistics, output.probs, fully masked rows).
//   - core/network.cpp's tape backend (float or double): every op also records its backward on core/tape.h, for
//     gradients and training.
// A backend provides: Node (a handle to a value), Scalar, value(Node), param(path), has_param(path), constant(M),
// the ops below (matmul, matmul_bt, add, add_row, add_constant, scale, mul_constant, cols, rows, concat_cols,
// concat_rows, gather_rows, softmax, additive_scores, rope, layer_norm, rms_norm, batch_norm, relu, gelu),
// put(path, node, row0, rows) to record a named activation, and wants_stages() (any at all: a cheap first test) /
// wants_stage(path) / put_stage(path, M) /
// head_done(head, S, P, scale, bias_and_mask) (sequence 0's statistics) for what only the trace keeps.
// Row blocks: where fuses(head) says so (the eager backend of a lean trace), a head runs in blocks of query rows —
// row_blocks(n, m, block) concatenates block(r0, rows) — so no n×m matrix (S, P, the mask) is ever whole in memory;
// head_rows(r0, S, P, bias_and_mask) then adds each block to the statistics that head_begin(head, n, scale) started
// and head_end() finishes.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/model.h"
#include "core/network.h"
#include "core/ops.h"
#include "core/paths.h"
#include "core/positional.h"
#include "core/rng.h"

namespace qkv {

// Keys and values one attention block of one sequence has seen so far (after RoPE).
template <typename Node>
struct KVCache {
  Node K;  // [m, h·d_k]
  Node V;  // [m, h·d_v]
  int rows = 0;
};
template <typename Node>
struct LayerCache {
  KVCache<Node> self, cross;
};

// The mask of one attention block, made a block of query rows at a time: rows [r0, r0 + rows) of M [n, m] are the mask
// of the queries at positions q_pos0 + r0 … (causal, padding of the keys, the custom cells), as attention_mask says.
struct MaskRows {
  MaskFlags flags = kMaskNone;
  int q_pos0 = 0;
  int m = 0;
  const std::vector<bool>* key_pad = nullptr;
  const std::vector<Cell>* cells = nullptr;
  template <typename T>
  MatT<T> rows(int r0, int count) const {
    static const std::vector<Cell> no_cells;
    return attention_mask(flags, count, m, q_pos0 + r0, *key_pad, cells ? *cells : no_cells).template cast<T>();
  }
};

template <typename Backend>
class Passes {
 public:
  using Node = typename Backend::Node;
  using T = typename Backend::Scalar;
  using M = MatT<T>;
  using Caches = std::vector<std::vector<LayerCache<Node>>>;  // [sequence][layer]

  Passes(const ModelConfig& c, const PassOptions& o, Backend& be)
      : c_(c), o_(o), be_(be), rng_(o.dropout_seed), h_(c.heads), d_k_(c.head_dk()), d_v_(c.head_dv()) {
    scale_ = static_cast<T>(score_scale(c));
    if (c.pe == PosEncoding::ALiBi) slopes_ = alibi_slopes(h_);
  }

  T scale() const { return scale_; }
  // Told (layers done, layers in all) before each layer; false stops the pass (cancelled() then says so).
  const Progress* progress = nullptr;
  int layers_total = 0;
  bool cancelled() const { return cancelled_; }
  void skip_layers(int k) { layers_done_ += k; }  // layers an incremental recompute took instead of running

  // [SECTION] Embedding.   X: [B·n, d_model] = E[ids]·(√d_model) + PE(pos0 …), then dropout
  Node embed(const std::string& stack, const std::vector<std::vector<int>>& ids, int pos0) {
    const int B = static_cast<int>(ids.size()), n = static_cast<int>(ids[0].size());
    std::vector<int> flat;
    for (const auto& row : ids) flat.insert(flat.end(), row.begin(), row.end());
    Node X = be_.gather_rows(param("embed.E"), flat);
    if (c_.scale_embeddings) X = be_.scale(X, static_cast<T>(std::sqrt(static_cast<double>(c_.d_model))));
    record(paths::join(stack, "embed.E_x"), X, n);
    if (c_.pe == PosEncoding::Sinusoidal) {
      const Mat table = sinusoidal_table(pos0 + n, c_.d_model, c_.pe_base);
      M PE(B * n, c_.d_model);
      for (int b = 0; b < B; ++b) PE.middleRows(b * n, n) = table.bottomRows(n).template cast<T>();
      const Node PE_node = be_.constant(std::move(PE));
      record(paths::join(stack, "embed.PE"), PE_node, n);
      X = be_.add(X, PE_node);
    } else if (c_.pe == PosEncoding::Learned) {
      std::vector<int> positions;
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < n; ++i) positions.push_back(pos0 + i);
      const Node PE = be_.gather_rows(param("pos.learned"), positions);
      record(paths::join(stack, "embed.PE"), PE, n);
      X = be_.add(X, PE);
    }
    // Token types (BERT's segments): 0 up to and including the first separator, 1 after it, …
    if (c_.token_types > 0) {
      std::vector<int> types;
      for (const auto& row : ids) {
        int segment = 0;
        for (int i = 0; i < n; ++i) {
          types.push_back(std::min(segment, c_.token_types - 1));
          if (o_.segment_separator >= 0 && row[i] == o_.segment_separator) ++segment;
        }
      }
      const Node T_x = be_.gather_rows(param("embed.token_type"), types);  // [B·n, d_model]
      record(paths::join(stack, "embed.token_type"), T_x, n);
      X = be_.add(X, T_x);
    }
    if (c_.embed_norm && c_.norm != NormKind::None) X = record(paths::join(stack, "embed.norm"), norm("embed.norm", X), n);
    X = dropout(X);
    return record(paths::join(stack, "embed.X"), X, n);
  }

  // [SECTION] The stack: L blocks over the n new rows of each sequence.
  //   H: [B·n, d_model] at positions pos0…; memory: the encoder's output [B·m_src, d_model] (cross-attention) or null;
  //   caches: keys and values of earlier positions (decoding), filled as the pass goes.
  //   first_layer > 0: H is that layer's input (an incremental recompute took the layers below from an earlier trace).
  Node stack(const std::string& stack, Node H, int n, int pos0, Caches& caches, const Node* memory,
             const std::vector<std::vector<bool>>& key_pad, const std::vector<std::vector<bool>>& src_pad, MaskFlags flags, int first_layer = 0) {
    skip_layers(first_layer);
    for (int l = first_layer; l < c_.layers; ++l) {
      if (cancelled_ || (progress && *progress && !(*progress)(layers_done_, layers_total))) {
        cancelled_ = true;
        return H;
      }
      ++layers_done_;
      H = layer(stack, l, H, n, pos0, caches, memory, key_pad, src_pad, flags);
    }
    if (c_.norm_placement == NormPlacement::Pre && c_.norm != NormKind::None) {
      const std::string f = paths::join(stack, "final_norm");
      H = record(f, norm(f, H), n);
    }
    return H;
  }

  // One block: self-attention, cross-attention (with memory), FFN, each wrapped in its residual and norm.
  Node layer(const std::string& stack, int l, Node H, int n, int pos0, Caches& caches, const Node* memory,
             const std::vector<std::vector<bool>>& key_pad, const std::vector<std::vector<bool>>& src_pad, MaskFlags flags) {
    const int B = static_cast<int>(key_pad.size());
    const int m = pos0 + n;
    const std::string p = paths::layer(stack, l);
    record(paths::join(p, "input"), H, n);
    const std::string self = paths::join(p, paths::kSelf);
    H = sublayer(self, H, n, [&](const Node& X) {
      std::vector<Node> out;
      for (int b = 0; b < B; ++b) {
        const MaskRows mask{flags, pos0, m, &key_pad[b], &o_.custom_cells};
        const Node X_b = B == 1 ? X : be_.rows(X, b * n, n);
        out.push_back(attention(self, true, X_b, &X_b, caches[b][l].self, pos0, mask, prefix(b)));
      }
      return B == 1 ? out[0] : be_.concat_rows(out);
    });
    if (memory) {
      const int m_src = static_cast<int>(be_.value(*memory).rows()) / B;
      const std::string cross = paths::join(p, paths::kCross);
      H = sublayer(cross, H, n, [&](const Node& X) {
        std::vector<Node> out;
        for (int b = 0; b < B; ++b) {
          const MaskRows mask{o_.encoder_mask & kMaskPadding, pos0, m_src, &src_pad[b], nullptr};
          KVCache<Node>& cache = caches[b][l].cross;
          const Node X_b = B == 1 ? X : be_.rows(X, b * n, n);
          if (cache.rows > 0) {  // the encoder's keys and values were projected on the first call
            out.push_back(attention(cross, false, X_b, nullptr, cache, pos0, mask, prefix(b)));
          } else {
            const Node mem_b = B == 1 ? *memory : be_.rows(*memory, b * m_src, m_src);
            out.push_back(attention(cross, false, X_b, &mem_b, cache, pos0, mask, prefix(b)));
          }
        }
        return B == 1 ? out[0] : be_.concat_rows(out);
      });
    }
    if (stop_requested()) return H;
    const std::string ffn_path = paths::join(p, paths::kFFN);
    H = sublayer(ffn_path, H, n, [&](const Node& X) { return ffn(ffn_path, X, n); });
    return record(paths::join(p, "output"), H, n);
  }

  // [SECTION] Output: logits = H·Eᵀ [B·n, V] (the projection is tied to the embeddings); the trace adds P = softmax.
  // BERT's masked-language-model head first transforms H: Norm(act(H·W_T + b_T)), and adds its own bias b_out [V].
  Node logits(const Node& H, int n) {
    Node X = H;
    if (c_.mlm_head) {
      X = record("output.transform.hidden", linear(H, "output.transform.W", "output.transform.b"), n);  // [B·n, d_model]
      X = record("output.transform.act", activation(X), n);
      if (c_.norm != NormKind::None) X = record("output.transform.norm", norm("output.transform.norm", X), n);
    }
    Node scores = be_.matmul_bt(X, param("embed.E"));  // [B·n, V]
    if (be_.has_param("output.bias")) scores = be_.add_row(scores, param("output.bias"));
    const Node logits = record("output.logits", scores, n);
    if (be_.wants_stages() && be_.wants_stage("output.probs")) {
      const M probs = softmax_rows_t<T>(be_.value(logits), T(1), nullptr);
      const int B = static_cast<int>(probs.rows()) / n;
      for (int b = 0; b < B; ++b) be_.put_stage(prefix(b) + "output.probs", probs.middleRows(b * n, n));
    }
    return logits;
  }

  // Passes 3–6 of head i of one attention block (p, e.g. "encoder.0.self_attn"), from its Q_i [n, d_k] and K_i [m, d_k]
  // (after RoPE): S, B (ALiBi), S_scaled, S_masked and P = softmax(S·scale + B + M), named under seq + p.
  // The forward runs it for each head that is not in row blocks; a lean trace runs it to derive one head on demand.
  Node head_stages(const std::string& p, bool self, int i, const Node& Q_i, const Node& K_i, const MaskRows& mask, const M& whole_mask,
                   const std::string& seq) {
    const std::string hp = seq + paths::head(p, i);
    const int n = static_cast<int>(be_.value(Q_i).rows());
    // Pass 3 — scores: S = Q·Kᵀ [n, m], or additive S_ij = w_aᵀ tanh(q_i + k_j) (Bahdanau et al. 2015)
    const Node S = named(paths::join(hp, "S"), scores(p, i, Q_i, K_i));
    // Pass 4 — ALiBi: a per-head linear penalty on distance, added like the mask
    M with_alibi;
    if (alibi(self)) {
      const M B = alibi_rows(i, 0, n, mask);
      if (be_.wants_stages() && be_.wants_stage(paths::join(hp, "B"))) be_.put_stage(paths::join(hp, "B"), B);
      with_alibi = whole_mask + B;
    }
    const M& bias_and_mask = alibi(self) ? with_alibi : whole_mask;
    // Passes 4–5 as the stepper shows them: S_scaled = S·scale, S_masked = S_scaled + B + M
    if (be_.wants_stages()) {
      const bool scaled = be_.wants_stage(paths::join(hp, "S_scaled")), masked = be_.wants_stage(paths::join(hp, "S_masked"));
      if (scaled || masked) {
        M S_scaled = be_.value(S) * scale_;
        M S_masked = masked ? M(S_scaled + bias_and_mask) : M();
        if (scaled) be_.put_stage(paths::join(hp, "S_scaled"), std::move(S_scaled));  // in the order the pass makes them
        if (masked) be_.put_stage(paths::join(hp, "S_masked"), std::move(S_masked));
      }
    }
    // Pass 6 — P = softmax(S·scale + B + M), the scale and the mask as explicit arguments
    const Node P = named(paths::join(hp, "P"), be_.softmax(S, scale_, bias_and_mask));
    if (seq.empty()) be_.head_done(paths::head(p, i), S, P, scale_, bias_and_mask);
    return P;
  }

  Node param(const std::string& path) {
    // Tied W_Q = W_K: one matrix, so W_K's gradient adds to W_Q's.
    if (c_.projection == Projection::TiedQK && paths::ends_with(path, "attn.W_K"))
      return be_.param(path.substr(0, path.size() - 3) + "W_Q");
    return be_.param(path);
  }

  // Registers rows [b·n, (b+1)·n) of a [B·n, ·] node as sequence b's `path` (batch.<b>. for b > 0).
  Node record(const std::string& path, const Node& X, int n) {
    const int B = static_cast<int>(be_.value(X).rows()) / n;
    for (int b = 0; b < B; ++b) be_.put(prefix(b) + path, X, b * n, n);
    return X;
  }

 private:
  static std::string prefix(int b) { return b == 0 ? "" : "batch." + std::to_string(b) + "."; }

  // Asks `progress` again between heads and sublayers (with the layer already reported), so a cancelled run stops
  // within one head's work instead of finishing its layer; true from then on.
  bool stop_requested() {
    if (!cancelled_ && progress && *progress && !(*progress)(std::max(0, layers_done_ - 1), layers_total)) cancelled_ = true;
    return cancelled_;
  }

  // One sequence's node under its full path, nudged first when a test asks (nudges hold sequence-0 paths).
  Node named(const std::string& path, Node X) {
    if (o_.nudges)
      if (auto it = o_.nudges->find(path); it != o_.nudges->end()) X = be_.add_constant(X, it->second.template cast<T>());
    be_.put(path, X, 0, static_cast<int>(be_.value(X).rows()));
    return X;
  }

  Node scores(const std::string& p, int i, const Node& Q_rows, const Node& K_i) {
    return c_.scoring == Scoring::Dot ? be_.matmul_bt(Q_rows, K_i)
                                      : be_.additive_scores(Q_rows, K_i, be_.rows(param(paths::join(p, "w_a")), i, 1));
  }
  bool alibi(bool self) const { return self && c_.pe == PosEncoding::ALiBi; }
  M alibi_rows(int i, int r0, int rows, const MaskRows& mask) const {
    return alibi_bias(rows, mask.m, mask.q_pos0 + r0, slopes_[i]).template cast<T>();
  }

  // Inverted dropout in training: kept with probability 1 − p and scaled by 1/(1 − p). The keep masks are drawn
  // from one seeded stream in forward order (row-major, kept when u ≥ p).
  Node dropout(const Node& X) {
    if (!o_.dropout || c_.dropout <= 0.0f) return X;
    const M& x = be_.value(X);
    return be_.mul_constant(X, dropout_keep<T>(x.rows(), x.cols(), c_.dropout, rng_) / static_cast<T>(1.0f - c_.dropout));
  }

  // Post-Norm: Norm(H + F(H)).  Pre-Norm: H + F(Norm(H)).  Without the residual the "H +" is dropped.
  template <typename F>
  Node sublayer(const std::string& p, const Node& H, int n, F&& body) {
    const bool pre = c_.norm_placement == NormPlacement::Pre && c_.norm != NormKind::None;
    const bool post = c_.norm_placement == NormPlacement::Post && c_.norm != NormKind::None;
    const std::string norm_path = paths::join(p, "norm");
    const Node X = pre ? record(norm_path, norm(norm_path, H), n) : H;
    Node out = body(X);
    if (const AblationKind* kind = ablation(p.substr(0, p.rfind('.')))) out = ablate(out, *kind, n);  // the layer is ablated
    out = dropout(out);
    const Node R = record(paths::join(p, "residual"), c_.residual ? be_.add(H, out) : out, n);
    if (!post) return R;
    return record(norm_path, norm(norm_path, R), n);
  }

  Node norm(const std::string& p, const Node& X) {
    const Node gamma = param(paths::join(p, "gamma"));
    const std::string beta_path = paths::join(p, "beta");
    const bool has_beta = be_.has_param(beta_path);
    const Node beta = has_beta ? param(beta_path) : gamma;
    const T eps = static_cast<T>(c_.norm_eps);
    switch (c_.norm) {
      case NormKind::LayerNorm:
        return be_.layer_norm(X, gamma, has_beta ? &beta : nullptr, eps);
      case NormKind::BatchNorm:
        if (be_.wants_stages() && be_.wants_stage(paths::join(p, "batch_mean"))) {  // statistics of the whole batch: one per feature
          BatchStats<T> st = batch_stats_t<T>(be_.value(X), eps);
          be_.put_stage(paths::join(p, "batch_mean"), std::move(st.mean));
          be_.put_stage(paths::join(p, "batch_var"), std::move(st.var));
        }
        return be_.batch_norm(X, gamma, has_beta ? &beta : nullptr, eps);
      case NormKind::RMSNorm:
        return be_.rms_norm(X, gamma, eps);
      default:
        return X;
    }
  }

  Node activation(const Node& X) {
    switch (c_.activation) {
      case Activation::GELU:
        return be_.gelu(X, false);
      case Activation::GELUTanh:
        return be_.gelu(X, true);
      default:
        return be_.relu(X);
    }
  }

  // An ablated head's or layer's output: zeros, or every row the mean of the sequence's rows.   X: [B·n, ·]
  Node ablate(const Node& X, AblationKind kind, int n) {
    if (kind == AblationKind::Zero) return be_.scale(X, T(0));
    const Eigen::Index rows = be_.value(X).rows();
    M mean = M::Zero(rows, rows);  // block-diagonal: each sequence's n rows average among themselves
    for (Eigen::Index b = 0; b + n <= rows; b += n) mean.block(b, b, n, n).setConstant(T(1) / static_cast<T>(n));
    return be_.matmul(be_.constant(std::move(mean)), X);
  }
  const AblationKind* ablation(const std::string& target) const {
    if (o_.ablations.empty()) return nullptr;
    const auto it = o_.ablations.find(target);
    return it == o_.ablations.end() ? nullptr : &it->second;
  }

  Node linear(const Node& X, const std::string& W, const std::string& b) {
    Node Y = be_.matmul(X, param(W));
    if (be_.has_param(b)) Y = be_.add_row(Y, param(b));
    return Y;
  }

  // FFN(x) = act(x·W_1 + b_1)·W_2 + b_2, position by position.   X: [B·n, d_model]
  Node ffn(const std::string& p, const Node& X, int n) {
    const Node hidden = record(paths::join(p, "hidden"), linear(X, paths::join(p, "W_1"), paths::join(p, "b_1")), n);  // [B·n, d_ff]
    const Node act = record(paths::join(p, "act"), activation(hidden), n);
    return record(paths::join(p, "out"), linear(act, paths::join(p, "W_2"), paths::join(p, "b_2")), n);  // [B·n, d_model]
  }

  // Multi-head attention of one sequence.   Xq: [n, d_model] at positions q_pos0…; Xkv_new: [m_new, d_model] appended
  // to the cache (self-attention: the same rows as Xq; cross-attention: the encoder's output, once), or null.
  //   mask: rows of [n, m] 0 or −∞ over every key so far.   seq: the sequence's path prefix.
  Node attention(const std::string& p, bool self, const Node& Xq, const Node* Xkv_new, KVCache<Node>& cache, int q_pos0, const MaskRows& mask,
                 const std::string& seq) {
    const bool rope = self && c_.pe == PosEncoding::RoPE;
    // Pass 1 — project: Q = X·W_Q + b_Q [n, h·d_k], K = X·W_K + b_K [m_new, h·d_k], V = X·W_V + b_V [m_new, h·d_v]
    Node Q = linear(Xq, paths::join(p, "W_Q"), paths::join(p, "b_Q"));
    if (Xkv_new) {
      Node K_new = linear(*Xkv_new, paths::join(p, "W_K"), paths::join(p, "b_K"));
      const Node V_new = linear(*Xkv_new, paths::join(p, "W_V"), paths::join(p, "b_V"));
      // Pass 2 — RoPE rotates each head's keys by their positions (cached keys are already rotated).
      if (rope) K_new = be_.rope(K_new, cache.rows, c_.pe_base, d_k_);
      const int m_new = static_cast<int>(be_.value(K_new).rows());
      cache.K = cache.rows == 0 ? K_new : be_.concat_rows({cache.K, K_new});
      cache.V = cache.rows == 0 ? V_new : be_.concat_rows({cache.V, V_new});
      cache.rows += m_new;
    }
    if (rope) Q = be_.rope(Q, q_pos0, c_.pe_base, d_k_);
    const int n = static_cast<int>(be_.value(Q).rows()), m = cache.rows;
    QKV_ASSERT(mask.m == m);
    M whole_mask;  // [n, m], made once, the first time a head (or the trace) needs it whole
    const auto whole = [&]() -> const M& {
      if (whole_mask.size() == 0 && n * m > 0) whole_mask = mask.rows<T>(0, n);
      return whole_mask;
    };
    if (be_.wants_stages() && be_.wants_stage(seq + paths::join(p, "M"))) be_.put_stage(seq + paths::join(p, "M"), whole());
    // Row blocks need every stage of the head to stay unnamed: no nudge to apply to S or P, no dropout mask on P.
    const bool may_fuse = !o_.nudges && !(o_.dropout && c_.dropout > 0.0f);

    std::vector<Node> heads;
    for (int i = 0; i < h_; ++i) {
      if (stop_requested()) {  // the run is being cancelled: its result is dropped, so skip the rest of the work
        heads.push_back(be_.constant(M::Zero(n, d_v_)));
        continue;
      }
      const std::string hp = seq + paths::head(p, i);
      const Node Q_i = named(paths::join(hp, "Q"), be_.cols(Q, i * d_k_, d_k_));        // [n, d_k]
      const Node K_i = named(paths::join(hp, "K"), be_.cols(cache.K, i * d_k_, d_k_));  // [m, d_k]
      const Node V_i = named(paths::join(hp, "V"), be_.cols(cache.V, i * d_v_, d_v_));  // [m, d_v]
      if (may_fuse && be_.fuses(hp)) {
        // Passes 3–8 a block of query rows at a time: O rows = softmax(S rows·scale + B + M rows)·V
        if (seq.empty()) be_.head_begin(paths::head(p, i), n, scale_);
        const Node O_i = be_.row_blocks(n, m, [&](int r0, int rows) {
          const M bias_and_mask = alibi(self) ? M(mask.rows<T>(r0, rows) + alibi_rows(i, r0, rows, mask)) : mask.rows<T>(r0, rows);
          const Node S = scores(p, i, be_.rows(Q_i, r0, rows), K_i);
          const Node P = be_.softmax(S, scale_, bias_and_mask);
          if (seq.empty()) be_.head_rows(r0, S, P, bias_and_mask);
          return be_.matmul(P, V_i);
        });
        if (seq.empty()) be_.head_end();
        const AblationKind* kind = ablation(paths::head(p, i));
        heads.push_back(named(paths::join(hp, "O"), kind ? ablate(O_i, *kind, n) : O_i));
        continue;
      }
      const Node P = head_stages(p, self, i, Q_i, K_i, mask, whole(), seq);
      // Pass 7 — dropout on the weights (training), then Pass 8 — O = P·V [n, d_v]
      const Node P_d = dropout(P);
      if (o_.dropout && c_.dropout > 0.0f) named(paths::join(hp, "P_dropout"), P_d);
      const Node O_i = be_.matmul(P_d, V_i);  // [n, d_v]
      const AblationKind* kind = ablation(paths::head(p, i));
      heads.push_back(named(paths::join(hp, "O"), kind ? ablate(O_i, *kind, n) : O_i));
    }
    // Pass 9 — concat·W_O + b_O [n, d_model]
    const Node concat = named(seq + paths::join(p, "concat"), h_ == 1 ? heads[0] : be_.concat_cols(heads));  // [n, h·d_v]
    return named(seq + paths::join(p, "out"), linear(concat, paths::join(p, "W_O"), paths::join(p, "b_O")));
  }

  const ModelConfig& c_;
  const PassOptions& o_;
  Backend& be_;
  Rng rng_;
  int h_, d_k_, d_v_;
  T scale_ = 1;
  std::vector<float> slopes_;
  int layers_done_ = 0;
  bool cancelled_ = false;
};

}  // namespace qkv
