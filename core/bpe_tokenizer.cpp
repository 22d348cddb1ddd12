// QKV Lab core — GPT-2's byte-level BPE (Radford et al. 2019; openai/gpt-2 encoder.py, HF tokenizers' ByteLevel + BPE).
//   encode: special tokens written in the text → their id; the rest is split by the pre-tokenizer pattern into pieces;
//           each piece's UTF-8 bytes → byte symbols (bytes_to_unicode) → merged by rank → vocabulary ids.
//   decode: each id's string → code points → the bytes they stand for; nothing is validated, so any bytes come back.
// Invalid UTF-8 (our own rule: HF never sees it): every maximal run of bytes where no valid UTF-8 character starts is a
// piece of its own, encoded byte by byte like any other; the valid stretches around it go through the pattern.
//
// [SECTION] index: byte symbols · BpeTokenizer · pre-tokenizer · merges · decode / describe · make_byte_level_bpe
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <mutex>
#include <queue>

#include "core/i18n.h"
#include "core/pretrained_tokenizer.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;
using namespace tokenizer_detail;

namespace {

// The pre-tokenizer of GPT-2 (encoder.py): contractions, letters, numbers, other symbols, each with one optional space
// before; whitespace runs leave their last space to the word after them. Case-sensitive ("'S" is not a contraction).
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";  // i18n: name
constexpr std::string_view kEndOfText = "<|endoftext|>";  // i18n: name
constexpr size_t kMaxCachedPieceBytes = 64;  // pieces longer than this are merged afresh each time
constexpr size_t kMaxCachedPieces = 1 << 16;  // the cache starts over when it holds this many pieces

// [SECTION] byte symbols
// bytes_to_unicode: the 188 printable bytes (! … ~, ¡ … ¬, ® … ÿ) stand for themselves; the other 68 (0–32, 127–160,
// 173), in increasing order, for U+0100, U+0101, …  So space is "Ġ" (U+0120) and "\n" is "Ċ" (U+010A).
struct ByteSymbols {
  std::array<std::string, 256> utf8;  // byte -> its symbol, as UTF-8
  std::array<int, 324> byte_of;       // code point -> byte, −1 for a code point that is no byte's symbol
  ByteSymbols() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      byte_of[cp] = b;
      // Every symbol is below U+0800: two UTF-8 bytes at most.
      utf8[static_cast<size_t>(b)] = cp < 0x80 ? std::string(1, static_cast<char>(cp))
                                              : std::string{static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    }
  }
};
const ByteSymbols& byte_symbols() {
  static const ByteSymbols table;
  return table;
}

const icu::RegexPattern* gpt2_pattern() {
  static const std::unique_ptr<icu::RegexPattern> pattern = [] {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexPattern> p(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(kGpt2Pattern), 0, status));
    return U_SUCCESS(status) ? std::move(p) : nullptr;
  }();
  return pattern.get();
}

// How a text shows a token's bytes: "␣" for a space, "↵" a newline, "⇥" a tab; a character that draws nothing (controls,
// format characters, other spaces, unassigned) and every run of bytes that is not whole UTF-8 as hex, "<E4 BD>".
std::string displayed(std::string_view bytes) {
  std::string out;
  const auto hex = [&](std::string_view run) {
    out += '<';
    for (size_t k = 0; k < run.size(); ++k) out += fmt::format("{}{:02X}", k == 0 ? "" : " ", static_cast<unsigned char>(run[k]));
    out += '>';
  };
  for (size_t i = 0; i < bytes.size();) {
    uint32_t cp = 0;
    const int length = utf8_sequence_at(bytes, i, &cp);
    if (length == 0) {
      size_t end = i + 1;
      while (end < bytes.size() && utf8_sequence_at(bytes, end) == 0) ++end;
      hex(bytes.substr(i, end - i));
      i = end;
      continue;
    }
    const std::string_view ch = bytes.substr(i, static_cast<size_t>(length));
    i += static_cast<size_t>(length);
    if (cp == ' ') out += "␣";        // i18n: name
    else if (cp == '\n') out += "↵";  // i18n: name
    else if (cp == '\t') out += "⇥";  // i18n: name
    else if ((U_GET_GC_MASK(static_cast<UChar32>(cp)) & (U_GC_C_MASK | U_GC_Z_MASK)) != 0) hex(ch);
    else out += ch;
  }
  return out;
}

