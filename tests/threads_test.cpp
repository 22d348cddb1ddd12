// The app's worker threads, exercised the way the UI uses them, so that ThreadSanitizer can watch them (issue 11): the
// job runner (app/jobs.h: a recompute replaced by newer edits while the UI thread polls it), the training worker
// (app/training.h: stepping while the UI thread reads snapshots, pauses, single steps and the destructor), and a lean
// trace's tensors derived from several threads at once (core/trace.h TraceTensors::find).
//
// It runs in the normal suite, and scripts/sanitize.sh builds it with -fsanitize=thread (-DQKVLAB_TSAN=ON), where any
// data race fails it. Each test also checks what the threads produced, so it is a test without TSan too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "app/jobs.h"
#include "app/training.h"
#include "core/model.h"

namespace qkv {
namespace {

using namespace std::chrono_literals;

Session sentence(const std::string& text) {
  Session s;
  s.tokenizer = TokenizerKind::Words;
  s.input.text = text;
  s.model.layers = 2;
  return s;
}

// Typing: each keystroke starts a recompute that replaces the running one; the UI thread polls every "frame" and
// reads the progress. Only the last edit's trace may arrive, and it must be that edit's.
TEST(Threads, RecomputesReplacedByNewerEditsDeliverOnlyTheLastOne) {
  app::Job<Result<Trace>> job;
  const std::string words[] = {"the", "cat", "sat", "on", "the", "mat", "because", "it", "was", "warm"};
  std::string text;
  int arrived = 0;
  std::string last_key;
  for (const std::string& w : words) {
    text += (text.empty() ? "" : " ") + w;
    job.start(text, [session = sentence(text)](app::JobControl& c) {
      RunOptions o;
      o.progress = [&c](int done, int total) {
        c.report(done, total);
        return !c.cancelled();
      };
      return run(session, o);
    });
    for (int frame = 0; frame < 3; ++frame) {
      if (auto done = job.take()) {
        ++arrived;
        last_key = done->key;
        if (done->value) {
          EXPECT_EQ(done->value->source_tokens.size(), tokenize(done->key, TokenizerKind::Words).size());
        }
      }
      (void)job.done(), (void)job.total(), (void)job.running();
      std::this_thread::sleep_for(1ms);
    }
  }
  for (int frame = 0; frame < 5000 && last_key != text; ++frame) {
    if (auto done = job.take()) {
      ++arrived;
      last_key = done->key;
      ASSERT_TRUE(done->value) << done->value.error().message();
    }
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(last_key, text);
  EXPECT_GE(arrived, 1);
}

// A job that throws (out of memory despite the estimate, a bug) ends like one that returns, without a result, and
// says why; a keyed result does not start it again for the same inputs (no endless retry loop burning a core).
TEST(Threads, AJobThatThrowsEndsWithoutAResultSaysWhyAndIsNotRetried) {
  app::KeyedResult<int> keyed;
  int starts = 0;
  const auto throwing = [&starts](app::JobControl&) -> int {
    ++starts;
    throw std::bad_alloc();
  };
  keyed.update("inputs 1", true, throwing);
  for (int frame = 0; frame < 2000 && keyed.failure.empty(); ++frame) {
    keyed.update("inputs 1", true, throwing);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(keyed.failure, "out of memory");
  EXPECT_EQ(keyed.key, "inputs 1");
  for (int frame = 0; frame < 20; ++frame) keyed.update("inputs 1", true, throwing);
  EXPECT_EQ(starts, 1);
  keyed.update("inputs 2", true, [](app::JobControl&) { return 7; });
  for (int frame = 0; frame < 2000 && keyed.key != "inputs 2"; ++frame) {
    keyed.update("inputs 2", true, [](app::JobControl&) { return 7; });
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(keyed.value, 7);
  EXPECT_TRUE(keyed.failure.empty());

  app::Job<std::string> job;
  job.start("k", [](app::JobControl&) -> std::string { throw std::runtime_error("bad file"); });
  for (int i = 0; i < 2000 && !job.failed(); ++i) {
    EXPECT_FALSE(job.take());
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(job.failed());
  EXPECT_EQ(job.failed()->key, "k");
  EXPECT_EQ(job.failed()->what, "bad file");
  EXPECT_FALSE(job.running());
}

// The Train tab: the worker steps while the UI thread reads snapshots every frame; pause, single steps, resume, and
// the destructor joining a running worker.
TEST(Threads, TrainingStepsWhileTheUIThreadReadsSnapshotsPausesAndStops) {
  ModelConfig model;
  model.layers = 1;
  model.d_model = 16;
  model.heads = 2;
  model.d_ff = 32;
  TrainConfig config;
  config.batch = 4;
  config.min_len = config.max_len = 4;
  ASSERT_FALSE(validate(config, model));
  auto run = std::make_shared<app::TrainingRun>(model, config, 1000, "reverse");
  run->resume();
  int last_steps = 0;
  uint64_t first_version = run->snapshot().weights_version, versions_seen = 0;
  for (int frame = 0; frame < 4000 && last_steps < 20; ++frame) {
    const app::TrainingSnapshot snap = run->snapshot();
    EXPECT_GE(snap.steps, last_steps) << "steps only grow";
    EXPECT_EQ(snap.curve.step.size(), snap.curve.loss.size());
    if (snap.weights) versions_seen = std::max(versions_seen, snap.weights_version);
    last_steps = snap.steps;
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(last_steps, 20);
  run->pause();
  for (int i = 0; i < 2000 && !run->idle(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(run->idle());
  const int paused_at = run->snapshot().steps;
  run->step_once();
  for (int i = 0; i < 4000 && run->snapshot().steps < paused_at + 1; ++i) std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 4000 && !run->idle(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(run->snapshot().steps, paused_at + 1);
  run->step_once();
  for (int i = 0; i < 4000 && run->snapshot().steps < paused_at + 2; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(run->snapshot().steps, paused_at + 2);
  for (int i = 0; i < 2000 && !run->idle(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(run->trainer_unsafe().steps(), paused_at + 2);  // read while paused and idle, as the Train tab does
  run->run_blocking(3);
  EXPECT_EQ(run->snapshot().steps, paused_at + 5);
  versions_seen = std::max(versions_seen, run->snapshot().weights_version);
  run->resume();
  std::this_thread::sleep_for(20ms);
  run.reset();  // destroyed while stepping: stops and joins
  EXPECT_GT(versions_seen, first_version) << "pausing published the weights it stopped at";
}

// Views on several threads ask a lean trace for tensors at once (the recompute's prefetch and a frame): each unit is
// derived once and every caller gets the same tensor.
TEST(Threads, ALeanTraceDerivesEachTensorOnceForConcurrentReaders) {
  Session s = sentence("one two three four five six seven eight nine ten");
  RunOptions o;
  o.keep = TraceKeep::Lean;
  Result<Trace> t = run(s, o);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->tensors.lean());
  const std::vector<std::string> wanted = {"encoder.0.self_attn.head.0.P", "encoder.0.self_attn.head.1.S", "encoder.1.ffn.hidden",
                                           "encoder.1.self_attn.head.3.P", "encoder.0.self_attn.M", "output.probs"};
  std::vector<std::vector<const Mat*>> seen(4);
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r)
    readers.emplace_back([&, r] {
      for (int k = 0; k < 6; ++k) seen[static_cast<size_t>(r)].push_back(t->tensors.find(wanted[static_cast<size_t>((k + r) % 6)]));
    });
  for (std::thread& th : readers) th.join();
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 6; ++k) {
      const Mat* M = seen[static_cast<size_t>(r)][static_cast<size_t>(k)];
      ASSERT_NE(M, nullptr);
      EXPECT_EQ(M, t->tensors.find(wanted[static_cast<size_t>((k + r) % 6)])) << "one tensor per path, derived once";
    }
}

}  // namespace
}  // namespace qkv
