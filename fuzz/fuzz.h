// QKV Lab fuzz targets — what every target shares. Each target is one file, <name>_fuzz.cpp, defining
// LLVMFuzzerTestOneInput over one parser of untrusted input; built by libFuzzer with -DQKVLAB_FUZZ=ON (clang), and by
// replay_main.cpp into a replayer that runs fuzz/regressions/<name>/ and fuzz/seeds/<name>/ in the normal test suite.
// A target returns 0 when the parser gave a value or an Error, and calls violated() — which aborts, so that libFuzzer
// keeps the input — when a promise is broken (an Error without a message, a saved value that does not load back …).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::fuzz {

[[noreturn]] inline void violated(const std::string& promise) {
  std::fprintf(stderr, "fuzz: broken promise: %s\n", promise.c_str());
  std::abort();
}

// True when the parser refused the input (and then it must say why): the target has nothing more to check.
template <typename R>
bool refused(const R& result) {
  if (result) return false;
  if (result.error().what.empty()) violated("an Error says what is wrong");
  return true;
}

inline std::string_view text_of(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// The model-folder targets' inputs: files and texts as sections separated by "\n#--#\n" (at least one section).
inline std::vector<std::string_view> sections_of(std::string_view input) {
  constexpr std::string_view kSeparator = "\n#--#\n";
  std::vector<std::string_view> sections;
  for (size_t start = 0;;) {
    const size_t end = input.find(kSeparator, start);
    if (end == std::string_view::npos) {
      sections.push_back(input.substr(start));
      return sections;
    }
    sections.push_back(input.substr(start, end - start));
    start = end + kSeparator.size();
  }
}

// A tokenizer file's name: the section when it is one of them, else one picked by its first byte.
inline std::string tokenizer_file_name(std::string_view section) {
  // i18n: names begin
  constexpr const char* kNames[] = {"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "vocab.txt"};
  // i18n: names end
  for (const char* name : kNames)
    if (section == name) return name;
  return kNames[section.empty() ? 0 : static_cast<unsigned char>(section[0]) % std::size(kNames)];
}

// Bytes of the valid UTF-8 sequence that starts text[i] (RFC 3629: no overlongs, no surrogates, nothing past
// U+10FFFF), or 0 when none starts there.
inline int utf8_sequence_at(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  int length = 0;
  unsigned min = 0, cp = 0;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) length = 2, cp = b & 0x1F, min = 0x80;
  else if ((b & 0xF0) == 0xE0) length = 3, cp = b & 0x0F, min = 0x800;
  else if ((b & 0xF8) == 0xF0) length = 4, cp = b & 0x07, min = 0x10000;
  else return 0;
  if (i + length > text.size()) return 0;
  for (int k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

// text with each byte that does not begin a valid sequence replaced by U+FFFD, on its own.
inline std::string repaired_utf8(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const int length = utf8_sequence_at(text, i);
    if (length == 0) out += "\xEF\xBF\xBD", i += 1;
    else out.append(text.substr(i, length)), i += length;
  }
  return out;
}

// Code points in text when it is valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF); −1 if not.
inline long utf8_code_points(std::string_view text) {
  long count = 0;
  for (size_t i = 0; i < text.size(); ++count) {
    const int length = utf8_sequence_at(text, i);
    if (length == 0) return -1;
    i += length;
  }
  return count;
}

}  // namespace qkv::fuzz
