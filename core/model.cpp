// QKV Lab core — the forward pass, written as the labelled passes the stepper shows:
//   embed → +PE → Q,K,V → QKᵀ → ÷√d_k → +mask → softmax → ·V → concat·W_O → +residual → norm → FFN → +residual → norm
#include "core/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/counters.h"
#include "core/i18n.h"
#include "core/memory.h"
#include "core/network.h"
#include "core/passes.h"
#include "core/paths.h"
#include "core/ops.h"
#include "core/positional.h"
#include "core/pretrained.h"
#include "core/rng.h"
#include "core/tokenizer.h"
#include "core/trainer.h"

namespace qkv {

// [SECTION] Tokens and weights
int segment_separator(const Session& s) {
  if (s.model_dir.empty()) return Vocab::kEosId;
  const std::shared_ptr<const PretrainedModel> m = cached_pretrained(s.model_dir);
  return m ? m->tokenizer->sep_id : -1;
}

namespace {
TokenizedBatch tokenize_pretrained(const Session& s) {
  TokenizedBatch out;
  Result<std::shared_ptr<const PretrainedModel>> m = open_pretrained(s.model_dir);
  if (!m) return out;
  out.vocab = (*m)->vocab;
  out.pad_id = (*m)->tokenizer->pad_id;
  std::vector<Sequence> batch{s.input};
  batch.insert(batch.end(), s.extra_batch.begin(), s.extra_batch.end());
  for (const Sequence& q : batch) out.source_ids.push_back((*m)->tokenizer->encode_for_model(q.text));
  // BERT cuts a long text to its positions, keeping [CLS] … [SEP] (as its own tokenizer does); say how much was lost.
  const PretrainedTokenizer& tokenizer = *(*m)->tokenizer;
  // Only a text that filled every position can have been cut: the common short text is not encoded twice.
  if (tokenizer.family() == TokenizerFamily::WordPiece && static_cast<int>(out.source_ids[0].size()) >= (*m)->config.max_len) {
    const int whole = static_cast<int>(tokenizer.encode(s.input.text).size()) + (tokenizer.cls_id >= 0) + (tokenizer.sep_id >= 0);
    out.cut_tokens = std::max(0, whole - static_cast<int>(out.source_ids[0].size()));
  }
  size_t longest = 0;
  for (const auto& r : out.source_ids) longest = std::max(longest, r.size());
  for (auto& r : out.source_ids) r.resize(longest, std::max(0, out.pad_id));  // several sequences need a pad id (run() checks)
  return out;
}
}  // namespace

TokenizedBatch tokenize_batch(const Session& s) {
  if (!s.model_dir.empty()) return tokenize_pretrained(s);
  TokenizedBatch out;
  std::vector<Sequence> batch{s.input};
  batch.insert(batch.end(), s.extra_batch.begin(), s.extra_batch.end());
  const bool enc_dec = s.model.arch == Arch::EncoderDecoder;
  const bool bos_first = s.add_special_tokens && s.model.arch == Arch::DecoderOnly;
  for (const Sequence& q : batch) {
    std::vector<int> ids;
    if (bos_first) ids.push_back(Vocab::kBosId);
    for (const std::string& t : tokenize(q.text, s.tokenizer)) ids.push_back(out.vocab.add(t));
    if (s.add_special_tokens && !bos_first) ids.push_back(Vocab::kEosId);
    out.source_ids.push_back(std::move(ids));
    if (enc_dec) {
      std::vector<int> target{Vocab::kBosId};  // shifted right: the decoder predicts token t from tokens < t
      for (const std::string& t : tokenize(q.target, s.tokenizer)) target.push_back(out.vocab.add(t));
      out.target_ids.push_back(std::move(target));
    }
  }
  const auto pad_to_longest = [](std::vector<std::vector<int>>& rows) {
    size_t longest = 0;
    for (const auto& r : rows) longest = std::max(longest, r.size());
    for (auto& r : rows) r.resize(longest, Vocab::kPadId);
  };
  pad_to_longest(out.source_ids);
  pad_to_longest(out.target_ids);
  return out;
}

namespace {

Mat identity_columns(int rows, int cols) { return Mat::Identity(rows, cols); }

// One attention block's parameters.   W_Q, W_K: [d_model, h·d_k]; W_V: [d_model, h·d_v]; W_O: [h·d_v, d_model]
void make_attention_weights(TensorMap& W, const ModelConfig& c, const std::string& p, uint64_t seed) {
  const int h = c.heads, d_k = c.head_dk(), d_v = c.head_dv();
  const float in_std = 1.0f / std::sqrt(static_cast<float>(c.d_model));  // keeps q, k entries at unit variance
  if (c.projection == Projection::Identity) {
    W.put(p + "W_Q", identity_columns(c.d_model, h * d_k));
    W.put(p + "W_K", identity_columns(c.d_model, h * d_k));
    W.put(p + "W_V", identity_columns(c.d_model, h * d_v));
  } else {
    W.put(p + "W_Q", normal_matrix(seed, p + "W_Q", c.d_model, h * d_k, in_std));
    W.put(p + "W_K", c.projection == Projection::TiedQK ? W.at(p + "W_Q") : normal_matrix(seed, p + "W_K", c.d_model, h * d_k, in_std));
    W.put(p + "W_V", normal_matrix(seed, p + "W_V", c.d_model, h * d_v, in_std));
  }
  W.put(p + "W_O", normal_matrix(seed, p + "W_O", h * d_v, c.d_model, 1.0f / std::sqrt(static_cast<float>(h * d_v))));
  if (c.bias && c.projection != Projection::Identity) {
    W.put(p + "b_Q", Mat::Zero(1, h * d_k));
    W.put(p + "b_K", Mat::Zero(1, h * d_k));
    W.put(p + "b_V", Mat::Zero(1, h * d_v));
  }
  if (c.bias) W.put(p + "b_O", Mat::Zero(1, c.d_model));
  if (c.scoring == Scoring::Additive) W.put(p + "w_a", normal_matrix(seed, p + "w_a", h, d_k, 1.0f / std::sqrt(static_cast<float>(d_k))));
}

void make_norm_weights(TensorMap& W, const ModelConfig& c, const std::string& p) {
  if (c.norm == NormKind::None) return;
  W.put(p + "gamma", Mat::Ones(1, c.d_model));
  if (c.norm != NormKind::RMSNorm) W.put(p + "beta", Mat::Zero(1, c.d_model));
}

void make_block_weights(TensorMap& W, const ModelConfig& c, const std::string& p, bool cross, uint64_t seed) {
  make_attention_weights(W, c, p + "self_attn.", seed);
  make_norm_weights(W, c, p + "self_attn.norm.");
  if (cross) {
    make_attention_weights(W, c, p + "cross_attn.", seed);
    make_norm_weights(W, c, p + "cross_attn.norm.");
  }
  W.put(p + "ffn.W_1", normal_matrix(seed, p + "ffn.W_1", c.d_model, c.d_ff, 1.0f / std::sqrt(static_cast<float>(c.d_model))));
  W.put(p + "ffn.W_2", normal_matrix(seed, p + "ffn.W_2", c.d_ff, c.d_model, 1.0f / std::sqrt(static_cast<float>(c.d_ff))));
  if (c.bias) {
    W.put(p + "ffn.b_1", Mat::Zero(1, c.d_ff));
    W.put(p + "ffn.b_2", Mat::Zero(1, c.d_model));
  }
  make_norm_weights(W, c, p + "ffn.norm.");
}

std::vector<std::string> stacks_of(Arch arch) {
  switch (arch) {
    case Arch::EncoderOnly:
      return {"encoder"};
    case Arch::DecoderOnly:
      return {"decoder"};
    default:
      return {"encoder", "decoder"};
  }
}

}  // namespace

TensorMap make_weights(const ModelConfig& c, const Vocab& vocab, uint64_t seed) {
  TensorMap W;
  // Token embeddings E: [V, d_model], N(0, 1/d_model) so that E·√d_model has unit variance. Each row has its
  // own stream so a token's vector does not depend on the other words typed. The output projection is tied to E.
  Mat E(vocab.size(), c.d_model);
  for (int id = 0; id < vocab.size(); ++id)
    E.row(id) = normal_matrix(seed, "embed.E/" + vocab.token(id), 1, c.d_model, 1.0f / std::sqrt(static_cast<float>(c.d_model)));
  W.put("embed.E", std::move(E));
  if (c.pe == PosEncoding::Learned)
    W.put("pos.learned", normal_matrix(seed, "pos.learned", c.max_len, c.d_model, 1.0f / std::sqrt(static_cast<float>(c.d_model))));
  for (const std::string& stack : stacks_of(c.arch)) {
    const bool cross = stack == "decoder" && c.arch == Arch::EncoderDecoder;
    for (int l = 0; l < c.layers; ++l) make_block_weights(W, c, stack + "." + std::to_string(l) + ".", cross, seed);
    if (c.norm_placement == NormPlacement::Pre) make_norm_weights(W, c, stack + ".final_norm.");
  }
  if (c.token_types > 0)
    W.put("embed.token_type", normal_matrix(seed, "embed.token_type", c.token_types, c.d_model, 1.0f / std::sqrt(static_cast<float>(c.d_model))));
  if (c.embed_norm) make_norm_weights(W, c, "embed.norm.");
  if (c.mlm_head) {  // BERT's masked-language-model head
    W.put("output.transform.W", normal_matrix(seed, "output.transform.W", c.d_model, c.d_model, 1.0f / std::sqrt(static_cast<float>(c.d_model))));
    if (c.bias) W.put("output.transform.b", Mat::Zero(1, c.d_model));
    make_norm_weights(W, c, "output.transform.norm.");
    W.put("output.bias", Mat::Zero(1, vocab.size()));
  }
  return W;
}

// Everything make_weights reads: the shapes, which optional tensors exist, the seed and the vocabulary.
std::shared_ptr<const TensorMap> WeightCache::get(const ModelConfig& c, const Vocab& vocab, uint64_t seed) {
  std::string key = std::to_string(seed);
  for (int v : {static_cast<int>(c.arch), c.layers, c.d_model, c.heads, c.head_dk(), c.head_dv(), c.d_ff, c.max_len, c.bias ? 1 : 0,
                c.pe == PosEncoding::Learned ? 1 : 0, c.scoring == Scoring::Additive ? 1 : 0, static_cast<int>(c.projection),
                static_cast<int>(c.norm == NormKind::None      ? 0
                                 : c.norm == NormKind::RMSNorm ? 1
                                                               : 2),
                c.norm_placement == NormPlacement::Pre ? 1 : 0, c.token_types, c.embed_norm ? 1 : 0, c.mlm_head ? 1 : 0}) {
    key += ',';
    key += std::to_string(v);
  }
  for (const std::string& token : vocab.tokens()) key += '\x1f' + token;
  if (!weights_ || key != key_) {
    weights_ = std::make_shared<const TensorMap>(make_weights(c, vocab, seed));
    key_ = std::move(key);
    ++builds_;
  }
  return weights_;
}

void WeightCache::set_trained(const std::string& name, std::shared_ptr<const TrainedWeights> weights) {
  trained_path_ = name;
  trained_ = std::move(weights);
}

Result<std::shared_ptr<const TensorMap>> WeightCache::get_trained(const std::string& path, const ModelConfig& c, const Vocab& vocab,
                                                                  uint64_t seed, std::vector<std::string>* warnings) {
  std::string resolved = path;
  if (!path.empty() && path[0] != '/')
    for (const std::string& dir : search_dirs)
      if (std::filesystem::exists(dir + "/" + path)) {
        resolved = dir + "/" + path;
        break;
      }
  if (!trained_ || resolved != trained_path_) {
    Result<TrainedWeights> loaded = load_trained(resolved);
    if (!loaded) return loaded.error();
    trained_ = std::make_shared<const TrainedWeights>(std::move(*loaded));
    trained_path_ = resolved;
  }
  const TrainedWeights& trained = *trained_;
  TensorMap W = *get(c, vocab, seed);
  int used = 0;
  std::vector<std::string> mismatched;
  for (const TensorMap::Entry& e : trained.weights.entries()) {
    Mat* mine = W.find_mutable(e.path);
    if (!mine) continue;
    if (e.path == "embed.E") {
      if (e.value.cols() != mine->cols()) {
        mismatched.push_back(e.path);
        continue;
      }
      std::string unknown;
      for (int id = 0; id < vocab.size(); ++id) {
        const int trained_id = trained.vocab.id(vocab.token(id));
        if (trained_id >= 0)
          mine->row(id) = e.value.row(trained_id);
        else
          unknown += (unknown.empty() ? "" : " ") + ("'" + vocab.token(id) + "'");
      }
      if (!unknown.empty() && warnings)
        warnings->push_back(i18n::trf("core.model.untrained_tokens", i18n::arg("task", trained.task), i18n::arg("tokens", unknown)));
      ++used;
    } else if (e.value.rows() == mine->rows() && e.value.cols() == mine->cols()) {
      *mine = e.value;
      ++used;
    } else {
      mismatched.push_back(e.path);
    }
  }
  if (warnings && !mismatched.empty())
    warnings->push_back(i18n::trf("core.model.mismatched_tensors", i18n::arg("count", mismatched.size()), i18n::arg("path", mismatched[0]),
                                  i18n::arg("layers", trained.model.layers), i18n::arg("d_model", trained.model.d_model),
                                  i18n::arg("heads", trained.model.heads)));
  if (warnings && used == 0) warnings->push_back(i18n::trf("core.model.nothing_fits", i18n::arg("path", resolved)));
  return std::make_shared<const TensorMap>(std::move(W));
}

// [SECTION] The forward pass
Mat attention_mask(MaskFlags flags, int n, int m, int q_pos0, const std::vector<bool>& key_is_pad, const std::vector<Cell>& cells) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  RowVec padding = RowVec::Zero(m);  // [m]: −∞ under padded keys, the same for every query
  if (flags & kMaskPadding)
    for (int j = 0; j < std::min(m, static_cast<int>(key_is_pad.size())); ++j)
      if (key_is_pad[j]) padding(j) = kNegInf;
  Mat M(n, m);
  for (int i = 0; i < n; ++i) {
    M.row(i) = padding;
    const int first_future = std::max(0, q_pos0 + i + 1);  // causal: keys j > q_pos0 + i
    if ((flags & kMaskCausal) && first_future < m) M.row(i).tail(m - first_future).setConstant(kNegInf);
  }
  if (flags & kMaskCustom)
    for (const Cell& cell : cells)
      if (cell.i >= q_pos0 && cell.i < q_pos0 + n && cell.j < m) M(cell.i - q_pos0, cell.j) = kNegInf;
  return M;
}

