// QKV Lab core — file helpers: atomic writes, so a failed save never damages a good file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace qkv {

// Writes bytes to a temporary file beside path, flushes it to disk, then renames it over path.
std::optional<Error> write_file_atomically(const std::string& path, std::string_view bytes);
Result<std::string> read_file(const std::string& path);

}  // namespace qkv
