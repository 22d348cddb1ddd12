// QKV Lab core — tokenizers (words+punctuation, characters) and the vocabulary.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.h"

namespace qkv {

inline constexpr std::string_view kPad = "[PAD]";
inline constexpr std::string_view kBos = "[BOS]";
inline constexpr std::string_view kEos = "[EOS]";

// Words: whitespace separates, each punctuation mark is its own token, an apostrophe inside a word stays
// (didn't), each CJK character is its own token, and [PAD] [BOS] [EOS] are recognised as written.
// Chars: every UTF-8 code point is a token (spaces included); special tokens are still recognised.
std::vector<std::string> tokenize(std::string_view text, TokenizerKind kind);

// Special tokens first ([PAD]=0, [BOS]=1, [EOS]=2), then every other token in order of first appearance.
class Vocab {
 public:
  Vocab();
  int add(const std::string& token);       // returns its id (existing or new)
  int id(const std::string& token) const;  // -1 if absent
  const std::string& token(int id) const { return tokens_.at(id); }
  int size() const { return static_cast<int>(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }
  static constexpr int kPadId = 0, kBosId = 1, kEosId = 2;

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> index_;
};

}  // namespace qkv
