// QKV Lab core — BERT's WordPiece (Devlin et al. 2018; transformers' BasicTokenizer + WordpieceTokenizer, HF tokenizers'
// BertNormalizer + BertPreTokenizer + WordPiece). encode, in the reference's order:
//   0. special tokens written in the text ([CLS] [SEP] [MASK] [PAD] [UNK], tokenizer.json's added tokens) → their id;
//   1. clean: drop U+0000, U+FFFD and every "C*" character except \t \n \r; whitespace (\t \n \r, " ", Zs) → " ";
//   2. a space either side of every CJK ideograph;  3. NFC;  4. split at whitespace;
//   5. per word: lower-case (full Unicode mapping) and strip accents (NFD, drop Mn), as the files say;
//   6. every punctuation character (ASCII ! … / : … @ [ … ` { … ~, or Unicode P*) a word of its own;
//   7. greedy longest match from the left, "##" before every piece but the first; a word with a part no piece matches,
//      or longer than kMaxWordPieceChars code points, is one [UNK].
// Invalid UTF-8 bytes are read as U+FFFD, which step 1 drops.
//
// [SECTION] index: characters · WordPieceTokenizer · the steps · wordpiece · decode / describe · make_wordpiece
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "core/i18n.h"
#include "core/pretrained_tokenizer.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;
using namespace tokenizer_detail;

namespace {

// i18n: names begin
constexpr const char* kBertSpecials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
// i18n: names end

// [SECTION] characters

bool is_control(UChar32 c) { return c != '\t' && c != '\n' && c != '\r' && (U_GET_GC_MASK(c) & U_GC_C_MASK) != 0; }
bool is_whitespace(UChar32 c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || u_charType(c) == U_SPACE_SEPARATOR; }
// Python's str.split() separators, which step 4 uses: the White_Space property and the information separators.
bool splits_words(UChar32 c) { return u_isUWhiteSpace(c) || (c >= 0x1C && c <= 0x1F); }
bool is_punctuation(UChar32 c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) || (U_GET_GC_MASK(c) & U_GC_P_MASK) != 0;
}
bool is_cjk_ideograph(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::u32string code_points(const icu::UnicodeString& s) {
  std::u32string out;
  out.reserve(static_cast<size_t>(s.length()));
  for (int32_t i = 0; i < s.length(); i = s.moveIndex32(i, 1)) out += static_cast<char32_t>(s.char32At(i));
  return out;
}
icu::UnicodeString unicode(const std::u32string& s) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
}

// NFD, then without the non-spacing marks: "Héllo" → "Hello".
icu::UnicodeString stripped_of_accents(const icu::UnicodeString& word) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) return word;
  const icu::UnicodeString decomposed = nfd->normalize(word, status);
  if (U_FAILURE(status)) return word;
  icu::UnicodeString out;
  for (int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1)) {
    const UChar32 c = decomposed.char32At(i);
    if (u_charType(c) != U_NON_SPACING_MARK) out.append(c);
  }
  return out;
}

// [SECTION] WordPieceTokenizer

class WordPieceTokenizer final : public PretrainedTokenizer {
 public:
  static Result<std::shared_ptr<const PretrainedTokenizer>> make(TokenizerSource source, const TokenizerHints& hints);
  std::vector<int> encode(std::string_view text) const override;
  std::vector<int> encode_for_model(std::string_view text) const override;
  std::string decode(const std::vector<int>& ids) const override;
  TokenPiece describe(int id) const override;

 private:
  void encode_ordinary(std::string_view text, std::vector<int>& out) const;
  void word_pieces(const std::u32string& word, std::vector<int>& out) const;

  TokenizerHints hints_;
  bool lowercase_ = true, strip_accents_ = true, chinese_ = true, clean_ = true;
  std::string prefix_ = "##";  // i18n: name
  std::vector<char> special_;  // id -> a special or added token
  SpecialTokens specials_;
};

std::vector<int> WordPieceTokenizer::encode(std::string_view text) const {
  return specials_.encode_around(text, text.size() / 4 + 1, [this](std::string_view part, std::vector<int>& ids) { encode_ordinary(part, ids); });
}

// [CLS] ids [SEP], cut to max_positions with [SEP] kept last (as transformers truncates).
std::vector<int> WordPieceTokenizer::encode_for_model(std::string_view text) const {
  std::vector<int> ids;
  if (cls_id >= 0) ids.push_back(cls_id);
  const std::vector<int> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  if (sep_id >= 0) ids.push_back(sep_id);
  const size_t max = static_cast<size_t>(std::max(hints_.max_positions, 0));
  if (max > 0 && ids.size() > max) {
    ids.resize(max);
    if (sep_id >= 0) ids.back() = sep_id;
  }
  return ids;
}

// [SECTION] the steps

