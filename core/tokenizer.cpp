#include "core/tokenizer.h"

#include <cctype>

namespace qkv {
namespace {

// U+FFFD, which stands for each byte that does not begin a valid UTF-8 sequence.
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// One character of UTF-8 text: its bytes and code point, or (invalid) one byte standing for U+FFFD. Invalid: a stray
// continuation byte, a lead byte without its continuation bytes, an overlong form, a surrogate, or beyond U+10FFFF — so
// a bad byte never swallows the spaces or the "[" of a special token after it.
struct Utf8Char {
  std::string_view bytes;
  uint32_t code_point = 0;
  bool valid = true;
};
Utf8Char next_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(text[i])); };
  const uint32_t c = byte(pos);
  const Utf8Char invalid{text.substr(pos, 1), 0xFFFD, false};
  if (c < 0x80) return {text.substr(pos, 1), c, true};
  const size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || pos + len > text.size()) return invalid;
  uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < len; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return invalid;
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return invalid;
  return {text.substr(pos, len), cp, true};
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
    const Utf8Char u = next_utf8(text, pos);
    pos += u.bytes.size();
    const std::string_view ch = u.valid ? u.bytes : kReplacement;
    const size_t len = ch.size();
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
    } else if (u.code_point == 0x3000) {  // the ideographic space of CJK text
      flush();
    } else if (len > 1 && stands_alone(u.code_point)) {
      flush();
      tokens.emplace_back(ch);
    } else {
      word += ch;
    }
  }
  flush();
  return tokens;
}

Vocab::Vocab() : data_(std::make_shared<Data>()) {
  for (std::string_view special : {kPad, kBos, kEos}) add(std::string(special));
}

Vocab Vocab::fixed(std::vector<std::string> tokens, std::vector<std::string> display, int pad_id) {
  Vocab v;
  v.data_ = std::make_shared<Data>();
  v.data_->tokens = std::move(tokens);
  v.data_->display = display.size() == v.data_->tokens.size() ? std::move(display) : std::vector<std::string>{};
  v.data_->pad_id = pad_id;
  v.data_->index.reserve(v.data_->tokens.size());
  for (size_t id = 0; id < v.data_->tokens.size(); ++id) v.data_->index.emplace(v.data_->tokens[id], static_cast<int>(id));
  return v;
}

int Vocab::add(const std::string& token) {
  if (const int existing = id(token); existing >= 0) return existing;
  if (data_.use_count() > 1) data_ = std::make_shared<Data>(*data_);  // the first change of a copy
  const int id = size();
  data_->index.emplace(token, id);
  data_->tokens.push_back(token);
  if (!data_->display.empty()) data_->display.push_back(token);
  return id;
}

int Vocab::id(const std::string& token) const {
  const auto it = data_->index.find(token);
  return it == data_->index.end() ? -1 : it->second;
}

}  // namespace qkv
