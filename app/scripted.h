// QKV Lab app — scripted runs (tests, figure exports): input played into chosen frames, the wait for background
// jobs, and what is written after the last frame (the screenshot, where heatmaps and widgets were drawn, the state).
#pragma once

#include "app/options.h"
#include "app/ui.h"

#include <imgui.h>

#include <chrono>
#include <string>
#include <vector>

namespace qkv::app {

class ScriptedRun {
 public:
  explicit ScriptedRun(const Options&);
  bool active() const { return o_.scripted(); }

  // Before the frame's events reach ImGui: --keys are tapped in frame 1; once a trace is on screen (frame 1 at the
  // earliest), --click presses on the control drawn in the frame before (and releases in the next), and two frames
  // later --type types one character per frame, as a person types: each keystroke is an edit of its own. Returns where ImGui should see the mouse (nowhere, outside the
  // click: no stray tooltip). A bad --keys or --click sets *exit_code and ui.quit.
  ImVec2 play_input(int frame, const AppState&, UiFrame&, int* exit_code);
  // After frame `frame` is rendered: the last frame is due (--frames reached, typing done, background jobs done and
  // laid out — or, with --until-computing, a slow recompute showing "computing…" — or waited for too long).
  bool capture_due(int frame, const AppState&) const;
  // The time a frame took (the main loop tells every frame): the slowest since the scripted input began is in the
  // state json, apart from the set-up frames before it (the font atlas, the first uploads).
  void frame_took(double ms);
  // Writes the screenshot and the JSON files of the frame just rendered; returns an exit code (0: all written).
  int capture(const AppState&, const UiFrame&, int framebuffer_w, int framebuffer_h) const;

 private:
  const Options& o_;
  std::vector<std::string> typed_;  // --type, one UTF-8 character each, in order
  size_t typed_next_ = 0;
  int input_start_ = -1;  // the frame of the --click (−1: no trace on screen yet)
  double longest_since_input_ms_ = 0.0;
  std::chrono::steady_clock::time_point start_;
};

// Where each heatmap was drawn (x0..y1 visible on screen, full_* all its cells), as JSON.
std::string layout_json(const AppState&);
// The selection, tab, lesson, dialog, tab strip, widgets, the trace on screen, … as JSON.
std::string state_json(const AppState&, const UiFrame&, int width, int height);
// qkvlab --check-glyphs FILES: lists every character the font atlas lacks; exit code 1 if any, 2 if unreadable.
int check_glyphs(const std::vector<std::string>& files);

}  // namespace qkv::app
