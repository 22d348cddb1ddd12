// The Transformer on the gradient tape. The passes mirror core/model.cpp's Forward one for one (same order of
// dropout draws, same masks), so tests/network_test.cpp can compare the two tensor by tensor.
#include "core/network.h"

#include <cmath>

#include "core/loss.h"
#include "core/model.h"
#include "core/positional.h"
#include "core/rng.h"

namespace qkv {

template <typename T>
Params<T> to_params(const TensorMap& weights) {
  Params<T> out;
  for (const TensorMap::Entry& e : weights.entries()) out[e.path] = e.value.cast<T>();
  return out;
}
template Params<float> to_params<float>(const TensorMap&);
template Params<double> to_params<double>(const TensorMap&);

TensorMap to_tensor_map(const Params<float>& params) {
  TensorMap out;
  for (const auto& [path, value] : params) out.put(path, value);
  return out;
}

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

bool is_trainable(const ModelConfig& c, const std::string& path) {
  const bool projection = ends_with(path, "attn.W_Q") || ends_with(path, "attn.W_K") || ends_with(path, "attn.W_V");
  if (c.projection == Projection::Identity && projection) return false;
  if (c.projection == Projection::TiedQK && ends_with(path, "attn.W_K")) return false;
  return true;
}

namespace {

template <typename T>
class Builder {
 public:
  using M = MatT<T>;
  Builder(const ModelConfig& c, const PassOptions& o, const Params<T>& W, NetworkPass<T>& pass)
      : c_(c), o_(o), W_(W), pass_(pass), t_(pass.tape), rng_(o.dropout_seed), h_(c.heads), d_k_(c.head_dk()), d_v_(c.head_dv()) {
    const double sqrt_dk = c.score_scale == ScoreScale::InvSqrtDk ? std::sqrt(static_cast<double>(d_k_)) : 1.0;
    scale_ = static_cast<T>(1.0 / (sqrt_dk * c.temperature));
    if (c.pe == PosEncoding::ALiBi) slopes_ = alibi_slopes(h_);
  }

  // X: [B·n, d_model] = E[ids]·√d_model + PE, then dropout.
  int embed(const std::string& stack, const std::vector<std::vector<int>>& ids) {
    const int B = static_cast<int>(ids.size()), n = static_cast<int>(ids[0].size());
    std::vector<int> flat;
    for (const auto& row : ids) flat.insert(flat.end(), row.begin(), row.end());
    int X = t_.gather_rows(param("embed.E"), flat);
    if (c_.scale_embeddings) X = t_.scale(X, static_cast<T>(std::sqrt(static_cast<double>(c_.d_model))));
    name(stack + ".embed.E_x", X, n);
    if (c_.pe == PosEncoding::Sinusoidal) {
      const Mat table = sinusoidal_table(n, c_.d_model, c_.pe_base);
      M PE(B * n, c_.d_model);
      for (int b = 0; b < B; ++b) PE.middleRows(b * n, n) = table.cast<T>();
      X = t_.add_constant(X, PE);
    } else if (c_.pe == PosEncoding::Learned) {
      std::vector<int> positions;
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < n; ++i) positions.push_back(i);
      const int PE = t_.gather_rows(param("pos.learned"), positions);
      name(stack + ".embed.PE", PE, n);
      X = t_.add(X, PE);
    }
    X = dropout(X);
    return name(stack + ".embed.X", X, n);
  }

