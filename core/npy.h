// QKV Lab core — NumPy .npy files (format version 1.0), so any tensor loads with numpy.load.
#pragma once

#include <string>
#include <string_view>

#include "core/tensor.h"

namespace qkv {

// The bytes of a little-endian float32 C-order .npy holding M with shape (rows, cols).
std::string npy_bytes(const MatRef& M);
std::optional<Error> write_npy(const std::string& path, const MatRef& M);  // atomic

// Reads a float32 ('<f4') or float64 ('<f8', converted) array of 1 or 2 dimensions (1-D becomes [1, n]).
// A truncated or malformed file gives an Error, never a crash.
Result<Mat> parse_npy(std::string_view bytes);
Result<Mat> read_npy(const std::string& path);

}  // namespace qkv
