// QKV Lab core — the words a user reads, in English and 简体中文, for the app and the CLI alike.
//
// The texts live in assets/i18n/*.json, one file per area of the program (app.json, cli.json, panels …). Each file is
// an object {"<area>.<name>": {"en": "…", "zh": "…"}}; a key is defined in one file only. A text may hold named
// placeholders in fmt's syntax — "{n}", "{ms:.1f}", "{path}" — which trf() fills: numbers and names are never glued
// to translated pieces by concatenation, because word order differs between the languages. Both languages of a key
// carry the same placeholder names (tests/i18n_test.cpp). Math symbols, tensor paths and formulas are names, not
// prose: they stay as they are in both languages.
//
// The catalog is loaded once at start-up (load()), before any thread reads it (a program that never calls load() gets
// the shipped catalog at its first lookup: $QKVLAB_ASSETS/i18n, else the source tree's); the language may change at any time
// (an atomic), and the next frame draws in it. Adding a language: README, "Adding a language".
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"  // Error

namespace qkv {

enum class Lang { En, Zh, Count };
const char* name(Lang);                          // "en", "zh"
std::optional<Lang> parse_lang(std::string_view);  // "en" / "zh"; nullopt for anything else

namespace i18n {

// Reads every *.json file of `dir` into the catalog (replacing the one loaded before). A file that is not valid
// JSON, a key defined twice, a key without English, or a language other than en/zh is an Error; the rest of the
// catalog still loads (a broken translation never blanks the program).
std::vector<Error> load(const std::string& dir);

void set_language(Lang);
Lang language();

// The text of `key` in the current language; the English text where the key has no translation; the key itself
// when the catalog lacks it (reported once on stderr, so a missing key shows, rather than an empty label).
// The pointer stays valid until the next load().
const char* tr(const char* key);
const char* tr_in(Lang, const char* key);
// "text###key": an ImGui label whose id is the key, so a window, tab or tree node keeps its state (open, selected)
// when the language changes.
const char* tr_id(const char* key);

using fmt::arg;
// The text of `key` in `lang` with its placeholders filled from named arguments: trf_in(Lang::En, "x", arg("n", 3)).
// A text whose placeholders do not match the arguments is shown unfilled rather than throwing.
template <typename... Args>
std::string trf_in(Lang lang, const char* key, const Args&... args) {
  const char* text = tr_in(lang, key);
  try {
    return fmt::format(fmt::runtime(text), args...);
  } catch (const fmt::format_error&) {
    return text;
  }
}
// The same in the current language: trf("model.refused", arg("need", s)).
template <typename... Args>
std::string trf(const char* key, const Args&... args) {
  return trf_in(language(), key, args...);
}

// A message kept on screen (the status bar, a note) made in every language when it is said, so a language switch
// redraws it too. A plain string (a path, an error from the system) is the same in every language.
struct Phrase {
  std::string text[static_cast<int>(Lang::Count)];
  Phrase() = default;
  Phrase(std::string plain) {  // NOLINT(google-explicit-constructor): a plain message is a Phrase
    for (std::string& t : text) t = plain;
  }
  const std::string& str() const { return text[static_cast<int>(language())]; }
  const char* c_str() const { return str().c_str(); }
  bool empty() const { return str().empty(); }
};
template <typename... Args>
Phrase phrase(const char* key, const Args&... args) {
  Phrase p;
  for (int l = 0; l < static_cast<int>(Lang::Count); ++l) p.text[l] = trf_in(static_cast<Lang>(l), key, args...);
  return p;
}

bool has(const char* key);
std::vector<std::string> keys();  // sorted
// The placeholder names of a text ("{n} of {total:.1f}" → n, total), sorted, each once; "{{" and "}}" are literal braces.
std::vector<std::string> placeholders(std::string_view text);
// The raw texts of a key in a language, empty when absent (for tests and tools).
std::string text_of(const std::string& key, Lang);

}  // namespace i18n
}  // namespace qkv