  // L blocks.   H: [B·n, d_model]; memory: [B·m_src, d_model] or −1
  int stack(const std::string& stack, int H, int n, int memory, const std::vector<std::vector<bool>>& key_pad,
            const std::vector<std::vector<bool>>& src_pad, MaskFlags flags) {
    const int B = static_cast<int>(key_pad.size());
    for (int l = 0; l < c_.layers; ++l) {
      const std::string p = stack + "." + std::to_string(l);
      name(p + ".input", H, n);
      H = sublayer(p + ".self_attn", H, n, [&](int X) {
        std::vector<int> rows;
        for (int b = 0; b < B; ++b) {
          const M mask = attention_mask(flags, n, n, 0, key_pad[b], o_.custom_cells).cast<T>();
          const int X_b = t_.rows(X, b * n, n);
          rows.push_back(attention(p + ".self_attn", true, X_b, X_b, mask, prefix(b)));
        }
        return B == 1 ? rows[0] : t_.concat_rows(rows);
      });
      if (memory >= 0) {
        const int m_src = static_cast<int>(t_.value(memory).rows()) / B;
        H = sublayer(p + ".cross_attn", H, n, [&](int X) {
          std::vector<int> rows;
          for (int b = 0; b < B; ++b) {
            const M mask = attention_mask(o_.encoder_mask & kMaskPadding, n, m_src, 0, src_pad[b], {}).cast<T>();
            rows.push_back(attention(p + ".cross_attn", false, t_.rows(X, b * n, n), t_.rows(memory, b * m_src, m_src), mask, prefix(b)));
          }
          return B == 1 ? rows[0] : t_.concat_rows(rows);
        });
      }
      H = sublayer(p + ".ffn", H, n, [&](int X) { return ffn(p + ".ffn", X, n); });
      name(p + ".output", H, n);
    }
    if (c_.norm_placement == NormPlacement::Pre && c_.norm != NormKind::None) H = name(stack + ".final_norm", norm(stack + ".final_norm", H), n);
    return H;
  }

  int param(const std::string& path) {
    std::string key = path;
    if (c_.projection == Projection::TiedQK && ends_with(path, "attn.W_K")) key = path.substr(0, path.size() - 3) + "W_Q";
    if (auto it = pass_.params.find(key); it != pass_.params.end()) return it->second;
    auto w = W_.find(key);
    QKV_ASSERT(w != W_.end());
    const int id = t_.leaf(w->second);
    pass_.params[key] = id;
    return id;
  }
  bool has_param(const std::string& path) const { return W_.count(path) != 0; }

  // Registers rows of sequence 0 (and batch.<b>. for the others) of a [B·n, ·] node under path.
  int name(const std::string& path, int id, int n) {
    const int B = static_cast<int>(t_.value(id).rows()) / n;
    for (int b = 0; b < B; ++b) pass_.nodes[prefix(b) + path] = NodeView{id, b * n, n};
    return id;
  }

 private:
  static std::string prefix(int b) { return b == 0 ? "" : "batch." + std::to_string(b) + "."; }

  // A node of one sequence, nudged when a test asks (nudges hold sequence-0 paths only).
  int named(const std::string& path, int id) {
    if (o_.nudges)
      if (auto it = o_.nudges->find(path); it != o_.nudges->end()) id = t_.add_constant(id, it->second.cast<T>());
    pass_.nodes[path] = NodeView{id, 0, static_cast<int>(t_.value(id).rows())};
    return id;
  }

  int dropout(int X) {
    if (!o_.dropout || c_.dropout <= 0.0f) return X;
    const M& x = t_.value(X);
    M keep(x.rows(), x.cols());  // the same draws as ops.cpp's dropout: row-major, kept when u ≥ p
    for (Eigen::Index i = 0; i < keep.size(); ++i) keep.data()[i] = rng_.uniform() >= c_.dropout ? T(1) : T(0);
    return t_.mul_constant(X, keep / static_cast<T>(1.0f - c_.dropout));
  }

  // Post-Norm: Norm(H + F(H)).  Pre-Norm: H + F(Norm(H)).  Without the residual the "H +" is dropped.
  template <typename F>
  int sublayer(const std::string& p, int H, int n, F&& body) {
    const bool pre = c_.norm_placement == NormPlacement::Pre && c_.norm != NormKind::None;
    const bool post = c_.norm_placement == NormPlacement::Post && c_.norm != NormKind::None;
    const int X = pre ? name(p + ".norm", norm(p + ".norm", H), n) : H;
    int out = dropout(body(X));
    const int R = name(p + ".residual", c_.residual ? t_.add(H, out) : out, n);
    if (!post) return R;
    return name(p + ".norm", norm(p + ".norm", R), n);
  }

  int norm(const std::string& p, int X) {
    const int gamma = param(p + ".gamma");
    const int beta = has_param(p + ".beta") ? param(p + ".beta") : -1;
    const T eps = static_cast<T>(c_.norm_eps);
    switch (c_.norm) {
      case NormKind::LayerNorm:
        return t_.layer_norm(X, gamma, beta, eps);
      case NormKind::BatchNorm:
        return t_.batch_norm(X, gamma, beta, eps);
      case NormKind::RMSNorm:
        return t_.rms_norm(X, gamma, eps);
      default:
        return X;
    }
  }

