#include "app/jobs.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <exception>
#include <new>

#include "core/i18n.h"

#if defined(__linux__)
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace qkv::app {
namespace {

// Every JobThreads alive, for cancel_all_jobs (all on the main thread; the mutex is for safety).
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<JobThreads*>& registry() {
  static std::vector<JobThreads*> r;
  return r;
}

}  // namespace

JobThreads::JobThreads() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().push_back(this);
}

JobThreads::~JobThreads() {
  cancel_all_and_join();
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::erase(registry(), this);
}

void cancel_all_jobs() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (JobThreads* j : registry()) j->cancel_all_and_join();
}

void JobThreads::start(std::string key, std::function<void(JobControl&)> work) {
  cancel();
  reap();
  Worker w{std::move(key), std::make_shared<JobControl>(), {}};
  std::shared_ptr<JobControl> control = w.control;
  w.thread = std::thread([control, work = std::move(work)] {
#if defined(__linux__)
    // Below the UI thread: on a busy machine the frames come first (Linux: the nice value is per thread).
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
#endif
    // One core for the job, one for the frames: each job is a new thread, and OpenMP would give every new thread a
    // team of its own (Eigen's products and the softmax rows use it) that then fights the UI thread and the GL
    // rasteriser for the same two cores. Measured in bench/frame_bench (idle 2-core machine, Xvfb): keystrokes at
    // 1,000 tokens, median frame 134 → 60 ms with one thread; the recompute itself got faster too (524 → 186 ms).
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    try {
      work(*control);
    } catch (const std::bad_alloc&) {
      control->failure_ = i18n::tr("jobs.out_of_memory");
    } catch (const std::exception& e) {
      control->failure_ = e.what();
    } catch (...) {
      control->failure_ = "an unknown error";  // i18n: name — as e.what()
    }
    control->finished_.store(true);
  });
  current_ = std::move(w);
}

const std::string& JobThreads::key() const {
  static const std::string none;
  return current_ ? current_->key : none;
}

void JobThreads::cancel() {
  if (!current_) return;
  current_->control->cancel_.store(true);
  retired_.push_back(std::move(*current_));
  current_.reset();
}

bool JobThreads::join_finished() {
  reap();
  if (!current_ || !current_->control->finished_.load()) return false;
  current_->thread.join();  // it has ended: this does not wait
  current_.reset();
  return true;
}

void JobThreads::reap() {
  const auto ended = [](Worker& w) {
    if (!w.control->finished_.load()) return false;
    w.thread.join();
    return true;
  };
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(), ended), retired_.end());
}

void JobThreads::cancel_all_and_join() {
  cancel();
  for (Worker& w : retired_)
    if (w.thread.joinable()) w.thread.join();
  retired_.clear();
}

}  // namespace qkv::app
