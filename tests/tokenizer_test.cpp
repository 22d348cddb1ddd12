// Tests for core/tokenizer: words+punctuation, characters, special tokens, CJK, and the vocabulary.
#include "core/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qkv {
namespace {

using Tokens = std::vector<std::string>;

Tokens words(std::string_view text) { return tokenize(text, TokenizerKind::Words); }
Tokens chars(std::string_view text) { return tokenize(text, TokenizerKind::Chars); }

// [SECTION] Words

TEST(Tokenizer, WordsSplitPunctuationAndKeepInnerApostrophe) {
  EXPECT_EQ(words("The cat didn't sit."), (Tokens{"The", "cat", "didn't", "sit", "."}));
}

TEST(Tokenizer, WordsEachPunctuationMarkIsItsOwnToken) {
  // "?!" is two marks, not one token; a comma sticks to neither neighbour.
  EXPECT_EQ(words("Why?! Yes,no"), (Tokens{"Why", "?", "!", "Yes", ",", "no"}));
}

TEST(Tokenizer, WordsApostropheAtWordEdgeIsPunctuation) {
  // Inside a word (followed by a letter) it stays; at the start or end of a word it is a mark of its own.
  EXPECT_EQ(words("'quoted' it's"), (Tokens{"'", "quoted", "'", "it's"}));
  EXPECT_EQ(words("cats' toys"), (Tokens{"cats", "'", "toys"}));
}

TEST(Tokenizer, WordsAnyWhitespaceSeparates) { EXPECT_EQ(words("  a\tb\nc  \r\n d "), (Tokens{"a", "b", "c", "d"})); }

TEST(Tokenizer, WordsEmptyAndWhitespaceOnlyGiveNoTokens) {
  EXPECT_TRUE(words("").empty());
  EXPECT_TRUE(words(" ").empty());
  EXPECT_TRUE(words(" \t\n\r  ").empty());
}

TEST(Tokenizer, WordsIdeographicSpaceSeparates) {
  // U+3000 IDEOGRAPHIC SPACE (E3 80 80) is the space of Chinese and Japanese text: whitespace, so a separator,
  // never a token of its own (it would show as an invisible row in the attention heatmap).
  EXPECT_EQ(words("我\u3000爱你"), (Tokens{"我", "爱", "你"}));
  EXPECT_EQ(words("cat\u3000dog"), (Tokens{"cat", "dog"}));
}

TEST(Tokenizer, WordsRecogniseSpecialTokensInsideText) {
  EXPECT_EQ(words("[BOS] hi [PAD][PAD] there[EOS]"), (Tokens{"[BOS]", "hi", "[PAD]", "[PAD]", "there", "[EOS]"}));
  // Glued to a word on both sides, the special still splits it.
  EXPECT_EQ(words("ab[EOS]cd"), (Tokens{"ab", "[EOS]", "cd"}));
}

TEST(Tokenizer, WordsSpecialsAreCaseSensitive) {
  // Only the exact spellings are specials; anything else is brackets and a word.
  EXPECT_EQ(words("[bos]"), (Tokens{"[", "bos", "]"}));
  EXPECT_EQ(words("[BOS"), (Tokens{"[", "BOS"}));
}

TEST(Tokenizer, WordsCjkCharactersAreEachAToken) {
  EXPECT_EQ(words("我爱你"), (Tokens{"我", "爱", "你"}));
  // Mixed with English: Latin words stay whole, each ideograph stands alone.
  EXPECT_EQ(words("I love 我爱你!"), (Tokens{"I", "love", "我", "爱", "你", "!"}));
  EXPECT_EQ(words("cat猫dog"), (Tokens{"cat", "猫", "dog"}));
}

TEST(Tokenizer, WordsKanaHangulAndFullWidthPunctuationStandAlone) {
  // U+FF0C (full-width comma) and U+3002 (ideographic full stop) are in the stand-alone ranges.
  EXPECT_EQ(words("你好，世界。"), (Tokens{"你", "好", "，", "世", "界", "。"}));
  EXPECT_EQ(words("ねこ"), (Tokens{"ね", "こ"}));
  EXPECT_EQ(words("한국"), (Tokens{"한", "국"}));
}

TEST(Tokenizer, WordsAccentedLettersStayInTheirWord) {
  // é is two UTF-8 bytes but a letter: "héllo" is one word, "naïve café" two.
  EXPECT_EQ(words("héllo"), (Tokens{"héllo"}));
  EXPECT_EQ(words("naïve café"), (Tokens{"naïve", "café"}));
}

// [SECTION] Characters

TEST(Tokenizer, CharsCountsUtf8CodePointsNotBytes) {
  // "héllo": h é l l o = 5 code points (6 bytes).
  const Tokens t = chars("héllo");
  EXPECT_EQ(t, (Tokens{"h", "é", "l", "l", "o"}));
  // 我 爱 你 = 3 code points (9 bytes); 😀 is one 4-byte code point.
  EXPECT_EQ(chars("我爱你").size(), 3u);
  EXPECT_EQ(chars("a😀b"), (Tokens{"a", "😀", "b"}));
}

TEST(Tokenizer, CharsIncludeSpaces) {
  // "a b" = a, space, b; " \t" = space, tab.
  EXPECT_EQ(chars("a b"), (Tokens{"a", " ", "b"}));
  EXPECT_EQ(chars(" \t"), (Tokens{" ", "\t"}));
  EXPECT_TRUE(chars("").empty());
}

TEST(Tokenizer, CharsStillRecogniseSpecials) { EXPECT_EQ(chars("[BOS]ab [EOS]"), (Tokens{"[BOS]", "a", "b", " ", "[EOS]"})); }

TEST(Tokenizer, CharsConcatenateBackToTheText) {
  // A round trip: the character tokens are a partition of the input bytes.
  const std::string text = "Ça va? 我爱你 😀 [PAD] x";
  std::string joined;
  for (const std::string& t : chars(text)) joined += t;
  EXPECT_EQ(joined, text);
}

TEST(Tokenizer, InvalidLeadByteIsOneToken) {
  // The helper documents "1 for invalid lead bytes": 0xFF and 0xF8 can never start a UTF-8 sequence, so each must
  // be a one-byte token and must not swallow the ASCII letters after it.
  EXPECT_EQ(chars("a\xFF"
                  "bc"),
            (Tokens{"a", "\xFF", "b", "c"}));
  EXPECT_EQ(chars("\xF8xy"), (Tokens{"\xF8", "x", "y"}));
}

TEST(Tokenizer, TruncatedUtf8AtEndDoesNotReadPastTheText) {
  // 我 is E6 88 91; cut after two bytes. The tokens must still be a partition of the bytes (no overrun).
  const std::string text = "a\xE6\x88";
  std::string joined;
  for (const std::string& t : chars(text)) joined += t;
  EXPECT_EQ(joined, text);
  std::string joined_words;
  for (const std::string& t : words(text)) joined_words += t;
  EXPECT_EQ(joined_words, text);
}

// [SECTION] Vocab

TEST(Vocab, SpecialsAreIdsZeroOneTwo) {
  const Vocab v;
  EXPECT_EQ(v.size(), 3);
  EXPECT_EQ(v.id(std::string(kPad)), 0);
  EXPECT_EQ(v.id(std::string(kBos)), 1);
  EXPECT_EQ(v.id(std::string(kEos)), 2);
  EXPECT_EQ(Vocab::kPadId, 0);
  EXPECT_EQ(Vocab::kBosId, 1);
  EXPECT_EQ(Vocab::kEosId, 2);
  EXPECT_EQ(v.token(0), "[PAD]");
  EXPECT_EQ(v.token(1), "[BOS]");
  EXPECT_EQ(v.token(2), "[EOS]");
}

TEST(Vocab, AddIsIdempotentAndNumbersInOrderOfFirstAppearance) {
  Vocab v;
  EXPECT_EQ(v.add("cat"), 3);
  EXPECT_EQ(v.add("sat"), 4);
  EXPECT_EQ(v.add("cat"), 3);  // again: same id, no new entry
  EXPECT_EQ(v.add("[BOS]"), 1);
  EXPECT_EQ(v.size(), 5);
  EXPECT_EQ(v.tokens(), (Tokens{"[PAD]", "[BOS]", "[EOS]", "cat", "sat"}));
  for (int i = 0; i < v.size(); ++i) EXPECT_EQ(v.id(v.token(i)), i);
}

TEST(Vocab, UnknownTokenIsMinusOne) {
  Vocab v;
  v.add("cat");
  EXPECT_EQ(v.id("dog"), -1);
  EXPECT_EQ(v.id(""), -1);
  EXPECT_EQ(v.id("Cat"), -1);  // case matters
  EXPECT_EQ(v.size(), 4);      // looking up does not add
}

TEST(Vocab, BuiltFromTokenizedTextHasOneIdPerDistinctToken) {
  Vocab v;
  std::vector<int> ids;
  for (const std::string& t : words("[BOS] the cat saw the cat .")) ids.push_back(v.add(t));
  // [BOS]=1, the=3, cat=4, saw=5, the=3, cat=4, .=6
  EXPECT_EQ(ids, (std::vector<int>{1, 3, 4, 5, 3, 4, 6}));
  EXPECT_EQ(v.size(), 7);
}

}  // namespace
}  // namespace qkv
