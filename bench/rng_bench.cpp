// Seeding GPT-2 small's block weights (12 layers × W_Q, W_K, W_V, W_O [768, 768], W_1 [768, 3072],
// W_2 [3072, 768] = 84.9 M numbers) plus pos.learned [1024, 768]: before (one sequential SplitMix64 stream per
// tensor, as core/rng drew them until the counter form) and now (normal_matrix: counter-based, OpenMP over
// pairs), and make_weights of the whole preset (what `qkvlab-cli run` pays before its forward).
//   ./build/qkvlab_rng_bench                       # every benchmark
//   OMP_NUM_THREADS=1 ./build/qkvlab_rng_bench     # the counter form on one core (same numbers)
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.h"
#include "core/model.h"
#include "core/rng.h"
#include "core/tokenizer.h"

namespace {

using namespace qkv;

struct Shape {
  std::string name;
  int rows, cols;
  float stddev;
};

// The seeded tensors of GPT-2 small's shape, with the names and stds core/model.cpp gives them.
std::vector<Shape> gpt2_small_tensors() {
  constexpr int L = 12, d = 768, d_ff = 3072, max_len = 1024;
  const float s_d = 1.0f / std::sqrt(static_cast<float>(d)), s_ff = 1.0f / std::sqrt(static_cast<float>(d_ff));
  std::vector<Shape> out = {{"pos.learned", max_len, d, s_d}};
  for (int l = 0; l < L; ++l) {
    const std::string p = "decoder." + std::to_string(l) + ".";
    for (const char* w : {"W_Q", "W_K", "W_V", "W_O"}) out.push_back({p + "self_attn." + w, d, d, s_d});
    out.push_back({p + "ffn.W_1", d, d_ff, s_d});
    out.push_back({p + "ffn.W_2", d_ff, d, s_ff});
  }
  return out;
}

void set_counters(benchmark::State& state, const std::vector<Shape>& shapes) {
  double numbers = 0.0;
  for (const Shape& s : shapes) numbers += static_cast<double>(s.rows) * s.cols;
  state.counters["M_numbers"] = numbers * 1e-6;
}

// Before: entry k is draw k of Rng(stream_seed(seed, name)), filled in order on one thread.
Mat sequential_normal_matrix(uint64_t seed, std::string_view name, int rows, int cols, float stddev) {
  Rng rng(stream_seed(seed, name));
  Mat out(rows, cols);
  for (Eigen::Index i = 0; i < out.size(); ++i) out.data()[i] = static_cast<float>(rng.normal()) * stddev;
  return out;
}

using Fill = Mat (*)(uint64_t seed, std::string_view name, int rows, int cols, float stddev);

void seed_gpt2_small(benchmark::State& state, Fill fill) {
  const std::vector<Shape> shapes = gpt2_small_tensors();
  for (auto _ : state)
    for (const Shape& s : shapes) benchmark::DoNotOptimize(fill(42, s.name, s.rows, s.cols, s.stddev).data());
  set_counters(state, shapes);
}
BENCHMARK_CAPTURE(seed_gpt2_small, sequential_before, &sequential_normal_matrix)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(seed_gpt2_small, counter_parallel, &normal_matrix)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// The whole preset as `qkvlab-cli run` builds it (biases, norms, a 500-word vocabulary's embedding rows).
void BM_MakeWeightsGpt2Small(benchmark::State& state) {
  ModelConfig c = find_preset("gpt2-small")->spec.model;
  Vocab vocab;
  for (int i = 0; i < 500; ++i) vocab.add("w" + std::to_string(i));
  for (auto _ : state) benchmark::DoNotOptimize(make_weights(c, vocab, 42).size());
  set_counters(state, gpt2_small_tensors());
}
BENCHMARK(BM_MakeWeightsGpt2Small)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
