// QKV Lab app — a training run on a worker thread. The UI thread reads snapshots (curves, the latest weights)
// under a mutex and never waits for a step; the worker never touches ImGui.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/trainer.h"

namespace qkv::app {

struct TrainingCurve {
  std::string label;             // e.g. "reverse · √d_k on · post-norm · residual on"
  std::vector<float> step, loss;  // every step's training loss
  std::vector<float> eval_step, eval_accuracy;
};

struct TrainingSnapshot {
  TrainingCurve curve;
  int steps = 0, max_steps = 0;
  float steps_per_second = 0.0f;
  float lr = 0.0f, grad_norm = 0.0f, accuracy = 0.0f;
  bool running = false;  // stepping (not paused, not finished)
  bool finished = false;
  std::string error;     // why the run stopped early (e.g. out of memory), shown by the Train tab
  std::shared_ptr<const TensorMap> weights;  // the latest published weights
  uint64_t weights_version = 0;
};

class TrainingRun {
 public:
  // Starts paused; call resume(). max_steps: the run pauses for good there.
  TrainingRun(const ModelConfig& model, const TrainConfig& config, int max_steps, std::string label);
  ~TrainingRun();  // stops and joins the worker
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  void resume();
  void pause();       // also drops steps queued by step_once
  void step_once();   // one step while paused
  // Runs n steps on the calling thread (scripted screenshots): pauses the worker and waits for it first.
  void run_blocking(int n);
  TrainingSnapshot snapshot() const;
  const Trainer& trainer_unsafe() const { return trainer_; }  // only while paused and idle
  const ModelConfig& model() const { return model_; }
  const TrainConfig& config() const { return config_; }
  bool idle() const;  // paused, nothing queued and no step running: trainer_unsafe() may be read

 private:
  void loop();
  void do_step();  // one step; takes the lock only to publish
  void publish_weights_locked();
  ModelConfig model_;
  TrainConfig config_;
  Trainer trainer_;
  int max_steps_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false, stop_ = false;
  int pending_steps_ = 0;
  bool busy_ = false;  // a step is running (guarded by mutex_)
  TrainingSnapshot snap_;  // guarded by mutex_
  double window_start_ = 0.0;
  int window_steps_ = 0;
  double last_publish_ = -1.0;
  std::thread worker_;
};

struct AppState;
// A run of `config` on the session's model (arch set by the task), labelled by the toggles that matter.
std::shared_ptr<TrainingRun> start_training(const AppState&, const TrainConfig& config, int max_steps);
// The example the Train tab shows the model on: letters spread over the alphabet, or the text's first words.
std::string training_example(const TrainConfig&);

}  // namespace qkv::app
