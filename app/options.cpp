#include "app/options.h"

#include "app/lessons_ui.h"
#include "app/training.h"
#include "app/ui.h"
#include "app/widgets/common.h"
#include "core/memory.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

namespace qkv::app {

namespace {
constexpr int kMaxScriptedFrames = 10000;
constexpr int kMaxHead = 1023;
constexpr int kMaxTrainSteps = 100000;
constexpr int kMaxLessonStep = 100;
constexpr int kMinWidth = 320, kMinHeight = 240, kMaxSide = 8192;
// --train-steps N starts a run this long at least, so the Train tab can go on from where the script left it.
constexpr int kMinScriptedRunSteps = 3000;
}  // namespace

int parse_options(int argc, char** argv, Options& o) {
  CLI::App cli{"QKV Lab — the Transformer's attention, visible and touchable"};  // i18n: name — CLI11 --help stays English
  cli.add_option("--session", o.session_file, "Open this session (JSON)");
  cli.add_option("--model", o.model_dir, "Open a real checkpoint's folder: GPT-2 or BERT as downloaded from the model hub "
                                        "(config.json, model.safetensors, vocab.json+merges.txt, tokenizer.json or vocab.txt)");
  cli.add_option("--screenshot", o.screenshot, "Render, save the window as PNG, and exit");
  cli.add_option("--frames", o.frames, "Frames to render before the screenshot")->check(CLI::Range(1, kMaxScriptedFrames));
  cli.add_option("--panel", o.panel, "Open on this tab: " + tab_names());
  cli.add_option("--block", o.block, "Select an attention block, e.g. decoder.0.cross_attn");
  cli.add_option("--head", o.head, "Select a head")->check(CLI::Range(0, kMaxHead));
  cli.add_option("--layout-json", o.layout_json, "With --screenshot: also write where each heatmap was drawn (for tests)");
  cli.add_option("--state-json", o.state_json, "With --screenshot: also write the selection, tab, lesson, dialog and tab strip (for tests)");
  cli.add_option("--keys", o.keys, "With --screenshot: tap these keys at once after the first frame, as a fast clicker does "
                                   "(comma-separated: Right,PageDown,Ctrl+O,S …)");
  cli.add_option("--click", o.click, "With --screenshot: click the control with this label after the first frame (e.g. d_model)");
  cli.add_option("--type", o.type, "With --screenshot: type this text after --click (or into whatever has the keyboard), "
                                   "one character per frame as a person types");
  cli.add_flag("--until-computing", o.until_computing, "With --screenshot: capture as soon as a slow recompute shows \"computing…\" "
                                                       "over the previous trace (tests of that state)");
  cli.add_option("--train-steps", o.train_steps, "Train the Train tab's default run this many steps before the first frame (paused)")
      ->check(CLI::Range(0, kMaxTrainSteps));
  cli.add_option("--lesson", o.lesson, "Open a lesson (id or number) at its live state");
  cli.add_option("--step", o.lesson_step, "With --lesson: open it at this \"try\" step")->check(CLI::Range(0, kMaxLessonStep));
  cli.add_option("--export-png", o.lesson_png_dir, "With --lesson: write one PNG per step of the lesson to this folder and exit");
  cli.add_option("--lang", o.lang, "Language of the whole interface (menus, tabs, panels, messages, lessons): en | zh. "
                                   "Without it: the one chosen last (Language menu, Ctrl+Shift+L), else en")
      ->check(CLI::IsMember({"en", "zh"}));
  cli.add_flag("--presentation", o.presentation, "Start in presentation mode (full screen, large fonts, high contrast)");
  cli.add_option("--width", o.width, "Window width")->check(CLI::Range(kMinWidth, kMaxSide));
  cli.add_option("--height", o.height, "Window height")->check(CLI::Range(kMinHeight, kMaxSide));
  cli.add_option("--memory-limit", o.memory_limit,
                 "Refuse edits whose run is estimated above this much memory, e.g. 4G or 512M, or off (default: " +
                     std::to_string(static_cast<int>(kDefaultMemoryShare * 100)) + "% of this machine's memory; also QKVLAB_MEMORY_LIMIT)")
      ->check([](const std::string& text) {
        Result<int64_t> bytes = parse_byte_size(text);
        return bytes ? std::string() : bytes.error().message();
      });
  cli.add_option("--check-glyphs", o.check_glyphs, "List every character of these UTF-8 files that the font atlas lacks; exit 1 if any")
      ->expected(1, -1);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }
  o.lang_given = cli.count("--lang") > 0;
  if (!o.memory_limit.empty()) set_memory_limit(*parse_byte_size(o.memory_limit));
  return -1;
}