void WordPieceTokenizer::encode_ordinary(std::string_view text, std::vector<int>& out) const {
  // 1. clean, 2. CJK ideographs apart (on code points; an invalid byte is U+FFFD)
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0xFFFD;
    const int length = utf8_sequence_at(text, i, &cp);
    i += static_cast<size_t>(length > 0 ? length : 1);
    if (length == 0) cp = 0xFFFD;
    const auto c = static_cast<UChar32>(cp);
    if (clean_) {
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      if (is_whitespace(c)) {
        cleaned += U' ';
        continue;
      }
    }
    if (chinese_ && is_cjk_ideograph(c)) {
      cleaned += U' ';
      cleaned += static_cast<char32_t>(c);
      cleaned += U' ';
    } else {
      cleaned += static_cast<char32_t>(c);
    }
  }
  // 3. NFC
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  std::u32string normalized = cleaned;
  if (U_SUCCESS(status)) {
    const icu::UnicodeString composed = nfc->normalize(unicode(cleaned), status);
    if (U_SUCCESS(status)) normalized = code_points(composed);
  }
  // 4. whitespace, 5. case and accents, 6. punctuation, 7. pieces
  std::u32string word;
  const auto flush = [&] {
    if (!word.empty()) word_pieces(word, out);
    word.clear();
  };
  for (size_t i = 0; i < normalized.size();) {
    if (splits_words(static_cast<UChar32>(normalized[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < normalized.size() && !splits_words(static_cast<UChar32>(normalized[end]))) ++end;
    icu::UnicodeString token = unicode(normalized.substr(i, end - i));
    i = end;
    if (lowercase_) token.toLower(icu::Locale::getRoot());
    if (strip_accents_) token = stripped_of_accents(token);
    for (int32_t k = 0; k < token.length(); k = token.moveIndex32(k, 1)) {
      const UChar32 c = token.char32At(k);
      if (is_punctuation(c)) {
        flush();
        word += static_cast<char32_t>(c);
        flush();
      } else if (splits_words(c)) {  // lower-casing or NFD never makes one, but a word must not hold a space
        flush();
      } else {
        word += static_cast<char32_t>(c);
      }
    }
    flush();
  }
}

// [SECTION] wordpiece

void WordPieceTokenizer::word_pieces(const std::u32string& word, std::vector<int>& out) const {
  if (word.size() > static_cast<size_t>(kMaxWordPieceChars)) {
    out.push_back(unk_id);
    return;
  }
  std::string utf8;
  std::vector<size_t> offset;  // code point k starts at byte offset[k]
  for (const char32_t c : word) {
    offset.push_back(utf8.size());
    append_utf8(utf8, c);
  }
  offset.push_back(utf8.size());
  const size_t first = out.size();
  std::string candidate;
  for (size_t start = 0; start < word.size();) {
    int found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      candidate.assign(start > 0 ? prefix_ : std::string());
      candidate.append(utf8, offset[start], offset[end] - offset[start]);
      if ((found = id(candidate)) >= 0) break;
    }
    if (found < 0) {  // one part matches no piece: the whole word is [UNK]
      out.resize(first);
      out.push_back(unk_id);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

// [SECTION] decode / describe

std::string WordPieceTokenizer::decode(const std::vector<int>& ids) const {
  std::string out;
  for (const int id : ids) {
    if (id < 0 || id >= size()) continue;
    const std::string& piece = pieces_[static_cast<size_t>(id)];
    const bool continues = special_[static_cast<size_t>(id)] == 0 && piece.starts_with(prefix_) && !out.empty();
    if (continues) {
      out.append(piece, prefix_.size());
    } else {
      if (!out.empty()) out += ' ';
      out += piece;
    }
  }
  return out;
}

TokenPiece WordPieceTokenizer::describe(int id) const {
  TokenPiece p;
  p.id = id;
  if (id < 0 || id >= size()) return p;
  p.raw = pieces_[static_cast<size_t>(id)];
  p.special = special_[static_cast<size_t>(id)] != 0;
  p.continues_word = !p.special && !prefix_.empty() && p.raw.size() > prefix_.size() && p.raw.starts_with(prefix_);
  p.display = p.continues_word ? p.raw.substr(prefix_.size()) : p.raw;
  return p;
}

// [SECTION] make_wordpiece

Result<std::shared_ptr<const PretrainedTokenizer>> WordPieceTokenizer::make(TokenizerSource source, const TokenizerHints& hints) {
  auto t = std::make_shared<WordPieceTokenizer>();
  t->family_ = TokenizerFamily::WordPiece;
  t->hints_ = hints;
  t->pieces_ = std::move(source.pieces);
  t->index_pieces();
  t->unk_id = t->id(source.unk_token);
  if (t->unk_id < 0)
    return Error{trf("core.tokenizer.no_unk", arg("file", source.vocab_file), arg("unk", shown_piece(source.unk_token))),
                 tr("core.tokenizer.hint_wordpiece_vocab")};
  // The files' settings win over the caller's hint; strip_accents unset follows lowercase (BERT's rule).
  t->lowercase_ = source.lowercase.value_or(hints.lowercase);
  t->strip_accents_ = source.strip_accents.value_or(t->lowercase_);
  t->chinese_ = source.handle_chinese_chars.value_or(true);
  t->clean_ = source.clean_text.value_or(true);
  t->prefix_ = source.continuing_prefix;
  t->pad_id = t->id(kBertSpecials[0]);
  t->cls_id = t->id(kBertSpecials[2]);
  t->sep_id = t->id(kBertSpecials[3]);
  t->mask_id = t->id(kBertSpecials[4]);
  t->special_.assign(t->pieces_.size(), 0);
  std::vector<std::pair<std::string, int>> specials;
  const auto add_special = [&](const std::string& piece, int id) {
    if (id < 0 || t->special_[static_cast<size_t>(id)] != 0) return;
    t->special_[static_cast<size_t>(id)] = 1;
    specials.emplace_back(piece, id);
  };
  for (const char* piece : kBertSpecials) add_special(piece, t->id(piece));
  add_special(source.unk_token, t->unk_id);
  for (const AddedToken& token : source.added) add_special(token.content, token.id);
  t->specials_ = SpecialTokens(std::move(specials));
  return std::shared_ptr<const PretrainedTokenizer>(std::move(t));
}

}  // namespace

namespace tokenizer_detail {

Result<std::shared_ptr<const PretrainedTokenizer>> make_wordpiece(TokenizerSource source, const TokenizerHints& hints) {
  return WordPieceTokenizer::make(std::move(source), hints);
}

}  // namespace tokenizer_detail
}  // namespace qkv