  // FFN(x) = act(x·W_1 + b_1)·W_2 + b_2.   X: [B·n, d_model]
  int ffn(const std::string& p, int X, int n) {
    int hidden = t_.matmul(X, param(p + ".W_1"));  // [B·n, d_ff]
    if (c_.bias) hidden = t_.add_row(hidden, param(p + ".b_1"));
    name(p + ".hidden", hidden, n);
    const int act = name(p + ".act", c_.activation == Activation::GELU ? t_.gelu(hidden) : t_.relu(hidden), n);
    int out = t_.matmul(act, param(p + ".W_2"));  // [B·n, d_model]
    if (c_.bias) out = t_.add_row(out, param(p + ".b_2"));
    return name(p + ".out", out, n);
  }

  int linear(int X, const std::string& W, const std::string& b) {
    int Y = t_.matmul(X, param(W));
    if (has_param(b)) Y = t_.add_row(Y, param(b));
    return Y;
  }

  // Multi-head attention of one sequence.   Xq: [n, d_model], Xkv: [m, d_model], mask: [n, m]
  int attention(const std::string& p, bool self, int Xq, int Xkv, const M& mask, const std::string& seq) {
    const std::string w = p + ".";
    const bool rope = self && c_.pe == PosEncoding::RoPE;
    // Pass 1 — Q = X·W_Q + b_Q [n, h·d_k], K = X·W_K + b_K [m, h·d_k], V = X·W_V + b_V [m, h·d_v]
    const int Q = linear(Xq, w + "W_Q", w + "b_Q");
    const int K = linear(Xkv, w + "W_K", w + "b_K");
    const int V = linear(Xkv, w + "W_V", w + "b_V");
    const int n = static_cast<int>(t_.value(Q).rows()), m = static_cast<int>(t_.value(K).rows());
    std::vector<int> heads;
    for (int i = 0; i < h_; ++i) {
      const std::string hp = seq + p + ".head." + std::to_string(i) + ".";
      int Q_i = t_.cols(Q, i * d_k_, d_k_), K_i = t_.cols(K, i * d_k_, d_k_);
      // Pass 2 — RoPE rotates queries and keys by their positions
      if (rope) {
        Q_i = t_.rope(Q_i, 0, c_.pe_base);
        K_i = t_.rope(K_i, 0, c_.pe_base);
      }
      Q_i = named(hp + "Q", Q_i);
      K_i = named(hp + "K", K_i);
      const int V_i = named(hp + "V", t_.cols(V, i * d_v_, d_v_));
      // Pass 3 — S = Q·Kᵀ [n, m], or additive w_aᵀ tanh(q_i + k_j)
      const int S = named(hp + "S", c_.scoring == Scoring::Dot ? t_.matmul_bt(Q_i, K_i)
                                                               : t_.additive_scores(Q_i, K_i, t_.rows(param(w + "w_a"), i, 1)));
      // Passes 4–6 — P = softmax(S·scale + B + M)
      M bias_and_mask = mask;
      if (self && c_.pe == PosEncoding::ALiBi) bias_and_mask += alibi_bias(n, m, 0, slopes_[i]).cast<T>();
      const int P = named(hp + "P", t_.softmax(S, scale_, bias_and_mask));
      // Passes 7–8 — dropout on the weights, O = P·V [n, d_v]
      const int P_d = dropout(P);
      if (P_d != P) named(hp + "P_dropout", P_d);
      heads.push_back(named(hp + "O", t_.matmul(P_d, V_i)));
    }
    // Pass 9 — concat·W_O + b_O [n, d_model]
    const int concat = named(seq + p + ".concat", h_ == 1 ? heads[0] : t_.concat_cols(heads));
    return named(seq + p + ".out", linear(concat, w + "W_O", w + "b_O"));
  }

  const ModelConfig& c_;
  const PassOptions& o_;
  const Params<T>& W_;
  NetworkPass<T>& pass_;
  Tape<T>& t_;
  Rng rng_;
  int h_, d_k_, d_v_;
  T scale_ = 1;
  std::vector<float> slopes_;
};

}  // namespace

