// QKV Lab core — allocator tuning for programs that recompute large traces again and again.
#pragma once

namespace qkv {

// A GPT-2-sized trace is about a gigabyte of matrices, freed and allocated again on every toggle. By default
// glibc hands such large blocks back to the kernel on free, so every recompute page-faults the whole
// gigabyte in again (measured: ~40% of a forward at n = 512). This keeps freed blocks up to 32 MiB (an n×n float matrix up to n ≈ 2900) in
// the heap for reuse. Call once at start-up from a program's main (the app, the benchmarks); a no-op outside glibc.
void retain_freed_memory();

}  // namespace qkv
