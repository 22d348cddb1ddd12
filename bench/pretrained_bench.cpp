// Real checkpoints (core/pretrained.h) at GPT-2's sizes: opening the folder (config, mmap, checks, conversion to the
// core's layout) and the forward of a whole trace at n = 1,024 tokens, through core::run with the worker's progress.
// The folders are written here once, in GPT-2's exact file layout (GPT2LMHeadModel names, Conv1D [in, out], c_attn
// = Q|K|V, the attn.bias buffers), streamed to disk so that GPT-2 XL's 6.2 GB never sit in this process twice; the
// values are a cheap deterministic pattern (timing does not depend on them). The tokenizer is 256 byte symbols and
// <|endoftext|> with no merges, so n bytes of text are exactly n tokens; the embedding has GPT-2's 50,257 rows.
//   ./build/qkvlab_pretrained_bench                                   GPT-2 small: load, forward at 64/512/1024
//   QKVLAB_BENCH_XL=1 ./build/qkvlab_pretrained_bench --benchmark_filter=XL   GPT-2 XL (1.56 B): load and memory
// Folders go to $QKVLAB_BENCH_DIR (default: the system's temporary folder) and are kept for the next run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/memory.h"
#include "core/model.h"
#include "core/pretrained.h"
#include "tests/gpt2_byte_symbols.h"

namespace {

using namespace qkv;
namespace fs = std::filesystem;
using json = nlohmann::json;

struct Gpt2Shape {
  const char* name;
  int layers, d_model, heads, positions, vocab;
};
constexpr Gpt2Shape kSmall{"gpt2-small-shape", 12, 768, 12, 1024, 50257};
constexpr Gpt2Shape kXL{"gpt2-xl-shape", 48, 1600, 25, 1024, 50257};

using test::byte_symbol;  // GPT-2's bytes_to_unicode

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count() const {
    int64_t n = 1;
    for (const int64_t s : shape) n *= s;
    return n;
  }
};

std::vector<Tensor> gpt2_layout(const Gpt2Shape& g) {
  const int64_t d = g.d_model, P = g.positions;
  std::vector<Tensor> t = {{"transformer.wte.weight", {g.vocab, d}}, {"transformer.wpe.weight", {P, d}}};
  for (int l = 0; l < g.layers; ++l) {
    const std::string h = "transformer.h." + std::to_string(l) + ".";
    t.insert(t.end(), {{h + "ln_1.weight", {d}},
                       {h + "ln_1.bias", {d}},
                       {h + "attn.bias", {1, 1, P, P}},
                       {h + "attn.masked_bias", {}},
                       {h + "attn.c_attn.weight", {d, 3 * d}},
                       {h + "attn.c_attn.bias", {3 * d}},
                       {h + "attn.c_proj.weight", {d, d}},
                       {h + "attn.c_proj.bias", {d}},
                       {h + "ln_2.weight", {d}},
                       {h + "ln_2.bias", {d}},
                       {h + "mlp.c_fc.weight", {d, 4 * d}},
                       {h + "mlp.c_fc.bias", {4 * d}},
                       {h + "mlp.c_proj.weight", {4 * d, d}},
                       {h + "mlp.c_proj.bias", {d}}});
  }
  t.insert(t.end(), {{"transformer.ln_f.weight", {d}}, {"transformer.ln_f.bias", {d}}});
  return t;
}

// The folder for `g`, written when missing (model.safetensors last: a folder with it is complete).
std::string gpt2_folder(const Gpt2Shape& g) {
  const char* base = std::getenv("QKVLAB_BENCH_DIR");
  const fs::path dir = fs::path(base ? base : fs::temp_directory_path().string()) / g.name;
  if (fs::exists(dir / "model.safetensors")) return dir.string();
  fs::create_directories(dir);
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol(b)] = b;
  vocab["<|endoftext|>"] = 256;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << "#version: 0.2\n";
  std::ofstream(dir / "config.json") << json{{"model_type", "gpt2"},   {"architectures", {"GPT2LMHeadModel"}},
                                             {"n_layer", g.layers},    {"n_embd", g.d_model},
                                             {"n_head", g.heads},      {"n_positions", g.positions},
                                             {"n_ctx", g.positions},   {"vocab_size", g.vocab},
                                             {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}}
                                            .dump(2);
  const std::vector<Tensor> layout = gpt2_layout(g);
  json header = json::object();
  uint64_t offset = 0;
  for (const Tensor& t : layout) {
    const uint64_t bytes = static_cast<uint64_t>(t.count()) * 4;
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  const std::string text = header.dump();
  const uint64_t header_size = text.size();
  const fs::path partial = dir / "model.safetensors.partial";
  {
    std::ofstream out(partial, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&header_size), 8);
    out << text;
    std::vector<float> chunk(1 << 20);
    uint32_t state = 12345;
    for (const Tensor& t : layout) {
      const bool norm_gain = t.name.find("ln_") != std::string::npos && t.name.find(".weight") != std::string::npos;
      for (int64_t left = t.count(); left > 0;) {
        const int64_t n = std::min<int64_t>(left, static_cast<int64_t>(chunk.size()));
        for (int64_t i = 0; i < n; ++i) {
          state = state * 1664525u + 1013904223u;  // small values around 0 (gains around 1): a realistic scale
          const float noise = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 0.04f;
          chunk[static_cast<size_t>(i)] = norm_gain ? 1.0f + noise : noise;
        }
        out.write(reinterpret_cast<const char*>(chunk.data()), n * 4);
        left -= n;
      }
    }
  }
  fs::rename(partial, dir / "model.safetensors");
  return dir.string();
}

