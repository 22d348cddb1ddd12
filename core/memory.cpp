#include "core/memory.h"

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "core/i18n.h"

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

namespace qkv {

// [SECTION] The memory limit
namespace {
std::atomic<int64_t> g_override{0};  // set_memory_limit; 0: none

int64_t read_cgroup_limit() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string word;
    if (!(in >> word) || word == "max" || word.empty() || word.find_first_not_of("0123456789") != std::string::npos) continue;
    if (word.size() > 18) continue;  // cgroup v1 writes "no limit" as a huge number
    return std::stoll(word);
  }
  return 0;
}

int64_t environment_limit() {
  static const int64_t from_env = [] {
    const char* text = std::getenv("QKVLAB_MEMORY_LIMIT");
    if (!text || !*text) return int64_t{0};
    Result<int64_t> bytes = parse_byte_size(text);
    if (!bytes) {
      std::fprintf(stderr, "qkvlab: QKVLAB_MEMORY_LIMIT=%s is ignored: %s\n", text, bytes.error().message().c_str());
      return int64_t{0};
    }
    return *bytes;
  }();
  return from_env;
}
}  // namespace

int64_t machine_memory_bytes() {
  int64_t ram = 0;
#if defined(__GLIBC__)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) ram = static_cast<int64_t>(pages) * page;
#endif
  const int64_t cgroup = read_cgroup_limit();
  if (cgroup > 0 && (ram == 0 || cgroup < ram)) return cgroup;
  return ram;
}

int64_t default_memory_limit() {
  const int64_t machine = machine_memory_bytes();
  return machine > 0 ? static_cast<int64_t>(static_cast<double>(machine) * kDefaultMemoryShare) : int64_t{8} << 30;
}

int64_t memory_limit() {
  if (const int64_t set = g_override.load()) return set;
  if (const int64_t env = environment_limit()) return env;
  return default_memory_limit();
}

void set_memory_limit(int64_t bytes) { g_override.store(bytes > 0 ? bytes : 0); }

Result<int64_t> parse_byte_size(std::string_view text) {
  if (text == "off") return std::numeric_limits<int64_t>::max();
  const Error bad{i18n::trf("core.memory.not_a_size", i18n::arg("text", std::string(text.substr(0, 40)))),
                  i18n::tr("core.memory.not_a_size_hint")};
  if (text.empty() || text.size() > 24) return bad;
  size_t end = 0;
  while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) ++end;
  const std::string number(text.substr(0, end));
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos || number.find('.') != number.rfind('.') ||
      number == ".")
    return bad;
  std::string_view unit = text.substr(end);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.remove_suffix(1);  // "8GB", "8GiB": same
  if (unit.size() == 2 && (unit[1] == 'i' || unit[1] == 'I')) unit.remove_suffix(1);
  double scale = 1.0;
  if (unit.size() == 1) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])));
    if (u == 'K') scale = 1024.0;
    else if (u == 'M') scale = 1024.0 * 1024.0;
    else if (u == 'G') scale = 1024.0 * 1024.0 * 1024.0;
    else if (u == 'T') scale = 1024.0 * 1024.0 * 1024.0 * 1024.0;
    else return bad;
  } else if (!unit.empty()) {
    return bad;
  }
  const double bytes = std::strtod(number.c_str(), nullptr) * scale;
  if (!(bytes >= 1.0) || !(bytes < 9.0e18)) return Error{bad.what, i18n::tr("core.memory.range_hint")};
  return static_cast<int64_t>(bytes);
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) bytes /= 1024.0, ++u;
  char buf[48];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

// [SECTION] Allocator tuning

void retain_freed_memory(char** argv) {
#if defined(__GLIBC__)
  constexpr const char* kTunables =
      "glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432:"
      "glibc.malloc.hugetlb=1";  // transparent huge pages for the heap and large blocks (glibc ≥ 2.35; older ones ignore it)
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
