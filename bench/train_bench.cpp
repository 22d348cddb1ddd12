// Training: steps per second at the default toy size, forward + backward at GPT-2-small shape (n = 128), and
// the target — the reverse task at length 8 reaching > 95% token accuracy within 60 s on 2 cores.
//   build/qkvlab_train_bench            (the time-to-accuracy run takes up to a minute)
#include <benchmark/benchmark.h>

#include <chrono>

#include "core/counters.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/network.h"
#include "core/trainer.h"

namespace qkv {
namespace {

// The default of the app's Train panel: reverse, length 8, batch 32, L = 2, d_model 32, h 4, d_ff 128.
void BM_TrainStepDefaultToy(benchmark::State& state) {
  TrainConfig t;
  Trainer trainer(ModelConfig{}, t);
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step());
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TrainStepDefaultToy)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

// One forward + backward of GPT-2 small's shape (12 layers, 768, 12 heads, 3072) over n tokens, next-token loss.
void BM_ForwardBackwardGPT2Small(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  ModelConfig c = find_preset("gpt2-small")->spec.model;
  c.dropout = 0.0f;
  Vocab vocab;
  TokenBatch batch;
  batch.source.emplace_back();
  for (int i = 0; i < n; ++i) batch.source[0].push_back(vocab.add("t" + std::to_string(i % 1000)));
  batch.source_pad.emplace_back(static_cast<size_t>(n), false);
  const Params<float> W = to_params<float>(make_weights(c, vocab, 1));
  PassOptions o;
  o.decoder_mask = kMaskCausal;
  for (auto _ : state) {
    NetworkPass<float> pass = network_forward<float>(c, o, W, batch);
    benchmark::DoNotOptimize(backpropagate<float>(pass, c, batch, LossOptions{}));
  }
}
BENCHMARK(BM_ForwardBackwardGPT2Small)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// Wall-clock seconds until the evaluation accuracy (teacher-forced, 4 fresh batches) passes 95% on reverse/8.
void BM_ReverseLength8To95Percent(benchmark::State& state) {
  for (auto _ : state) {
    TrainConfig t;  // reverse, length 8, the app's defaults
    Trainer trainer(ModelConfig{}, t);
    const auto start = std::chrono::steady_clock::now();
    float accuracy = 0.0f;
    double seconds = 0.0;
    while (seconds < 120.0) {
      for (int k = 0; k < 50; ++k) trainer.step();
      accuracy = trainer.evaluate().first;
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (accuracy > 0.95f) break;
    }
    state.counters["seconds"] = seconds;
    state.counters["steps"] = trainer.steps();
    state.counters["accuracy"] = accuracy;
    if (accuracy <= 0.95f) state.SkipWithError("did not reach 95% within 120 s");
  }
}
BENCHMARK(BM_ReverseLength8To95Percent)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace qkv

int main(int argc, char** argv) {
  qkv::retain_freed_memory(argv);  // as the app does: each step reuses the previous step's tape memory
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
