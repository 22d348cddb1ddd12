// QKV Lab app — a background job with cancellation and progress: a computation (a lab's sweep) runs on a worker
// thread while frames keep drawing; the panel polls it each frame.
//
//   Job<R> job;
//   job.start(key, [session](JobControl& c) { return labs::scaling_sweep(session, c.progress()); });
//   if (auto done = job.take()) use(done->key, done->value);      // once, when it finished
//   if (job.running()) draw_progress(job.done(), job.total());
//
// Starting a new job cancels the running one: its flag is set, the computation stops at its next check
// (JobControl::cancelled, or the core's Progress callback returning false) and its result is dropped; the thread is
// joined once it has ended, never in a frame while it still computes. The destructor cancels and joins, so an app
// closing mid-sweep waits for one run at most, and never for the whole sweep. No ImGui here (tests use it).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace qkv::app {

// What a job's computation sees: its cancellation flag and where it reports progress.
class JobControl {
 public:
  bool cancelled() const { return cancel_.load(std::memory_order_relaxed); }
  void report(int done, int total) { done_.store(done), total_.store(total); }
  // For core functions that take a qkv::labs::Progress: reports, and returns false once cancelled.
  std::function<bool(int, int)> progress() {
    return [this](int done, int total) {
      report(done, total);
      return !cancelled();
    };
  }

 private:
  friend class JobThreads;
  std::atomic<bool> cancel_{false}, finished_{false};
  std::string failure_;  // what the computation threw (written before finished_ is set, read after)
  std::atomic<int> done_{0}, total_{0};
};

// The untyped part: the current worker thread and the cancelled ones still ending.
class JobThreads {
 public:
  JobThreads();
  JobThreads(const JobThreads&) = delete;
  JobThreads& operator=(const JobThreads&) = delete;
  ~JobThreads();

  // Cancels the current thread (if any) and runs `work` on a new one.
  void start(std::string key, std::function<void(JobControl&)> work);
  bool running() const { return current_ && !current_->control->finished_.load(); }
  bool finished() const { return current_ && current_->control->finished_.load(); }
  const std::string& key() const;  // the current job's key (empty: none)
  int done() const { return current_ ? current_->control->done_.load() : 0; }
  int total() const { return current_ ? current_->control->total_.load() : 0; }
  void cancel();  // the current job: its result is dropped
  // What the finished current job threw (std::bad_alloc: "out of memory"), empty if it returned: a job that throws
  // ends like one that returns, without a result, and never takes the program down with it.
  std::string failure() const { return finished() ? current_->control->failure_ : std::string(); }
  void cancel_all_and_join();
  size_t retired() const { return retired_.size(); }  // cancelled threads not yet joined

 protected:
  // Joins the finished current thread and forgets it; true if there was one.
  bool join_finished();

 private:
  struct Worker {
    std::string key;
    std::shared_ptr<JobControl> control;
    std::thread thread;
  };
  void reap();  // joins the cancelled threads that have ended
  std::optional<Worker> current_;
  std::vector<Worker> retired_;
};

template <typename R>
class Job : public JobThreads {
 public:
  struct Done {
    std::string key;
    R value;
  };
  // `compute(JobControl&)` returns an R; it runs on a worker thread, on copies of what it captured.
  template <typename F>
  void start(std::string key, F compute) {
    failed_.reset();
    auto slot = std::make_shared<Slot>();
    slot_ = slot;
    JobThreads::start(std::move(key), [slot, compute = std::move(compute)](JobControl& c) mutable {
      R value = compute(c);
      std::lock_guard<std::mutex> lock(slot->mutex);
      slot->value = std::move(value);
    });
  }
  // The finished job's result, once (then the job is gone: running() and finished() are false). A job that threw
  // gives none: failed() then says which key failed and why, until the next start.
  std::optional<Done> take() {
    if (!finished()) return std::nullopt;
    std::optional<Done> out;
    {
      std::lock_guard<std::mutex> lock(slot_->mutex);
      if (slot_->value) out = Done{key(), std::move(*slot_->value)};
    }
    if (!out) failed_ = Failed{key(), failure().empty() ? "the computation ended without a result" : failure()};  // i18n: name — as e.what()
    join_finished();
    slot_.reset();
    return out;
  }
  struct Failed {
    std::string key, what;
  };
  const std::optional<Failed>& failed() const { return failed_; }
  void clear_failed() { failed_.reset(); }

 private:
  struct Slot {
    std::mutex mutex;
    std::optional<R> value;
  };
  std::shared_ptr<Slot> slot_;
  std::optional<Failed> failed_;
};

// Cancels every job and joins its threads (main calls it before returning: panels keep their jobs in file-local
// statics, and no worker may still run while statics are destroyed). Jobs can start again afterwards.
void cancel_all_jobs();

// The latest result of a computation keyed by its inputs (e.g. a session's JSON): `update` picks up a finished job
// and starts one when the wanted key differs from the result's (cancelling a job for an outdated key). The result on
// screen stays until the new one arrives: `stale` says when it is not for the wanted key.
template <typename R>
struct KeyedResult {
  std::string key;  // what `value` was computed for; empty: nothing yet
  R value{};
  Job<R> job;
  // Why the job for `key` threw (e.g. out of memory): `value` is then still the last one computed, and the job is not
  // started again for the same key. Empty once a job returns.
  std::string failure;

  bool has() const { return !key.empty(); }
  // `compute(JobControl&)` → R. `start_allowed` false: only pick up results (the inputs are not valid now).
  template <typename F>
  void update(const std::string& want, bool start_allowed, F compute) {
    if (auto done = job.take()) {
      key = std::move(done->key), value = std::move(done->value);
      failure.clear();
    } else if (job.failed()) {
      key = job.failed()->key, failure = job.failed()->what;
      job.clear_failed();
    }
    if (!start_allowed) return;
    if (want == key) job.cancel();  // back to the inputs on screen: the running job is for ones no longer wanted
    else if (job.key() != want) job.start(want, std::move(compute));
  }
  bool stale(const std::string& want) const { return want != key; }
};

}  // namespace qkv::app
