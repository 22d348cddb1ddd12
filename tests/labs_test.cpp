// Labs: the √d_k experiments of the Scaling and Gradients tabs, and the captions that quote their numbers.
#include "core/labs/scaling.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>
#include <vector>

#include "app/jobs.h"

#include "core/model.h"
#include "core/trainer.h"

namespace qkv::labs {
namespace {

// The session the app opens with: the shipped reverse-task weights (encoder–decoder, characters).
Session shipped_session() {
  Session s;
  Result<TrainedWeights> trained = load_trained(QKVLAB_ASSETS_DIR "/weights/reverse.safetensors");
  EXPECT_TRUE(trained.ok());
  if (trained) s.model = trained->model;
  s.model.arch = Arch::EncoderDecoder;
  s.tokenizer = TokenizerKind::Chars;
  s.input = {"attention", "noitnetta"};
  s.weights = "reverse.safetensors";  // a relative name: the sweep must not try to open it
  return s;
}

TEST(Labs, ScalingSweepOnTrainedWeightsUsesSeededWeightsAndGivesFiniteNumbers) {
  const Session s = shipped_session();
  const ScalingSweep r = scaling_sweep(s);
  EXPECT_EQ(r.error, "");
  EXPECT_NE(r.seeded_note.find("Seeded weights"), std::string::npos) << r.seeded_note;
  for (int k = 0; k < kScalingCount; ++k)
    for (const SweepRun* run : {&r.scaled[k], &r.unscaled[k]}) {
      ASSERT_TRUE(run->count("encoder.0.self_attn")) << "d_k = " << kScalingDk[k];
      for (const auto& [block, b] : *run) {
        SCOPED_TRACE(block + " at d_k = " + std::to_string(kScalingDk[k]));
        EXPECT_TRUE(std::isfinite(b.entropy));
        EXPECT_TRUE(std::isfinite(b.max_weight));
        EXPECT_TRUE(std::isfinite(b.var_S()));
        EXPECT_TRUE(std::isfinite(b.predicted_var_S(kScalingDk[k])));
        EXPECT_GT(b.s_count, 1.0);
      }
    }
  // The seeded weights: no note when the session asks for none.
  Session seeded = s;
  seeded.weights.clear();
  EXPECT_EQ(scaling_sweep(seeded).seeded_note, "");
}

TEST(Labs, MeasuredScoreVarianceMatchesTheSumOfProductsPrediction) {
  // Var(q·k) ≈ d_k·E[q²]·E[k²]: a long random input, so the estimate is tight.
  Session s;
  s.model.layers = 1;
  s.model.heads = 1;
  s.model.d_model = 64;
  s.model.score_scale = ScoreScale::None;
  s.input.text = "";
  for (int i = 0; i < 60; ++i) s.input.text += "w" + std::to_string(i) + " ";
  s.model.max_len = 128;
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok()) << t.error().message();
  const VarianceBreakdown v = variance_breakdown(*t, "encoder.0.self_attn.head.0");
  ASSERT_TRUE(v.ok);
  EXPECT_EQ(v.d_k, 64);
  EXPECT_EQ(v.cells, 60.0 * 60.0 - 0.0);
  EXPECT_NEAR(v.scale, 1.0, 1e-6);  // scaling off, τ = 1
  EXPECT_NEAR(v.var_scaled, v.var_S, 1e-3 * v.var_S);
  // Hand check of the pieces: E[q²] is the mean square of Q's entries.
  const Mat& Q = t->tensors.at("encoder.0.self_attn.head.0.Q");
  EXPECT_NEAR(v.mean_q2, Q.cast<double>().squaredNorm() / Q.size(), 1e-9);
  EXPECT_NEAR(v.var_S / v.predicted_var_S(), 1.0, 0.35) << v.var_S << " vs " << v.predicted_var_S();

