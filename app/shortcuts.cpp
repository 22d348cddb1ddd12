#include "app/shortcuts.h"

#include "app/file_dialog.h"
#include "app/widgets/common.h"

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_internal.h>  // MarkIniSettingsDirty

#include <string>
#include <vector>

namespace qkv::app {

namespace {
const std::vector<std::string> kSessionExt{".json"}, kPngExt{".png"};

void save_session_to(AppState& s, const std::string& path) {
  if (auto e = save_session(s.session, path)) s.message = phrase("file.not_saved", arg("reason", e->message()));
  else s.session_path = path, s.message = phrase("file.saved", arg("path", path));
}

void flip_scaling(AppState& s) {
  ModelConfig& m = s.session.model;
  m.score_scale = m.score_scale == ScoreScale::None ? ScoreScale::InvSqrtDk : ScoreScale::None;
  s.dirty = true;
}
}  // namespace

void open_session_dialog(AppState& s, UiFrame& f) {
  f.dialog.open({tr("file.dialog.open_session"), FileDialogMode::Open, s.session_path.empty() ? "session.json" : s.session_path, kSessionExt,
                 [&s](const std::string& path) {
                   Result<Session> loaded = load_session(path);
                   if (!loaded) {
                     s.message = phrase("file.not_opened", arg("reason", loaded.error().message()));  // the session on screen stays
                     return;
                   }
                   replace_session(s, *loaded, path, phrase("file.opened", arg("path", path)));
                 }});
}

void save_session_as_dialog(AppState& s, UiFrame& f) {
  f.dialog.open({tr("file.dialog.save_session_as"), FileDialogMode::Save, s.session_path.empty() ? "session.json" : s.session_path, kSessionExt,
                 [&s](const std::string& path) { save_session_to(s, path); }});
}

void save_session_or_ask(AppState& s, UiFrame& f) {
  if (s.session_path.empty()) save_session_as_dialog(s, f);
  else save_session_to(s, s.session_path);
}

void export_png_dialog(AppState&, UiFrame& f) {
  f.dialog.open({tr("file.dialog.export_png"), FileDialogMode::Save, "qkvlab-view.png", kPngExt,
                 [&f](const std::string& path) { f.pending_screenshot = path; }});
}

void open_model_dialog(AppState& s, UiFrame& f) {
  const std::string near = !s.session.model_dir.empty() ? s.session.model_dir : s.model_load.failed_dir;
  f.dialog.open({tr("app_pretrained.dialog_title"), FileDialogMode::Folder, near, {}, [&s](const std::string& dir) { open_model(s, dir); }});
}

void select_tab(AppState& s, int delta) {
  const int n = static_cast<int>(tabs().size());
  s.request_tab = ((s.lab_tab < 0 ? 0 : s.lab_tab) + delta + n) % n;
}

void set_app_language(AppState& s, Lang lang) {
  if (lang == i18n::language()) return;
  i18n::set_language(lang);
  ImGui::MarkIniSettingsDirty();  // "Lang=" of imgui.ini
  // What the core wrote when it ran (a refusal, the trace's warnings) is written again in the new language: one
  // recompute from scratch, as nothing of the session changed for the reuse rule to see.
  s.dirty = true;
  s.recompute_from_scratch = true;
}

void switch_language(AppState& s, UiFrame&) { set_app_language(s, i18n::language() == Lang::En ? Lang::Zh : Lang::En); }

namespace {

// The shortcuts, one row each: what the Help menu lists is what the keys do.
struct ShortcutAction {
  Shortcut text;
  int key;
  bool ctrl, shift;
  bool in_text;  // also while typing in a text field
  Action run;
};
const ShortcutAction kShortcutActions[] = {
    {{"Ctrl+N", "shortcuts.new"}, GLFW_KEY_N, true, false, true, [](AppState& s, UiFrame&) { new_session(s); }},
    {{"Ctrl+O", "shortcuts.open"}, GLFW_KEY_O, true, false, true, open_session_dialog},
    {{"Ctrl+Shift+O", "app_pretrained.shortcut_open"}, GLFW_KEY_O, true, true, true, open_model_dialog},
    {{"Ctrl+S", "shortcuts.save"}, GLFW_KEY_S, true, false, true, save_session_or_ask},
    {{"Ctrl+Shift+S", "shortcuts.save_as"}, GLFW_KEY_S, true, true, true, save_session_as_dialog},
    {{"F12", "shortcuts.export_png"}, GLFW_KEY_F12, false, false, true, export_png_dialog},
    {{"Ctrl+Q", "shortcuts.quit"}, GLFW_KEY_Q, true, false, true, [](AppState&, UiFrame& f) { f.quit = true; }},
    {{"S", "shortcuts.flip_scaling"}, GLFW_KEY_S, false, false, false, [](AppState& s, UiFrame&) { flip_scaling(s); }},
    {{"Ctrl+PageDown", "shortcuts.next_tab"}, GLFW_KEY_PAGE_DOWN, true, false, true, [](AppState& s, UiFrame&) { select_tab(s, +1); }},
    {{"Ctrl+PageUp", "shortcuts.prev_tab"}, GLFW_KEY_PAGE_UP, true, false, true, [](AppState& s, UiFrame&) { select_tab(s, -1); }},
    {{"Ctrl+Shift+L", "shortcuts.language"}, GLFW_KEY_L, true, true, true, switch_language},
};

}  // namespace

const char* keys_of(Action run) {
  for (const ShortcutAction& a : kShortcutActions)
    if (a.run == run) return a.text.keys;
  return nullptr;
}

void handle_shortcuts(AppState& s, UiFrame& f) {
  const ImGuiIO& io = ImGui::GetIO();
  if (f.dialog.busy() || ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId)) return;  // keys belong to the open dialog
  for (const ShortcutAction& a : kShortcutActions) {
    if (io.KeyCtrl != a.ctrl || io.KeyShift != a.shift || io.KeyAlt) continue;
    if (io.WantTextInput && !a.in_text) continue;
    if (ImGui::IsKeyPressed(a.key, false)) a.run(s, f);
  }
}

namespace {

// Shortcuts that belong to other parts of the app (the Help menu lists them too).
const Shortcut kOtherShortcuts[] = {
    {"← →", "shortcuts.stepper_steps"},
    {"↑ ↓", "shortcuts.stepper_blocks"},
    {"F5 / F6", "shortcuts.train"},
    {"F11", "shortcuts.presentation"},
    {"PageDown / PageUp", "shortcuts.lesson_steps"},
};

}  // namespace

std::span<const Shortcut> shortcuts() {
  static const std::vector<Shortcut> all = [] {
    std::vector<Shortcut> v;
    for (const ShortcutAction& a : kShortcutActions) v.push_back(a.text);
    v.insert(v.end(), std::begin(kOtherShortcuts), std::end(kOtherShortcuts));
    return v;
  }();
  return all;
}

}  // namespace qkv::app
