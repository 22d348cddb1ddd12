#include "core/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/i18n.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;

namespace {

// A save killed between mkstemp and rename (kill -9, power loss) leaves "<path>.tmp-XXXXXX" behind. The next save of
// the same path removes those of ours that are older than kStaleTempAge (a younger one may be another process's save
// in progress).
constexpr auto kStaleTempAge = std::chrono::minutes(2);

void remove_stale_temps(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + ".tmp-";
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;  // mkstemp's 6 characters
    std::error_code time_ec;
    const auto written = fs::last_write_time(it->path(), time_ec);
    if (!time_ec && now - written > kStaleTempAge && it->is_regular_file(time_ec)) fs::remove(it->path(), time_ec);
  }
}

// After the rename, the folder's entry must reach the disk too, or a crash can lose the new name.
void sync_folder(const std::string& path) {
  const std::filesystem::path target(path);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::optional<Error> write_file_atomically(const std::string& path, std::string_view bytes) {
  remove_stale_temps(path);
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) {
    const std::string reason = std::strerror(errno);  // before a lookup of the texts can touch errno
    return Error{trf("core.files.cannot_write", arg("path", path), arg("reason", reason)), tr("core.files.hint_folder_writable")};
  }
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t r = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (r < 0) {
      if (errno == EINTR) continue;
      const std::string reason = std::strerror(errno);
      ::close(fd);
      std::remove(temp.c_str());
      return Error{trf("core.files.cannot_write", arg("path", path), arg("reason", reason)), tr("core.files.hint_disk_full")};
    }
    written += static_cast<size_t>(r);
  }
  fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    return Error{trf("core.files.cannot_flush", arg("path", path), arg("reason", reason)), tr("core.files.hint_disk_full")};
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    return Error{trf("core.files.cannot_replace", arg("path", path), arg("reason", reason)), tr("core.files.hint_check_permissions")};
  }
  sync_folder(path);
  return std::nullopt;
}

std::variant<std::string, ReadFailure> read_file_bytes(const std::string& path, size_t max_bytes) {
  namespace fs = std::filesystem;
  using Kind = ReadFailure::Kind;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return ReadFailure{Kind::Missing};
  if (!fs::is_regular_file(status)) return ReadFailure{Kind::NotAFile};
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return ReadFailure{Kind::NoSize, ec.message()};
  if (size > max_bytes) return ReadFailure{Kind::TooLarge, "", size};
  std::ifstream in(path, std::ios::binary);
  if (!in) return ReadFailure{Kind::CannotOpen};
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<size_t>(in.gcount()));  // a file that shrank meanwhile: what was there
  return bytes;
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  std::variant<std::string, ReadFailure> read = read_file_bytes(path, max_bytes);
  if (std::string* bytes = std::get_if<std::string>(&read)) return std::move(*bytes);
  const ReadFailure& f = std::get<ReadFailure>(read);
  switch (f.kind) {
    case ReadFailure::Kind::Missing: return Error{trf("core.files.cannot_open", arg("path", path)), tr("core.files.hint_check_path")};
    case ReadFailure::Kind::NotAFile: return Error{trf("core.files.not_a_file", arg("path", path)), tr("core.files.hint_choose_file")};
    case ReadFailure::Kind::NoSize: return Error{trf("core.files.cannot_read_size", arg("path", path)), f.reason};
    case ReadFailure::Kind::TooLarge:
      return Error{trf("core.files.too_large", arg("path", path), arg("bytes", f.bytes), arg("limit_mib", max_bytes >> 20)),
                   tr("core.files.hint_right_file")};
    case ReadFailure::Kind::CannotOpen: break;
  }
  return Error{trf("core.files.cannot_open", arg("path", path)), tr("core.files.hint_check_the_permissions")};
}

int json_nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::optional<Error> check_json_depth(std::string_view text, const std::string& what) {
  if (json_nesting_depth(text) <= kMaxJsonDepth) return std::nullopt;
  return Error{trf("core.files.nests_too_deep", arg("what", what), arg("max", kMaxJsonDepth)), tr("core.files.hint_damaged_or_foreign")};
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO would block the open until a writer came
  if (fd < 0) {
    const std::string reason = std::strerror(errno);
    return Error{trf("core.files.cannot_open_because", arg("path", path), arg("reason", reason)), tr("core.files.hint_check_path")};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{trf("core.files.not_regular", arg("path", path)), tr("core.files.hint_give_file")};
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Error{trf("core.files.cannot_map", arg("path", path), arg("reason", why)), tr("core.files.hint_check_readable")};
    }
  }
  ::close(fd);  // the mapping keeps the file
  return MappedFile(data, size);
}

namespace {
// The whole pages inside `part` of a mapping (release must not drop a page shared with bytes still to be read).
bool inner_pages(std::string_view part, bool outward, void** begin, size_t* length) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t a = reinterpret_cast<uintptr_t>(part.data()), b = a + part.size();
  a = outward ? a / page * page : (a + page - 1) / page * page;
  b = outward ? (b + page - 1) / page * page : b / page * page;
  if (b <= a) return false;
  *begin = reinterpret_cast<void*>(a);
  *length = b - a;
  return true;
}
}  // namespace

void MappedFile::prefetch(std::string_view part) const {
  void* begin;
  size_t length;
  if (!data_ || !inner_pages(part, true, &begin, &length)) return;
#ifdef MADV_POPULATE_READ
  if (::madvise(begin, length, MADV_POPULATE_READ) == 0) return;  // Linux 5.14+
#endif
  ::madvise(begin, length, MADV_WILLNEED);
}

void MappedFile::release(std::string_view part) const {
  void* begin;
  size_t length;
  if (data_ && inner_pages(part, false, &begin, &length)) ::madvise(begin, length, MADV_DONTNEED);  // a read-only mapping: nothing lost
}

MappedFile::MappedFile(MappedFile&& other) noexcept : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace qkv