std::vector<bool> decoder_pad_flags(const Session& s, const std::vector<int>& ids, int pad_id) {
  return pad_flags(ids, s.model.arch == Arch::DecoderOnly ? s.padding_positions : std::vector<int>{}, pad_id);
}

std::vector<bool> pad_flags(const std::vector<int>& ids, const std::vector<int>& marked, int pad_id) {
  std::vector<bool> pad(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) pad[i] = pad_id >= 0 && ids[i] == pad_id;
  for (int p : marked)
    if (p >= 0 && p < static_cast<int>(pad.size())) pad[p] = true;
  return pad;
}

namespace {

// The backend that runs core/passes.h eagerly in float: each op computes its value and nothing else. Named activations
// go to `out` (core::run's trace) or to `on_put` (the KV-cache decoder keeps attention rows only); with `stages` the
// trace also gets what the views show but no gradient needs (M, B, S_scaled, S_masked, batch statistics, probs).
class EagerBackend {
 public:
  using Node = std::shared_ptr<const Mat>;
  using Scalar = float;
  using M = Mat;
  explicit EagerBackend(const TensorMap& W) : W_(W) {}

  TensorMap* out = nullptr;
  std::function<void(const std::string& path, const Mat& value)> on_put;
  bool stages = false;
  std::vector<HeadStats>* stats = nullptr;  // each head's statistics (sequence 0), in forward order

