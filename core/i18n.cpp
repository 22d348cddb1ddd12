// QKV Lab core — the catalog of user-facing texts (see i18n.h).
#include "core/i18n.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "core/files.h"

namespace qkv {

const char* name(Lang l) { return l == Lang::Zh ? "zh" : "en"; }

std::optional<Lang> parse_lang(std::string_view s) {
  if (s == "en") return Lang::En;
  if (s == "zh") return Lang::Zh;
  return std::nullopt;
}

namespace i18n {
namespace {

constexpr int kLangs = static_cast<int>(Lang::Count);

struct Entry {
  std::string text[kLangs];      // empty: not translated (English is shown)
  std::string labelled[kLangs];  // "text###key"
};

// Constructed on first use, not at static initialisation: a program may load or read texts from its own static
// initialisers (a test's), before this file's globals would have been constructed.
std::map<std::string, Entry, std::less<>>& catalog_store() {
  static std::map<std::string, Entry, std::less<>> catalog;
  return catalog;
}
std::atomic<int> g_language{static_cast<int>(Lang::En)};
struct Missing {
  std::mutex mutex;
  std::set<std::string, std::less<>> keys;  // keys reported once; their c_str() is what tr() returns for them
};
Missing& missing_store() {
  static Missing missing;
  return missing;
}

std::atomic<bool> g_loaded{false};
std::once_flag g_default_load;

// A program that reads a text before it loaded a catalog (a test, a fuzz target, a benchmark) gets the shipped one:
// $QKVLAB_ASSETS/i18n, else the source tree's assets/i18n. Its errors are left to the programs that load explicitly.
void load_default_once() {
  std::call_once(g_default_load, [] {
    if (g_loaded.load()) return;
    const char* env = std::getenv("QKVLAB_ASSETS");
    load(std::string(env && *env ? env : QKVLAB_ASSETS_DIR) + "/i18n");
  });
}

// The catalog to read: the one loaded, else the shipped one.
const std::map<std::string, Entry, std::less<>>& loaded_catalog() {
  if (!g_loaded.load(std::memory_order_acquire)) load_default_once();
  return catalog_store();
}

const Entry* find(std::string_view key) {
  const auto& catalog = loaded_catalog();
  const auto it = catalog.find(key);
  return it == catalog.end() ? nullptr : &it->second;
}

// A catalog file, read as read_file reads (core/files.h) but worded here: read_file looks its sentences up in the
// catalog, which is what is being loaded (and, while the first one loads, that lookup would start the same load again:
// std::call_once within itself never returns). The catalog's own errors stay English: a broken catalog cannot be
// used to explain itself.
// i18n: names begin
std::optional<std::string> read_catalog_file(const std::string& file, std::vector<Error>& errors) {
  std::variant<std::string, ReadFailure> read = read_file_bytes(file);
  if (const ReadFailure* f = std::get_if<ReadFailure>(&read)) {
    switch (f->kind) {
      case ReadFailure::Kind::Missing: errors.push_back({"cannot open " + file, "check the path"}); break;
      case ReadFailure::Kind::NotAFile: errors.push_back({file + " is not a file (a folder, a device or a pipe)", "choose a file"}); break;
      case ReadFailure::Kind::NoSize: errors.push_back({"cannot read the size of " + file, f->reason}); break;
      case ReadFailure::Kind::TooLarge:
        errors.push_back({file + " has " + std::to_string(f->bytes) + " bytes, more than the " + std::to_string(kMaxTextFileBytes >> 20) +
                              " MiB such a file may have",
                          "is it the right file?"});
        break;
      case ReadFailure::Kind::CannotOpen: errors.push_back({"cannot open " + file, "check the permissions"}); break;
    }
    return std::nullopt;
  }
  std::string& text = std::get<std::string>(read);
  if (json_nesting_depth(text) > kMaxJsonDepth) {
    errors.push_back({file + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels", "the file is damaged or not one of ours"});
    return std::nullopt;
  }
  return std::move(text);
}
// i18n: names end

const char* missing(const char* key) {
  Missing& m = missing_store();
  const std::lock_guard lock(m.mutex);
  const auto [it, inserted] = m.keys.insert(key);
  if (inserted) std::fprintf(stderr, "qkvlab: no text for \"%s\" in assets/i18n/\n", key);
  return it->c_str();
}

}  // namespace

std::vector<Error> load(const std::string& dir) {
  std::vector<Error> errors;
  std::map<std::string, Entry, std::less<>> catalog;
  std::map<std::string, std::string> defined_in;  // key -> file
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  if (ec) errors.push_back({"cannot list " + dir + ": " + ec.message(), "the app's assets folder holds i18n/*.json"});  // i18n: name
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    const std::string file = path.string(), base = path.filename().string();
    const std::optional<std::string> text = read_catalog_file(file, errors);
    if (!text) continue;
    const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) {
      errors.push_back({file + " is not a JSON object", "each file maps \"area.name\" to {\"en\": …, \"zh\": …}"});  // i18n: name
      continue;
    }
    for (const auto& [key, langs] : j.items()) {
      if (key.empty() || key.front() == '_') continue;  // "_comment" and the like
      if (const auto seen = defined_in.find(key); seen != defined_in.end()) {
        errors.push_back({"\"" + key + "\" is defined in both " + seen->second + " and " + base, "a key lives in one file"});  // i18n: name
        continue;
      }
      if (!langs.is_object() || !langs.contains("en") || !langs["en"].is_string()) {
        errors.push_back({file + ": \"" + key + "\" has no English text", "{\"en\": \"…\", \"zh\": \"…\"}"});  // i18n: name
        continue;
      }
      Entry e;
      bool ok = true;
      for (const auto& [lang, value] : langs.items()) {
        const std::optional<Lang> l = parse_lang(lang);
        if (!l || !value.is_string()) {
          errors.push_back({file + ": \"" + key + "\": \"" + lang + "\" is not a language with a text", "languages: en, zh"});  // i18n: name
          ok = false;
          break;
        }
        e.text[static_cast<int>(*l)] = value.get<std::string>();
      }
      if (!ok) continue;
      for (int l = 0; l < kLangs; ++l) e.labelled[l] = (e.text[l].empty() ? e.text[0] : e.text[l]) + "###" + key;
      defined_in[key] = base;
      catalog.emplace(key, std::move(e));
    }
  }
  catalog_store() = std::move(catalog);
  g_loaded.store(true, std::memory_order_release);
  return errors;
}

void set_language(Lang l) { g_language.store(static_cast<int>(l), std::memory_order_relaxed); }
Lang language() { return static_cast<Lang>(g_language.load(std::memory_order_relaxed)); }

const char* tr_in(Lang l, const char* key) {
  const Entry* e = find(key);
  if (!e) return missing(key);
  const std::string& text = e->text[static_cast<int>(l)];
  return (text.empty() ? e->text[0] : text).c_str();
}

const char* tr(const char* key) { return tr_in(language(), key); }

const char* tr_id(const char* key) {
  const Entry* e = find(key);
  if (!e) return missing(key);
  return e->labelled[static_cast<int>(language())].c_str();
}

bool has(const char* key) { return find(key) != nullptr; }

std::vector<std::string> keys() {
  const auto& catalog = loaded_catalog();
  std::vector<std::string> out;
  out.reserve(catalog.size());
  for (const auto& [key, entry] : catalog) out.push_back(key);
  return out;
}

std::string text_of(const std::string& key, Lang l) {
  const Entry* e = find(key);
  return e ? e->text[static_cast<int>(l)] : std::string();
}

std::vector<std::string> placeholders(std::string_view text) {
  std::set<std::string> names;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      ++i;
      continue;
    }
    if (text[i] != '{') continue;
    const size_t end = text.find_first_of(":}", i + 1);
    if (end == std::string_view::npos) break;
    names.insert(std::string(text.substr(i + 1, end - i - 1)));
    i = text.find('}', end);
    if (i == std::string_view::npos) break;
  }
  return {names.begin(), names.end()};
}

}  // namespace i18n
}  // namespace qkv
