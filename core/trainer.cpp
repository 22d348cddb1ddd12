#include "core/trainer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/i18n.h"
#include "core/loss.h"
#include "core/model.h"

namespace qkv {

namespace {
constexpr std::array<const char*, 4> kTaskNames{"copy", "reverse", "sort", "next-token"};
static_assert(kTaskNames.size() == static_cast<size_t>(Task::Count));

bool letter_task(Task t) { return t != Task::NextToken; }

// Written for QKV Lab: short sentences with repeated structure, so a tiny model can learn something in seconds.
// The next-token task's training data (its words are the vocabulary), the same in every language.
// i18n: names begin
constexpr const char* kText =
    "the query asks a question . the key says what a token offers . the value is what a token gives . "
    "each query looks at every key . the scores become weights after the softmax . the weights mix the values . "
    "a mask hides the future from the decoder . a mask hides the padding from every query . "
    "the encoder reads the whole sentence at once . the decoder writes one token at a time . "
    "the decoder asks the encoder through cross attention . the query comes from the decoder . "
    "the key and the value come from the encoder . many heads look at the sentence in different ways . "
    "one head looks at the previous token . one head looks at the first token . "
    "the residual stream carries every layer forward . the norm keeps the numbers calm . "
    "we divide the scores by the square root of the key width . without it the softmax saturates . "
    "when the softmax saturates the gradient vanishes . positions tell the model where each token sits . ";
// i18n: names end
}  // namespace

const char* name(Task t) { return kTaskNames.at(static_cast<size_t>(t)); }
bool parse(std::string_view text, Task& out) {
  for (size_t i = 0; i < kTaskNames.size(); ++i)
    if (text == kTaskNames[i]) {
      out = static_cast<Task>(i);
      return true;
    }
  return false;
}

const char* describe(Task t) {
  switch (t) {
    case Task::Copy:
      return i18n::tr("core.trainer.about.copy");
    case Task::Reverse:
      return i18n::tr("core.trainer.about.reverse");
    case Task::Sort:
      return i18n::tr("core.trainer.about.sort");
    default:
      return i18n::tr("core.trainer.about.next_token");
  }
}

const char* builtin_text() { return kText; }

double learning_rate(int step, int d_model, int warmup, double factor) {
  const double s = std::max(1, step);
  return factor * std::pow(static_cast<double>(d_model), -0.5) * std::min(std::pow(s, -0.5), s * std::pow(static_cast<double>(warmup), -1.5));
}

std::optional<Error> validate(const TrainConfig& t, const ModelConfig& c) {
  using i18n::arg;
  if (t.min_len < 1 || t.max_len < t.min_len || t.max_len > 64)
    return Error{i18n::trf("core.trainer.length_unusable", arg("min", t.min_len), arg("max", t.max_len)),
                 i18n::tr("core.trainer.length_hint")};
  if (t.alphabet < 2 || t.alphabet > 26)
    return Error{i18n::trf("core.trainer.alphabet_range", arg("n", t.alphabet)), i18n::tr("core.trainer.alphabet_hint")};
  if (t.batch < 1 || t.batch > 1024)
    return Error{i18n::trf("core.trainer.batch_range", arg("n", t.batch)), i18n::tr("core.trainer.batch_hint")};
  if (t.warmup < 1) return Error{i18n::tr("core.trainer.warmup_min"), i18n::tr("core.trainer.warmup_hint")};
  if (!(t.lr_factor > 0.0) || t.lr_factor > 100.0)
    return Error{i18n::tr("core.trainer.lr_factor_range"), i18n::tr("core.trainer.lr_factor_hint")};
  if (t.clip_norm < 0.0) return Error{i18n::tr("core.trainer.clip_negative"), i18n::tr("core.trainer.clip_hint")};
  if (t.label_smoothing < 0.0 || t.label_smoothing >= 1.0)
    return Error{i18n::tr("core.trainer.smoothing_range"), i18n::tr("core.trainer.smoothing_hint")};
  if (c.norm == NormKind::BatchNorm && t.min_len != t.max_len)
    return Error{i18n::tr("core.trainer.batchnorm_padding"), i18n::tr("core.trainer.batchnorm_hint")};
  ModelConfig m = c;
  m.arch = t.task == Task::NextToken ? Arch::DecoderOnly : Arch::EncoderDecoder;
  m.max_len = std::max(m.max_len, t.max_len + 1);
  if (auto e = validate(m)) return e;
  return check_memory(estimate_training_memory(t, c), i18n::tr("core.trainer.memory_what"));
}

MemoryEstimate estimate_training_memory(const TrainConfig& t, const ModelConfig& c) {
  // One step's batch as a session: `batch` sequences of max_len tokens (their words only size the vocabulary, which
  // is the alphabet, or the built-in text's words).
  Session step;
  step.model = c;
  step.model.arch = t.task == Task::NextToken ? Arch::DecoderOnly : Arch::EncoderDecoder;
  step.model.max_len = std::max(c.max_len, t.max_len + 1);
  step.mode = Mode::Train;
  std::string text;
  for (int i = 0; i < t.max_len; ++i) text += (i ? " w" : "w") + std::to_string(i % std::max(t.alphabet, 2));
  step.input = {text, step.model.arch == Arch::EncoderDecoder ? text : ""};
  step.extra_batch.assign(static_cast<size_t>(std::max(t.batch, 1) - 1), step.input);
  RunOptions full;
  full.keep = TraceKeep::Full;
  MemoryEstimate e = estimate_memory(step, full, true);
  e.trace = 0.0;  // a training step keeps no trace: only its tape, counted in gradients
  e.gradients += 2.0 * e.weights;  // Adam's m and v
  return e;
}

Trainer::Trainer(const ModelConfig& model, const TrainConfig& train) : model_(model), train_(train), data_rng_(stream_seed(train.seed, "data")) {
  model_.arch = train.task == Task::NextToken ? Arch::DecoderOnly : Arch::EncoderDecoder;
  model_.max_len = std::max(model_.max_len, train.max_len + 1);
  if (letter_task(train.task)) {
    for (int i = 0; i < train.alphabet; ++i) vocab_.add(std::string(1, static_cast<char>('a' + i)));
  } else {
    for (const std::string& word : tokenize(kText, TokenizerKind::Words)) text_ids_.push_back(vocab_.add(word));
  }
  const TensorMap W = make_weights(model_, vocab_, train.seed);
  params_ = to_params<float>(W);
  for (const auto& [path, value] : params_)
    if (is_trainable(model_, path)) {
      adam_m_[path] = MatT<float>::Zero(value.rows(), value.cols());
      adam_v_[path] = MatT<float>::Zero(value.rows(), value.cols());
    }
}

TokenBatch Trainer::sample_batch(Rng& rng) const {
  TokenBatch b;
  const int span = train_.max_len - train_.min_len + 1;
  for (int k = 0; k < train_.batch; ++k) {
    const int n = train_.min_len + static_cast<int>(rng.uniform() * span);
    std::vector<int> src;
    if (letter_task(train_.task)) {
      for (int i = 0; i < n; ++i) src.push_back(Vocab::kEosId + 1 + static_cast<int>(rng.uniform() * train_.alphabet));
      std::vector<int> target = src;
      if (train_.task == Task::Reverse) std::reverse(target.begin(), target.end());
      if (train_.task == Task::Sort) std::sort(target.begin(), target.end());
      target.insert(target.begin(), Vocab::kBosId);
      b.decoder_in.push_back(std::move(target));
    } else {
      const int start = static_cast<int>(rng.uniform() * static_cast<double>(text_ids_.size() - n));
      src.assign(text_ids_.begin() + start, text_ids_.begin() + start + n);
    }
    b.source.push_back(std::move(src));
  }
  const auto pad = [](std::vector<std::vector<int>>& rows, std::vector<std::vector<bool>>& flags) {
    size_t longest = 0;
    for (const auto& r : rows) longest = std::max(longest, r.size());
    for (auto& r : rows) {
      std::vector<bool> f(longest, false);
      for (size_t i = r.size(); i < longest; ++i) f[i] = true;
      r.resize(longest, Vocab::kPadId);
      flags.push_back(std::move(f));
    }
  };
  pad(b.source, b.source_pad);
  pad(b.decoder_in, b.decoder_pad);
  return b;
}

namespace {
// Teacher-forced argmax accuracy over the rows with a target.
float token_accuracy(const MatT<float>& logits, const std::vector<int>& targets) {
  int right = 0, counted = 0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    if (targets[static_cast<size_t>(i)] < 0) continue;
    Eigen::Index best = 0;
    logits.row(i).maxCoeff(&best);
    right += best == targets[static_cast<size_t>(i)];
    ++counted;
  }
  return counted ? static_cast<float>(right) / static_cast<float>(counted) : 0.0f;
}

PassOptions train_pass(const TrainConfig& t, bool dropout, uint64_t seed) {
  PassOptions o;
  o.encoder_mask = t.encoder_mask;
  o.decoder_mask = t.decoder_mask;
  o.dropout = dropout;
  o.dropout_seed = seed;
  return o;
}
}  // namespace

