// QKV Lab app — the window's contents, shared by the app's main loop and the frame benchmark.
#pragma once

#include "app/app_state.h"
#include "app/file_dialog.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::app {

// The labs, in one place: each a tab of the main area (the sidebar holds the input and model panels).
struct Tab {
  const char* name;       // for --panel (a name: the same in every language)
  const char* title_key;  // its title on screen: a key of assets/i18n/app.json ("tab.attention")
  void (*draw)(AppState&);
};
std::span<const Tab> tabs();
int find_tab(std::string_view name);  // −1 if unknown
std::string tab_names();              // "stepper | attention | …"

void load_fonts(float size);  // DejaVu Sans (maths symbols) with a CJK font merged in when installed
// Every character of these files (UTF-8) that the font atlas has no glyph for, as "U+6A21 模 (first in F)".
// Builds the atlas if needed (no GL context required). *error: a file that could not be read.
std::vector<std::string> missing_glyphs(const std::vector<std::string>& files, std::string* error);
void apply_theme(const AppState&);
void register_settings_handler(AppState* target);  // theme, font scale, tab and language, in imgui.ini
std::string config_dir();                          // ~/.config/qkvlab (created)
// The language saved in an imgui.ini ("Lang=" of its [QKVLab][Settings]), if any: read before the window opens, so
// the messages made at start-up (the model opened, a session file) are already in it.
std::optional<Lang> saved_language(const std::string& ini_path);

// Where the tab strip drew each tab this frame (screen pixels), for scripted tests of the layout.
struct DrawnTab {
  std::string name, title;  // title: as shown, in the current language
  float x0, y0, x1, y1;
  float text_width;  // the title's width: a tab narrower than its text would be truncated
};

// What one frame of the UI asks of the main loop.
struct UiFrame {
  FileDialog dialog;
  bool quit = false;
  std::string pending_screenshot;  // a PNG path to write after this frame renders
  int forced_tab = -1;             // select this tab (for --panel)
  std::vector<DrawnTab> drawn_tabs;
};

void draw_ui(AppState&, UiFrame&);  // the menu bar, the sidebar, the labs and the status bar

}  // namespace qkv::app