  // Scaled: the histogram's variance is Var(S)/d_k, and the prediction follows by scale².
  s.model.score_scale = ScoreScale::InvSqrtDk;
  Result<Trace> t2 = run(s);
  ASSERT_TRUE(t2.ok());
  const VarianceBreakdown w = variance_breakdown(*t2, "encoder.0.self_attn.head.0");
  EXPECT_NEAR(w.scale, 1.0 / 8.0, 1e-6);
  EXPECT_NEAR(w.var_scaled, w.var_S / 64.0, 1e-3 * w.var_scaled);
  EXPECT_NEAR(w.predicted_var_scaled(), w.predicted_var_S() / 64.0, 1e-9);
}

TEST(Labs, VarianceCaptionQuotesTheMeasuredNumbersNotD_k) {
  VarianceBreakdown v;
  v.ok = true;
  v.d_k = 8;
  v.cells = 81;
  v.var_S = 278.0;
  v.var_scaled = 278.0;
  v.mean_q2 = 5.9;
  v.mean_k2 = 5.8;
  v.scale = 1.0;
  const std::string c = variance_caption(v, false);
  EXPECT_NE(c.find("Var(S_scaled) = 278"), std::string::npos) << c;
  EXPECT_NE(c.find("8 × 5.90 × 5.80 = 274"), std::string::npos) << c;
  EXPECT_NE(c.find("only when the entries of q and k have variance 1"), std::string::npos) << c;
  EXPECT_EQ(c.find("about d_k"), std::string::npos) << c;
  EXPECT_NE(c.find("The measurement agrees (×1.02)"), std::string::npos) << c;
  // A trained head whose q and k are aligned: the caption says the measurement is not the prediction.
  v.var_S = v.var_scaled = 900.0;
  const std::string aligned = variance_caption(v, false);
  EXPECT_NE(aligned.find("3.3× the prediction"), std::string::npos) << aligned;
  v.var_S = v.var_scaled = 278.0;
  // Unit-variance entries: then it is about d_k, and the caption says so.
  v.mean_q2 = v.mean_k2 = 1.0;
  v.var_S = v.var_scaled = 8.3;
  const std::string unit = variance_caption(v, false);
  EXPECT_NE(unit.find("the prediction is ≈ d_k = 8"), std::string::npos) << unit;
  // Scaled: the prediction is multiplied by scale².
  v.scale = 1.0 / std::sqrt(8.0);
  v.var_scaled = 1.04;
  const std::string scaled = variance_caption(v, true);
  EXPECT_NE(scaled.find("× scale² (0.125) = 1.00"), std::string::npos) << scaled;
  EXPECT_EQ(variance_caption(VarianceBreakdown{}, true).find("Measured"), std::string::npos);
}

TEST(Labs, WhySqrtDkWithEnoughAveragingTheUnscaledGradientVanishes) {
  Session s;
  s.model.layers = 1;
  s.model.heads = 2;
  s.input.text = "The animal didn't cross the street because it was too tired .";
  const DkGradientSweep r = dk_gradient_sweep(s, 4);
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.skipped);
  const int last = kGradCount - 1;
  for (int k = 0; k < kGradCount; ++k) {
    std::printf("d_k %3d  scaled %.4f ± %.4f [%.4f, %.4f] max %.3f   unscaled %.4f ± %.4f [%.4f, %.4f] max %.3f\n", kGradDk[k],
                r.scaled[k].mean, r.scaled[k].sd, r.scaled[k].lo, r.scaled[k].hi, r.scaled[k].max_weight, r.unscaled[k].mean,
                r.unscaled[k].sd, r.unscaled[k].lo, r.unscaled[k].hi, r.unscaled[k].max_weight);
    EXPECT_EQ(r.scaled[k].seeds, 4);
    EXPECT_LE(r.scaled[k].lo, r.scaled[k].mean);
    EXPECT_GE(r.scaled[k].hi, r.scaled[k].mean);
  }
  EXPECT_LT(r.unscaled[last].hi, r.scaled[last].lo) << "every seed: unscaled below scaled at d_k = 256";
  EXPECT_LT(r.unscaled[last].mean, 0.5 * r.scaled[last].mean);
  const std::string caption = dk_gradient_caption(r);
  std::printf("%s\n", caption.c_str());
  EXPECT_NE(caption.find("less gradient than the scaled one"), std::string::npos) << caption;
}