  const Mat& value(const Node& X) const { return *X; }
  Node param(const std::string& path) const { return Node(Node(), &W_.at(path)); }  // aliasing: borrows the weight, owns nothing
  bool has_param(const std::string& path) const { return W_.contains(path); }
  Node constant(Mat value) const { return make(std::move(value)); }
  std::function<bool(const std::string& path)> keep;  // empty: keep every tensor (a full trace)
  void put(const std::string& path, const Node& X, int row0, int rows) {
    if (out && (!keep || keep(path))) out->put(path, rows == X->rows() ? *X : Mat(X->middleRows(row0, rows)));
    if (on_put) on_put(path, *X);
  }
  bool wants_stages() const { return out && stages; }
  bool wants_stage(const std::string& path) const { return wants_stages() && (!keep || keep(path)); }
  void put_stage(const std::string& path, Mat value) {
    if (wants_stage(path)) out->put(path, std::move(value));
  }
  // Heads that run in row blocks (core/passes.h): none unless set (a lean trace: all; deriving one head: all others).
  std::function<bool(const std::string& head_path)> fuse;
  bool fuses(const std::string& head_path) const { return fuse && fuse(head_path); }
  // Query rows of one block: about kBlockCells scores, so S, P and the mask of a block stay a few MiB at any n.
  static constexpr int kBlockCells = 1 << 20;
  template <typename F>
  Node row_blocks(int n, int m, F&& block) const {
    const int rows = std::clamp(kBlockCells / std::max(m, 1), 16, std::max(n, 1));
    const int blocks = (n + rows - 1) / rows;
    std::vector<Node> parts(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(dynamic) if (blocks > 1)
    for (int k = 0; k < blocks; ++k) parts[static_cast<size_t>(k)] = block(k * rows, std::min(rows, n - k * rows));
    return blocks == 1 ? parts[0] : concat_rows(parts);
  }
  // Statistics of one head of sequence 0, while its S and P are at hand (a lean trace does not keep them): whole, or a
  // block of rows at a time (head_rows may be called from several threads).
  void head_done(const std::string& head, const Node& S, const Node& P, float scale, const Mat& bias_and_mask) {
    head_begin(head, static_cast<int>(P->rows()), scale);
    head_rows(0, S, P, bias_and_mask);
    head_end();
  }
  void head_begin(const std::string& head, int n, float scale) {
    if (!stats) return;
    head_ = HeadStats{};
    head_.path = head;
    head_.scale = scale;
    head_.entropy = RowVec::Zero(n);
    head_.max_weight = RowVec::Zero(n);
    sum_ = sum_sq_ = count_ = 0.0;
    fully_masked_.assign(static_cast<size_t>(n), false);
  }
  // One pass over a block of rows. With z = S·scale + B + M and p = softmax(z), each row's entropy is
  //   H = −Σ p·log p = lse − Σ p·z   (log p = z − lse, and lse = z_max − log p_max at the largest weight),
  // summed over the unmasked cells only, so no logarithm per cell is taken.
  void head_rows(int r0, const Node& S, const Node& P, const Mat& bias_and_mask) {
    if (!stats) return;
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const float scale = head_.scale;
    double sum = 0.0, sum_sq = 0.0, count = 0.0;  // of S_scaled = S·scale over the unmasked cells
    for (Eigen::Index i = 0; i < P->rows(); ++i) {
      const float* s = S->row(i).data();
      const float* p = P->row(i).data();
      const float* b = bias_and_mask.row(i).data();
      float p_max = 0.0f, z_at_max = 0.0f;
      double p_dot_z = 0.0, row_sum = 0.0, row_sum_sq = 0.0;
      Eigen::Index allowed = 0;
      for (Eigen::Index j = 0; j < P->cols(); ++j) {
        if (b[j] == kNegInf) continue;
        const float scaled = s[j] * scale, z = scaled + b[j];
        row_sum += scaled, row_sum_sq += static_cast<double>(scaled) * scaled, ++allowed;
        p_dot_z += static_cast<double>(p[j]) * z;
        if (p[j] > p_max) p_max = p[j], z_at_max = z;
      }
      const Eigen::Index row = r0 + i;  // rows of other blocks are disjoint: no lock needed
      head_.max_weight(row) = p_max;
      head_.entropy(row) = p_max > 0.0f ? std::max(0.0f, static_cast<float>(z_at_max - std::log(static_cast<double>(p_max)) - p_dot_z)) : 0.0f;
      if (allowed == 0 && P->cols() > 0) fully_masked_[static_cast<size_t>(row)] = 1;
      sum += row_sum, sum_sq += row_sum_sq, count += static_cast<double>(allowed);
    }
    const std::lock_guard<std::mutex> lock(stats_mutex_);
    sum_ += sum, sum_sq_ += sum_sq, count_ += count;
  }
  void head_end() {
    if (!stats) return;
    HeadStats& st = head_;
    for (size_t i = 0; i < fully_masked_.size(); ++i)
      if (fully_masked_[i]) st.fully_masked_rows.push_back(static_cast<int>(i));
    const int rows_with_weights = static_cast<int>(st.entropy.size() - static_cast<Eigen::Index>(st.fully_masked_rows.size()));
    if (rows_with_weights > 0) {
      st.mean_entropy = st.entropy.sum() / rows_with_weights;
      st.mean_max_weight = st.max_weight.sum() / rows_with_weights;
    }
    if (count_ > 0) {
      st.score_mean = static_cast<float>(sum_ / count_);
      st.score_variance = static_cast<float>(std::max(0.0, sum_sq_ / count_ - (sum_ / count_) * (sum_ / count_)));
    }
    stats->push_back(std::move(st));
  }

  Node matmul(const Node& a, const Node& b) const {
    Mat Y;
    Y.noalias() = *a * *b;
    return make(std::move(Y));
  }
  Node matmul_bt(const Node& a, const Node& b) const {
    Mat Y;
    Y.noalias() = *a * b->transpose();
    return make(std::move(Y));
  }
  Node add(const Node& a, const Node& b) const { return make(*a + *b); }
  Node add_row(const Node& a, const Node& row) const {
    Mat Y = *a;
    Y.rowwise() += row->row(0);
    return make(std::move(Y));
  }
  Node add_constant(const Node& a, const Mat& c) const { return make(*a + c); }
  Node scale(const Node& a, float s) const { return make(*a * s); }
  Node mul_constant(const Node& a, const Mat& c) const { return make(a->cwiseProduct(c)); }
  Node cols(const Node& a, int c0, int width) const { return make(a->middleCols(c0, width)); }
  Node rows(const Node& a, int r0, int count) const { return make(a->middleRows(r0, count)); }
  Node concat_cols(const std::vector<Node>& parts) const {
    Eigen::Index width = 0;
    for (const Node& p : parts) width += p->cols();
    Mat Y(parts[0]->rows(), width);
    Eigen::Index c = 0;
    for (const Node& p : parts) Y.middleCols(c, p->cols()) = *p, c += p->cols();
    return make(std::move(Y));
  }
  Node concat_rows(const std::vector<Node>& parts) const {
    Eigen::Index height = 0;
    for (const Node& p : parts) height += p->rows();
    Mat Y(height, parts[0]->cols());
    Eigen::Index r = 0;
    for (const Node& p : parts) Y.middleRows(r, p->rows()) = *p, r += p->rows();
    return make(std::move(Y));
  }
  Node gather_rows(const Node& table, const std::vector<int>& ids) const {
    Mat Y(static_cast<Eigen::Index>(ids.size()), table->cols());
    for (size_t i = 0; i < ids.size(); ++i) {
      QKV_ASSERT(ids[i] >= 0 && ids[i] < table->rows());
      Y.row(static_cast<Eigen::Index>(i)) = table->row(ids[i]);
    }
    return make(std::move(Y));
  }
  Node softmax(const Node& S, float scale, const Mat& bias_and_mask) const { return make(softmax_rows_t<float>(*S, scale, &bias_and_mask)); }
  Node additive_scores(const Node& Q, const Node& K, const Node& w_a) const { return make(additive_scores_t<float>(*Q, *K, *w_a)); }
  Node rope(const Node& X, int pos0, double base, int d_head) const {
    Mat Y = *X;
    rope_rotate(Y, pos0, base, d_head);
    return make(std::move(Y));
  }
  Node layer_norm(const Node& X, const Node& gamma, const Node* beta, float eps) const {
    return make(layer_norm_t<float>(*X, gamma->row(0), beta ? RowVec((*beta)->row(0)) : RowVec(RowVec::Zero(X->cols())), eps));
  }
  Node batch_norm(const Node& X, const Node& gamma, const Node* beta, float eps) const {
    return make(qkv::batch_norm(*X, gamma->row(0), beta ? RowVec((*beta)->row(0)) : RowVec(RowVec::Zero(X->cols())), eps, nullptr, nullptr));
  }
  Node rms_norm(const Node& X, const Node& gamma, float eps) const { return make(rms_norm_t<float>(*X, gamma->row(0), eps)); }
  Node relu(const Node& X) const { return make(X->cwiseMax(0.0f)); }
  Node gelu(const Node& X, bool tanh_form) const { return make(gelu_t<float>(*X, tanh_form)); }

 private:
  static Node make(Mat value) { return std::make_shared<const Mat>(std::move(value)); }
  const TensorMap& W_;
  HeadStats head_;  // the head between head_begin and head_end
  std::vector<char> fully_masked_;  // char, not bool: blocks write their rows from several threads
  double sum_ = 0.0, sum_sq_ = 0.0, count_ = 0.0;
  std::mutex stats_mutex_;
};

using EagerPasses = Passes<EagerBackend>;
using EagerNode = EagerBackend::Node;

std::vector<std::string> to_tokens(const Vocab& vocab, const std::vector<int>& ids) {
  std::vector<std::string> out;
  for (int id : ids) out.push_back(vocab.display(id));
  return out;
}

}  // namespace

namespace {
// A real checkpoint's session: the model has the checkpoint's shape, the text fits its positions, a batch can be padded.
std::optional<Error> check_pretrained_input(const Session& s, const PretrainedModel& m, const TokenizedBatch& tb) {
  if (auto e = check_shape(s.model, m.config)) return e;
  const int n = tb.source_ids.empty() ? 0 : static_cast<int>(tb.source_ids[0].size());
  if (n == 0) return Error{i18n::tr("core.config.input_no_tokens"), i18n::tr("core.config.no_tokens_hint")};
  const int extra = s.model.arch == Arch::DecoderOnly ? s.decode_steps : 0;
  if (n + extra > m.config.max_len)
    return Error{i18n::trf("core.config.input_too_long", i18n::arg("b", 0), i18n::arg("n", n + extra), i18n::arg("max_len", m.config.max_len)),
                 i18n::tr("core.pretrained.too_long_hint")};
  if (!s.extra_batch.empty() && tb.pad_id < 0)
    return Error{i18n::tr("core.pretrained.batch_without_pad"), i18n::tr("core.pretrained.batch_without_pad_hint")};
  for (int p : s.padding_positions)
    if (p < 0 || p >= n)
      return Error{i18n::trf("core.config.padding_outside", i18n::arg("p", p), i18n::arg("n", n)), i18n::tr("core.config.padding_outside_hint")};
  return std::nullopt;
}
}  // namespace

// [SECTION] Step-by-step generation through the KV cache
struct Generator::Impl {
  Impl(const Session& session, std::shared_ptr<const TensorMap> weights)
      : s(inference(session)), W(std::move(weights)), options(pass_options(s)), backend(*W), f(s.model, options, backend), batch(tokenize_batch(s)) {
    backend.on_put = [this](const std::string& path, const Mat& value) {
      if (recording && paths::ends_with(path, ".P")) {
        last[path] = value.row(0);
        rows[path].push_back(value.row(0));
      }
    };
  }
  static Session inference(Session s) {
    s.mode = Mode::Eval;  // decoding is inference: no dropout
    s.extra_batch.clear();
    return s;
  }
  Session s;
  std::shared_ptr<const TensorMap> W;
  PassOptions options;
  EagerBackend backend;
  EagerPasses f;
  TokenizedBatch batch;
  Vocab vocab;
  EagerPasses::Caches caches;
  EagerNode memory;  // the encoder's output (encoder–decoder)
  std::vector<std::vector<bool>> src_pad;
  std::vector<int> ids;  // every token fed so far
  int prompt_len = 0;
  bool recording = false;  // the decoder's attention rows are kept, the encoder's are not
  RowVec logits;
  std::map<std::string, RowVec> last;
  std::map<std::string, std::vector<RowVec>> rows;