StepStats Trainer::step() {
  ++step_;
  const TokenBatch batch = sample_batch(data_rng_);
  const PassOptions o = train_pass(train_, model_.dropout > 0.0f, stream_seed(train_.seed, "dropout/" + std::to_string(step_)));
  NetworkPass<float> pass = network_forward<float>(model_, o, params_, batch);
  LossOptions lo;
  lo.label_smoothing = train_.label_smoothing;
  StepStats st;
  st.step = step_;
  st.loss = backpropagate<float>(pass, model_, batch, lo);
  st.accuracy = token_accuracy(pass.tape.value(pass.logits), output_targets(LossKind::Auto, model_.arch, batch));

  // Global gradient norm over every trainable parameter, then clip.
  double sum_sq = 0.0;
  for (const auto& [path, id] : pass.params)
    if (is_trainable(model_, path)) sum_sq += pass.tape.grad(id).cast<double>().squaredNorm();
  st.grad_norm = static_cast<float>(std::sqrt(sum_sq));
  if (!std::isfinite(sum_sq)) {  // a diverged step: skip it rather than poison Adam's moments and the weights
    st.lr = 0.0f;
    st.skipped = true;
    return st;
  }
  const float clip = (train_.clip_norm > 0.0 && st.grad_norm > train_.clip_norm) ? static_cast<float>(train_.clip_norm) / st.grad_norm : 1.0f;

  // Adam with bias correction.
  const double lr = learning_rate(step_, model_.d_model, train_.warmup, train_.lr_factor);
  st.lr = static_cast<float>(lr);
  const float b1 = static_cast<float>(train_.beta1), b2 = static_cast<float>(train_.beta2), eps = static_cast<float>(train_.epsilon);
  const float c1 = 1.0f - std::pow(b1, static_cast<float>(step_)), c2 = 1.0f - std::pow(b2, static_cast<float>(step_));
  for (const auto& [path, id] : pass.params) {
    if (!is_trainable(model_, path)) continue;
    if (train_.freeze_embeddings && (path == "embed.E" || path == "pos.learned")) continue;  // frozen: gradient computed, not applied
    const MatT<float> g = pass.tape.grad(id) * clip;
    MatT<float>& m = adam_m_.at(path);
    MatT<float>& v = adam_v_.at(path);
    m = b1 * m + (1.0f - b1) * g;
    v = b2 * v + (1.0f - b2) * g.cwiseProduct(g);
    params_.at(path).array() -= static_cast<float>(lr) * (m.array() / c1) / ((v.array() / c2).sqrt() + eps);
  }
  if (model_.projection == Projection::TiedQK)  // the stored W_K stays the copy of W_Q that the forward reads
    for (auto& [path, value] : params_)
      if (path.size() > 3 && path.compare(path.size() - 3, 3, "W_K") == 0) value = params_.at(path.substr(0, path.size() - 3) + "W_Q");
  return st;
}

