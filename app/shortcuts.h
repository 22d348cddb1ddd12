// QKV Lab app — the actions of the File and View menus and the keyboard shortcuts that run them, in one table:
// what the Help menu lists is what the keys do.
#pragma once

#include "app/app_state.h"
#include "app/ui.h"

#include <span>

namespace qkv::app {

struct Shortcut {
  const char* keys;      // "Ctrl+O" (key names: the same in every language)
  const char* what_key;  // what it does, a key of assets/i18n/app.json ("shortcuts.open": "open a session…")
};
// Every shortcut of the app: the table's, then those that belong to other parts (lessons, the stepper, Train).
std::span<const Shortcut> shortcuts();

using Action = void (*)(AppState&, UiFrame&);
void open_session_dialog(AppState&, UiFrame&);
void save_session_or_ask(AppState&, UiFrame&);  // Ctrl+S: to its file; a new session asks where (Save as)
void save_session_as_dialog(AppState&, UiFrame&);
void export_png_dialog(AppState&, UiFrame&);
// File ▸ Open model…: a real checkpoint's folder (GPT-2 or BERT as downloaded), read on a worker (app_state.h open_model).
void open_model_dialog(AppState&, UiFrame&);
void select_tab(AppState&, int delta);  // the next (+1) or previous (−1) tab, wrapping around
// The language of the whole app (menus, tabs, panels, messages, lessons), saved in imgui.ini.
void set_app_language(AppState&, Lang);
void switch_language(AppState&, UiFrame&);  // Ctrl+Shift+L: English / 简体中文
// The keys of an action of the table ("Ctrl+O"), for a menu item; null if it has none.
const char* keys_of(Action);
// Runs the action of each shortcut pressed this frame (none while a dialog or popup has the keys).
void handle_shortcuts(AppState&, UiFrame&);

}  // namespace qkv::app
