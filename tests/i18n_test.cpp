// The user-facing texts (core/i18n.h): the shipped catalog is complete in both languages with matching
// placeholders, and the catalog's rules (fallbacks, stable ids, refusals) hold on small hand-made files.
#include "core/i18n.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace qkv {
namespace {

const std::string kI18n = QKVLAB_ASSETS_DIR "/i18n";

// Loads the shipped catalog again when a test that loaded its own ends (other tests in this binary use texts).
struct ShippedCatalog {
  ~ShippedCatalog() {
    i18n::load(kI18n);
    i18n::set_language(Lang::En);
  }
};

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("qkvlab-i18n-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Braces are placeholders ("{n}") or doubled ("{{").
bool braces_balanced(const std::string& text) {
  int open = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] == '{' || text[i] == '}') && i + 1 < text.size() && text[i + 1] == text[i] && open == 0) {
      ++i;
      continue;
    }
    if (text[i] == '{' && ++open > 1) return false;
    if (text[i] == '}' && --open < 0) return false;
  }
  return open == 0;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(I18n, TheShippedCatalogLoadsWithoutErrorsAndEveryKeyHasBothLanguagesWithTheSamePlaceholders) {
  const std::vector<Error> errors = i18n::load(kI18n);
  for (const Error& e : errors) ADD_FAILURE() << e.message();
  const std::vector<std::string> keys = i18n::keys();
  EXPECT_GT(keys.size(), 28u);
  for (const std::string& key : keys) {
    const std::string en = i18n::text_of(key, Lang::En), zh = i18n::text_of(key, Lang::Zh);
    EXPECT_FALSE(en.empty()) << key << " has no English";
    EXPECT_FALSE(zh.empty()) << key << " has no Chinese";
    EXPECT_EQ(i18n::placeholders(en), i18n::placeholders(zh)) << key << ": \"" << en << "\" vs \"" << zh << "\"";
    EXPECT_TRUE(braces_balanced(en) && braces_balanced(zh)) << key << ": a text fmt cannot parse would be shown unfilled";
  }
}

TEST(I18n, PlaceholdersAreTheNamesInBracesEachOnce) {
  using V = std::vector<std::string>;
  EXPECT_EQ(i18n::placeholders("{n} of {total:.1f}, {n} again"), (V{"n", "total"}));
  EXPECT_EQ(i18n::placeholders("共 {total:.1f} 中的 {n}"), (V{"n", "total"}));
  EXPECT_EQ(i18n::placeholders("{{literal}} braces"), V{});
  EXPECT_EQ(i18n::placeholders("no placeholder"), V{});
  EXPECT_EQ(i18n::placeholders("{path}"), V{"path"});
}

TEST(I18n, TextsFollowTheLanguageFallBackToEnglishAndAMissingKeyShowsItself) {
  ShippedCatalog restore;
  const std::string dir = temp_dir("rules");
  write(dir + "/a.json", R"({"t.hello": {"en": "Hello", "zh": "你好"}, "t.only_en": {"en": "English only"},
                             "t.count": {"en": "{n} tokens of {max}", "zh": "{max} 个中的 {n} 个词元"}, "_comment": "skipped"})");
  write(dir + "/b.json", R"({"t.tab": {"en": "Attention", "zh": "注意力"}})");
  ASSERT_TRUE(i18n::load(dir).empty());
  EXPECT_EQ(i18n::keys(), (std::vector<std::string>{"t.count", "t.hello", "t.only_en", "t.tab"}));
  i18n::set_language(Lang::En);
  EXPECT_STREQ(i18n::tr("t.hello"), "Hello");
  EXPECT_EQ(i18n::trf("t.count", i18n::arg("n", 3), i18n::arg("max", 512)), "3 tokens of 512");
  EXPECT_STREQ(i18n::tr_id("t.tab"), "Attention###t.tab");
  i18n::set_language(Lang::Zh);
  EXPECT_STREQ(i18n::tr("t.hello"), "你好");
  EXPECT_STREQ(i18n::tr("t.only_en"), "English only");
  EXPECT_EQ(i18n::trf("t.count", i18n::arg("n", 3), i18n::arg("max", 512)), "512 个中的 3 个词元");
  EXPECT_STREQ(i18n::tr_id("t.tab"), "注意力###t.tab");  // the id after ### is the same in both languages
  EXPECT_STREQ(i18n::tr_in(Lang::En, "t.hello"), "Hello");
  EXPECT_STREQ(i18n::tr("t.not_there"), "t.not_there");
  // Arguments that do not match the text: the text unfilled, no exception.
  EXPECT_EQ(i18n::trf("t.count", i18n::arg("other", 1)), "{max} 个中的 {n} 个词元");
  EXPECT_FALSE(i18n::has("t.not_there"));
  EXPECT_TRUE(i18n::has("t.tab"));
}

TEST(I18n, BrokenFilesAreRefusedWithTheReasonAndTheRestStillLoads) {
  ShippedCatalog restore;
  const std::string dir = temp_dir("broken");
  write(dir + "/a.json", R"({"t.ok": {"en": "OK", "zh": "好"}, "t.twice": {"en": "first"},
                             "t.no_english": {"zh": "只有中文"}, "t.klingon": {"en": "x", "tlh": "y"}, "t.number": {"en": 5}})");
  write(dir + "/b.json", R"({"t.twice": {"en": "second"}})");
  write(dir + "/c.json", "{not json");
  write(dir + "/d.json", std::string(100000, '[') + std::string(100000, ']'));
  write(dir + "/notes.txt", "not a catalog file: ignored");
  const std::vector<Error> errors = i18n::load(dir);
  std::string all;
  for (const Error& e : errors) all += e.message() + "\n";
  EXPECT_EQ(errors.size(), 6u) << all;
  EXPECT_NE(all.find("\"t.twice\" is defined in both a.json and b.json"), std::string::npos) << all;
  EXPECT_NE(all.find("\"t.no_english\" has no English"), std::string::npos) << all;
  EXPECT_NE(all.find("\"tlh\" is not a language"), std::string::npos) << all;
  EXPECT_NE(all.find("\"t.number\" has no English"), std::string::npos) << all;
  EXPECT_NE(all.find("c.json is not a JSON object"), std::string::npos) << all;
  EXPECT_NE(all.find("d.json"), std::string::npos) << all;  // nested too deep: refused before parsing
  EXPECT_STREQ(i18n::tr("t.ok"), "OK");
  EXPECT_STREQ(i18n::tr("t.twice"), "first");
}

TEST(I18n, LanguagesParseByTheirCodes) {
  EXPECT_EQ(parse_lang("en"), Lang::En);
  EXPECT_EQ(parse_lang("zh"), Lang::Zh);
  EXPECT_EQ(parse_lang("fr"), std::nullopt);
  EXPECT_STREQ(name(Lang::Zh), "zh");
}

}  // namespace
}  // namespace qkv
