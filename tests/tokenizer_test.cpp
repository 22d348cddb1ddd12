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

TEST(Tokenizer, InvalidLeadByteIsOneReplacementCharacter) {
  // 0xFF and 0xF8 can never start a UTF-8 sequence: each becomes U+FFFD and does not swallow the letters after it.
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(chars("a\xFF"
                  "bc"),
            (Tokens{"a", fffd, "b", "c"}));
  EXPECT_EQ(chars("\xF8"
                  "xy"),
            (Tokens{fffd, "x", "y"}));
}

TEST(Tokenizer, TruncatedUtf8AtEndDoesNotReadPastTheText) {
  // 我 is E6 88 91; cut after two bytes: each of them is U+FFFD, and nothing is read past the text.
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(chars("a\xE6\x88"), (Tokens{"a", fffd, fffd}));
  EXPECT_EQ(words("a\xE6\x88"), (Tokens{"a" + fffd + fffd}));
}

// Issue 11, defect 7: a byte that does not begin valid UTF-8 becomes U+FFFD on its own; the bytes after it (a space,
// the "[" of a special token, a valid character) are read as they are.
TEST(Tokenize, InvalidUtf8BecomesReplacementCharactersAndSwallowsNothing) {
  const std::string fffd = "\xEF\xBF\xBD";
  using V = std::vector<std::string>;
  EXPECT_EQ(tokenize("hello\xC4 world", TokenizerKind::Words), (V{"hello" + fffd, "world"}));
  EXPECT_EQ(tokenize("[BOS]\xE4[EOS]", TokenizerKind::Words), (V{"[BOS]", fffd, "[EOS]"}));
  EXPECT_EQ(tokenize("a\xC0\xAF"
                     "b",
                     TokenizerKind::Chars),
            (V{"a", fffd, fffd, "b"}))
      << "overlong '/'";
  EXPECT_EQ(tokenize("\xED\xA0\x80", TokenizerKind::Chars), (V{fffd, fffd, fffd})) << "a surrogate";
  EXPECT_EQ(tokenize("\xF4\x90\x80\x80", TokenizerKind::Chars), (V{fffd, fffd, fffd, fffd})) << "beyond U+10FFFF";
  EXPECT_EQ(tokenize("x\xE7\x8C", TokenizerKind::Chars), (V{"x", fffd, fffd})) << "cut short at the end";
  EXPECT_EQ(tokenize("\x80"
                     "cat",
                     TokenizerKind::Words),
            (V{fffd + "cat"}))
      << "a stray continuation byte";
  EXPECT_EQ(tokenize("猫が好き 🐱", TokenizerKind::Words), (V{"猫", "が", "好", "き", "🐱"})) << "valid text is unchanged";
}

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
