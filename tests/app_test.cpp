// The app's logic that needs no window: line breaking, the file browser's listing, replacing the session, the
// recompute on a worker.
#include "app/app_state.h"
#include "app/file_dialog.h"
#include "app/real_model.h"
#include "app/lessons_ui.h"
#include "app/ui.h"
#include "app/widgets/text_wrap.h"
#include "core/i18n.h"
#include "core/memory.h"
#include "core/paths.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using namespace qkv;
using namespace qkv::app;

// The app's texts, loaded as main() loads them at start-up.
const bool kTextsLoaded = [] { return i18n::load(assets_dir() + "/i18n").empty(); }();

TEST(Texts, TheShippedCatalogLoadsAsTheAppLoadsIt) { EXPECT_TRUE(kTextsLoaded); }

// The language chosen last (Language menu, Ctrl+Shift+L) is read back from imgui.ini's [QKVLab][Settings] before the
// first frame; another section's Lang= and a broken value are not taken.
TEST(Settings, TheSavedLanguageIsReadFromOurSectionOfImguiIni) {
  const std::string ini = (std::filesystem::temp_directory_path() / ("qkvlab-ini-" + std::to_string(::getpid()))).string();
  std::ofstream(ini) << "[Window][Debug##Default]\nLang=0\n\n[QKVLab][Settings]\nDarkTheme=1\nLang=1\nLessonsDone=\n";
  EXPECT_EQ(saved_language(ini), Lang::Zh);
  std::ofstream(ini) << "[Other][Settings]\nLang=1\n\n[QKVLab][Settings]\nDarkTheme=1\n";
  EXPECT_EQ(saved_language(ini), std::nullopt);
  std::ofstream(ini) << "[QKVLab][Settings]\nLang=7\n";
  EXPECT_EQ(saved_language(ini), std::nullopt);
  std::filesystem::remove(ini);
  EXPECT_EQ(saved_language(ini), std::nullopt);
}