template <typename T>
NetworkPass<T> network_forward(const ModelConfig& c, const PassOptions& o, const Params<T>& W, const TokenBatch& batch) {
  NetworkPass<T> pass;
  Builder<T> b(c, o, W, pass);
  const int B = static_cast<int>(batch.source.size());
  QKV_ASSERT(B > 0 && batch.source_pad.size() == batch.source.size());
  pass.sequences = B;
  const int n_src = static_cast<int>(batch.source[0].size());
  int H = -1, memory = -1;
  if (c.arch != Arch::DecoderOnly) {
    const int X = b.embed("encoder", batch.source);
    memory = H = b.stack("encoder", X, n_src, -1, batch.source_pad, batch.source_pad, o.encoder_mask);
  }
  pass.n_out = n_src;
  if (c.arch != Arch::EncoderOnly) {
    const bool enc_dec = c.arch == Arch::EncoderDecoder;
    const auto& ids = enc_dec ? batch.decoder_in : batch.source;
    const auto& pad = enc_dec ? batch.decoder_pad : batch.source_pad;
    pass.n_out = static_cast<int>(ids[0].size());
    const int X = b.embed("decoder", ids);
    H = b.stack("decoder", X, pass.n_out, enc_dec ? memory : -1, pad, batch.source_pad, o.decoder_mask);
  }
  // Output projection tied to the embeddings: logits = H·Eᵀ [B·n_out, V]
  pass.logits = b.name("output.logits", pass.tape.matmul_bt(H, b.param("embed.E")), pass.n_out);
  return pass;
}
template NetworkPass<float> network_forward<float>(const ModelConfig&, const PassOptions&, const Params<float>&, const TokenBatch&);
template NetworkPass<double> network_forward<double>(const ModelConfig&, const PassOptions&, const Params<double>&, const TokenBatch&);

namespace {
template <typename T>
const NodeView* find_view(NetworkPass<T>& pass, const std::string& path, NodeView* param_view) {
  if (auto it = pass.nodes.find(path); it != pass.nodes.end()) return &it->second;
  if (auto it = pass.params.find(path); it != pass.params.end()) {
    *param_view = NodeView{it->second, 0, static_cast<int>(pass.tape.value(it->second).rows())};
    return param_view;
  }
  return nullptr;
}
}  // namespace

template <typename T>
MatT<T> node_value(NetworkPass<T>& pass, const std::string& path) {
  NodeView param_view;
  const NodeView* v = find_view(pass, path, &param_view);
  QKV_ASSERT(v);
  return pass.tape.value(v->id).middleRows(v->row0, v->rows);
}

template <typename T>
MatT<T> node_grad(NetworkPass<T>& pass, const std::string& path) {
  NodeView param_view;
  const NodeView* v = find_view(pass, path, &param_view);
  QKV_ASSERT(v);
  return pass.tape.grad(v->id).middleRows(v->row0, v->rows);
}
template MatT<float> node_value<float>(NetworkPass<float>&, const std::string&);
template MatT<double> node_value<double>(NetworkPass<double>&, const std::string&);
template MatT<float> node_grad<float>(NetworkPass<float>&, const std::string&);
template MatT<double> node_grad<double>(NetworkPass<double>&, const std::string&);

// [SECTION] Losses
LossKind resolve(LossKind k, Arch arch) {
  if (k != LossKind::Auto) return k;
  switch (arch) {
    case Arch::DecoderOnly:
      return LossKind::NextToken;
    case Arch::EncoderDecoder:
      return LossKind::TargetSequence;
    default:
      return LossKind::Reconstruct;
  }
}

std::vector<int> output_targets(LossKind kind, Arch arch, const TokenBatch& batch) {
  kind = resolve(kind, arch);
  const bool enc_dec = arch == Arch::EncoderDecoder;
  const auto& ids = arch == Arch::EncoderOnly ? batch.source : (enc_dec ? batch.decoder_in : batch.source);
  const auto& pad = arch == Arch::EncoderOnly ? batch.source_pad : (enc_dec ? batch.decoder_pad : batch.source_pad);
  std::vector<int> targets;
  for (size_t b = 0; b < ids.size(); ++b) {
    const size_t n = ids[b].size();
    for (size_t t = 0; t < n; ++t) {
      int y = -1;
      if (kind == LossKind::Reconstruct) {
        y = pad[b][t] ? -1 : ids[b][t];
      } else if (pad[b][t]) {
        y = -1;
      } else if (t + 1 < n && !pad[b][t + 1]) {
        y = ids[b][t + 1];
      } else if (kind == LossKind::TargetSequence) {
        y = Vocab::kEosId;  // the last target token is followed by [EOS]
      }
      targets.push_back(y);
    }
  }
  return targets;
}

