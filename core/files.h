// QKV Lab core — file helpers: atomic writes, so a failed save never damages a good file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/tensor.h"

namespace qkv {

// Writes bytes to a temporary file beside path, flushes it to disk, then renames it over path.
std::optional<Error> write_file_atomically(const std::string& path, std::string_view bytes);
// Reads a whole regular file of at most max_bytes. A folder, a device (/dev/zero never ends), a FIFO, or a larger file is
// an Error that says so before anything is read: a session, a lesson or a patch is never larger than kMaxTextFileBytes
// (ours are below 1 MiB; a session of 65,536 tokens is about 0.5 MiB).
inline constexpr size_t kMaxTextFileBytes = size_t{64} << 20;
Result<std::string> read_file(const std::string& path, size_t max_bytes = kMaxTextFileBytes);
// The same reading, with why it failed as a kind instead of a sentence: read_file words it in the current language;
// the texts' own loader (core/i18n.cpp) words it in English, as it runs before any text is loaded.
struct ReadFailure {
  enum class Kind { Missing, NotAFile, NoSize, TooLarge, CannotOpen } kind;
  std::string reason;   // NoSize: the system's words
  uintmax_t bytes = 0;  // TooLarge: the file's size
};
std::variant<std::string, ReadFailure> read_file_bytes(const std::string& path, size_t max_bytes = kMaxTextFileBytes);

// How deeply the arrays and objects of a JSON text nest (strings skipped), without parsing it. Readers of untrusted
// JSON refuse a text nested deeper than kMaxJsonDepth before parsing: the parse, a merge patch and a dump all recurse
// once per level, and 100,000 levels overflowed the stack (issue 11, defect 4).
inline constexpr int kMaxJsonDepth = 64;  // our sessions and lessons nest 5 deep
int json_nesting_depth(std::string_view text);
// An Error naming `what` when text nests deeper than kMaxJsonDepth. `what` is the subject of the sentence, as the
// reader sees it: a file name, or a phrase in the current language (i18n::tr of the caller's key).
std::optional<Error> check_json_depth(std::string_view text, const std::string& what);

// A regular file mapped read-only into memory (mmap): its bytes come in from the file as they are read, with no copy on
// the heap, and the mapping goes with the MappedFile. (A file truncated by another program while mapped is undefined
// behaviour at the OS level — SIGBUS on the lost pages; the readers here keep the mapping only while parsing.)
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  // Hints for a part of bytes() read once, front to back (a checkpoint's tensors): prefetch() pages it in with one
  // call instead of a fault per page; release() drops its pages from this process once read (the file stays in the
  // page cache), so that loading GPT-2 XL holds its 6 GB of converted weights, not those and the whole file too.
  void prefetch(std::string_view part) const;
  void release(std::string_view part) const;

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;  // null for an empty file
  size_t size_ = 0;
};

}  // namespace qkv
