// The Transformer on the gradient tape: core/passes.h's passes (the same ones core::run's eager forward runs) over
// a backend whose every op records its backward (core/tape.h).
#include "core/paths.h"
#include "core/network.h"

#include <cmath>

#include "core/i18n.h"
#include "core/loss.h"
#include "core/model.h"
#include "core/passes.h"
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

bool is_trainable(const ModelConfig& c, const std::string& path) {
  const bool projection = paths::ends_with(path, "attn.W_Q") || paths::ends_with(path, "attn.W_K") || paths::ends_with(path, "attn.W_V");
  if (c.projection == Projection::Identity && projection) return false;
  if (c.projection == Projection::TiedQK && paths::ends_with(path, "attn.W_K")) return false;
  return true;
}

namespace {

// The backend that runs core/passes.h on the gradient tape: each op records its backward; named activations become
// NodeViews of the pass, parameters leaves (one per matrix, however often it is used).
template <typename T>
class TapeBackend {
 public:
  using Node = int;
  using Scalar = T;
  using M = MatT<T>;
  // take: the parameters are moved from it onto the tape (W_ is then the same map).
  TapeBackend(const Params<T>& W, NetworkPass<T>& pass, Params<T>* take = nullptr) : W_(W), take_(take), pass_(pass), t_(pass.tape) {}

  const M& value(int id) const { return t_.value(id); }
  int param(const std::string& path) {
    if (auto it = pass_.params.find(path); it != pass_.params.end()) return it->second;
    auto w = W_.find(path);
    QKV_ASSERT(w != W_.end());
    const int id = take_ ? t_.leaf(std::move(take_->at(path))) : t_.leaf(w->second);  // each path becomes a leaf once
    pass_.params[path] = id;
    return id;
  }
  bool has_param(const std::string& path) const { return W_.count(path) != 0; }
  int constant(M value) { return t_.leaf(std::move(value)); }
  void put(const std::string& path, int id, int row0, int rows) { pass_.nodes[path] = NodeView{id, row0, rows}; }
  static constexpr bool wants_stages() { return false; }
  static constexpr bool wants_stage(const std::string&) { return false; }
  void put_stage(const std::string&, const M&) {}
  void head_done(const std::string&, int, int, T, const M&) {}
  // Every head is one block on the tape (its backward needs the whole P).
  static constexpr bool fuses(const std::string&) { return false; }
  template <typename F>
  int row_blocks(int n, int, F&& block) { return block(0, n); }
  void head_begin(const std::string&, int, T) {}
  void head_rows(int, int, int, const M&) {}
  void head_end() {}

  int matmul(int a, int b) { return t_.matmul(a, b); }
  int matmul_bt(int a, int b) { return t_.matmul_bt(a, b); }
  int add(int a, int b) { return t_.add(a, b); }
  int add_row(int a, int row) { return t_.add_row(a, row); }
  int add_constant(int a, const M& c) { return t_.add_constant(a, c); }
  int scale(int a, T s) { return t_.scale(a, s); }
  int mul_constant(int a, const M& c) { return t_.mul_constant(a, c); }
  int cols(int a, int c0, int width) { return t_.cols(a, c0, width); }
  int rows(int a, int r0, int count) { return t_.rows(a, r0, count); }
  int concat_cols(const std::vector<int>& parts) { return t_.concat_cols(parts); }
  int concat_rows(const std::vector<int>& parts) { return t_.concat_rows(parts); }
  int gather_rows(int table, const std::vector<int>& ids) { return t_.gather_rows(table, ids); }
  int softmax(int S, T scale, const M& bias_and_mask) { return t_.softmax(S, scale, bias_and_mask); }
  int additive_scores(int Q, int K, int w_a) { return t_.additive_scores(Q, K, w_a); }
  int rope(int X, int pos0, double base, int d_head) { return t_.rope(X, pos0, base, d_head); }
  int layer_norm(int X, int gamma, const int* beta, T eps) { return t_.layer_norm(X, gamma, beta ? *beta : -1, eps); }
  int batch_norm(int X, int gamma, const int* beta, T eps) { return t_.batch_norm(X, gamma, beta ? *beta : -1, eps); }
  int rms_norm(int X, int gamma, T eps) { return t_.rms_norm(X, gamma, eps); }
  int relu(int X) { return t_.relu(X); }
  int gelu(int X, bool tanh_form) { return t_.gelu(X, tanh_form); }

 private:
  const Params<T>& W_;
  Params<T>* take_;
  NetworkPass<T>& pass_;
  Tape<T>& t_;
};

}  // namespace

