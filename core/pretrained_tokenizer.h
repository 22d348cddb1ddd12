// QKV Lab core — the tokenizers of real checkpoints, read from a model folder as users download it:
//   GPT-2 byte-level BPE: vocab.json + merges.txt, or tokenizer.json ({"model": {"type": "BPE", ...}});
//   BERT WordPiece:       vocab.txt, or tokenizer.json ({"model": {"type": "WordPiece", ...}}), lower-casing and
//                         accent stripping from tokenizer_config.json / tokenizer.json (else the caller's hint).
// The vocabulary is fixed: every id is in [0, size()), nothing grows with the text (core/tokenizer.h's Vocab does,
// for the toy models). Files are untrusted: every limit is a named constant and every fault an Error{what, hint}.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace qkv {

enum class TokenizerFamily { ByteLevelBPE, WordPiece };

// Limits on a model folder's tokenizer files (README "Limits on untrusted files").
inline constexpr int kMaxVocabEntries = 1 << 20;          // ids in a vocabulary
inline constexpr int kMaxMerges = 1 << 20;                // merge rules
inline constexpr size_t kMaxVocabPieceBytes = 1024;       // one vocabulary string
inline constexpr int kMaxWordPieceChars = 100;            // BERT: a longer word is [UNK] (as BERT's own tokenizer)
inline constexpr int kMaxBertPositions = 512;             // BERT: [CLS] … [SEP] is cut to this many tokens

// What the model's config.json says that the tokenizer files may not (they win when they say it).
struct TokenizerHints {
  TokenizerFamily family = TokenizerFamily::ByteLevelBPE;
  bool lowercase = true;   // WordPiece: lower-case and strip accents ("uncased"); ignored for BPE
  int max_positions = 0;   // 0: no limit; encode_for_model cuts to this many ids
};

// One token of a text, as learners read it.
struct TokenPiece {
  int id = -1;
  std::string raw;      // the vocabulary's string, as stored (GPT-2: "Ġthe", BERT: "##ing")
  std::string display;  // for the screen: GPT-2's Ġ as "␣", bytes that are not whole UTF-8 characters as "<E4 BD>",
                        // BERT's "##ing" as "ing" (continues_word tells the view to join it to the token before)
  bool continues_word = false;  // BERT "##" continuation
  bool special = false;         // <|endoftext|>, [CLS], [SEP], [MASK], [PAD], [UNK]
};

class PretrainedTokenizer {
 public:
  // Reads the tokenizer files of `dir` (see the top of this file). An Error names the file and what is wrong.
  static Result<std::shared_ptr<const PretrainedTokenizer>> load(const std::string& dir, const TokenizerHints& hints);
  // The same from the files' contents already in memory, by file name ("vocab.json", "merges.txt", "tokenizer.json",
  // "tokenizer_config.json", "vocab.txt"); load() reads the folder's files (core/files.h read_file) and calls this.
  // The fuzz target drives this one.
  static Result<std::shared_ptr<const PretrainedTokenizer>> from_files(const std::map<std::string, std::string>& files,
                                                                      const TokenizerHints& hints);
  virtual ~PretrainedTokenizer() = default;

  TokenizerFamily family() const { return family_; }
  int size() const { return static_cast<int>(pieces_.size()); }
  const std::string& piece(int id) const { return pieces_.at(static_cast<size_t>(id)); }  // raw vocabulary string
  int id(std::string_view piece) const;                                                  // −1 when absent

  // The text's ids, no special tokens added. Any bytes are accepted: GPT-2 encodes invalid UTF-8 byte by byte (decode
  // gives the same bytes back); WordPiece reads each invalid byte as U+FFFD. Special tokens written in the text
  // ("<|endoftext|>", "[MASK]", "[SEP]" …) become their one id.
  virtual std::vector<int> encode(std::string_view text) const = 0;
  // What the model reads: GPT-2 the ids alone; BERT [CLS] ids [SEP], cut to hints.max_positions.
  virtual std::vector<int> encode_for_model(std::string_view text) const = 0;
  // The bytes the ids stand for (GPT-2: exactly the encoded bytes; BERT: pieces joined, "##" removed, spaces between words).
  virtual std::string decode(const std::vector<int>& ids) const = 0;
  virtual TokenPiece describe(int id) const = 0;

