// QKV Lab core — allocator tuning for programs that recompute large traces again and again.
#pragma once

namespace qkv {

// A GPT-2-sized trace is about a gigabyte of matrices, freed and allocated again on every toggle. By default
// glibc hands large freed blocks back to the kernel (and spreads worker threads over several arenas), so
// every recompute page-faults most of that gigabyte in again. This keeps freed blocks up to 32 MiB in one
// heap for reuse. Measured: the GPT-2-small-shaped forward at n = 512 goes from ~2 s to ~0.6 s.
//
// The settings only fully take when glibc reads them at start-up (as GLIBC_TUNABLES; mallopt() from main
// measured 3× slower), so on first call this re-executes the program once with them set, and returns on
// the second start. Call it first thing in main(argc, argv) of the app and the benchmarks; elsewhere (or if
// re-executing fails) it falls back to mallopt().
void retain_freed_memory(char** argv);

}  // namespace qkv