  // One position through the decoder stack: its query attends to every cached key.   -> logits [V]
  void feed(int id) {
    const int pos = static_cast<int>(ids.size());
    ids.push_back(id);
    recording = true;
    const EagerNode X = f.embed("decoder", {{id}}, pos);
    const EagerNode H = f.stack("decoder", X, 1, pos, caches, memory ? &memory : nullptr, {decoder_pad_flags(s, ids, batch.pad_id)}, src_pad,
                                s.decoder_mask);
    logits = f.logits(H, 1)->row(0);
  }
};

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;

namespace {
MemoryEstimate estimate_memory(const Session&, const TokenizedBatch&, const RunOptions&, bool gradients);  // below, with run()
}  // namespace

Result<std::unique_ptr<Generator>> Generator::start(const Session& s, WeightCache* cache) {
  if (auto e = validate(s)) return *e;
  if (!s.model_dir.empty())  // opened before the tokens are counted
    if (Result<std::shared_ptr<const PretrainedModel>> m = open_pretrained(s.model_dir); !m) return m.error();
  const TokenizedBatch tb = tokenize_batch(s);
  RunOptions kv_cache_only;  // the generator keeps each layer's K and V rows, about what a lean trace keeps
  kv_cache_only.keep = TraceKeep::Lean;
  if (auto e = check_memory(estimate_memory(s, tb, kv_cache_only, false), i18n::tr("core.model.memory.generation"))) return *e;
  std::shared_ptr<const TensorMap> W;
  if (!s.model_dir.empty()) {
    Result<std::shared_ptr<const PretrainedModel>> m = open_pretrained(s.model_dir);
    if (!m) return m.error();
    if (auto e = check_pretrained_input(s, **m, tb)) return *e;
    W = (*m)->weights;
  } else if (!s.weights.empty()) {
    WeightCache local;
    std::vector<std::string> warnings;
    Result<std::shared_ptr<const TensorMap>> trained = (cache ? cache : &local)->get_trained(s.weights, s.model, tb.vocab, s.seed, &warnings);
    if (!trained) return trained.error();
    W = *trained;
  } else {
    W = cache ? cache->get(s.model, tb.vocab, s.seed) : std::make_shared<const TensorMap>(make_weights(s.model, tb.vocab, s.seed));
  }
  return start_with(s, std::move(W));
}

Result<std::unique_ptr<Generator>> Generator::start_with(const Session& s, std::shared_ptr<const TensorMap> weights) {
  if (s.model.arch == Arch::EncoderOnly)
    return Error{i18n::tr("core.model.encoder_only_generate"), i18n::tr("core.model.encoder_only_generate_hint")};
  auto impl = std::make_unique<Impl>(s, std::move(weights));
  Impl& g = *impl;
  g.vocab = g.batch.vocab;
  g.caches.assign(1, std::vector<LayerCache<EagerNode>>(g.s.model.layers));
  g.src_pad.push_back(pad_flags(g.batch.source_ids[0], g.s.padding_positions, g.batch.pad_id));
  if (g.s.model.arch == Arch::EncoderDecoder) {  // the encoder runs once; cross-attention caches its K, V on first use
    EagerPasses::Caches enc_caches(1, std::vector<LayerCache<EagerNode>>(g.s.model.layers));
    const int n_src = static_cast<int>(g.batch.source_ids[0].size());
    const EagerNode X = g.f.embed("encoder", {g.batch.source_ids[0]}, 0);
    g.memory = g.f.stack("encoder", X, n_src, 0, enc_caches, nullptr, g.src_pad, g.src_pad, g.s.encoder_mask);
  }
  const std::vector<int> prompt = g.s.model.arch == Arch::DecoderOnly ? g.batch.source_ids[0] : g.batch.target_ids[0];
  if (prompt.empty()) return Error{i18n::tr("core.model.empty_prompt"), i18n::tr("core.model.empty_prompt_hint")};
  if (static_cast<int>(prompt.size()) > g.s.model.max_len)
    return Error{i18n::tr("core.model.prompt_too_long"), i18n::tr("core.model.prompt_too_long_hint")};
  for (int id : prompt) g.feed(id);
  g.prompt_len = static_cast<int>(prompt.size());
  return std::unique_ptr<Generator>(new Generator(std::move(impl)));
}

const RowVec& Generator::logits() const { return impl_->logits; }
bool Generator::feed(int id) {
  QKV_ASSERT(id >= 0 && id < impl_->vocab.size());
  if (static_cast<int>(impl_->ids.size()) >= impl_->s.model.max_len) return false;
  impl_->feed(id);
  return true;
}
const std::vector<int>& Generator::ids() const { return impl_->ids; }
const Vocab& Generator::vocab() const { return impl_->vocab; }
int Generator::prompt_length() const { return impl_->prompt_len; }
const std::map<std::string, RowVec>& Generator::last_rows() const { return impl_->last; }
std::map<std::string, Mat> Generator::all_rows() const {
  std::map<std::string, Mat> out;
  for (const auto& [path, list] : impl_->rows) {
    Mat P_rows = Mat::Zero(static_cast<Eigen::Index>(list.size()), list.back().size());
    for (size_t r = 0; r < list.size(); ++r) P_rows.row(static_cast<Eigen::Index>(r)).head(list[r].size()) = list[r];
    out[path] = std::move(P_rows);
  }
  return out;
}

namespace {
constexpr const char* kCancelledKey = "core.model.cancelled";
}
// In any language: the language may change between the run that was cancelled and the frame that asks.
bool is_cancelled(const Error& e) {
  for (int l = 0; l < static_cast<int>(Lang::Count); ++l)
    if (e.what == i18n::tr_in(static_cast<Lang>(l), kCancelledKey)) return true;
  return false;
}

double stage_bytes(const ModelConfig& c, int sequences, int n_source, int n_target) {
  const double stages = c.pe == PosEncoding::ALiBi ? 5.0 : 4.0;  // S, S_scaled, S_masked, P (+ B)
  const double per_head = stages * sizeof(float) * c.heads;
  double cells = 0.0;  // n·m summed over the attention blocks
  if (c.arch != Arch::DecoderOnly) cells += static_cast<double>(c.layers) * n_source * n_source;
  if (c.arch == Arch::DecoderOnly) cells += static_cast<double>(c.layers) * n_source * n_source;
  if (c.arch == Arch::EncoderDecoder) cells += static_cast<double>(c.layers) * (static_cast<double>(n_target) * n_target + static_cast<double>(n_target) * n_source);
  return per_head * cells * sequences;
}

namespace {

std::string strip_batch_prefix(const std::string& path) {
  if (path.rfind("batch.", 0) != 0) return path;
  const size_t dot = path.find('.', 6);
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// What a lean trace keeps: the embeddings, each layer's input and output, each stack's final norm, the logits.
bool lean_keeps(const std::string& full_path) {
  const std::string path = strip_batch_prefix(full_path);
  if (path == "output.logits" || path.find(".embed.") != std::string::npos || paths::ends_with(path, ".final_norm")) return true;
  const size_t a = path.find('.');
  if (a == std::string::npos) return false;
  const size_t b = path.find('.', a + 1);
  if (b == std::string::npos) return false;
  const std::string rest = path.substr(b + 1);
  return rest == "input" || rest == "output";
}

// Whether an earlier trace's tensor (or head) at `path` (no batch prefix) is taken when `layers` of `stack` are:
// its embeddings and layers below, the final norm with the whole stack; "output" takes the logits and probs.
bool taken_path(const std::string& path, const std::string& stack, int layers, int all_layers) {
  if (paths::is_grad(path) || path == "loss") return false;
  if (stack == "output") return path.rfind("output.", 0) == 0;
  if (path.rfind(stack + ".", 0) != 0) return false;
  const std::string rest = path.substr(stack.size() + 1);
  if (rest.rfind("embed.", 0) == 0) return true;
  if (rest == "final_norm") return layers == all_layers;
  const size_t dot = rest.find('.');
  const std::string digits = rest.substr(0, dot);
  if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(digits) < layers;
}

// The n×m stages of a head (and a block's mask): what a lean trace derives one head at a time.
bool is_head_stage(const std::string& path) {
  if (paths::ends_with(path, ".self_attn.M") || paths::ends_with(path, ".cross_attn.M")) return true;
  const std::optional<paths::HeadAddress> a = paths::parse_head(path);
  return a && (a->tensor == "S" || a->tensor == "B" || a->tensor == "S_scaled" || a->tensor == "S_masked" || a->tensor == "P");
}

// Recomputes what a lean trace did not keep, through the same passes as the forward. A layer's rows from its kept input
// (and the encoder's output for cross-attention), every head in row blocks so that no n×m matrix is made; one head's
// stages from that head's Q and K (the layer's rows); "output" recomputes output.probs from the kept logits.
class LayerDeriver : public Deriver {
 public:
  LayerDeriver(const Session& s, std::shared_ptr<const TensorMap> W, std::vector<std::vector<bool>> src_pad,
               std::vector<std::vector<bool>> dec_pad, int n_src, int n_dec)
      : s_(s), W_(std::move(W)), options_(pass_options(s)), src_pad_(std::move(src_pad)), dec_pad_(std::move(dec_pad)), n_src_(n_src), n_dec_(n_dec) {}

  std::vector<std::string> units() const override {
    std::vector<std::string> out;
    for (const std::string& stack : stacks_of(s_.model.arch))
      for (int l = 0; l < s_.model.layers; ++l) {
        out.push_back(paths::layer(stack, l));
        for (const bool cross : {false, true}) {
          if (cross && !(stack == "decoder" && s_.model.arch == Arch::EncoderDecoder)) continue;
          const std::string block = paths::block(stack, l, cross);
          out.push_back(paths::join(block, "M"));
          for (int i = 0; i < s_.model.heads; ++i)
            for (const char* stage : {"S", "B", "S_scaled", "S_masked", "P"})
              if (std::string_view(stage) != "B" || (!cross && s_.model.pe == PosEncoding::ALiBi)) out.push_back(paths::head_tensor(block, i, stage));
        }
      }
    out.push_back("output");
    return out;
  }
  std::string unit_of(const std::string& full_path) const override {
    const std::string path = strip_batch_prefix(full_path);
    if (path == "output.probs") return "output";
    for (const std::string& stack : stacks_of(s_.model.arch)) {
      if (path.rfind(stack + ".", 0) != 0) continue;
      const size_t dot = path.find('.', stack.size() + 1);
      if (dot == std::string::npos) return "";
      const std::string digits = path.substr(stack.size() + 1, dot - stack.size() - 1);
      if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) return "";
      const int l = std::stoi(digits);
      if (l >= s_.model.layers) return "";
      if (!is_head_stage(path)) return paths::layer(stack, l);
      if (paths::ends_with(path, ".M")) return path;
      return paths::parse_head(path)->index < s_.model.heads ? path : "";  // each n×m stage is a unit of its own
    }
    return "";
  }
  void derive(const std::string& unit, const Lookup& trace, TensorMap& out) const override {
    const int B = static_cast<int>(src_pad_.size());
    const auto prefix = [](int b) { return b == 0 ? std::string() : "batch." + std::to_string(b) + "."; };
    if (unit == "output") {
      for (int b = 0; b < B; ++b)
        if (const Mat* logits = trace(prefix(b) + "output.logits")) out.put(prefix(b) + "output.probs", softmax_rows_t<float>(*logits, 1.0f, nullptr));
      return;
    }
    const size_t dot = unit.find('.');
    const std::string stack = unit.substr(0, dot);
    const bool decoder = stack == "decoder";
    const std::vector<std::vector<bool>>& key_pad = decoder ? dec_pad_ : src_pad_;
    EagerBackend backend(*W_);
    backend.out = &out;
    backend.stages = true;
    EagerPasses f(s_.model, options_, backend);
    if (is_head_stage(unit)) {
      // One n×m stage of one head (or a block's mask), from the Q and K its layer's rows hold: S = Q_i·K_iᵀ … P, keeping
      // only the stage asked for (no other head is computed; at n = 3,000 each stage is 36 MB).
      const bool mask_only = paths::ends_with(unit, ".M");
      const std::string block = mask_only ? unit.substr(0, unit.size() - 2) : paths::parse_head(unit)->block;
      const int i = mask_only ? 0 : paths::parse_head(unit)->index;
      const bool cross = paths::ends_with(block, paths::kCross);
      backend.keep = [&unit](const std::string& path) { return strip_batch_prefix(path) == unit; };
      for (int b = 0; b < B; ++b) {
        const Mat* Q_i = trace(prefix(b) + paths::head_tensor(block, i, "Q"));
        const Mat* K_i = trace(prefix(b) + paths::head_tensor(block, i, "K"));
        if (!Q_i || !K_i) return;
        const MaskFlags flags = cross ? (s_.encoder_mask & kMaskPadding) : decoder ? s_.decoder_mask : s_.encoder_mask;
        const MaskRows mask{flags, 0, static_cast<int>(K_i->rows()), cross ? &src_pad_[b] : &key_pad[b], cross ? nullptr : &options_.custom_cells};
        const Mat whole = mask.rows<float>(0, static_cast<int>(Q_i->rows()));
        if (mask_only) backend.put_stage(prefix(b) + unit, whole);
        else f.head_stages(block, !cross, i, backend.constant(*Q_i), backend.constant(*K_i), mask, whole, prefix(b));
      }
      return;
    }
    // A layer's rows: every tensor but the heads' stages, with every head in row blocks.
    backend.keep = [](const std::string& path) { return !is_head_stage(strip_batch_prefix(path)); };
    backend.fuse = [](const std::string&) { return true; };
    const int l = std::stoi(unit.substr(dot + 1));
    const int n = decoder ? n_dec_ : n_src_;
    const auto rows_of_all = [&](const std::string& path, int rows) -> EagerNode {
      Mat H(static_cast<Eigen::Index>(B) * rows, s_.model.d_model);
      for (int b = 0; b < B; ++b) {
        const Mat* part = trace(prefix(b) + path);
        QKV_ASSERT(part != nullptr);
        H.middleRows(static_cast<Eigen::Index>(b) * rows, rows) = *part;
      }
      return std::make_shared<const Mat>(std::move(H));
    };
    EagerPasses::Caches caches(B, std::vector<LayerCache<EagerNode>>(s_.model.layers));
    EagerNode memory;
    if (decoder && s_.model.arch == Arch::EncoderDecoder) {
      const bool final_norm = s_.model.norm_placement == NormPlacement::Pre && s_.model.norm != NormKind::None;
      memory = rows_of_all(final_norm ? "encoder.final_norm" : paths::join(paths::layer("encoder", s_.model.layers - 1), "output"), n_src_);
    }
    f.layer(stack, l, rows_of_all(paths::join(unit, "input"), n), n, 0, caches, memory ? &memory : nullptr, key_pad, src_pad_,
            decoder ? s_.decoder_mask : s_.encoder_mask);
  }

 private:
  Session s_;
  std::shared_ptr<const TensorMap> W_;
  PassOptions options_;
  std::vector<std::vector<bool>> src_pad_, dec_pad_;
  int n_src_, n_dec_;
};

}  // namespace

Reuse reusable(const Session& before, std::shared_ptr<const Trace> trace, const Session& after) {
  Reuse r;
  if (!trace || (after.mode == Mode::Train && after.model.dropout > 0.0f)) return r;
  // The sessions as one stack sees them: what only the decoder reads, or only the gradients, set to one value.
  const auto without_loss = [](Session s) {
    s.loss = LossKind::Auto;
    s.label_smoothing = 0.0f;
    s.loss_pattern = Pattern::AntiDiagonal;
    return s;
  };
  const auto encoder_view = [&](Session s) {
    s = without_loss(std::move(s));
    s.input.target.clear();
    for (Sequence& q : s.extra_batch) q.target.clear();
    s.decoder_mask = kMaskNone;
    s.decode_steps = 0;
    return s;
  };
  const int L = after.model.layers;
  switch (after.model.arch) {
    case Arch::EncoderOnly:
      if (to_json(without_loss(before)) == to_json(without_loss(after))) r.encoder_layers = L;
      break;
    case Arch::DecoderOnly:
      if (after.decode_steps == 0 && to_json(without_loss(before)) == to_json(without_loss(after))) r.decoder_layers = L;
      break;
    case Arch::EncoderDecoder:
      if (to_json(encoder_view(before)) == to_json(encoder_view(after))) r.encoder_layers = L;
      if (r.encoder_layers == L && after.decode_steps == 0 && to_json(without_loss(before)) == to_json(without_loss(after))) r.decoder_layers = L;
      break;
    default:
      break;
  }
  if (r.encoder_layers > 0 || r.decoder_layers > 0) r.trace = std::move(trace);
  return r;
}

// [SECTION] Memory, estimated before anything is allocated
namespace {

// The sizes a run works with, and whether it keeps a lean trace (RunOptions::keep, lean_above_bytes).
struct RunSizes {
  int sequences = 1;
  int n_src = 0;  // source positions, padded to the batch's longest
  int n_dec = 0;  // decoder positions: [BOS] + target (encoder–decoder), prompt + fed-back tokens (decoder-only)
  bool dropout = false;
  bool lean = false;
};
RunSizes run_sizes(const Session& s, const TokenizedBatch& tb, const RunOptions& o) {
  const ModelConfig& c = s.model;
  RunSizes r;
  r.sequences = static_cast<int>(tb.source_ids.size());
  r.n_src = static_cast<int>(tb.source_ids[0].size());
  const int fed_back = std::max(0, s.decode_steps - 1);  // decoded tokens the parallel pass runs over too
  r.n_dec = c.arch == Arch::EncoderDecoder ? static_cast<int>(tb.target_ids[0].size()) + fed_back
                                           : r.n_src + (c.arch == Arch::DecoderOnly ? fed_back : 0);
  r.dropout = s.mode == Mode::Train && c.dropout > 0.0f;
  r.lean = !r.dropout && (o.keep == TraceKeep::Lean ||
                          (o.keep == TraceKeep::Auto && stage_bytes(c, r.sequences, c.arch == Arch::DecoderOnly ? r.n_dec : r.n_src, r.n_dec) >
                                                            static_cast<double>(o.lean_above_bytes)));
  return r;
}

// Floats of one attention block's activations of one sequence, n queries over m keys (estimate_memory's list).
double attention_block_floats(const ModelConfig& c, double n, double m, bool stages) {
  const double h = c.heads, d_k = c.head_dk(), d_v = c.head_dv(), d = c.d_model;
  double floats = h * (n * d_k + m * d_k + m * d_v + n * d_v) + n * h * d_v + 3.0 * n * d;
  if (stages) floats += n * m * (1.0 + h * (c.pe == PosEncoding::ALiBi ? 5.0 : 4.0));
  return floats;
}
// One layer of one sequence: input, output, its attention block(s) and FFN. cross_m > 0: a decoder's cross-attention.
double layer_floats(const ModelConfig& c, double n, double cross_m, bool stages) {
  double floats = 2.0 * n * c.d_model + attention_block_floats(c, n, n, stages) + 2.0 * n * c.d_ff + 3.0 * n * c.d_model;
  if (cross_m > 0) floats += attention_block_floats(c, n, cross_m, stages);
  return floats;
}

MemoryEstimate estimate_memory(const Session& s, const TokenizedBatch& tb, const RunOptions& o, bool gradients) {
  const ModelConfig& c = s.model;
  const RunSizes r = run_sizes(s, tb, o);
  const double B = r.sequences, L = c.layers, d = c.d_model, V = static_cast<double>(tb.vocab.size());
  const bool pre_norm = c.norm_placement == NormPlacement::Pre && c.norm != NormKind::None;
  MemoryEstimate e;
  e.lean = r.lean;
  e.weights = 4.0 * static_cast<double>(count_model(count_spec_for(c, static_cast<int64_t>(V)), 1).total_params);

  // The stacks: (query rows, cross-attention keys) per stack.
  std::vector<std::pair<double, double>> stacks;
  if (c.arch != Arch::DecoderOnly) stacks.push_back({r.n_src, 0.0});
  if (c.arch == Arch::DecoderOnly) stacks.push_back({r.n_dec, 0.0});
  if (c.arch == Arch::EncoderDecoder) stacks.push_back({r.n_dec, r.n_src});
  const double n_out = c.arch == Arch::EncoderOnly ? r.n_src : r.n_dec;  // rows of the logits
  double full = 0.0, kept = 0.0, layer_rows = 0.0, largest_block = 0.0;
  for (const auto& [n, cross_m] : stacks) {
    const double ends = 3.0 * n * d + (pre_norm ? n * d : 0.0);  // embeddings, final norm
    full += ends + L * layer_floats(c, n, cross_m, true);
    kept += ends + L * 2.0 * n * d;
    layer_rows = std::max(layer_rows, layer_floats(c, n, cross_m, false));
    largest_block = std::max(largest_block, n * std::max(n, cross_m));
  }
  full += 2.0 * n_out * V;
  kept += n_out * V;
  double kv_cache = 0.0;
  if (s.decode_steps > 0) {  // each step's attention rows (kept), and the KV cache of every layer (while decoding)
    const double n = r.n_dec, m = c.arch == Arch::EncoderDecoder ? r.n_src : 0.0;
    const double P_rows = L * c.heads * (n * n + n * m);
    kv_cache = L * c.heads * (n + m) * (c.head_dk() + c.head_dv());
    full += P_rows;
    kept += P_rows;
  }
  e.trace = 4.0 * B * (r.lean ? kept : full);
  const double stages = c.pe == PosEncoding::ALiBi ? 5.0 : 4.0;
#ifdef _OPENMP
  const double threads = std::max(1, omp_get_max_threads());
#else
  const double threads = 1.0;
#endif
  // A lean head runs in row blocks of about kBlockCells scores (at least 16 rows); a full one holds its n×m stages.
  const double longest_keys = std::max({r.n_src, r.n_dec, 1});
  const double head_cells = r.lean ? std::min(largest_block, std::max<double>(EagerBackend::kBlockCells, 16.0 * longest_keys)) : largest_block;
  e.working = 4.0 * (B * (layer_rows + n_out * V) + threads * (stages + 2.0) * head_cells + kv_cache);  // n_out·V: the softmax's
  if (gradients) {
    // The tape runs every sequence in full: a copy of the weights and their gradients, each node's value and gradient;
    // the trace then keeps dL/d… of every weight and of sequence 0's activations.
    e.gradients = 2.0 * e.weights + 4.0 * B * full * kTapeNodesPerActivation * 2.0 + 4.0 * full;
  }
  return e;
}
}  // namespace

MemoryEstimate estimate_memory(const Session& s, const RunOptions& o, bool gradients) {
  return estimate_memory(s, tokenize_batch(s), o, gradients);
}

std::optional<Error> check_memory(const MemoryEstimate& e, const std::string& what, int64_t limit, double in_use) {
  if (limit <= 0) limit = memory_limit();
  const double need = e.total() + in_use;
  if (need <= static_cast<double>(limit)) return std::nullopt;
  // The parts are a list of "label size" items, joined by the language's list separator.
  const std::string sep = i18n::tr("core.model.memory.list_sep");
  const auto part = [](const char* key, double bytes) { return i18n::trf(key, i18n::arg("bytes", human_bytes(bytes))); };
  std::string parts = part("core.model.memory.weights", e.weights) + sep +
                      part(e.lean ? "core.model.memory.trace_lean" : "core.model.memory.trace", e.trace) + sep +
                      part("core.model.memory.working", e.working);
  if (e.gradients > 0) parts += sep + part("core.model.memory.gradients", e.gradients);
  if (in_use > 0) parts += sep + part("core.model.memory.already_held", in_use);
  const int percent = static_cast<int>(kDefaultMemoryShare * 100);
  const std::string origin = limit == default_memory_limit()
                                 ? i18n::trf("core.model.memory.machine_share", i18n::arg("percent", percent),
                                             i18n::arg("memory", human_bytes(static_cast<double>(machine_memory_bytes()))))
                                 : std::string(i18n::tr("core.model.memory.set_by"));
  return Error{i18n::trf("core.model.memory.refused", i18n::arg("what", what), i18n::arg("need", human_bytes(need)),
                         i18n::arg("parts", parts), i18n::arg("limit", human_bytes(static_cast<double>(limit))),
                         i18n::arg("origin", origin)),
               i18n::tr("core.model.memory.refused_hint")};
}

Result<Trace> run(const Session& s, WeightCache* cache, const Progress& progress) {
  RunOptions o;
  o.cache = cache;
  o.progress = progress;
  return run(s, o);
}

Result<Trace> run(const Session& s, const RunOptions& run_options) {
  WeightCache* cache = run_options.cache;
  const Progress& progress = run_options.progress;
  if (auto e = validate(s)) return *e;
  if (s.decode_steps > 0 && !s.extra_batch.empty())
    return Error{i18n::trf("core.model.batch_decode", i18n::arg("n", 1 + s.extra_batch.size())), i18n::tr("core.model.batch_decode_hint")};
  const auto start = std::chrono::steady_clock::now();
  const ModelConfig& c = s.model;
  std::shared_ptr<const PretrainedModel> pretrained;
  if (!s.model_dir.empty()) {
    Result<std::shared_ptr<const PretrainedModel>> m = open_pretrained(s.model_dir);
    if (!m) return m.error();
    pretrained = *m;
  }
  TokenizedBatch tb = tokenize_batch(s);
  if (pretrained)
    if (auto e = check_pretrained_input(s, *pretrained, tb)) return *e;
  const RunSizes sizes = run_sizes(s, tb, run_options);
  if (auto e = check_memory(estimate_memory(s, tb, run_options, false), i18n::tr("core.model.memory.this_run"), run_options.memory_limit,
                            run_options.memory_in_use))
    return *e;
  Trace t;
  if (pretrained) {
    t.weights = pretrained->weights;
  } else if (!s.weights.empty()) {
    WeightCache local;
    Result<std::shared_ptr<const TensorMap>> W = (cache ? cache : &local)->get_trained(s.weights, c, tb.vocab, s.seed, &t.warnings);
    if (!W) return W.error();
    t.weights = *W;
  } else {
    t.weights = cache ? cache->get(c, tb.vocab, s.seed) : std::make_shared<const TensorMap>(make_weights(c, tb.vocab, s.seed));
  }
  const PassOptions options = pass_options(s);
  EagerBackend backend(*t.weights);
  backend.out = &t.tensors;
  backend.stages = true;
  backend.stats = &t.heads;
  const int n_src = sizes.n_src;
  bool reuse_ok = false;
  {
    const bool lean = sizes.lean;
    reuse_ok = run_options.reuse.trace && !sizes.dropout && run_options.reuse.trace->tensors.lean() == lean &&
               ((s.weights.empty() && s.model_dir.empty()) || run_options.reuse.trace->weights == t.weights);
    if (lean) {
      backend.keep = lean_keeps;
      backend.stages = false;  // S_scaled, S_masked, M, B, probs: never kept, so not made (a layer's re-run makes them)
      backend.fuse = [](const std::string&) { return true; };  // every head in row blocks: no n×m matrix is ever whole
    }
  }
  EagerPasses f(c, options, backend);
  f.progress = &progress;
  f.layers_total = c.layers * (c.arch == Arch::EncoderDecoder ? 2 : 1);
  const Error cancelled{i18n::tr(kCancelledKey), i18n::tr("core.model.cancelled_hint")};
  const int B = static_cast<int>(tb.source_ids.size());
  const auto fresh_caches = [&] { return EagerPasses::Caches(B, std::vector<LayerCache<EagerNode>>(c.layers)); };

  // Incremental recompute: the layers taken from the earlier trace, per stack (the encoder first, as the pass goes).
  const Trace* earlier = reuse_ok ? run_options.reuse.trace.get() : nullptr;
  const int taken_encoder = earlier && c.arch != Arch::DecoderOnly ? std::clamp(run_options.reuse.encoder_layers, 0, c.layers) : 0;
  const int taken_decoder = earlier && c.arch != Arch::EncoderOnly && s.decode_steps == 0 &&
                                    taken_encoder == (c.arch == Arch::EncoderDecoder ? c.layers : 0)
                                ? std::clamp(run_options.reuse.decoder_layers, 0, c.layers)
                                : 0;
  const bool taken_whole = earlier && (c.arch == Arch::EncoderOnly ? taken_encoder == c.layers : taken_decoder == c.layers);
  const auto take = [&](const std::string& stack, int layers) {
    if (layers == 0) return;
    for (const TensorMap::Entry& e : earlier->tensors.entries())
      if (taken_path(strip_batch_prefix(e.path), stack, layers, c.layers)) t.tensors.put(e.path, e.value);
    for (const HeadStats& st : earlier->heads)
      if (taken_path(st.path, stack, layers, c.layers)) t.heads.push_back(st);
  };
  // A stack's rows at `path` for every sequence, stacked: [B·rows, d_model] (the output of the last layer taken).
  const auto taken_rows = [&](const std::string& path, int rows) -> EagerNode {
    Mat H(static_cast<Eigen::Index>(B) * rows, c.d_model);
    for (int b = 0; b < B; ++b) H.middleRows(static_cast<Eigen::Index>(b) * rows, rows) = t.tensors.at((b == 0 ? "" : "batch." + std::to_string(b) + ".") + path);
    return std::make_shared<const Mat>(std::move(H));
  };
  const bool pre_norm = c.norm_placement == NormPlacement::Pre && c.norm != NormKind::None;
  const auto stack_output = [&](const std::string& stack) {
    return pre_norm ? paths::join(stack, "final_norm") : paths::join(paths::layer(stack, c.layers - 1), "output");
  };

  // Encoder (encoder-only and encoder–decoder).
  std::vector<std::vector<bool>> src_pad;
  for (const auto& ids : tb.source_ids) src_pad.push_back(pad_flags(ids, s.padding_positions, tb.pad_id));
  EagerNode memory, H_final;
  if (c.arch != Arch::DecoderOnly) {
    take("encoder", taken_encoder);
    if (taken_encoder == c.layers) {
      f.skip_layers(c.layers);
      memory = taken_rows(stack_output("encoder"), n_src);
    } else {
      auto caches = fresh_caches();
      const EagerNode X = taken_encoder > 0 ? taken_rows(paths::join(paths::layer("encoder", taken_encoder - 1), "output"), n_src)
                                            : f.embed("encoder", tb.source_ids, 0);
      memory = f.stack("encoder", X, n_src, 0, caches, nullptr, src_pad, src_pad, s.encoder_mask, taken_encoder);
      if (f.cancelled()) return cancelled;
    }
    H_final = memory;
  }

  // Decoder input: the prompt (decoder-only) or [BOS] + target (encoder–decoder).
  std::vector<std::vector<int>> dec_ids = c.arch == Arch::DecoderOnly ? tb.source_ids : tb.target_ids;
  if (c.arch != Arch::EncoderOnly && s.decode_steps > 0) {
    // Greedy decoding with a KV cache: one token at a time, each query attending to the cached keys/values.
    Result<std::unique_ptr<Generator>> g = Generator::start_with(s, t.weights);
    if (!g) return g.error();
    Generator& gen = **g;
    for (int k = 0; k < s.decode_steps; ++k) {
      Eigen::Index next = 0;
      gen.logits().maxCoeff(&next);
      t.decoded_tokens.push_back(tb.vocab.display(static_cast<int>(next)));
      if (k + 1 < s.decode_steps) gen.feed(static_cast<int>(next));
    }
    // The parallel pass below runs over every token that was fed back in: the prompt and all but the last generated.
    dec_ids[0] = gen.ids();
    for (auto& [path, P_rows] : gen.all_rows()) t.tensors.put("decode." + path, std::move(P_rows));
  }
  std::vector<std::vector<bool>> dec_pad;
  if (c.arch != Arch::EncoderOnly) {
    const int n_dec = static_cast<int>(dec_ids[0].size());
    for (const auto& ids : dec_ids) dec_pad.push_back(decoder_pad_flags(s, ids, tb.pad_id));
    take("decoder", taken_decoder);
    if (taken_decoder == c.layers) f.skip_layers(c.layers);
    if (taken_decoder < c.layers) {
      auto caches = fresh_caches();
      const EagerNode X = taken_decoder > 0 ? taken_rows(paths::join(paths::layer("decoder", taken_decoder - 1), "output"), n_dec)
                                            : f.embed("decoder", dec_ids, 0);
      H_final = f.stack("decoder", X, n_dec, 0, caches, c.arch == Arch::EncoderDecoder ? &memory : nullptr, dec_pad, src_pad, s.decoder_mask,
                        taken_decoder);
      if (f.cancelled()) return cancelled;
    }
  }
  if (progress && !progress(f.layers_total, f.layers_total)) return cancelled;

  // Output projection tied to the embeddings: logits = H·Eᵀ [n, V], probs = softmax(logits).
  if (taken_whole)
    take("output", 1);
  else
    f.logits(H_final, c.arch == Arch::EncoderOnly ? n_src : static_cast<int>(dec_ids[0].size()));
  if (backend.keep)
    t.tensors.set_deriver(std::make_shared<LayerDeriver>(s, t.weights, src_pad, std::move(dec_pad), n_src,
                                                         c.arch == Arch::EncoderOnly ? 0 : static_cast<int>(dec_ids[0].size())));

  t.vocab = tb.vocab;
  t.source_ids = c.arch == Arch::DecoderOnly ? dec_ids[0] : tb.source_ids[0];
  t.source_tokens = to_tokens(tb.vocab, t.source_ids);
  if (c.arch == Arch::EncoderDecoder) t.target_tokens = to_tokens(tb.vocab, dec_ids[0]);
  if (tb.cut_tokens > 0)
    t.warnings.push_back(i18n::trf("core.model.text_cut", i18n::arg("n", tb.cut_tokens), i18n::arg("max", s.model.max_len)));
  for (const HeadStats& st : t.heads)
    for (int r : st.fully_masked_rows)
      t.warnings.push_back(i18n::trf("core.model.fully_masked_row", i18n::arg("path", st.path), i18n::arg("row", r)));
  t.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return t;
}


// [SECTION] The layer stepper's sub-steps
std::vector<LayerStepView> layer_steps(const ModelConfig& c, const std::string& block, int head) {
  // block = <stack>.<l>.<self_attn|cross_attn>
  const size_t a = block.find('.'), b = block.find('.', a + 1);
  QKV_ASSERT(a != std::string::npos && b != std::string::npos);
  const std::string stack = block.substr(0, a), layer = block.substr(0, b), kind = block.substr(b + 1);
  const int l = std::atoi(block.c_str() + a + 1);
  const bool cross = kind == "cross_attn";
  const bool has_cross = stack == "decoder" && c.arch == Arch::EncoderDecoder;
  const bool norm = c.norm != NormKind::None;
  const bool pre = norm && c.norm_placement == NormPlacement::Pre, post = norm && c.norm_placement == NormPlacement::Post;
  const std::string nk = name(c.norm), hp = paths::head(block, head) + ".";
  // A sublayer's output as the next one reads it: Post-Norm's norm, else the residual sum (or F(x) alone).
  const auto sublayer_out = [&](const std::string& p) { return p + (post ? ".norm" : ".residual"); };
  std::vector<LayerStepView> v;
  v.push_back({LayerStep::Embed, stack + ".embed.E_x", i18n::tr("core.model.step.embed")});
  v.push_back({LayerStep::AddPE, stack + ".embed.X", "+PE"});
  v.push_back({LayerStep::Input, layer + ".input", i18n::trf("core.model.step.input", i18n::arg("layer", l))});
  if (cross) v.push_back({LayerStep::SelfSublayer, sublayer_out(layer + ".self_attn"), i18n::tr("core.model.step.self_sublayer")});
  if (pre) v.push_back({LayerStep::NormIn, block + ".norm", i18n::trf("core.model.step.norm_in", i18n::arg("norm", nk))});
  v.push_back({LayerStep::Project, hp + "Q", "Q,K,V"});
  v.push_back({LayerStep::Scores, hp + "S", "QKᵀ"});
  v.push_back(
      {LayerStep::Scale, hp + "S_scaled", c.score_scale == ScoreScale::InvSqrtDk ? "÷√d_k" : i18n::tr("core.model.step.scale_off")});
  v.push_back({LayerStep::Mask, hp + "S_masked", i18n::tr("core.model.step.mask")});
  v.push_back({LayerStep::Softmax, hp + "P", "softmax"});
  v.push_back({LayerStep::WeightedSum, hp + "O", "·V"});
  v.push_back({LayerStep::ConcatWO, block + ".out", "concat·W_O"});
  if (c.residual) v.push_back({LayerStep::Residual, block + ".residual", i18n::tr("core.model.step.residual")});
  if (post) v.push_back({LayerStep::NormOut, block + ".norm", i18n::trf("core.model.step.norm_out", i18n::arg("norm", nk))});
  if (!cross && has_cross)
    v.push_back({LayerStep::CrossSublayer, sublayer_out(layer + ".cross_attn"), i18n::tr("core.model.step.cross_sublayer")});
  if (pre) v.push_back({LayerStep::FFNNormIn, layer + ".ffn.norm", i18n::trf("core.model.step.ffn_norm_in", i18n::arg("norm", nk))});
  v.push_back({LayerStep::FFNHidden, layer + ".ffn.hidden", "x·W_1 + b_1"});
  v.push_back({LayerStep::FFNAct, layer + ".ffn.act", name(c.activation)});
  v.push_back({LayerStep::FFNOut, layer + ".ffn.out", "FFN"});
  if (c.residual) v.push_back({LayerStep::FFNResidual, layer + ".ffn.residual", i18n::tr("core.model.step.residual")});
  if (post) v.push_back({LayerStep::FFNNormOut, layer + ".ffn.norm", i18n::trf("core.model.step.ffn_norm_out", i18n::arg("norm", nk))});
  if (pre && l == c.layers - 1) {
    const char* key = stack == "encoder"   ? "core.model.step.final_norm_encoder"
                      : stack == "decoder" ? "core.model.step.final_norm_decoder"
                                           : "core.model.step.final_norm";
    v.push_back({LayerStep::FinalNorm, stack + ".final_norm", i18n::trf(key, i18n::arg("norm", nk), i18n::arg("stack", stack))});
  }
  return v;
}

const char* name(LayerStep s) {
  // i18n: names begin (stable names lessons' views write and parse back; the UI shows LayerStepView::label)
  static const char* names[] = {"embed",       "+PE",      "input",      "self-attention", "norm",       "Q,K,V",     "QKᵀ",
                                "÷√d_k",       "+mask",    "softmax",    "·V",             "concat·W_O", "+residual", "norm",
                                "cross-attention", "FFN norm", "x·W_1", "activation",     "FFN",        "+residual", "FFN norm",
                                "final norm"};
  // i18n: names end
  static_assert(std::size(names) == static_cast<size_t>(LayerStep::Count));
  return names[static_cast<int>(s)];
}

// [SECTION] Sampling
std::optional<Error> validate(const SamplingOptions& o) {
  if (!(o.temperature >= 0.0f) || !std::isfinite(o.temperature))
    return Error{i18n::tr("core.model.sampling.temperature"), i18n::tr("core.model.sampling.temperature_hint")};
  if (o.top_k < 0) return Error{i18n::tr("core.model.sampling.top_k"), i18n::tr("core.model.sampling.top_k_hint")};
  if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) return Error{i18n::tr("core.model.sampling.top_p"), i18n::tr("core.model.sampling.top_p_hint")};
  return std::nullopt;
}

