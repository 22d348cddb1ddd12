#include "core/tokenizer.h"

#include <cctype>

namespace qkv {
namespace {

// Length in bytes of the UTF-8 sequence that starts with byte c (1 for invalid lead bytes).
int utf8_length(unsigned char c) {
  if (c >= 0xF8) return 1;
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

uint32_t decode_code_point(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i])); };
  switch (s.size()) {
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    case 4:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    default:
      return b(0);
  }
}

// CJK ideographs, kana, hangul and full-width punctuation: languages written without spaces.
bool stands_alone(uint32_t cp) {
  return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFF00 && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x2FFFF);
}

// The special token written at text[pos], if any.
std::string_view special_at(std::string_view text, size_t pos) {
  for (std::string_view special : {kPad, kBos, kEos})
    if (text.substr(pos, special.size()) == special) return special;
  return {};
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text, TokenizerKind kind) {
  std::vector<std::string> tokens;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    if (const std::string_view special = special_at(text, pos); !special.empty()) {
      flush();
      tokens.emplace_back(special);
      pos += special.size();
      continue;
    }
    const int len = std::min<int>(utf8_length(static_cast<unsigned char>(text[pos])), static_cast<int>(text.size() - pos));
    const std::string_view ch = text.substr(pos, len);
    pos += len;
    if (kind == TokenizerKind::Chars) {
      tokens.emplace_back(ch);
      continue;
    }
    const auto c = static_cast<unsigned char>(ch[0]);
    if (len == 1 && std::isspace(c)) {
      flush();
    } else if (len == 1 && c == '\'' && !word.empty() && pos < text.size() && std::isalnum(static_cast<unsigned char>(text[pos]))) {
      word += ch;  // an apostrophe inside a word: didn't, it's
    } else if (len == 1 && std::ispunct(c)) {
      flush();
      tokens.emplace_back(ch);
    } else if (len == 3 && decode_code_point(ch) == 0x3000) {  // the ideographic space of CJK text
      flush();
    } else if (len > 1 && stands_alone(decode_code_point(ch))) {
      flush();
      tokens.emplace_back(ch);
    } else {
      word += ch;
    }
  }
  flush();
  return tokens;
}

Vocab::Vocab() {
  for (std::string_view special : {kPad, kBos, kEos}) add(std::string(special));
}

int Vocab::add(const std::string& token) {
  const auto [it, inserted] = index_.emplace(token, size());
  if (inserted) tokens_.push_back(token);
  return it->second;
}

int Vocab::id(const std::string& token) const {
  const auto it = index_.find(token);
  return it == index_.end() ? -1 : it->second;
}

}  // namespace qkv