// [SECTION] BpeTokenizer

struct MergeResult {
  int rank = 0;
  int id = 0;  // the merged symbol's id
};
uint64_t pair_key(int left, int right) { return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right); }

class BpeTokenizer final : public PretrainedTokenizer {
 public:
  static Result<std::shared_ptr<const PretrainedTokenizer>> make(TokenizerSource source, const TokenizerHints& hints);
  std::vector<int> encode(std::string_view text) const override;
  std::vector<int> encode_for_model(std::string_view text) const override;
  std::string decode(const std::vector<int>& ids) const override;
  TokenPiece describe(int id) const override;

 private:
  void encode_ordinary(std::string_view text, std::vector<int>& out) const;
  void split_valid(std::string_view text, std::vector<int>& out) const;
  void encode_piece(std::string_view piece, std::vector<int>& out) const;
  void merge(std::string_view piece, std::vector<int>& out) const;

  TokenizerHints hints_;
  std::array<int, 256> byte_id_{};                   // byte -> id of its symbol
  std::unordered_map<uint64_t, MergeResult> merges_;  // (left id, right id) -> rank and merged id
  std::vector<std::string> bytes_;                   // id -> the bytes it stands for
  std::vector<char> special_;                        // id -> added or special token (shown and decoded as written)
  SpecialTokens specials_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int>, PieceHash, std::equal_to<>> cache_;  // piece -> its ids
};

std::vector<int> BpeTokenizer::encode(std::string_view text) const {
  return specials_.encode_around(text, text.size() / 3 + 1, [this](std::string_view part, std::vector<int>& ids) { encode_ordinary(part, ids); });
}

std::vector<int> BpeTokenizer::encode_for_model(std::string_view text) const {
  std::vector<int> ids = encode(text);
  if (hints_.max_positions > 0 && ids.size() > static_cast<size_t>(hints_.max_positions)) ids.resize(static_cast<size_t>(hints_.max_positions));
  return ids;
}

// [SECTION] pre-tokenizer

// Valid UTF-8 stretches go through the pattern; each run of bytes between them is a piece of its own.
void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<int>& out) const {
  size_t i = 0;
  while (i < text.size()) {
    size_t valid_end = i;
    for (int length; valid_end < text.size() && (length = utf8_sequence_at(text, valid_end)) > 0;) valid_end += static_cast<size_t>(length);
    if (valid_end > i) split_valid(text.substr(i, valid_end - i), out);
    size_t invalid_end = valid_end;
    while (invalid_end < text.size() && utf8_sequence_at(text, invalid_end) == 0) ++invalid_end;
    if (invalid_end > valid_end) encode_piece(text.substr(valid_end, invalid_end - valid_end), out);
    i = invalid_end;
  }
}

// ICU matches in UTF-16; a cursor walks the UTF-8 text alongside (the matches come in order), so each match's UTF-16
// range becomes a byte range. Whatever the pattern leaves between matches (it matches every character, but a failed
// match must not lose bytes) is a piece too.
void BpeTokenizer::split_valid(std::string_view text, std::vector<int>& out) const {
  const icu::RegexPattern* pattern = gpt2_pattern();
  // The matcher keeps a reference to its input, not a copy: `utf16` must outlive it.
  const icu::UnicodeString utf16 = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::RegexMatcher> matcher(pattern == nullptr ? nullptr : pattern->matcher(utf16, status));
  if (matcher == nullptr || U_FAILURE(status)) {
    encode_piece(text, out);
    return;
  }
  int32_t unit = 0;  // cursor: UTF-16 index `unit` is byte `byte` of text
  size_t byte = 0;
  const auto byte_at = [&](int32_t target) {
    while (unit < target && byte < text.size()) {
      const int length = utf8_sequence_at(text, byte);
      byte += static_cast<size_t>(length);
      unit += length == 4 ? 2 : 1;
    }
    return byte;
  };
  size_t done = 0;  // bytes of text already encoded
  while (matcher->find(status) && U_SUCCESS(status)) {
    const int32_t start16 = matcher->start(status);
    const int32_t end16 = matcher->end(status);
    if (U_FAILURE(status)) break;
    const size_t start = byte_at(start16);
    const size_t end = byte_at(end16);
    if (start > done) encode_piece(text.substr(done, start - done), out);
    if (end > start) encode_piece(text.substr(start, end - start), out);
    done = std::max(done, end);
  }
  if (done < text.size()) encode_piece(text.substr(done), out);
}