std::pair<float, float> Trainer::evaluate(int batches) const {
  Rng rng(stream_seed(train_.seed, "evaluate"));
  double accuracy = 0.0, loss = 0.0;
  for (int k = 0; k < batches; ++k) {
    const TokenBatch batch = sample_batch(rng);
    NetworkPass<float> pass = network_forward<float>(model_, train_pass(train_, false, 0), params_, batch);
    const std::vector<int> targets = output_targets(LossKind::Auto, model_.arch, batch);
    accuracy += token_accuracy(pass.tape.value(pass.logits), targets);
    loss += cross_entropy<float>(pass.tape.value(pass.logits), targets).loss;
  }
  return {static_cast<float>(accuracy / batches), static_cast<float>(loss / batches)};
}

Session Trainer::example_session(const std::string& source_text) const {
  Session s;
  s.model = model_;
  s.model.dropout = model_.dropout;
  s.encoder_mask = train_.encoder_mask;
  s.decoder_mask = train_.decoder_mask;
  s.seed = train_.seed;
  if (letter_task(train_.task)) {
    s.tokenizer = TokenizerKind::Chars;
    std::string target = source_text;
    if (train_.task == Task::Reverse) std::reverse(target.begin(), target.end());
    if (train_.task == Task::Sort) std::sort(target.begin(), target.end());
    s.input = {source_text, target};
  } else {
    s.tokenizer = TokenizerKind::Words;
    s.input = {source_text, ""};
  }
  return s;
}

