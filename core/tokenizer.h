// QKV Lab core — tokenizers (words+punctuation, characters) and the vocabulary.
#pragma once

#include <memory>
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

// The toy models' vocabulary: special tokens first ([PAD]=0, [BOS]=1, [EOS]=2), then every other token in order of
// first appearance. A real checkpoint's vocabulary is fixed (Vocab::fixed): its pieces in id order, with how each is shown.
// Copies share the tables until one of them adds a token (a 50,257-piece vocabulary is copied by every run).
class Vocab {
 public:
  Vocab();
  // A fixed vocabulary: tokens[id] is the piece as stored, display[id] as the screen shows it (empty: the same).
  static Vocab fixed(std::vector<std::string> tokens, std::vector<std::string> display, int pad_id);
  int add(const std::string& token);       // returns its id (existing or new)
  int id(const std::string& token) const;  // -1 if absent
  const std::string& token(int id) const { return data_->tokens.at(id); }
  const std::string& display(int id) const { return data_->display.empty() ? token(id) : data_->display.at(id); }
  int size() const { return static_cast<int>(data_->tokens.size()); }
  const std::vector<std::string>& tokens() const { return data_->tokens; }
  int pad_id() const { return data_->pad_id; }  // −1: none (GPT-2)
  static constexpr int kPadId = 0, kBosId = 1, kEosId = 2;

 private:
  struct Data {
    std::vector<std::string> tokens;
    std::vector<std::string> display;  // empty, or one per token
    std::unordered_map<std::string, int> index;
    int pad_id = kPadId;
  };
  std::shared_ptr<Data> data_;
};

}  // namespace qkv
