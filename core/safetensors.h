// QKV Lab core — weights in the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, "__metadata__": {...}}), then
// the raw little-endian tensors. Readers of untrusted files: every length and offset is checked.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/trace.h"

namespace qkv {

inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;  // 100 MiB, as the reference reader bounds it

using Metadata = std::map<std::string, std::string>;

std::string safetensors_bytes(const TensorMap&, const Metadata& metadata = {});
std::optional<Error> save_safetensors(const std::string& path, const TensorMap&, const Metadata& metadata = {});  // atomic

// F32 and F64 (converted) tensors of 1 or 2 dimensions (1-D becomes [1, n]); anything malformed is an Error.
Result<TensorMap> parse_safetensors(std::string_view bytes, Metadata* metadata = nullptr);
Result<TensorMap> load_safetensors(const std::string& path, Metadata* metadata = nullptr);

}  // namespace qkv