std::optional<Error> Trainer::save(const std::string& path) const {
  Metadata meta;
  meta["qkvlab.task"] = name(train_.task);
  meta["qkvlab.steps"] = std::to_string(step_);
  // The example text is written into the file (and tokenized by the model's vocabulary): the same in every language.
  meta["qkvlab.session"] = to_json(example_session(letter_task(train_.task) ? "abc" : "the query"), -1);  // i18n: name
  meta["qkvlab.vocab"] = nlohmann::json(vocab_.tokens()).dump();
  return save_safetensors(path, weights(), meta);
}

Result<TrainedWeights> parse_trained(std::string_view bytes, const std::string& name) {
  Metadata meta;
  Result<TensorMap> W = parse_safetensors(bytes, &meta);
  using i18n::arg;
  if (!W) return Error{name + ": " + W.error().what, W.error().hint};
  TrainedWeights out;
  out.weights = std::move(*W);
  const auto missing = [&](const char* key) {
    return Error{i18n::trf("core.trainer.no_metadata", arg("name", name), arg("key", key)), i18n::tr("core.trainer.not_ours")};
  };
  if (!meta.count("qkvlab.session")) return missing("qkvlab.session");
  if (!meta.count("qkvlab.vocab")) return missing("qkvlab.vocab");
  Result<Session> s = session_from_json(meta.at("qkvlab.session"));
  if (!s) return Error{i18n::trf("core.trainer.bad_model", arg("name", name), arg("error", s.error().what)), s.error().hint};
  out.model = s->model;
  out.task = meta.count("qkvlab.task") ? meta.at("qkvlab.task") : "";
  if (meta.count("qkvlab.steps")) {
    const std::string& steps = meta.at("qkvlab.steps");
    const auto [end, ec] = std::from_chars(steps.data(), steps.data() + steps.size(), out.steps);
    if (ec != std::errc() || end != steps.data() + steps.size() || out.steps < 0)
      return Error{i18n::trf("core.trainer.bad_steps", arg("name", name), arg("steps", steps.substr(0, 40))), ""};
  }
  const std::string& vocab_text = meta.at("qkvlab.vocab");
  if (auto e = check_json_depth(vocab_text, i18n::trf("core.trainer.vocabulary_of", arg("name", name)))) return *e;
  const nlohmann::json tokens = nlohmann::json::parse(vocab_text, nullptr, false);
  if (!tokens.is_array()) return Error{i18n::trf("core.trainer.vocab_not_array", arg("name", name)), ""};
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_string()) return Error{i18n::trf("core.trainer.vocab_entry", arg("name", name), arg("i", i)), ""};
    if (out.vocab.add(tokens[i].get<std::string>()) != static_cast<int>(i))
      return Error{i18n::trf("core.trainer.vocab_repeats", arg("name", name), arg("token", tokens[i].get<std::string>())), ""};
  }
  const Mat* E = out.weights.find("embed.E");
  if (!E || E->rows() != out.vocab.size() || E->cols() != out.model.d_model)
    return Error{i18n::trf("core.trainer.embed_mismatch", arg("name", name), arg("n", out.vocab.size())), ""};
  return out;
}

Result<TrainedWeights> load_trained(const std::string& path) {
  Result<MappedFile> file = MappedFile::open(path);
  if (!file) return file.error();
  return parse_trained(file->bytes(), path);
}

}  // namespace qkv
