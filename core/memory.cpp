#include "core/memory.h"

#include <cstdlib>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

namespace qkv {

void retain_freed_memory(char** argv) {
#if defined(__GLIBC__)
  constexpr const char* kTunables =
      "glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432";
  if (!std::getenv("QKVLAB_MALLOC_TUNED")) {
    const char* existing = std::getenv("GLIBC_TUNABLES");
    const std::string tunables = existing && *existing ? std::string(existing) + ":" + kTunables : std::string(kTunables);
    setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    setenv("QKVLAB_MALLOC_TUNED", "1", 1);
    if (argv) execv("/proc/self/exe", argv);  // returns only on failure: fall through to mallopt
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed threshold
  mallopt(M_TRIM_THRESHOLD, -1);        // never return the heap's top to the kernel
  mallopt(M_ARENA_MAX, 1);              // worker threads' blocks freed by the main thread stay reusable
#else
  (void)argv;
#endif
}

}  // namespace qkv
