// QKV Lab app — the window's contents, shared by the app's main loop and the frame benchmark.
#pragma once

#include "app/app_state.h"

#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace qkv::app {

// The labs, in one place: each a tab of the main area (the sidebar holds the input and model panels).
struct Tab {
  const char* name;   // for --panel
  const char* title;  // on screen
  void (*draw)(AppState&);
};
std::span<const Tab> tabs();
int find_tab(std::string_view name);  // −1 if unknown
std::string tab_names();              // "stepper | attention | …"

void load_fonts(float size);  // DejaVu Sans (maths symbols) with a CJK font merged in when installed
void apply_theme(const AppState&);
void register_settings_handler(AppState* target);  // theme, font scale and tab, in imgui.ini
std::string config_dir();                          // ~/.config/qkvlab (created)

// A path prompt (ImGui has no native file dialog).
struct PathPrompt {
  const char* title = nullptr;
  std::string path;
  std::function<void(const std::string&)> action;
};

// What one frame of the UI asks of the main loop.
struct UiFrame {
  PathPrompt prompt;
  bool quit = false;
  std::string pending_screenshot;  // a PNG path to write after this frame renders
  int forced_tab = -1;             // select this tab (for --panel)
};

void draw_ui(AppState&, UiFrame&);  // the menu bar, the sidebar, the labs and the status bar

}  // namespace qkv::app
