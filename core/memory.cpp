#include "core/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qkv {

void retain_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed threshold: blocks below 32 MiB come from the heap
  mallopt(M_TRIM_THRESHOLD, -1);        // never return the heap's top to the kernel
  mallopt(M_ARENA_MAX, 1);              // heads computed on worker threads are freed by the main thread: one
                                        // arena lets those blocks be reused instead of trimmed and re-faulted
#endif
}

}  // namespace qkv