  // Special ids, −1 when the vocabulary has none.
  int bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1, cls_id = -1, sep_id = -1, mask_id = -1;

 protected:
  TokenizerFamily family_ = TokenizerFamily::ByteLevelBPE;
  std::vector<std::string> pieces_;  // id -> raw string

  // piece -> id, looked up with a string_view (no copy per lookup: WordPiece tries many substrings of each word).
  struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int, PieceHash, std::equal_to<>> index_;
  void index_pieces();  // fills index_ from pieces_ (whose strings are unique)
};

// [SECTION] Between from_files and the families (not for callers). from_files reads the files into a TokenizerSource,
// checking what every vocabulary shares (dense ids, limits); each family checks its own rules and builds itself:
// core/bpe_tokenizer.cpp, core/wordpiece_tokenizer.cpp.
namespace tokenizer_detail {

struct MergeRule {
  std::string left, right;
  int line = 0;  // merges.txt: the file's line (1-based); tokenizer.json: the rule's place in model.merges (1-based)
};
struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;
};
struct TokenizerSource {
  std::string vocab_file;   // the file the vocabulary came from, named in messages: vocab.json, vocab.txt, tokenizer.json
  std::string merges_file;  // merges.txt or tokenizer.json
  std::vector<std::string> pieces;  // id -> string, dense; added tokens included
  std::vector<MergeRule> merges;    // in rank order
  std::vector<AddedToken> added;    // tokenizer.json's added_tokens (their ids are in pieces)
  // WordPiece: what the files say (unset: they say nothing).
  std::optional<bool> lowercase, strip_accents, handle_chinese_chars, clean_text;
  std::string unk_token = "[UNK]";       // i18n: name
  std::string continuing_prefix = "##";  // i18n: name
};

// Bytes of the valid UTF-8 sequence that starts text[i] (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), 0 when none starts there; *code_point gets its code point.
int utf8_sequence_at(std::string_view text, size_t i, uint32_t* code_point = nullptr);
// The special tokens written in a text ("<|endoftext|>", "[MASK]" …): the leftmost, the longest where several start at
// the same byte (HF splits them out before any other step).
class SpecialTokens {
 public:
  SpecialTokens() = default;
  explicit SpecialTokens(std::vector<std::pair<std::string, int>> tokens);  // (text as written, id)
  struct Match {
    size_t at = std::string_view::npos;  // npos: none from `from` on
    size_t length = 0;
    int id = -1;
  };
  Match find(std::string_view text, size_t from) const;
  // The text's ids: each special token as its one id, the text between them through `ordinary` (text, ids).
  template <typename Ordinary>
  std::vector<int> encode_around(std::string_view text, size_t reserve, const Ordinary& ordinary) const {
    std::vector<int> ids;
    ids.reserve(reserve);
    for (size_t pos = 0; pos < text.size();) {
      const Match special = find(text, pos);
      const size_t end = special.at == std::string_view::npos ? text.size() : special.at;
      ordinary(text.substr(pos, end - pos), ids);
      if (special.at == std::string_view::npos) break;
      ids.push_back(special.id);
      pos = special.at + special.length;
    }
    return ids;
  }

 private:
  std::vector<std::pair<std::string, int>> tokens_;    // longest first
  std::array<std::vector<int>, 256> starting_with_{};  // first byte -> indices into tokens_
};

// A piece as quoted in a message: at most a few dozen bytes, cut at a character boundary.
std::string shown_piece(std::string_view piece);

Result<std::shared_ptr<const PretrainedTokenizer>> make_byte_level_bpe(TokenizerSource source, const TokenizerHints& hints);
Result<std::shared_ptr<const PretrainedTokenizer>> make_wordpiece(TokenizerSource source, const TokenizerHints& hints);

}  // namespace tokenizer_detail

}  // namespace qkv
