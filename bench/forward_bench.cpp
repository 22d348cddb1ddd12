// Forward pass + full trace: the teaching size and GPT-2-small shape (12 layers, d_model 768, 12 heads,
// d_ff 3072, causal) at n = 64, 512, 1024. Weights are drawn once and cached, as the app does; the time is
// core::run (embedding, every block, every traced tensor, head statistics, logits).
//   ./build/qkvlab_bench --benchmark_filter=Forward
#include <benchmark/benchmark.h>

#include "core/counters.h"
#include "core/memory.h"
#include "core/model.h"

namespace {

using namespace qkv;

std::string words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += 'w';
    text += std::to_string(i % 500);
    text += ' ';
  }
  return text;
}

void report(benchmark::State& state, const Session& s, const Trace& t) {
  const int64_t n = static_cast<int64_t>(t.source_tokens.size());
  const double flops = static_cast<double>(count_model(count_spec_for(s.model, t.vocab.size()), n).total_flops);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["trace_MiB"] = static_cast<double>(t.tensors.bytes()) / (1024.0 * 1024.0);
  state.counters["n"] = static_cast<double>(n);
}

void BM_ForwardTeaching(benchmark::State& state) {
  const Session s;  // the app's default: 12 tokens, encoder-only, L=2, d_model 32, h 4, d_ff 128
  WeightCache cache;
  Trace t = *run(s, &cache);
  for (auto _ : state) {
    t = *run(s, &cache);
    benchmark::DoNotOptimize(t.tensors.size());
  }
  report(state, s, t);
}
BENCHMARK(BM_ForwardTeaching)->Unit(benchmark::kMicrosecond);

// GPT-2 small's shape from the parameter preset (12 layers, 768, 12 heads, 3072, learned positions, Pre-Norm,
// GELU), causal; the vocabulary is the text's own, so the output projection is small.
Session gpt2_small_shape(int n) {
  Session s;
  s.input.text = words(n);
  s.model = find_preset("gpt2-small")->spec.model;
  s.decoder_mask = kMaskCausal;
  return s;
}

void BM_ForwardGPT2Small(benchmark::State& state) {
  const Session s = gpt2_small_shape(static_cast<int>(state.range(0)));
  WeightCache cache;
  Trace t = *run(s, &cache);
  for (auto _ : state) {
    t = Trace{};  // free the previous trace first, so memory holds one trace, as in the app
    t = *run(s, &cache);
    benchmark::DoNotOptimize(t.tensors.size());
  }
  report(state, s, t);
}
BENCHMARK(BM_ForwardGPT2Small)->Arg(64)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// Drawing GPT-2-small-shaped weights from the seed (done once per shape/seed/vocabulary, not per toggle).
void BM_MakeWeightsGPT2Small(benchmark::State& state) {
  const Session s = gpt2_small_shape(64);
  const TokenizedBatch tb = tokenize_batch(s);
  for (auto _ : state) benchmark::DoNotOptimize(make_weights(s.model, tb.vocab, s.seed).size());
}
BENCHMARK(BM_MakeWeightsGPT2Small)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  qkv::retain_freed_memory(argv);  // as the app does: recomputes reuse the previous trace's memory
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