MatD pattern_target(Pattern p, int n, int m) {
  MatD target = MatD::Zero(n, m);
  for (int i = 0; i < n; ++i) {
    int j = 0;
    switch (p) {
      case Pattern::Diagonal:
        j = i;
        break;
      case Pattern::Previous:
        j = i - 1;
        break;
      case Pattern::AntiDiagonal:
        j = m - 1 - i;
        break;
      default:
        j = 0;
        break;
    }
    target(i, std::clamp(j, 0, m - 1)) = 1.0;
  }
  return target;
}

template <typename T>
T backpropagate(NetworkPass<T>& pass, const ModelConfig& c, const TokenBatch& batch, const LossOptions& lo) {
  const LossKind kind = resolve(lo.kind, c.arch);
  if (kind == LossKind::Pattern) {
    std::string head = lo.pattern_head.empty() ? std::string(c.arch == Arch::DecoderOnly ? "decoder" : "encoder") + ".0.self_attn.head.0"
                                               : lo.pattern_head;
    auto it = pass.nodes.find(head + ".P");
    QKV_ASSERT(it != pass.nodes.end());
    const MatT<T> P = pass.tape.value(it->second.id);
    const LossGrad<T> lg = pattern_loss<T>(P, pattern_target(lo.pattern, static_cast<int>(P.rows()), static_cast<int>(P.cols())).cast<T>());
    pass.tape.backward(it->second.id, lg.grad);
    return lg.loss;
  }
  const std::vector<int> targets = output_targets(kind, c.arch, batch);
  const LossGrad<T> lg = cross_entropy<T>(pass.tape.value(pass.logits), targets, static_cast<T>(lo.label_smoothing));
  pass.tape.backward(pass.logits, lg.grad);
  return lg.loss;
}
template float backpropagate<float>(NetworkPass<float>&, const ModelConfig&, const TokenBatch&, const LossOptions&);
template double backpropagate<double>(NetworkPass<double>&, const ModelConfig&, const TokenBatch&, const LossOptions&);

TokenBatch token_batch(const Session& s, Vocab* vocab) {
  TokenizedBatch tb = tokenize_batch(s);
  TokenBatch out;
  out.source = tb.source_ids;
  out.decoder_in = tb.target_ids;
  const std::vector<int> marked_dec = s.model.arch == Arch::DecoderOnly ? s.padding_positions : std::vector<int>{};
  for (const auto& ids : out.source) out.source_pad.push_back(pad_flags(ids, s.padding_positions));
  for (const auto& ids : out.decoder_in) out.decoder_pad.push_back(pad_flags(ids, marked_dec));
  if (vocab) *vocab = tb.vocab;
  return out;
}


PassOptions pass_options(const Session& s) {
  PassOptions o;
  o.encoder_mask = s.encoder_mask;
  o.decoder_mask = s.decoder_mask;
  o.custom_cells = s.custom_cells;
  o.dropout = s.mode == Mode::Train;
  o.dropout_seed = stream_seed(s.seed, "dropout");
  return o;
}

LossOptions loss_options(const Session& s) {
  LossOptions lo;
  lo.kind = s.loss;
  lo.label_smoothing = s.label_smoothing;
  lo.pattern = s.loss_pattern;
  return lo;
}

std::optional<Error> add_gradients(const Session& s, Trace& t) {
  if (!t.weights) return Error{"the trace has no weights", ""};
  if (s.decode_steps > 0)
    return Error{"gradients are computed on the teacher-forced pass only", "set decode steps to 0 to see gradients"};
  const ModelConfig& c = s.model;
  const TokenBatch batch = token_batch(s);
  const Params<float> params = to_params<float>(*t.weights);
  NetworkPass<float> pass = network_forward<float>(c, pass_options(s), params, batch);
  const float loss = backpropagate<float>(pass, c, batch, loss_options(s));
  t.tensors.put("loss", Mat::Constant(1, 1, loss));
  for (const auto& [path, id] : pass.params)
    if (is_trainable(c, path)) t.tensors.put("dL/d" + path, pass.tape.grad(id));
  for (const auto& [path, view] : pass.nodes)
    if (path.rfind("batch.", 0) != 0) t.tensors.put("dL/d" + path, pass.tape.grad(view.id).middleRows(view.row0, view.rows));
  return std::nullopt;
}

}  // namespace qkv