// [SECTION] merges

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (piece.size() > kMaxCachedPieceBytes) {
    merge(piece, out);
    return;
  }
  {
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    if (const auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> ids;
  merge(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  const std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kMaxCachedPieces) cache_.clear();
  cache_.emplace(std::string(piece), std::move(ids));
}

// GPT-2's rule (encoder.py bpe()): while some adjacent pair has a rank, take the pair of lowest rank and merge all its
// non-overlapping occurrences, left to right. A heap of (rank, position) finds the pair; the occurrences of one pair are
// merged together before the pairs they make are considered, as encoder.py does.
void BpeTokenizer::merge(std::string_view piece, std::vector<int>& out) const {
  struct Symbol {
    int id, prev, next;  // id −1: merged into the symbol before it
  };
  struct Candidate {
    int rank, pos, left, right, result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const int n = static_cast<int>(piece.size());
  std::vector<Symbol> symbols(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) symbols[static_cast<size_t>(i)] = {byte_id_[static_cast<unsigned char>(piece[static_cast<size_t>(i)])], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto consider = [&](int pos) {  // the pair that starts at symbol pos, if it has a rank
    if (pos < 0) return;
    const Symbol& s = symbols[static_cast<size_t>(pos)];
    if (s.next < 0) return;
    const int right = symbols[static_cast<size_t>(s.next)].id;
    if (const auto it = merges_.find(pair_key(s.id, right)); it != merges_.end()) heap.push({it->second.rank, pos, s.id, right, it->second.id});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  std::vector<int> merged;
  while (!heap.empty()) {
    const int rank = heap.top().rank;
    merged.clear();
    while (!heap.empty() && heap.top().rank == rank) {  // one pair's occurrences, left to right
      const Candidate c = heap.top();
      heap.pop();
      Symbol& s = symbols[static_cast<size_t>(c.pos)];
      if (s.id != c.left || s.next < 0 || symbols[static_cast<size_t>(s.next)].id != c.right) continue;  // gone
      Symbol& right = symbols[static_cast<size_t>(s.next)];
      s.id = c.result;
      right.id = -1;
      s.next = right.next;
      if (s.next >= 0) symbols[static_cast<size_t>(s.next)].prev = c.pos;
      merged.push_back(c.pos);
    }
    for (const int pos : merged) {
      consider(symbols[static_cast<size_t>(pos)].prev);
      consider(pos);
    }
  }
  for (int i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) out.push_back(symbols[static_cast<size_t>(i)].id);
}

// [SECTION] decode / describe

std::string BpeTokenizer::decode(const std::vector<int>& ids) const {
  std::string out;
  for (const int id : ids)
    if (id >= 0 && id < size()) out += bytes_[static_cast<size_t>(id)];
  return out;
}

TokenPiece BpeTokenizer::describe(int id) const {
  TokenPiece p;
  p.id = id;
  if (id < 0 || id >= size()) return p;
  p.raw = pieces_[static_cast<size_t>(id)];
  p.special = special_[static_cast<size_t>(id)] != 0;
  p.display = p.special ? p.raw : displayed(bytes_[static_cast<size_t>(id)]);
  return p;
}

// [SECTION] make_byte_level_bpe

Result<std::shared_ptr<const PretrainedTokenizer>> BpeTokenizer::make(TokenizerSource source, const TokenizerHints& hints) {
  auto t = std::make_shared<BpeTokenizer>();
  t->family_ = TokenizerFamily::ByteLevelBPE;
  t->hints_ = hints;
  t->pieces_ = std::move(source.pieces);
  t->index_pieces();
  const ByteSymbols& symbols = byte_symbols();
  for (int b = 0; b < 256; ++b) {
    t->byte_id_[static_cast<size_t>(b)] = t->id(symbols.utf8[static_cast<size_t>(b)]);
    if (t->byte_id_[static_cast<size_t>(b)] < 0)
      return Error{trf("core.tokenizer.missing_byte_symbol", arg("file", source.vocab_file), arg("byte", fmt::format("0x{:02X}", b)),
                       arg("symbol", symbols.utf8[static_cast<size_t>(b)])),
                   tr("core.tokenizer.hint_byte_level")};
  }
  // Ranks: a rule's place in the list; a rule written twice keeps its last place (as encoder.py's dict and HF do).
  t->merges_.reserve(source.merges.size());
  // merges.txt's rules are named by their line; tokenizer.json's by their place in model.merges.
  const bool in_json = source.merges_file == "tokenizer.json";  // i18n: name
  const char* unknown_piece = in_json ? "core.tokenizer.merge_unknown_piece_entry" : "core.tokenizer.merge_unknown_piece";
  const char* unknown_result = in_json ? "core.tokenizer.merge_unknown_result_entry" : "core.tokenizer.merge_unknown_result";
  std::string joined;
  for (size_t rank = 0; rank < source.merges.size(); ++rank) {
    const MergeRule& rule = source.merges[rank];
    const int left = t->id(rule.left), right = t->id(rule.right);
    for (const auto& [piece, id] : {std::pair{&rule.left, left}, std::pair{&rule.right, right}})
      if (id < 0)
        return Error{trf(unknown_piece, arg("file", source.merges_file), arg("line", rule.line), arg("piece", shown_piece(*piece))),
                     tr("core.tokenizer.hint_same_download")};
    joined = rule.left + rule.right;
    const int result = t->id(joined);
    if (result < 0)
      return Error{trf(unknown_result, arg("file", source.merges_file), arg("line", rule.line), arg("piece", shown_piece(joined))),
                   tr("core.tokenizer.hint_same_download")};
    t->merges_[pair_key(left, right)] = {static_cast<int>(rank), result};
  }
  // What each id stands for: its symbols back to bytes (a character that is no byte's symbol stands for itself).
  t->bytes_.resize(t->pieces_.size());
  for (size_t id = 0; id < t->pieces_.size(); ++id) {
    const std::string& piece = t->pieces_[id];
    for (size_t i = 0; i < piece.size();) {
      uint32_t cp = 0;
      const int decoded = utf8_sequence_at(piece, i, &cp);
      const size_t length = decoded > 0 ? static_cast<size_t>(decoded) : 1;
      if (decoded > 0 && cp < symbols.byte_of.size() && symbols.byte_of[cp] >= 0) t->bytes_[id] += static_cast<char>(symbols.byte_of[cp]);
      else t->bytes_[id].append(piece, i, length);
      i += length;
    }
  }
  // Added tokens (and <|endoftext|>) written in the text are their id, and decode as written. One that the merges can
  // make (or a byte symbol) and that is written with symbols of other bytes ("Ġx") would then decode two ways: it stays
  // an ordinary piece, so that decode(encode(text)) == text holds for every text.
  std::vector<char> made_by_merges(t->pieces_.size(), 0);
  for (const int id : t->byte_id_) made_by_merges[static_cast<size_t>(id)] = 1;
  for (const auto& [pair, merge] : t->merges_) made_by_merges[static_cast<size_t>(merge.id)] = 1;
  t->special_.assign(t->pieces_.size(), 0);
  std::vector<std::pair<std::string, int>> specials;
  const auto add_special = [&](const std::string& content, int id) {
    if (t->special_[static_cast<size_t>(id)] != 0) return;
    t->special_[static_cast<size_t>(id)] = 1;
    if (made_by_merges[static_cast<size_t>(id)] != 0 && t->bytes_[static_cast<size_t>(id)] != content) return;
    t->bytes_[static_cast<size_t>(id)] = content;
    specials.emplace_back(content, id);
  };
  for (const AddedToken& token : source.added) add_special(token.content, token.id);
  if (const int eot = t->id(kEndOfText); eot >= 0) {
    t->bos_id = t->eos_id = eot;
    add_special(std::string(kEndOfText), eot);
  }
  t->specials_ = SpecialTokens(std::move(specials));
  if (gpt2_pattern() == nullptr) return Error{tr("core.tokenizer.no_pattern"), tr("core.tokenizer.hint_icu")};
  return std::shared_ptr<const PretrainedTokenizer>(std::move(t));
}

}  // namespace

namespace tokenizer_detail {

Result<std::shared_ptr<const PretrainedTokenizer>> make_byte_level_bpe(TokenizerSource source, const TokenizerHints& hints) {
  return BpeTokenizer::make(std::move(source), hints);
}

}  // namespace tokenizer_detail
}  // namespace qkv
