#include "app/training.h"

#include <chrono>

#include "app/app_state.h"
#include "core/i18n.h"  // not app/widgets/common.h: the thread tests build this file without ImGui

namespace qkv::app {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

TrainingRun::TrainingRun(const ModelConfig& model, const TrainConfig& config, int max_steps, std::string label)
    : model_(model), config_(config), trainer_(model, config), max_steps_(max_steps) {
  snap_.curve.label = std::move(label);
  snap_.max_steps = max_steps;
  snap_.weights = std::make_shared<const TensorMap>(trainer_.weights());
  snap_.weights_version = 1;
  worker_ = std::thread([this] { loop(); });
}

TrainingRun::~TrainingRun() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void TrainingRun::resume() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (snap_.finished) return;
    running_ = true;
    snap_.running = true;
    window_start_ = now_seconds();
    window_steps_ = 0;
  }
  wake_.notify_all();
}

void TrainingRun::pause() {
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = false;
  pending_steps_ = 0;
  snap_.running = false;
}

bool TrainingRun::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !busy_ && !running_ && pending_steps_ == 0;
}

void TrainingRun::step_once() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // At most the steps that remain, and one queued at a time (a held F6 must not pile up steps).
    if (running_ || snap_.finished || pending_steps_ > 0 || snap_.steps >= max_steps_) return;
    ++pending_steps_;
  }
  wake_.notify_all();
}

void TrainingRun::run_blocking(int n) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    running_ = false;
    pending_steps_ = 0;
    wake_.wait(lock, [&] { return !busy_; });
    busy_ = true;  // the worker stays asleep: it only steps when running_ or pending_steps_
  }
  for (int k = 0; k < n && trainer_.steps() < max_steps_; ++k) do_step();
  std::lock_guard<std::mutex> lock(mutex_);
  busy_ = false;
  publish_weights_locked();
}

void TrainingRun::publish_weights_locked() {
  snap_.weights = std::make_shared<const TensorMap>(trainer_.weights());
  ++snap_.weights_version;
}

TrainingSnapshot TrainingRun::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snap_;
}

void TrainingRun::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || ((running_ || pending_steps_ > 0) && !busy_); });
      if (stop_) return;
      if (snap_.finished) {  // nothing left to do: drop whatever was asked
        running_ = false;
        pending_steps_ = 0;
        continue;
      }
      if (pending_steps_ > 0) --pending_steps_;
      busy_ = true;
    }
    std::string error;
    try {
      do_step();
    } catch (const std::exception& e) {  // e.g. bad_alloc for a model too large for this machine
      error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    busy_ = false;
    if (!error.empty()) {
      snap_.error = i18n::trf("app.training_stopped", i18n::arg("reason", error));
      snap_.finished = true;
      snap_.running = running_ = false;
      pending_steps_ = 0;
    }
    if (!running_ && pending_steps_ == 0) publish_weights_locked();  // going idle: show exactly these weights
    wake_.notify_all();
  }
}

void TrainingRun::do_step() {
  const StepStats st = trainer_.step();
  const bool evaluate = st.step % 25 == 0 || st.step == 1;
  const float accuracy = evaluate ? trainer_.evaluate(2).first : 0.0f;
  const double t = now_seconds();
  std::shared_ptr<const TensorMap> weights;
  if (t - last_publish_ > 0.15 || st.step >= max_steps_) {  // publish weights ~7 times a second for the live heatmaps
    weights = std::make_shared<const TensorMap>(trainer_.weights());
    last_publish_ = t;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  snap_.curve.step.push_back(static_cast<float>(st.step));
  snap_.curve.loss.push_back(st.loss);
  if (evaluate) {
    snap_.curve.eval_step.push_back(static_cast<float>(st.step));
    snap_.curve.eval_accuracy.push_back(accuracy);
    snap_.accuracy = accuracy;
  }
  snap_.steps = st.step;
  snap_.lr = st.lr;
  snap_.grad_norm = st.grad_norm;
  ++window_steps_;
  if (t - window_start_ >= 0.5) {
    snap_.steps_per_second = static_cast<float>(window_steps_ / (t - window_start_));
    window_start_ = t;
    window_steps_ = 0;
  }
  if (weights) {
    snap_.weights = std::move(weights);
    ++snap_.weights_version;
  }
  if (st.step >= max_steps_) {
    snap_.finished = true;
    snap_.running = false;
    running_ = false;
  }
}

std::shared_ptr<TrainingRun> start_training(const AppState& s, const TrainConfig& config, int max_steps) {
  const ModelConfig& m = s.session.model;
  TrainConfig c = config;
  c.encoder_mask = s.session.encoder_mask & ~kMaskCustom;
  c.decoder_mask = s.session.decoder_mask & ~kMaskCustom;
  // The curve's legend: the settings that shape a run, as a list (task, norm and placement by their config names).
  using i18n::arg;
  const auto on_off = [](bool on) { return i18n::tr(on ? "app.train_label.on" : "app.train_label.off"); };
  std::string label = i18n::trf("app.train_label", arg("task", name(c.task)), arg("scale", on_off(m.score_scale == ScoreScale::InvSqrtDk)),
                          arg("placement", name(m.norm_placement)), arg("norm", name(m.norm)), arg("residual", on_off(m.residual)));
  if (!(c.decoder_mask & kMaskCausal)) label += std::string(" · ") + i18n::tr("app.train_label.no_causal");
  if (c.freeze_embeddings) label += std::string(" · ") + i18n::tr("app.train_label.frozen");
  return std::make_shared<TrainingRun>(m, c, max_steps, std::move(label));
}

std::string training_example(const TrainConfig& c) {
  if (c.task == Task::NextToken) {
    std::string out;
    const std::vector<std::string> words = tokenize(builtin_text(), TokenizerKind::Words);
    for (int i = 0; i < c.max_len && i < static_cast<int>(words.size()); ++i) out += (i ? " " : "") + words[static_cast<size_t>(i)];
    return out;
  }
  std::string out;
  for (int i = 0; i < c.max_len; ++i) out += static_cast<char>('a' + (i * 5 + 2) % c.alphabet);
  return out;
}

}  // namespace qkv::app