RowVec sampling_distribution(const RowVec& logits, const SamplingOptions& o) {
  const Eigen::Index V = logits.size();
  QKV_ASSERT(V > 0);
  RowVec p = RowVec::Zero(V);
  // Tokens by decreasing logit; ties keep the lower id first.
  std::vector<int> order(static_cast<size_t>(V));
  for (int i = 0; i < V; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return logits(x) > logits(y); });
  if (o.temperature <= 0.0f) {  // greedy
    p(order[0]) = 1.0f;
    return p;
  }
  // p = softmax(logits / T), subtracting the max.
  const double mx = logits(order[0]);
  std::vector<double> e(static_cast<size_t>(V));
  for (int i = 0; i < V; ++i) e[static_cast<size_t>(i)] = std::exp((static_cast<double>(logits(i)) - mx) / o.temperature);
  // Top-k: the k most likely.
  size_t keep = order.size();
  if (o.top_k > 0) keep = std::min(keep, static_cast<size_t>(o.top_k));
  // Top-p on the top-k distribution: the shortest prefix whose mass reaches top_p.
  if (o.top_p < 1.0f) {
    double kept_sum = 0.0;
    for (size_t r = 0; r < keep; ++r) kept_sum += e[static_cast<size_t>(order[r])];
    double mass = 0.0;
    size_t r = 0;
    while (r < keep) {
      mass += e[static_cast<size_t>(order[r])] / kept_sum;
      ++r;
      if (mass >= o.top_p - 1e-12) break;
    }
    keep = std::max<size_t>(r, 1);
  }
  double kept = 0.0;
  for (size_t r = 0; r < keep; ++r) kept += e[static_cast<size_t>(order[r])];
  for (size_t r = 0; r < keep; ++r) p(order[r]) = static_cast<float>(e[static_cast<size_t>(order[r])] / kept);
  return p;
}

