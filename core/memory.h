// QKV Lab core — memory: the limit a run is held to, and allocator tuning for programs that recompute large traces
// again and again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace qkv {

// [SECTION] The memory limit
// Every run, gradient pass and training run estimates its memory before it allocates anything (core/model.h
// estimate_memory, core/trainer.h estimate_training_memory) and is refused, with the estimate and this limit, when it
// would need more. The default is kDefaultMemoryShare of the machine's memory (its RAM, or its cgroup's memory.max
// when that is lower); QKVLAB_MEMORY_LIMIT (read at the first call) or --memory-limit (set_memory_limit) override it.
inline constexpr double kDefaultMemoryShare = 0.75;
int64_t machine_memory_bytes();  // 0 when it cannot be read
int64_t default_memory_limit();  // kDefaultMemoryShare of machine_memory_bytes(), or 8 GiB when that is unknown
int64_t memory_limit();          // the override, else the default
void set_memory_limit(int64_t bytes);  // bytes > 0: the override; 0: back to the environment's or the default
// "8G", "512M", "1.5g", "2048k", "123456789" (bytes), "off" (no limit: INT64_MAX). K, M, G, T are powers of 1024.
Result<int64_t> parse_byte_size(std::string_view);
// "1.5 GiB", "512 MiB", "12.0 KiB", "100 B".
std::string human_bytes(double bytes);

// [SECTION] Allocator tuning

// A GPT-2-sized trace is about a gigabyte of matrices, freed and allocated again on every toggle. By default
// glibc hands large freed blocks back to the kernel (and spreads worker threads over several arenas), so
// every recompute page-faults most of that gigabyte in again. This keeps freed blocks up to 32 MiB in one
// heap for reuse. Measured: the GPT-2-small-shaped forward at n = 512 goes from ~2 s to ~0.6 s. It also asks for
// transparent huge pages (glibc.malloc.hugetlb=1): a fresh gigabyte is then faulted in 2 MiB at a time, not 4 KiB —
// on these VMs a page fault is expensive, and loading GPT-2 XL's 6 GB of weights went from 34 s to 11.5–15 s (GPT-2 small
// 0.55 s to 0.24 s; bench/pretrained_bench.cpp).
//
// The settings only fully take when glibc reads them at start-up (as GLIBC_TUNABLES; mallopt() from main
// measured 3× slower), so on first call this re-executes the program once with them set, and returns on
// the second start. Call it first thing in main(argc, argv) of the app and the benchmarks; elsewhere (or if
// re-executing fails) it falls back to mallopt().
void retain_freed_memory(char** argv);

}  // namespace qkv