// Every character (not byte) is 1 unit wide, so widths are easy to count by hand.
float chars(std::string_view s) {
  float n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A caption cut to fit keeps whole characters: "每 2 个标签标一个" at 6 units is "每 2 个…" (the bug drew "每 2 个标��":
// it dropped a Chinese character's last two bytes and kept its first).
TEST(TextWrap, ACutCaptionKeepsWholeCharactersAndEndsInAnEllipsis) {
  EXPECT_EQ(cut_with_ellipsis("每 2 个标签标一个", 7.0f, chars), "每 2 个标…");
  EXPECT_EQ(cut_with_ellipsis("每 2 个标签标一个", 6.0f, chars), "每 2 个…");
  EXPECT_EQ(cut_with_ellipsis("every 2nd label", 6.0f, chars), "every…");
  EXPECT_EQ(cut_with_ellipsis("fits", 4.0f, chars), "fits");
  EXPECT_EQ(cut_with_ellipsis("标签", 0.5f, chars), "…");
  for (float w = 1; w < 10; ++w) {
    const std::string cut = cut_with_ellipsis("注意力头 head 0（已选中）", w, chars);
    EXPECT_LE(chars(cut), w);
    for (size_t i = 0; i < cut.size();) {  // valid UTF-8 throughout
      const unsigned char c = static_cast<unsigned char>(cut[i]);
      const size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      ASSERT_LE(i + len, cut.size()) << cut;
      for (size_t k = 1; k < len; ++k) ASSERT_EQ(static_cast<unsigned char>(cut[i + k]) & 0xC0, 0x80) << cut;
      i += len;
    }
  }
}

std::vector<std::string> wrap(std::string_view text, float width) {
  std::vector<std::string> out;
  for (std::string_view l : wrap_lines(text, width, chars)) out.emplace_back(l);
  return out;
}

TEST(TextWrap, BreaksAtSpacesAndNeverInsideANumber) {
  // ImGui 1.86 would break "0.960" after the '.'; here the number moves whole to the next line.
  EXPECT_EQ(wrap("max weight 0.960", 13), (std::vector<std::string>{"max weight", "0.960"}));
  EXPECT_EQ(wrap("mean −2.5 over rows", 8), (std::vector<std::string>{"mean", "−2.5", "over", "rows"}));
  EXPECT_EQ(wrap("a b", 10), (std::vector<std::string>{"a b"}));
  EXPECT_EQ(wrap("one\ntwo", 10), (std::vector<std::string>{"one", "two"}));
}

TEST(TextWrap, ChineseBreaksBetweenCharactersButNotBeforeClosingPunctuation) {
  EXPECT_EQ(wrap("注意力头的熵", 4), (std::vector<std::string>{"注意力头", "的熵"}));
  // "，" may not start a line: the break moves one character earlier.
  EXPECT_EQ(wrap("缩放点积，掩码", 4), (std::vector<std::string>{"缩放点", "积，掩码"}));
  // "（" may not end a line.
  EXPECT_EQ(wrap("残差连（接）", 4), (std::vector<std::string>{"残差连", "（接）"}));
  // A number inside Chinese text stays whole.
  EXPECT_EQ(wrap("方差为278左右", 5), (std::vector<std::string>{"方差为", "278左右"}));
}

TEST(TextWrap, ARunWiderThanTheLineIsCutWhereItOverflows) {
  EXPECT_EQ(wrap("abcdefgh", 3), (std::vector<std::string>{"abc", "def", "gh"}));
  EXPECT_EQ(wrap("", 3), (std::vector<std::string>{""}));
}

TEST(FileBrowser, ListsParentThenFoldersThenMatchingFilesByName) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("qkvlab-browser-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "Zeta");
  fs::create_directories(dir / "alpha");
  for (const char* f : {"b.json", "A.JSON", "notes.txt", ".hidden.json"}) std::ofstream(dir / f) << "{}";
  std::string error;
  std::vector<DirEntry> e = list_directory(dir.string(), {".json"}, false, false, &error);
  EXPECT_EQ(error, "");
  std::vector<std::string> names;
  for (const DirEntry& d : e) names.push_back(d.name);
  EXPECT_EQ(names, (std::vector<std::string>{"..", "alpha", "Zeta", "A.JSON", "b.json"}));
  EXPECT_TRUE(e[1].is_dir);
  EXPECT_FALSE(e[3].is_dir);
  names.clear();
  for (const DirEntry& d : list_directory(dir.string(), {}, true, true, &error)) names.push_back(d.name);
  EXPECT_EQ(names, (std::vector<std::string>{"..", "alpha", "Zeta"}));
  EXPECT_TRUE(list_directory((dir / "missing").string(), {}, false, false, &error).empty());
  EXPECT_NE(error.find("cannot read"), std::string::npos);
  fs::remove_all(dir);
}

TEST(FileBrowser, ChosenPathAddsTheExtensionOnSaveOnly) {
  EXPECT_EQ(chosen_path("/tmp/x", "s", FileDialogMode::Save, {".json"}), "/tmp/x/s.json");
  EXPECT_EQ(chosen_path("/tmp/x", "s.JSON", FileDialogMode::Save, {".json"}), "/tmp/x/s.JSON");
  EXPECT_EQ(chosen_path("/tmp/x", "s", FileDialogMode::Open, {".json"}), "/tmp/x/s");
  EXPECT_EQ(chosen_path("/tmp/x", "../y/s.json", FileDialogMode::Open, {".json"}), "/tmp/y/s.json");
  EXPECT_EQ(chosen_path("/tmp/x", "/abs/s.png", FileDialogMode::Save, {".png"}), "/abs/s.png");
}

TEST(FileBrowser, NoNativeDialogWhenTurnedOff) {
  ::setenv("QKVLAB_NATIVE_DIALOG", "0", 1);
  EXPECT_FALSE(native_dialog_command({"Open session", FileDialogMode::Open, "", {".json"}, nullptr}).has_value());
  ::unsetenv("QKVLAB_NATIVE_DIALOG");
}

// Opening another session closes the open lesson and drops the pinned row: they described the old text.
TEST(ReplaceSession, ClosesTheLessonAndForgetsThePinnedRow) {
  AppState s;
  init_weight_search(s);
  load_lessons_into(s);
  ASSERT_FALSE(s.lessons.lessons.empty());
  open_lesson(s, find_lesson(s, "6"), 0);
  s.sel.pinned_row = 2;
  ASSERT_GE(s.lessons.active, 0);
  ASSERT_FALSE(s.highlights.empty());
  Session other;
  other.input.text = "a completely different text";
  replace_session(s, other, "/tmp/other.json", std::string("Opened /tmp/other.json"));
  EXPECT_EQ(s.lessons.active, -1);
  EXPECT_TRUE(s.highlights.empty());
  EXPECT_EQ(s.sel.pinned_row, -1);
  EXPECT_EQ(s.session.input.text, "a completely different text");
  EXPECT_EQ(s.session_path, "/tmp/other.json");
  EXPECT_TRUE(s.dirty);
}

// [SECTION] The recompute runs on a worker: the frame that starts it never applies it, a newer edit replaces a stale
// job, and the last trace stays on screen (marked stale) until the new one arrives.
Session words_session(const std::string& text) {
  Session s;
  s.tokenizer = TokenizerKind::Words;
  s.input.text = text;
  return s;
}

// An edit as a frame makes it, then the wait a scripted run does.
void edit_and_wait(AppState& s) {
  s.dirty = true;
  recompute_if_dirty(s);
  finish_recompute(s);
}

TEST(Recompute, StartsOnAWorkerAndIsAppliedOnlyWhenPickedUp) {
  AppState s;
  s.session = words_session("the cat sat");
  s.dirty = true;
  recompute_if_dirty(s);
  // Whatever the worker has done by now, only a later call on the UI thread applies its result.
  EXPECT_EQ(s.trace, nullptr);
  EXPECT_EQ(s.generation, 0u);
  EXPECT_FALSE(s.dirty);
  EXPECT_TRUE(s.trace_stale() || s.recompute.finished());
  EXPECT_EQ(s.jobs_running, s.recompute.running() ? 1 : 0);  // scripted runs wait for it
  finish_recompute(s);
  ASSERT_NE(s.trace, nullptr);
  EXPECT_EQ(s.trace->source_tokens, (std::vector<std::string>{"the", "cat", "sat"}));
  EXPECT_EQ(s.generation, 1u);
  EXPECT_FALSE(s.trace_stale());
  EXPECT_FALSE(s.error.has_value());
}

TEST(Recompute, TheLastTraceStaysUntilTheNewOneArrives) {
  AppState s;
  s.session = words_session("the cat sat");
  edit_and_wait(s);
  const std::shared_ptr<const Trace> old = s.trace;
  s.session.input.text = "a dog ran far";
  s.dirty = true;
  recompute_if_dirty(s);
  EXPECT_EQ(s.trace, old);  // still on screen
  EXPECT_TRUE(s.trace_stale() || s.recompute.finished());
  finish_recompute(s);
  EXPECT_NE(s.trace, old);
  EXPECT_EQ(s.trace->source_tokens.size(), 4u);
  EXPECT_EQ(s.generation, 2u);
}

TEST(Recompute, ANewerEditReplacesTheStaleJob) {
  AppState s;
  std::string long_text;  // job A must still be running when B starts: ~1,500 tokens through 8 layers take far longer
  for (int i = 0; i < 1500; ++i) long_text += "w" + std::to_string(i % 300) + " ";
  s.session = words_session(long_text);
  s.session.model.layers = 8;
  s.session.model.max_len = 2048;
  s.dirty = true;
  recompute_if_dirty(s);  // job A
  s.session = words_session("four five");
  s.dirty = true;
  recompute_if_dirty(s);  // job B: A is cancelled, its result is never applied
  finish_recompute(s);
  ASSERT_NE(s.trace, nullptr);
  EXPECT_EQ(s.trace->source_tokens, (std::vector<std::string>{"four", "five"}));
  EXPECT_EQ(s.generation, 1u);  // one trace arrived: B's
  recompute_if_dirty(s);        // nothing more comes
  EXPECT_EQ(s.generation, 1u);
  EXPECT_FALSE(s.recompute.running());
}

// Generate's first step fills the KV cache with the prompt on a worker: the frame that asks does not wait.
TEST(Recompute, TheGeneratorIsStartedOnAWorkerAndAnOlderSessionsIsDropped) {
  AppState s;
  s.session = words_session("the cat sat on the mat");
  s.session.model.arch = Arch::DecoderOnly;
  edit_and_wait(s);
  EXPECT_FALSE(start_generator(s)) << "not ready in the frame that asks";
  EXPECT_GT(s.jobs_running, 0);
  while (s.output.starting.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_FALSE(poll_generator(s));
  ASSERT_NE(s.output.generator, nullptr);
  EXPECT_EQ(s.output.generator->prompt_length(), 6);
  EXPECT_TRUE(start_generator(s));
  // A start made for the session before an edit is dropped, not shown.
  s.output.generator.reset();
  EXPECT_FALSE(start_generator(s));
  s.session.input.text = "a dog";
  edit_and_wait(s);
  while (s.output.starting.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_FALSE(poll_generator(s));
  EXPECT_EQ(s.output.generator, nullptr);
  // An encoder-only session cannot generate: the reason comes back.
  s.session.model.arch = Arch::EncoderOnly;
  edit_and_wait(s);
  EXPECT_FALSE(start_generator(s));
  while (s.output.starting.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(poll_generator(s));
  // The note is made in both languages, so switching the language redraws it too.
  const std::string& en = s.output.note.text[static_cast<int>(Lang::En)];
  const std::string& zh = s.output.note.text[static_cast<int>(Lang::Zh)];
  EXPECT_NE(en.find("Cannot generate"), std::string::npos) << en;
  EXPECT_NE(zh.find("无法生成"), std::string::npos) << zh;
  i18n::set_language(Lang::Zh);
  EXPECT_EQ(s.output.note.str(), zh);
  i18n::set_language(Lang::En);
  EXPECT_EQ(s.output.note.str(), en);
}

TEST(Recompute, AnInvalidSessionKeepsTheTraceAndSaysWhy) {
  AppState s;
  s.session = words_session("the cat sat");
  edit_and_wait(s);
  const std::shared_ptr<const Trace> good = s.trace;
  s.session.model.d_model = 30;  // 4 heads do not divide it
  edit_and_wait(s);
  EXPECT_EQ(s.trace, good);
  ASSERT_TRUE(s.error.has_value());
  EXPECT_NE(s.error->message().find("d_model"), std::string::npos) << s.error->message();
  EXPECT_FALSE(is_cancelled(*s.error));
  s.session.model.d_model = 32;  // fixed: the error goes with the next trace
  edit_and_wait(s);
  EXPECT_FALSE(s.error.has_value());
  EXPECT_NE(s.trace, good);
}

// Issue 11, defect 8: an edit whose run would not fit the memory limit is refused with the estimate; the trace on
// screen counts against the limit while the new one is made.
TEST(Recompute, AnEditOverTheMemoryLimitKeepsTheTraceAndSaysWhy) {
  AppState s;
  s.session = words_session("the cat sat");
  edit_and_wait(s);
  const std::shared_ptr<const Trace> good = s.trace;
  Session wider = s.session;
  wider.model.d_model = 1024, wider.model.d_ff = 8192, wider.model.layers = 24;  // the Model panel's largest: 2 GB of weights
  set_memory_limit(static_cast<int64_t>(estimate_memory(wider).total() * 0.9));
  s.session = wider;
  edit_and_wait(s);
  EXPECT_EQ(s.trace, good);
  ASSERT_TRUE(s.error.has_value());
  EXPECT_NE(s.error->what.find("over the memory limit"), std::string::npos) << s.error->message();
  EXPECT_NE(s.error->what.find("weights "), std::string::npos) << s.error->message();
  // Fits alone, but not next to the trace on screen.
  s.session.model = ModelConfig{};
  s.session.input.text = "the cat sat on the mat";
  set_memory_limit(static_cast<int64_t>(estimate_memory(s.session).total()) + 16);
  edit_and_wait(s);
  ASSERT_TRUE(s.error.has_value());
  EXPECT_NE(s.error->what.find("already held"), std::string::npos) << s.error->message();
  set_memory_limit(0);
  edit_and_wait(s);
  EXPECT_FALSE(s.error.has_value());
}

// The job runs on copies of the weight caches and hands them back: a toggle that keeps the weights (√d_k) does not
// draw them again, as when the recompute ran on the UI thread.
TEST(Recompute, TheWeightCacheComesBackWithTheResult) {
  AppState s;
  s.session = words_session("the cat sat");
  edit_and_wait(s);
  EXPECT_EQ(s.weights.builds(), 1);
  s.session.model.score_scale = ScoreScale::None;
  edit_and_wait(s);
  EXPECT_EQ(s.weights.builds(), 1);
  EXPECT_EQ(s.generation, 2u);
}

// Side by side and gradients are made by the same job, from the same session.
TEST(Recompute, SideBySideAndGradientsComeWithTheTrace) {
  AppState s;
  s.session = words_session("the cat sat on the mat");
  s.side_by_side = true;
  s.gradients_wanted = true;
  edit_and_wait(s);
  ASSERT_NE(s.trace, nullptr);
  ASSERT_NE(s.trace_other_scale, nullptr);
  EXPECT_TRUE(s.trace->tensors.contains("loss")) << s.gradient_error;
  const std::string head0 = paths::head(paths::block("encoder", 0, false), 0);
  const HeadStats* mine = s.trace->head(head0);
  const HeadStats* other = s.trace_other_scale->head(head0);
  ASSERT_TRUE(mine && other);
  // d_k = 32 / 4 = 8: with √d_k on the scores are multiplied by 1/√8, with it off by 1.
  EXPECT_NEAR(mine->scale * other->scale, 1.0f / std::sqrt(8.0f), 1e-6f);
  // A panel that wants gradients on a trace without them asks once; the running job is not restarted for it.
  s.gradients_wanted = false;
  s.session.input.text = "a dog";
  edit_and_wait(s);
  EXPECT_FALSE(s.trace->tensors.contains("loss"));
  s.gradients_wanted = true;
  recompute_if_dirty(s);
  EXPECT_FALSE(s.dirty);
  finish_recompute(s);
  EXPECT_TRUE(s.trace->tensors.contains("loss"));
  const uint64_t with_loss = s.generation;
  recompute_if_dirty(s);  // the trace has them now: nothing is started
  EXPECT_FALSE(s.recompute.running());
  finish_recompute(s);
  EXPECT_EQ(s.generation, with_loss);
}


// [SECTION] Real checkpoints (app/real_model.h)
// A tiny WordPiece vocabulary, as a BERT folder's vocab.txt holds it.
std::shared_ptr<const PretrainedTokenizer> tiny_wordpiece() {
  TokenizerHints hints;
  hints.family = TokenizerFamily::WordPiece;
  Result<std::shared_ptr<const PretrainedTokenizer>> t =
      PretrainedTokenizer::from_files({{"vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nplay\n##ing\nthe\ncat\n"}}, hints);
  EXPECT_TRUE(t) << (t ? "" : t.error().message());
  return t ? *t : nullptr;
}

TEST(RealModel, ParameterCountsReadWithSeparators) {
  EXPECT_EQ(with_separators(0), "0");
  EXPECT_EQ(with_separators(999), "999");
  EXPECT_EQ(with_separators(1000), "1,000");
  EXPECT_EQ(with_separators(124439808), "124,439,808");
  EXPECT_EQ(with_separators(-1234567), "-1,234,567");
}

TEST(RealModel, AContinuationChipJoinsTheTokenBeforeAndSpecialsAreMarked) {
  const auto tokenizer = tiny_wordpiece();
  ASSERT_TRUE(tokenizer);
  const std::vector<TokenChip> chips = token_chips_of(*tokenizer, tokenizer->encode_for_model("the playing [MASK]"));
  std::vector<std::string> shown;
  for (const TokenChip& c : chips) shown.push_back(c.text + (c.joined ? "+" : "") + (c.special ? "*" : ""));
  // [CLS] the play ##ing [MASK] [SEP]: "ing" is drawn against "play"; the tokens BERT adds and [MASK] are special.
  EXPECT_EQ(shown, (std::vector<std::string>{"[CLS]*", "the", "play", "ing+", "[MASK]*", "[SEP]*"}));
  EXPECT_EQ(chips[3].raw, "##ing");
  EXPECT_EQ(chips[3].id, tokenizer->id("##ing"));
  // A continuation never joins a special token, and an id outside the vocabulary is shown, not thrown on.
  const std::vector<TokenChip> odd = token_chips_of(*tokenizer, {tokenizer->cls_id, tokenizer->id("##ing"), 1000});
  EXPECT_FALSE(odd[1].joined);
  EXPECT_EQ(odd[2].text, "?");
  EXPECT_EQ(mask_rows(tokenizer->encode_for_model("the [MASK] cat [MASK]"), tokenizer->mask_id), (std::vector<int>{2, 4}));
  EXPECT_TRUE(mask_rows({1, 2, 3}, -1).empty());
}

// A PretrainedModel with the parts the session functions read: its config and mask (and the tokenizer for the prompt).
PretrainedModel tiny_bert_model() {
  PretrainedModel m;
  m.card.family = ModelFamily::BERT;
  m.card.positions = 8;
  m.config.arch = Arch::EncoderOnly;
  m.config.norm_placement = NormPlacement::Post;
  m.config.activation = Activation::GELU;
  m.config.pe = PosEncoding::Learned;
  m.config.scale_embeddings = false;
  m.config.token_types = 2;
  m.config.embed_norm = true;
  m.config.mlm_head = true;
  m.mask = kMaskPadding;
  m.tokenizer = tiny_wordpiece();
  return m;
}

TEST(RealModel, ChangesFromTrainedCountEachToggleAndAreZeroExactlyWhenLoadedAsTrained) {
  const PretrainedModel m = tiny_bert_model();
  const Session trained = pretrained_session(m, "/models/bert");
  EXPECT_EQ(changes_from_trained(trained, m), 0);
  EXPECT_TRUE(loaded_as_trained(trained, m));
  const std::vector<void (*)(Session&)> toggles = {
      [](Session& s) { s.model.score_scale = ScoreScale::None; },   [](Session& s) { s.model.temperature = 2.0f; },
      [](Session& s) { s.model.residual = false; },                 [](Session& s) { s.model.pe = PosEncoding::None; },
      [](Session& s) { s.model.norm_placement = NormPlacement::Pre; }, [](Session& s) { s.model.activation = Activation::ReLU; },
      [](Session& s) { s.model.scoring = Scoring::Additive; },      [](Session& s) { s.encoder_mask = kMaskCausal | kMaskPadding; },
      [](Session& s) { s.padding_positions = {1}; },                [](Session& s) { s.mode = Mode::Train; },
      [](Session& s) { s.ablations = {{"encoder.0", AblationKind::Mean}}; },
  };
  for (size_t i = 0; i < toggles.size(); ++i) {
    Session s = trained;
    toggles[i](s);
    EXPECT_EQ(changes_from_trained(s, m), 1) << "toggle " << i;
    EXPECT_FALSE(loaded_as_trained(s, m)) << "toggle " << i;
    EXPECT_EQ(changes_from_trained(reset_to_trained(s, m), m), 0) << "toggle " << i;
  }
  Session two = trained;
  two.model.residual = false;
  two.ablations = {{"encoder.0.self_attn.head.1", AblationKind::Zero}};
  EXPECT_EQ(changes_from_trained(two, m), 2);
}

TEST(RealModel, AblationsAreSetChangedAndRemovedOncePerTargetUpToTheLimit) {
  Session s;
  const std::string head = head_target("decoder.1.self_attn", 2);
  EXPECT_EQ(head, "decoder.1.self_attn.head.2");
  EXPECT_EQ(layer_of_target(head), "decoder.1");
  EXPECT_EQ(layer_of_target("encoder.3"), "encoder.3");
  EXPECT_EQ(layer_of_target("not a target"), "");
  EXPECT_TRUE(set_ablation(s, head, AblationKind::Zero));
  EXPECT_TRUE(set_ablation(s, head, AblationKind::Mean));  // the same head: its kind changes, no second entry
  ASSERT_EQ(s.ablations.size(), 1u);
  EXPECT_EQ(ablation_of(s, head), AblationKind::Mean);
  EXPECT_EQ(ablation_of(s, "decoder.1"), std::nullopt);
  EXPECT_TRUE(set_ablation(s, head, std::nullopt));
  EXPECT_TRUE(s.ablations.empty());
  s.ablations.assign(kMaxAblations, Ablation{"decoder.0", AblationKind::Zero});
  EXPECT_FALSE(set_ablation(s, head, AblationKind::Zero));  // full: refused, nothing changed
  EXPECT_EQ(s.ablations.size(), kMaxAblations);
}

TEST(RealModel, ANewModelKeepsTheUsersTextWhenItFitsElseOpensOnItsPrompt) {
  const PretrainedModel m = tiny_bert_model();  // 8 positions: [CLS] + 6 + [SEP]
  const std::string toy_default = default_session().input.text;
  EXPECT_EQ(prompt_for_model(m, toy_default, {toy_default}), kBertPrompt);  // nobody typed it
  EXPECT_EQ(prompt_for_model(m, kGpt2Prompt, {}), kBertPrompt);             // the other family's prompt
  EXPECT_EQ(prompt_for_model(m, "", {}), kBertPrompt);
  EXPECT_EQ(prompt_for_model(m, "the cat [MASK]", {}), "the cat [MASK]");   // typed, 5 positions: kept
  EXPECT_EQ(prompt_for_model(m, "the cat the cat the cat the cat", {}), kBertPrompt);  // 10 positions: too long
}

}  // namespace