template <typename T>
NetworkPass<T> forward_on_tape(const ModelConfig& c, const PassOptions& o, const Params<T>& W, Params<T>* take, const TokenBatch& batch) {
  NetworkPass<T> pass;
  TapeBackend<T> backend(W, pass, take);
  Passes<TapeBackend<T>> f(c, o, backend);
  const int B = static_cast<int>(batch.source.size());
  QKV_ASSERT(B > 0 && batch.source_pad.size() == batch.source.size());
  pass.sequences = B;
  const int n_src = static_cast<int>(batch.source[0].size());
  typename Passes<TapeBackend<T>>::Caches caches(B, std::vector<LayerCache<int>>(c.layers));
  int H = -1, memory = -1;
  if (c.arch != Arch::DecoderOnly) {
    const int X = f.embed("encoder", batch.source, 0);
    memory = H = f.stack("encoder", X, n_src, 0, caches, nullptr, batch.source_pad, batch.source_pad, o.encoder_mask);
  }
  pass.n_out = n_src;
  if (c.arch != Arch::EncoderOnly) {
    const bool enc_dec = c.arch == Arch::EncoderDecoder;
    const auto& ids = enc_dec ? batch.decoder_in : batch.source;
    const auto& pad = enc_dec ? batch.decoder_pad : batch.source_pad;
    pass.n_out = static_cast<int>(ids[0].size());
    caches.assign(B, std::vector<LayerCache<int>>(c.layers));
    const int X = f.embed("decoder", ids, 0);
    H = f.stack("decoder", X, pass.n_out, 0, caches, enc_dec ? &memory : nullptr, pad, batch.source_pad, o.decoder_mask);
  }
  pass.logits = f.logits(H, pass.n_out);  // [B·n_out, V]
  return pass;
}
template <typename T>
NetworkPass<T> network_forward(const ModelConfig& c, const PassOptions& o, const Params<T>& W, const TokenBatch& batch) {
  return forward_on_tape<T>(c, o, W, nullptr, batch);
}
template <typename T>
NetworkPass<T> network_forward(const ModelConfig& c, const PassOptions& o, Params<T>&& W, const TokenBatch& batch) {
  return forward_on_tape<T>(c, o, W, &W, batch);
}
template NetworkPass<float> network_forward<float>(const ModelConfig&, const PassOptions&, const Params<float>&, const TokenBatch&);
template NetworkPass<double> network_forward<double>(const ModelConfig&, const PassOptions&, const Params<double>&, const TokenBatch&);
template NetworkPass<float> network_forward<float>(const ModelConfig&, const PassOptions&, Params<float>&&, const TokenBatch&);

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
    std::string head = lo.pattern_head.empty() ? paths::head(paths::block(c.arch == Arch::DecoderOnly ? "decoder" : "encoder", 0, false), 0)
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
  for (const auto& ids : out.source) out.source_pad.push_back(pad_flags(ids, s.padding_positions, tb.pad_id));
  for (const auto& ids : out.decoder_in) out.decoder_pad.push_back(decoder_pad_flags(s, ids, tb.pad_id));
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
  for (const Ablation& a : s.ablations) o.ablations[a.target] = a.kind;
  o.segment_separator = segment_separator(s);
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
  if (!t.weights) return Error{i18n::tr("core.network.no_weights"), ""};
  if (s.decode_steps > 0) return Error{i18n::tr("core.network.teacher_forced_only"), i18n::tr("core.network.teacher_forced_hint")};
  const ModelConfig& c = s.model;
  // The trace is already held; the tape and the gradients come on top of it.
  RunOptions keep_as_is;
  keep_as_is.keep = t.tensors.lean() ? TraceKeep::Lean : TraceKeep::Full;
  MemoryEstimate need = estimate_memory(s, keep_as_is, true);
  need.trace = static_cast<double>(t.tensors.bytes() + t.tensors.derived_bytes());
  if (auto e = check_memory(need, i18n::tr("core.network.memory_what"))) return e;
  const TokenBatch batch = token_batch(s);
  // The weights are copied once, into the tape; each parameter's gradient moves from the tape into the trace.
  NetworkPass<float> pass = network_forward<float>(c, pass_options(s), to_params<float>(*t.weights), batch);
  const float loss = backpropagate<float>(pass, c, batch, loss_options(s));
  t.tensors.put("loss", Mat::Constant(1, 1, loss));
  for (const auto& [path, id] : pass.params)
    if (is_trainable(c, path)) t.tensors.put(paths::grad(path), pass.tape.take_grad(id));
  for (const auto& [path, view] : pass.nodes)
    if (path.rfind("batch.", 0) != 0) t.tensors.put(paths::grad(path), pass.tape.grad(view.id).middleRows(view.row0, view.rows));
  return std::nullopt;
}

}  // namespace qkv
