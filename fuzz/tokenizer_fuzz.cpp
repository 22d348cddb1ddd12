// Any text a learner types or pastes: tokens that are valid UTF-8 (each invalid byte becomes U+FFFD on its own), no
// word token holds whitespace, and the characters tokenizer gives one code point per token (or a special token as
// written) that joined give back the text, repaired (issue 11, defect 7: a stray lead byte swallowed what followed).
#include "core/tokenizer.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  const std::string_view text = fuzz::text_of(data, size);
  for (const std::string& token : tokenize(text, TokenizerKind::Words)) {
    if (token.empty()) fuzz::violated("a word token is not empty");
    if (fuzz::utf8_code_points(token) < 0) fuzz::violated("a word token is valid UTF-8");
    if (token.find_first_of(" \t\n\r") != std::string::npos) fuzz::violated("a word token holds no whitespace: [" + token + "]");
  }
  std::string joined;
  for (const std::string& token : tokenize(text, TokenizerKind::Chars)) {
    const bool special = token == kPad || token == kBos || token == kEos;
    if (!special && fuzz::utf8_code_points(token) != 1) fuzz::violated("a character token is one valid code point: [" + token + "]");
    joined += token;
  }
  if (joined != fuzz::repaired_utf8(text)) fuzz::violated("the character tokens joined are the text, each invalid byte as U+FFFD");
  return 0;
}