std::vector<std::pair<int, float>> top_tokens(const RowVec& p, int k) {
  std::vector<int> ids(static_cast<size_t>(p.size()));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
  const size_t keep = std::min(ids.size(), static_cast<size_t>(std::max(0, k)));
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(),
                    [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  std::vector<std::pair<int, float>> out;
  for (size_t i = 0; i < keep; ++i) out.emplace_back(ids[i], p[ids[i]]);
  return out;
}

int sample_token(const RowVec& distribution, Rng& rng) {
  const double u = rng.uniform() * distribution.cast<double>().sum();
  double c = 0.0;
  int last = 0;
  for (int i = 0; i < distribution.size(); ++i) {
    if (distribution(i) <= 0.0f) continue;
    last = i;
    c += distribution(i);
    if (u < c) return i;
  }
  return last;  // rounding: the last token with mass
}

// [SECTION] Targets of a trained task
std::optional<std::string> task_target(const std::string& task, const std::string& source, TokenizerKind tokenizer) {
  if (task != "copy" && task != "reverse" && task != "sort") return std::nullopt;
  std::vector<std::string> tokens = tokenize(source, tokenizer);
  if (task == "reverse") std::reverse(tokens.begin(), tokens.end());
  if (task == "sort") std::sort(tokens.begin(), tokens.end());
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) out += (tokenizer == TokenizerKind::Words && i ? " " : "") + tokens[i];
  return out;
}


std::string follow_task_target(const std::string& task, const std::string& old_source, const std::string& new_source, const std::string& target,
                               TokenizerKind tokenizer) {
  const std::optional<std::string> before = task_target(task, old_source, tokenizer);
  if (!before || *before != target) return target;
  return task_target(task, new_source, tokenizer).value_or(target);
}
}  // namespace qkv
