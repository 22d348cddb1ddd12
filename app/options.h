// QKV Lab app — qkvlab's command line: what to open, and what a scripted run (tests, figure exports) does.
//   qkvlab [--session FILE] [--model DIR] [--panel NAME] [--lesson ID [--step K]] [--screenshot OUT.png [--frames N]] …
#pragma once

#include "app/app_state.h"

#include <string>
#include <vector>

namespace qkv::app {

struct Options {
  std::string session_file, screenshot, panel, layout_json, state_json, block, lesson, lesson_png_dir, keys, click, type;
  std::string model_dir;     // --model: a real checkpoint's folder (GPT-2 or BERT as downloaded), opened on a worker
  std::string memory_limit;  // --memory-limit: what a run may take (core/memory.h), e.g. 4G; empty: the default
  std::string lang = "en";
  std::vector<std::string> check_glyphs;
  int head = 0, train_steps = 0, lesson_step = 0, frames = 3, width = 1440, height = 900;
  bool presentation = false, lang_given = false;
  bool until_computing = false;  // --until-computing: capture once a slow recompute shows "computing…" (tests)
  // A run that renders, writes its files and exits, at a fixed size, without imgui.ini.
  bool scripted() const { return !screenshot.empty() || !lesson_png_dir.empty(); }
};

// What the first frames show, decided by the options before the window opens.
struct StartView {
  int forced_tab = -1;    // --panel (−1: the tab of imgui.ini, or the lesson's)
  int lesson_index = -1;  // --lesson
};

// Returns an exit code when the program should stop (help: 0, a bad flag: 2), else −1.
int parse_options(int argc, char** argv, Options&);
// Applies the options to a fresh state (session, selection, lesson, training). Returns an exit code on a bad
// option (2), else −1.
int apply_options(const Options&, AppState&, StartView&);
// Once imgui.ini is read (it names the last tab): the tab, the lesson and the presentation mode of the first frame.
// Returns the tab the first frames force (−1: none).
int open_start_view(const Options&, AppState&, const StartView&);

}  // namespace qkv::app