int apply_options(const Options& o, AppState& state, StartView& view) {
  init_weight_search(state);
  new_session(state);
  if (o.session_file.empty() && state.session.weights.empty()) std::fprintf(stderr, "qkvlab: %s\n", state.message.c_str());
  if (!o.session_file.empty()) {
    Result<Session> loaded = load_session(o.session_file);
    if (!loaded) {
      std::fprintf(stderr, "qkvlab: %s\n", loaded.error().message().c_str());
      return 2;
    }
    replace_session(state, *loaded, o.session_file, phrase("file.opened", arg("path", o.session_file)));
    state.sel.block = BlockRef{};
  }
  // Read on a worker like File ▸ Open model…: the first frames show the toy model and the progress; a folder that
  // cannot be read is explained on screen, and the app goes on.
  if (!o.model_dir.empty()) open_model(state, o.model_dir);
  state.sel.head = o.head;
  if (!o.block.empty()) {
    bool found = false;
    for (const BlockRef& b : attention_blocks(state.session.model))
      if (b.path() == o.block) state.sel.block = b, found = true;
    if (!found) {
      std::fprintf(stderr, "qkvlab: this model has no attention block %s (e.g. encoder.0.self_attn, decoder.0.cross_attn)\n", o.block.c_str());
      return 2;
    }
  }
  load_lessons_into(state);
  if (!o.lesson.empty()) {
    view.lesson_index = find_lesson(state, o.lesson);
    if (view.lesson_index < 0) {
      std::fprintf(stderr, "qkvlab: no lesson %s (qkvlab-cli lesson lists them)\n", o.lesson.c_str());
      return 2;
    }
  } else if (!o.lesson_png_dir.empty()) {
    std::fprintf(stderr, "qkvlab: --export-png needs --lesson ID\n");
    return 2;
  }
  if (o.train_steps > 0) {
    if (auto e = validate(TrainConfig{}, state.session.model)) {
      std::fprintf(stderr, "qkvlab: --train-steps: %s\n", e->message().c_str());
      return 2;
    }
    state.training = start_training(state, TrainConfig{}, std::max(o.train_steps, kMinScriptedRunSteps));
    state.training->run_blocking(o.train_steps);
  }
  if (!o.panel.empty()) {
    view.forced_tab = find_tab(o.panel);
    if (view.forced_tab < 0) {
      std::fprintf(stderr, "qkvlab: unknown panel %s (one of: %s)\n", o.panel.c_str(), tab_names().c_str());
      return 2;
    }
  }
  return -1;
}

int open_start_view(const Options& o, AppState& state, const StartView& view) {
  if (o.lang_given) i18n::set_language(o.lang == "zh" ? Lang::Zh : Lang::En);  // the flag wins over imgui.ini
  if (state.lab_tab < 0) state.lab_tab = find_tab("attention");                 // first start: the trained model's heads
  int forced_tab = view.forced_tab >= 0 ? view.forced_tab : state.lab_tab;
  if (view.lesson_index >= 0) {
    open_lesson(state, view.lesson_index, o.lesson_step);
    if (o.panel.empty()) forced_tab = -1;  // the lesson chooses its tab
    if (!o.lesson_png_dir.empty()) start_lesson_export(state, view.lesson_index, o.lesson_png_dir, true);
  }
  state.lessons.presentation = o.presentation;
  if (forced_tab >= 0) state.lab_tab = forced_tab;
  return forced_tab;
}

}  // namespace qkv::app
