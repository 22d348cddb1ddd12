// QKV Lab core — weights in the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, "__metadata__": {...}}), then
// the raw little-endian tensors. Readers of untrusted files: every length and offset is checked.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/trace.h"

namespace qkv {

inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;  // 100 MiB, as the reference reader bounds it

using Metadata = std::map<std::string, std::string>;

std::string safetensors_bytes(const TensorMap&, const Metadata& metadata = {});
std::optional<Error> save_safetensors(const std::string& path, const TensorMap&, const Metadata& metadata = {});  // atomic

// F32, F16, BF16 and F64 (converted) tensors of 1 or 2 dimensions (1-D becomes [1, n]); anything malformed is an Error.
Result<TensorMap> parse_safetensors(std::string_view bytes, Metadata* metadata = nullptr);

// [SECTION] The file's index, for real checkpoints (core/pretrained.h): every entry of any dtype and rank, checked
// (dtype known, shape × item size = its byte range, ranges inside the data and not overlapping) but not converted.
enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2, Count };
const char* name(Dtype);
size_t item_bytes(Dtype);
bool is_float(Dtype);  // F64, F32, F16, BF16: converted to float32 by read_floats
struct SafetensorsEntry {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;  // [] is a scalar (one element)
  uint64_t begin = 0, end = 0;  // byte range in the data (after the header)
  uint64_t count = 1;           // elements
};
struct SafetensorsIndex {
  std::vector<SafetensorsEntry> entries;  // in the header's order
  Metadata metadata;
  std::string_view data;  // the bytes after the header (a view into the parsed bytes)
  const SafetensorsEntry* find(std::string_view name) const;
};
Result<SafetensorsIndex> index_safetensors(std::string_view bytes);
// Writes entry.count floats to out, converting F64/F16/BF16 (F16: IEEE half, subnormals and NaN payloads kept; BF16: the
// top 16 bits of a float32). The entry must be is_float.
void read_floats(const SafetensorsEntry& entry, std::string_view data, float* out);
// Half-precision bit patterns to float32, exactly.
float f16_to_float(uint16_t h);
float bf16_to_float(uint16_t b);
Result<TensorMap> load_safetensors(const std::string& path, Metadata* metadata = nullptr);

}  // namespace qkv