// The process's peak resident memory (VmHWM), in bytes.
double peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib * 1024.0;
    }
    status.ignore(1 << 10, '\n');
  }
  return 0.0;
}

void load(benchmark::State& state, const Gpt2Shape& g) {
  const std::string dir = gpt2_folder(g);
  std::shared_ptr<const PretrainedModel> m;
  for (auto _ : state) {
    m.reset();  // the previous copy's memory goes first, as in the app
    auto loaded = load_pretrained(dir);
    if (!loaded) {
      state.SkipWithError(loaded.error().what.c_str());
      return;
    }
    m = *loaded;
  }
  state.counters["parameters_M"] = static_cast<double>(m->card.parameters) * 1e-6;
  state.counters["file_MiB"] = static_cast<double>(m->card.file_bytes) / (1024.0 * 1024.0);
  state.counters["weights_MiB"] = static_cast<double>(m->weight_bytes()) / (1024.0 * 1024.0);
  state.counters["peak_RSS_MiB"] = peak_resident_bytes() / (1024.0 * 1024.0);
  state.counters["limit_MiB"] = static_cast<double>(memory_limit()) / (1024.0 * 1024.0);
}

void BM_LoadGPT2Small(benchmark::State& state) { load(state, kSmall); }
BENCHMARK(BM_LoadGPT2Small)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

void BM_LoadGPT2XL(benchmark::State& state) {
  if (!std::getenv("QKVLAB_BENCH_XL")) {
    state.SkipWithError("set QKVLAB_BENCH_XL=1: writes a 6.2 GB GPT-2 XL-shaped folder and needs about 7 GB of memory");
    return;
  }
  load(state, kXL);
}
BENCHMARK(BM_LoadGPT2XL)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

// n tokens of text: bytes cycling through letters (no merges, so one token each).
std::string text_of_tokens(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += static_cast<char>('a' + i % 26);
  return text;
}

void BM_ForwardGPT2SmallCheckpoint(benchmark::State& state) {
  const std::string dir = gpt2_folder(kSmall);
  auto m = open_pretrained(dir);
  if (!m) {
    state.SkipWithError(m.error().what.c_str());
    return;
  }
  Session s = pretrained_session(**m, dir);
  s.input.text = text_of_tokens(static_cast<int>(state.range(0)));
  int progress_calls = 0;
  const Progress progress = [&](int, int) { return ++progress_calls, true; };  // what the app's worker hears
  Trace t;
  for (auto _ : state) {
    t = Trace{};  // one trace in memory at a time, as in the app
    auto r = run(s, nullptr, progress);
    if (!r) {
      state.SkipWithError(r.error().what.c_str());
      return;
    }
    t = std::move(*r);
  }
  state.counters["n"] = static_cast<double>(t.source_ids.size());
  state.counters["lean_trace"] = t.tensors.lean() ? 1 : 0;
  state.counters["trace_MiB"] = static_cast<double>(t.tensors.bytes()) / (1024.0 * 1024.0);
  state.counters["progress_per_run"] = static_cast<double>(progress_calls) / static_cast<double>(state.iterations());
  state.counters["peak_RSS_MiB"] = peak_resident_bytes() / (1024.0 * 1024.0);
}
BENCHMARK(BM_ForwardGPT2SmallCheckpoint)->Arg(64)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  qkv::retain_freed_memory(argv);  // as the app does
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
