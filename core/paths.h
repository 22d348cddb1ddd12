// QKV Lab core — trace paths, built and taken apart in one place (the names of tensors, exports and lesson targets).
//   paths::block("decoder", 1, paths::kCross)   -> "decoder.1.cross_attn"
//   paths::head("decoder.1.cross_attn", 2)      -> "decoder.1.cross_attn.head.2"
//   paths::join(head, "P")                      -> "decoder.1.cross_attn.head.2.P"
//   paths::grad("encoder.0.self_attn.W_Q")      -> "dL/dencoder.0.self_attn.W_Q"
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qkv::paths {

inline constexpr std::string_view kSelf = "self_attn";
inline constexpr std::string_view kCross = "cross_attn";
inline constexpr std::string_view kFFN = "ffn";
inline constexpr std::string_view kGradPrefix = "dL/d";

inline std::string join(std::string_view prefix, std::string_view name) {
  std::string out;
  out.reserve(prefix.size() + 1 + name.size());
  out.append(prefix);
  if (!prefix.empty() && !name.empty()) out += '.';
  out.append(name);
  return out;
}
// "encoder.0"
inline std::string layer(std::string_view stack, int l) { return join(stack, std::to_string(l)); }
// "encoder.0.self_attn", "decoder.1.cross_attn", "decoder.1.ffn"
inline std::string block(std::string_view stack, int l, std::string_view kind) { return join(layer(stack, l), kind); }
inline std::string block(std::string_view stack, int l, bool cross) { return block(stack, l, cross ? kCross : kSelf); }
// "<block>.head.i"
inline std::string head(std::string_view block_path, int i) { return join(join(block_path, "head"), std::to_string(i)); }
// "<block>.head.i.<tensor>"
inline std::string head_tensor(std::string_view block_path, int i, std::string_view tensor) { return join(head(block_path, i), tensor); }
// The gradient's name beside a tensor: "dL/d<path>".
inline std::string grad(std::string_view path) { return std::string(kGradPrefix) + std::string(path); }
inline bool is_grad(std::string_view path) { return path.substr(0, kGradPrefix.size()) == kGradPrefix; }
inline bool ends_with(std::string_view path, std::string_view tail) {
  return path.size() >= tail.size() && path.substr(path.size() - tail.size()) == tail;
}

// A per-head tensor's path taken apart: "<block>.head.<index>.<tensor>" (tensor may be empty: the head itself).
struct HeadAddress {
  std::string block;   // e.g. "encoder.0.self_attn" (with any "batch.<b>." or "decode." prefix it had)
  int index = -1;      // head number
  std::string tensor;  // e.g. "P", "S_scaled", "" for the head's own path
};
inline std::optional<HeadAddress> parse_head(std::string_view path) {
  const size_t at = path.rfind(".head.");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = path.substr(at + 6);
  const size_t dot = rest.find('.');
  const std::string_view digits = rest.substr(0, dot);
  if (digits.empty() || digits.size() > 6) return std::nullopt;
  int index = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    index = index * 10 + (ch - '0');
  }
  return HeadAddress{std::string(path.substr(0, at)), index, dot == std::string_view::npos ? std::string() : std::string(rest.substr(dot + 1))};
}

}  // namespace qkv::paths