TEST(Labs, WhySqrtDkCaptionSaysWhatTheNumbersSay) {
  DkGradientSweep r;
  r.seeds = 4;
  const auto set = [](DkGradPoint& p, float mean, float sd) {
    p.mean = mean, p.sd = sd, p.lo = mean - sd, p.hi = mean + sd, p.seeds = 4;
  };
  for (int k = 0; k < kGradCount; ++k) {
    set(r.scaled[k], 0.31f - 0.02f * k / (kGradCount - 1), 0.01f);
    set(r.unscaled[k], 0.30f * std::pow(0.6f, static_cast<float>(k)), 0.005f);
  }
  std::string c = dk_gradient_caption(r);
  EXPECT_NE(c.find("scaled 0.31 → 0.29, unscaled 0.30 → 0.014"), std::string::npos) << c;
  EXPECT_NE(c.find("Scaled, the ratio stays level"), std::string::npos) << c;
  EXPECT_NE(c.find("Spread over the seeds at d_k = 256: ± 0.010 scaled, ± 0.005 unscaled"), std::string::npos) << c;
  EXPECT_NE(c.find("unscaled, it falls 21×"), std::string::npos) << c;
  EXPECT_NE(c.find("less gradient than the scaled one"), std::string::npos) << c;

  // The other way round: the unscaled curve ends above the scaled one. The caption must not claim it vanishes.
  set(r.unscaled[kGradCount - 1], 0.059f, 0.002f);
  set(r.scaled[kGradCount - 1], 0.051f, 0.002f);
  c = dk_gradient_caption(r);
  EXPECT_NE(c.find("NOT smaller"), std::string::npos) << c;
  EXPECT_EQ(c.find("stays level"), std::string::npos) << c;  // 0.31 → 0.051 falls
  EXPECT_NE(c.find("Scaled, the ratio falls 6.1×"), std::string::npos) << c;
  EXPECT_EQ(c.find("less gradient"), std::string::npos) << c;

  // Within the seeds' spread: says so.
  set(r.unscaled[kGradCount - 1], 0.049f, 0.01f);
  set(r.scaled[kGradCount - 1], 0.051f, 0.01f);
  c = dk_gradient_caption(r);
  EXPECT_NE(c.find("less than the seeds' spread"), std::string::npos) << c;
  EXPECT_EQ(c.find("less gradient"), std::string::npos) << c;
}

TEST(Labs, WhySqrtDkOnTrainedWeightsRunsSeededAndSaysSo) {
  Session s = shipped_session();
  const DkGradientSweep r = dk_gradient_sweep(s, 1);
  EXPECT_EQ(r.error, "");
  EXPECT_NE(r.seeded_note.find("Seeded weights"), std::string::npos);
  EXPECT_EQ(r.block, "encoder.0.self_attn");
  EXPECT_TRUE(std::isfinite(r.scaled[0].mean));
}

// [SECTION] Progress and cancellation (the app runs the sweeps on a worker thread, app/jobs.h)

TEST(Labs, ScalingSweepReportsEveryRunAndStopsWhenCancelled) {
  const Session s = shipped_session();
  std::vector<std::pair<int, int>> calls;
  const ScalingSweep full = scaling_sweep(s, [&](int done, int total) {
    calls.emplace_back(done, total);
    return true;
  });
  EXPECT_FALSE(full.cancelled);
  // Before each of the 16 runs (0 … 15 done), and once at the end (16 of 16).
  ASSERT_EQ(calls.size(), static_cast<size_t>(2 * kScalingCount + 1));
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, static_cast<int>(i));
    EXPECT_EQ(calls[i].second, 2 * kScalingCount);
  }
  // Cancelled after 3 runs: no fourth run, d_k = 2 (both) and d_k = 4 (scaled) measured, nothing later.
  int asked = 0;
  const ScalingSweep cut = scaling_sweep(s, [&](int done, int) {
    ++asked;
    return done < 3;
  });
  EXPECT_TRUE(cut.cancelled);
  EXPECT_EQ(asked, 4);
  EXPECT_TRUE(cut.scaled[0].count("encoder.0.self_attn"));
  EXPECT_TRUE(cut.unscaled[0].count("encoder.0.self_attn"));
  EXPECT_TRUE(cut.scaled[1].count("encoder.0.self_attn"));
  EXPECT_TRUE(cut.unscaled[1].empty());
  for (int k = 2; k < kScalingCount; ++k) EXPECT_TRUE(cut.scaled[k].empty() && cut.unscaled[k].empty()) << kScalingDk[k];
  // The uncancelled result is the one without a callback.
  const ScalingSweep plain = scaling_sweep(s);
  EXPECT_FALSE(plain.cancelled);
  EXPECT_EQ(plain.scaled[3].at("encoder.0.self_attn").entropy, full.scaled[3].at("encoder.0.self_attn").entropy);
}

TEST(Labs, WhySqrtDkReportsProgressAndStopsEarlyWhenCancelled) {
  Session s;
  s.model.layers = 1;
  s.model.heads = 2;
  s.input.text = "the cat sat on the mat";
  const int seeds = 2, total = 2 * kGradCount * seeds;
  int last_done = -1, last_total = 0, calls = 0;
  bool monotone = true;
  const DkGradientSweep full = dk_gradient_sweep(s, seeds, [&](int done, int all) {
    monotone = monotone && done >= last_done;
    last_done = done, last_total = all, ++calls;
    return true;
  });
  EXPECT_FALSE(full.cancelled);
  EXPECT_TRUE(monotone);
  EXPECT_EQ(last_total, total);
  EXPECT_EQ(last_done, total) << "the last call says every run is done";
  EXPECT_GE(calls, total);
  // Cancelled once 5 runs are done: d_k = 4 is measured (both seeds), d_k = 8 at most partly, the rest never run,
  // and the sweep returns at once (far sooner than the full one).
  const auto start = std::chrono::steady_clock::now();
  int runs_started = 0;
  const DkGradientSweep cut = dk_gradient_sweep(s, seeds, [&](int done, int) {
    runs_started = done;
    return done < 5;
  });
  const double cut_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(cut.cancelled);
  EXPECT_EQ(runs_started, 5);
  EXPECT_EQ(cut.scaled[0].seeds, seeds);
  EXPECT_EQ(cut.unscaled[0].seeds, seeds);
  for (int k = 2; k < kGradCount; ++k) EXPECT_FALSE(std::isfinite(cut.scaled[k].mean)) << "d_k = " << kGradDk[k];
  EXPECT_LT(cut_ms, full.ms) << "cancelled " << cut_ms << " ms, full " << full.ms << " ms";
}

}  // namespace

// [SECTION] The app's background job (app/jobs.h): progress, the result once, cancellation, no hang at exit

TEST(Jobs, DeliversTheResultOnceWithItsKeyAndProgress) {
  qkv::app::Job<int> job;
  EXPECT_FALSE(job.running());
  job.start("a", [](qkv::app::JobControl& c) {
    c.report(3, 4);
    return 42;
  });
  std::optional<qkv::app::Job<int>::Done> done;
  for (int i = 0; i < 2000 && !done; ++i) {
    done = job.take();
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(done->key, "a");
  EXPECT_EQ(done->value, 42);
  EXPECT_FALSE(job.take()) << "a result is delivered once";
  EXPECT_FALSE(job.running());
}

TEST(Jobs, ANewJobCancelsTheRunningOneAndItsResultIsDropped) {
  qkv::app::Job<std::string> job;
  std::atomic<bool> first_saw_cancel{false};
  job.start("old", [&](qkv::app::JobControl& c) {
    while (!c.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    first_saw_cancel = true;
    return std::string("old result");
  });
  EXPECT_TRUE(job.running());
  EXPECT_EQ(job.key(), "old");
  const auto start = std::chrono::steady_clock::now();
  job.start("new", [](qkv::app::JobControl& c) {
    // Through the core's Progress callback: it reports and says "go on".
    EXPECT_TRUE(c.progress()(1, 2));
    return std::string("new result");
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50)) << "start never waits for the old job";
  std::optional<qkv::app::Job<std::string>::Done> done;
  for (int i = 0; i < 2000 && !done; ++i) {
    done = job.take();
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(done->key, "new");
  EXPECT_EQ(done->value, "new result");
  for (int i = 0; i < 2000 && !first_saw_cancel; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(first_saw_cancel);
}

TEST(Jobs, DestroyingARunningJobCancelsItAndDoesNotWaitForTheWholeComputation) {
  std::atomic<int> steps{0};
  const auto start = std::chrono::steady_clock::now();
  {
    qkv::app::Job<int> job;
    // A "sweep" of 10,000 runs of 1 ms each (10 s uncancelled) that checks the flag between runs.
    job.start("long", [&](qkv::app::JobControl& c) {
      const auto progress = c.progress();
      for (int i = 0; i < 10000; ++i) {
        if (!progress(i, 10000)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ++steps;
      }
      return steps.load();
    });
    while (steps < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_GT(job.done(), 0);
    EXPECT_EQ(job.total(), 10000);
  }  // the destructor cancels and joins
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms, 2000.0);
  EXPECT_LT(steps.load(), 5000);
}

TEST(Jobs, CancelAllJobsStopsEveryRunningJobBeforeItEnds) {
  qkv::app::Job<int> a, b;
  std::atomic<int> stopped{0};
  const auto forever = [&](qkv::app::JobControl& c) {
    while (!c.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++stopped;
    return 0;
  };
  a.start("a", forever);
  b.start("b", forever);
  qkv::app::cancel_all_jobs();
  EXPECT_EQ(stopped.load(), 2) << "both joined when it returns";
  EXPECT_FALSE(a.running());
  EXPECT_FALSE(a.take()) << "a cancelled job has no result";
}

}  // namespace qkv::labs
