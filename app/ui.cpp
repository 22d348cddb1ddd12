// QKV Lab app — the window's contents: fonts, theme, settings, the menu and the layout of the panels.
#include "app/ui.h"

#include "app/lessons_ui.h"
#include "app/real_model.h"
#include "app/shortcuts.h"

#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "core/export.h"
#include "core/files.h"

#include <qkvlab_glyphs.h>

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_internal.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace qkv::app {

// [SECTION] The panels, in one place: the sidebar's and the main area's tabs.
namespace {
// The first column is the --panel name (never translated); the second the key of the title shown.
const Tab kTabList[] = {
    {"lessons", "tab.lessons", DrawLessonsPanel},
    {"stepper", "tab.stepper", DrawStepperPanel},
    {"attention", "tab.attention", DrawAttentionPanel},
    {"qkv", "tab.qkv", DrawQKVPanel},
    {"scaling", "tab.scaling", DrawScalingPanel},
    {"masks", "tab.masks", DrawMaskPanel},
    {"positions", "tab.positions", DrawPositionsPanel},
    {"parameters", "tab.parameters", DrawParametersPanel},
    {"gradients", "tab.gradients", DrawGradientsPanel},
    {"train", "tab.train", DrawTrainPanel},
    {"output", "tab.output", DrawOutputPanel},
};
constexpr int kTabCount = static_cast<int>(std::size(kTabList));

}  // namespace

std::span<const Tab> tabs() { return kTabList; }

int find_tab(std::string_view name) {
  for (int i = 0; i < kTabCount; ++i)
    if (name == kTabList[i].name) return i;
  return -1;
}

std::string tab_names() {
  std::string names;
  for (const Tab& t : kTabList) names += (names.empty() ? "" : " | ") + std::string(t.name);
  return names;
}

namespace {
AppState* g_settings_target = nullptr;  // the ini handler's callbacks have no user pointer in ImGui 1.86
}  // namespace


// [SECTION] Fonts and theme
namespace {
constexpr float kRounding = 4.0f;               // frames, grabs and tabs
constexpr float kPresentationFontScale = 1.5f;  // large type for a projector
// Presentation mode's high-contrast palette.
const ImVec4 kBlack{0, 0, 0, 1}, kWhite{1, 1, 1, 1};
const ImVec4 kPresentationDimText{0.85f, 0.85f, 0.85f, 1};
const ImVec4 kPresentationFrame{0.12f, 0.12f, 0.16f, 1};
const ImVec4 kPresentationTab{0.15f, 0.15f, 0.2f, 1};
const ImVec4 kPresentationTabActive{0.1f, 0.35f, 0.8f, 1};
constexpr const char* kLatinFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kCjkFonts[] = {"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"};

// The text shipped as data (lessons, UI strings) as it is on disk now: a lesson edited after the build still
// finds its characters in the atlas.
void add_asset_text(ImFontGlyphRangesBuilder& builder) {
  std::error_code ec;
  for (const char* sub : {"/lessons", "/i18n"})
    for (const auto& entry : std::filesystem::directory_iterator(assets_dir() + sub, ec))
      if (entry.path().extension() == ".json")
        if (Result<std::string> text = read_file(entry.path().string())) builder.AddText(text->c_str());
}
}  // namespace

// The atlas holds every character the app's own text can show (kAppGlyphRanges: UI literals, lessons and UI
// strings, collected at build time by cmake/glyph_ranges.py), the lessons as they are on disk now, Latin-1
// for typed text, and the common simplified Chinese characters for typed Chinese. DejaVu Sans draws what it
// has (maths symbols); the CJK font fills in the rest.
void load_fonts(float size) {
  ImGuiIO& io = ImGui::GetIO();
  static ImVector<ImWchar> ranges;  // must outlive the atlas
  ImFontGlyphRangesBuilder builder;
  builder.AddRanges(io.Fonts->GetGlyphRangesDefault());
  builder.AddRanges(reinterpret_cast<const ImWchar*>(kAppGlyphRanges));
  // GPT-2's byte symbols (U+0100…U+0143: "Ġ" for a space, "Ċ" for a newline) in raw vocabulary pieces, and the rest of
  // Latin Extended-A, which real vocabularies hold.
  static const ImWchar kLatinExtendedA[] = {0x0100, 0x017F, 0};
  builder.AddRanges(kLatinExtendedA);
  add_asset_text(builder);
  const bool have_cjk = std::any_of(std::begin(kCjkFonts), std::end(kCjkFonts), [](const char* f) { return std::filesystem::exists(f); });
  if (have_cjk) builder.AddRanges(io.Fonts->GetGlyphRangesChineseSimplifiedCommon());
  ranges.clear();
  builder.BuildRanges(&ranges);
  if (!std::filesystem::exists(kLatinFont) || !io.Fonts->AddFontFromFileTTF(kLatinFont, size, nullptr, ranges.Data)) {
    std::fprintf(stderr, "qkvlab: %s not found (install fonts-dejavu-core); using ImGui's built-in font, some symbols will show as '?'\n", kLatinFont);
    io.Fonts->AddFontDefault();
    return;
  }
  // Merged: a glyph DejaVu Sans already has is kept; the CJK font adds the ones it lacks.
  for (const char* cjk : kCjkFonts) {
    if (!std::filesystem::exists(cjk)) continue;
    ImFontConfig merge;
    merge.MergeMode = true;
    merge.OversampleH = 1;
    if (io.Fonts->AddFontFromFileTTF(cjk, size, &merge, ranges.Data)) return;
  }
  std::fprintf(stderr, "qkvlab: no Chinese font found (install fonts-wqy-microhei); Chinese text will show as '?'\n");
}

std::vector<std::string> missing_glyphs(const std::vector<std::string>& files, std::string* error) {
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  if (!atlas->IsBuilt()) atlas->Build();
  const ImFont* font = atlas->Fonts.empty() ? nullptr : atlas->Fonts[0];
  std::vector<std::string> missing;
  std::set<unsigned> seen;
  for (const std::string& file : files) {
    Result<std::string> text = read_file(file);
    if (!text) {
      if (error) *error = text.error().message();
      return missing;
    }
    for (const char* p = text->c_str(); *p;) {
      unsigned c = 0;
      const int len = ImTextCharFromUtf8(&c, p, nullptr);
      const std::string ch(p, static_cast<size_t>(std::max(len, 1)));
      p += std::max(len, 1);
      if (c < 0x80 || c == 0xFFFD || !seen.insert(c).second) continue;
      if (!font || c > IM_UNICODE_CODEPOINT_MAX || !font->FindGlyphNoFallback(static_cast<ImWchar>(c))) {
        char line[64];
        std::snprintf(line, sizeof line, "U+%04X %s", c, ch.c_str());
        missing.push_back(std::string(line) + " (first in " + file + ")");  // i18n: name — --check-glyphs output, read by tests
      }
    }
  }
  return missing;
}

void apply_theme(const AppState& s) {
  if (ImGui::GetCurrentContext()->SettingsLoaded) ImGui::MarkIniSettingsDirty();
  if (s.dark_theme) ImGui::StyleColorsDark();
  else ImGui::StyleColorsLight();
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowRounding = 0.0f;
  style.FrameRounding = kRounding;
  style.GrabRounding = kRounding;
  style.TabRounding = kRounding;
  ImGui::GetIO().FontGlobalScale = s.font_scale;
  if (s.lessons.presentation) {  // high contrast and large type for a projector
    ImGui::StyleColorsDark();
    style.Colors[ImGuiCol_WindowBg] = kBlack;
    style.Colors[ImGuiCol_ChildBg] = kBlack;
    style.Colors[ImGuiCol_Text] = kWhite;
    style.Colors[ImGuiCol_TextDisabled] = kPresentationDimText;
    style.Colors[ImGuiCol_FrameBg] = kPresentationFrame;
    style.Colors[ImGuiCol_Tab] = kPresentationTab;
    style.Colors[ImGuiCol_TabActive] = kPresentationTabActive;
    ImGui::GetIO().FontGlobalScale = s.font_scale * kPresentationFontScale;
  }
}

// [SECTION] Settings persisted in imgui.ini
void register_settings_handler(AppState* target) {
  g_settings_target = target;
  ImGuiSettingsHandler handler;
  handler.TypeName = "QKVLab";
  handler.TypeHash = ImHashStr("QKVLab");
  handler.ReadOpenFn = [](ImGuiContext*, ImGuiSettingsHandler*, const char*) -> void* { return g_settings_target; };
  handler.ReadLineFn = [](ImGuiContext*, ImGuiSettingsHandler*, void* entry, const char* line) {
    auto* s = static_cast<AppState*>(entry);
    int i = 0;
    float f = 0;
    if (std::sscanf(line, "DarkTheme=%d", &i) == 1) s->dark_theme = i != 0;
    else if (std::sscanf(line, "FontScale=%f", &f) == 1 && f >= 0.5f && f <= 3.0f) s->font_scale = f;
    else if (std::sscanf(line, "Tab=%d", &i) == 1 && i >= 0 && i < kTabCount) s->lab_tab = i;  // i18n: name (an imgui.ini key)
    else if (std::sscanf(line, "SidebarWidth=%f", &f) == 1 && f >= 100.0f && f <= 4000.0f) s->sidebar_width = f;
    else if (std::sscanf(line, "Lang=%d", &i) == 1 && i >= 0 && i < static_cast<int>(Lang::Count)) i18n::set_language(static_cast<Lang>(i));  // i18n: name
    else if (std::strncmp(line, "LessonsDone=", 12) == 0) {
      std::string ids = line + 12;
      for (size_t start = 0; start < ids.size();) {
        const size_t comma = std::min(ids.find(',', start), ids.size());
        if (comma > start) s->lessons.done.insert(ids.substr(start, comma - start));
        start = comma + 1;
      }
    }
  };
  handler.WriteAllFn = [](ImGuiContext*, ImGuiSettingsHandler* h, ImGuiTextBuffer* out) {
    std::string done;
    for (const std::string& id : g_settings_target->lessons.done) done += (done.empty() ? "" : ",") + id;
    out->appendf("[%s][Settings]\nDarkTheme=%d\nFontScale=%.2f\nTab=%d\nSidebarWidth=%.0f\nLang=%d\nLessonsDone=%s\n\n", h->TypeName,  // i18n: name
                 g_settings_target->dark_theme ? 1 : 0, g_settings_target->font_scale, g_settings_target->lab_tab, g_settings_target->sidebar_width,
                 static_cast<int>(i18n::language()), done.c_str());
  };
  ImGui::GetCurrentContext()->SettingsHandlers.push_back(handler);
}

std::optional<Lang> saved_language(const std::string& ini_path) {
  Result<std::string> text = read_file(ini_path);
  if (!text) return std::nullopt;
  bool ours = false;  // inside [QKVLab][Settings]
  for (size_t start = 0; start < text->size();) {
    const size_t end = std::min(text->find('\n', start), text->size());
    const std::string line = text->substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line[0] == '[') ours = line.rfind("[QKVLab][Settings]", 0) == 0;
    int i = 0;
    if (ours && std::sscanf(line.c_str(), "Lang=%d", &i) == 1 && i >= 0 && i < static_cast<int>(Lang::Count)) return static_cast<Lang>(i);  // i18n: name
  }
  return std::nullopt;
}

std::string config_dir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  const std::string dir = xdg && *xdg ? std::string(xdg) + "/qkvlab" : std::string(home ? home : ".") + "/.config/qkvlab";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir;
}

// [SECTION] The menu bar
namespace {

void draw_menu(AppState& s, UiFrame& f) {
  if (!ImGui::BeginMainMenuBar()) return;
  if (ImGui::BeginMenu(tr_id("menu.file"))) {
    if (ImGui::MenuItem(tr_id("menu.file.new"), "Ctrl+N")) new_session(s);
    if (ImGui::MenuItem(tr_id("menu.file.open"), keys_of(open_session_dialog))) open_session_dialog(s, f);
    if (ImGui::MenuItem(tr_id("app_pretrained.menu_open"), keys_of(open_model_dialog))) open_model_dialog(s, f);
    if (ImGui::MenuItem(tr_id("app_pretrained.menu_close"), nullptr, false, !s.session.model_dir.empty())) close_model(s);
    if (ImGui::MenuItem(tr_id("menu.file.save"), keys_of(save_session_or_ask))) save_session_or_ask(s, f);
    if (ImGui::MenuItem(tr_id("menu.file.save_as"), keys_of(save_session_as_dialog))) save_session_as_dialog(s, f);
    ImGui::Separator();
    if (ImGui::MenuItem(tr_id("menu.file.export_png"), keys_of(export_png_dialog))) export_png_dialog(s, f);
    if (ImGui::MenuItem(tr_id("menu.file.export_npy")))
      f.dialog.open({tr("file.dialog.export_npy"), FileDialogMode::Folder, "", {}, [&s](const std::string& dir) {
                       if (!s.trace) return;
                       size_t written = 0;
                       if (auto e = export_npy(*s.trace, s.session, dir, &written)) s.message = phrase("file.not_exported", arg("reason", e->message()));
                       else s.message = phrase("file.exported_npy", arg("count", written), arg("dir", dir));
                     }});
    if (ImGui::MenuItem(tr_id("menu.file.export_csv")))
      f.dialog.open({tr("file.dialog.export_csv"), FileDialogMode::Folder, "", {}, [&s](const std::string& dir) {
                       if (!s.trace) return;
                       size_t written = 0;
                       if (auto e = export_csv(*s.trace, dir, &written)) s.message = phrase("file.not_exported", arg("reason", e->message()));
                       else s.message = phrase("file.exported_csv", arg("count", written), arg("dir", dir));
                     }});
    ImGui::Separator();
    if (ImGui::MenuItem(tr_id("menu.file.quit"), "Ctrl+Q")) f.quit = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu(tr_id("menu.view"))) {
    if (ImGui::MenuItem(tr_id("menu.view.dark"), nullptr, s.dark_theme)) s.dark_theme = true, apply_theme(s);
    if (ImGui::MenuItem(tr_id("menu.view.light"), nullptr, !s.dark_theme)) s.dark_theme = false, apply_theme(s);
    if (ImGui::SliderFloat(tr_id("menu.view.font_scale"), &s.font_scale, 0.75f, 2.0f, "%.2f")) apply_theme(s);
    ImGui::Separator();
    if (ImGui::MenuItem(tr_id("menu.view.next_tab"), "Ctrl+PageDown")) select_tab(s, +1);
    if (ImGui::MenuItem(tr_id("menu.view.prev_tab"), "Ctrl+PageUp")) select_tab(s, -1);
    ImGui::EndMenu();
  }
  // The language of the whole app. Each language is named in its own script, so whoever cannot read the one on
  // screen still finds theirs; the shortcut switches to the other one.
  if (ImGui::BeginMenu(tr_id("menu.language"))) {
    const Lang now = i18n::language();
    if (ImGui::MenuItem("English", now == Lang::En ? nullptr : keys_of(switch_language), now == Lang::En)) set_app_language(s, Lang::En);
    if (ImGui::MenuItem("简体中文", now == Lang::Zh ? nullptr : keys_of(switch_language), now == Lang::Zh)) set_app_language(s, Lang::Zh);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu(tr_id("menu.lessons"))) {
    if (ImGui::MenuItem(tr_id("menu.lessons.open_tab"))) s.request_tab = find_tab("lessons");
    if (ImGui::MenuItem(tr_id("menu.lessons.present"), "F11")) {
      if (s.lessons.active < 0) open_lesson(s, s.lessons.selected, 0);
      s.lessons.presentation = true;
    }
    if (ImGui::MenuItem(tr_id("menu.lessons.export"), nullptr, false, s.lessons.active >= 0)) {
      const Lesson& l = s.lessons.lessons[static_cast<size_t>(s.lessons.active)];
      start_lesson_export(s, s.lessons.active, "qkvlab-lesson-" + l.id, false);
    }
    if (ImGui::MenuItem(tr_id("menu.lessons.close"), nullptr, false, s.lessons.active >= 0)) close_lesson(s);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu(tr_id("menu.help"))) {
    ImGui::TextUnformatted(tr("app.help.about"));
    ImGui::Separator();
    if (ImGui::BeginTable("keys", 2, ImGuiTableFlags_SizingFixedFit)) {
      for (const Shortcut& k : shortcuts()) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(k.keys);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(tr(k.what_key));
      }
      ImGui::EndTable();
    }
    ImGui::Separator();
    for (const char* key : {"app.help.worker", "app.help.reuse", "app.help.lean", "app.help.memory", "app.help.hover", "app.help.click_row",
                            "app.help.wheel", "app.help.output", "app.help.chip", "app.help.gradients", "app.help.train", "app.help.lessons",
                            "app.help.weights", "app_pretrained.help_open", "app_pretrained.help_files", "app_pretrained.help_ablate"})
      ImGui::TextUnformatted(tr(key));
    ImGui::EndMenu();
  }
  ImGui::EndMainMenuBar();
}

// [SECTION] The layout: sidebar (input, model) | tabs of the labs; status bar at the bottom.
constexpr float kStatusBarPadding = 6.0f;       // pixels above and below the status line
constexpr float kSidebarMinWidth = 260.0f;      // pixels
constexpr float kSidebarMaxShare = 0.6f;        // of the window's width
constexpr float kTabUnderline = 2.0f;           // pixels
constexpr float kBusyBarEms = 9.0f;             // the recompute's progress bar, in font heights
// What the UI says while a slow recompute runs: the heatmaps on screen are the previous edit's (not an error).
constexpr const char* kStaleNote = "status.stale";  // a key: "showing the previous edit: computing the new one…"

// The running recompute's progress as "3/8 layers" and a fraction (each pass it makes counts its layers).
float recompute_progress(const AppState& s, char* overlay, size_t size) {
  const int done = s.recompute.done(), total = s.recompute.total();
  std::snprintf(overlay, size, "%s", trf("status.progress", arg("done", done), arg("total", total)).c_str());
  return total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f;
}

void recompute_progress_bar(const AppState& s) {
  char overlay[48];
  const float fraction = recompute_progress(s, overlay, sizeof overlay);
  ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * kBusyBarEms, 0.0f), overlay);
}

// A real model's folder being read (open_model): tensors converted / all.
void model_load_progress_bar(const AppState& s, float width) {
  const int done = s.model_load.job.done(), total = s.model_load.job.total();
  const std::string overlay = trf("app_pretrained.loading_progress", arg("done", done), arg("total", total));
  ImGui::ProgressBar(total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f, ImVec2(width, 0.0f), overlay.c_str());
}

// A model folder that could not be read: what and why, with the hint, in a dialog over everything (a status line
// would be missed). The session on screen is untouched.
void draw_model_error(AppState& s) {
  ModelLoadState& L = s.model_load;
  const std::string title = tr_label("app_pretrained.error_title", "");
  if (L.failed && !ImGui::IsPopupOpen(title.c_str())) ImGui::OpenPopup(title.c_str());
  const float width = std::min(ImGui::GetMainViewport()->WorkSize.x * 0.8f, ImGui::GetFontSize() * 36.0f);
  if (!ImGui::BeginPopupModal(title.c_str(), nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  ImGui::TextUnformatted(trf("app_pretrained.error_folder", arg("dir", L.failed_dir)).c_str());
  if (L.failed) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    ImGui::TextUnformatted(L.failed->what.c_str());
    ImGui::PopStyleColor();
    if (!L.failed->hint.empty()) ImGui::TextUnformatted(trf("model.hint", arg("hint", L.failed->hint)).c_str());
  }
  ImGui::TextDisabled("%s", tr("app_pretrained.error_kept"));
  ImGui::PopTextWrapPos();
  if (ImGui::Button(tr_id("app_pretrained.error_ok")) || !L.failed) {
    L.failed.reset();
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

// Presentation mode has no status bar: a slow recompute says so in the bottom-right corner, small and quiet.
void draw_busy_corner(const AppState& s) {
  if (!s.recompute_slow) return;
  char overlay[48];
  const float fraction = recompute_progress(s, overlay, sizeof overlay);
  const std::string text = trf("status.computing", arg("progress", overlay));
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const ImGuiStyle& style = ImGui::GetStyle();
  const ImVec2 size = ImGui::CalcTextSize(text.c_str());
  const ImVec2 pad = style.FramePadding;
  const ImVec2 b(vp->WorkPos.x + vp->WorkSize.x - pad.x, vp->WorkPos.y + vp->WorkSize.y - pad.y);
  const ImVec2 a(b.x - size.x - pad.x * 2.0f, b.y - size.y - pad.y * 2.0f);
  ImDrawList* list = ImGui::GetForegroundDrawList();
  list->AddRectFilled(a, b, ImGui::GetColorU32(ImGuiCol_FrameBg), style.FrameRounding);
  list->AddRectFilled(a, ImVec2(a.x + (b.x - a.x) * fraction, b.y), ImGui::GetColorU32(ImGuiCol_PlotHistogram, 0.5f), style.FrameRounding);
  list->AddText(ImVec2(a.x + pad.x, a.y + pad.y), ImGui::GetColorU32(ImGuiCol_TextDisabled), text.c_str());
}

// The three host windows tile the viewport, so their background is the glClear colour: drawing it again as a
// full-screen blended quad costs time under software GL (llvmpipe) for nothing.
bool begin_host_window(const char* name, bool* open, ImGuiWindowFlags flags) {
  ImGui::PushStyleColor(ImGuiCol_WindowBg, IM_COL32(0, 0, 0, 0));
  const bool visible = ImGui::Begin(name, open, flags);
  ImGui::PopStyleColor();
  return visible;
}

// The tabs of the labs as a strip that wraps onto a second row rather than truncate a title (ImGui's tab bar
// shortens titles to "Scaling & soft…" when they do not fit).
void draw_tab_strip(AppState& s, UiFrame& f) {
  f.drawn_tabs.clear();
  const ImGuiStyle& style = ImGui::GetStyle();
  const float right = ImGui::GetCursorScreenPos().x + ImGui::GetContentRegionAvail().x;
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(style.ItemInnerSpacing.x, style.ItemInnerSpacing.y));
  ImGui::PushStyleVar(ImGuiStyleVar_FrameRounding, style.TabRounding);
  for (int i = 0; i < kTabCount; ++i) {
    const char* title = tr(kTabList[i].title_key);
    const float text_w = ImGui::CalcTextSize(title).x;
    const float w = text_w + style.FramePadding.x * 2.0f;
    if (i > 0) {
      ImGui::SameLine();
      if (ImGui::GetCursorScreenPos().x + w > right) ImGui::NewLine();
    }
    const bool selected = s.lab_tab == i;
    ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(selected ? ImGuiCol_TabActive : ImGuiCol_Tab));
    ImGui::PushStyleColor(ImGuiCol_ButtonHovered, ImGui::GetStyleColorVec4(ImGuiCol_TabHovered));
    ImGui::PushStyleColor(ImGuiCol_ButtonActive, ImGui::GetStyleColorVec4(ImGuiCol_TabActive));
    if (ImGui::Button(tr_id(kTabList[i].title_key), ImVec2(w, 0)) && !selected) {  // its id is the key in every language
      s.lab_tab = i;
      ImGui::MarkIniSettingsDirty();
    }
    ImGui::PopStyleColor(3);
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    f.drawn_tabs.push_back({kTabList[i].name, title, a.x, a.y, b.x, b.y, text_w});
  }
  ImGui::PopStyleVar(2);
  // The strip's underline, in the selected tab's colour, as ImGui's tab bar draws it.
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddLine(ImVec2(p.x, p.y - style.ItemSpacing.y * 0.5f), ImVec2(right, p.y - style.ItemSpacing.y * 0.5f),
                                      ImGui::GetColorU32(ImGuiCol_TabActive), kTabUnderline);
  ImGui::Spacing();
}

void draw_layout(AppState& s, UiFrame& f) {
  int forced_tab = f.forced_tab;
  if (s.request_tab >= 0) {
    forced_tab = s.request_tab;
    s.request_tab = -1;
  }
  if (forced_tab >= 0 && forced_tab < kTabCount) {
    if (s.lab_tab != forced_tab) ImGui::MarkIniSettingsDirty();
    s.lab_tab = forced_tab;
  }
  if (s.lab_tab < 0 || s.lab_tab >= kTabCount) s.lab_tab = 0;
  const bool present = s.lessons.presentation;  // presentation: no sidebar, no status bar
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float status_h = present ? 0.0f : ImGui::GetFrameHeight() + kStatusBarPadding;
  const ImGuiWindowFlags fixed = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings;

  // The sidebar's right edge can be dragged; its width is kept in AppState and saved in imgui.ini.
  const float height = vp->WorkSize.y - status_h;
  const float min_w = kSidebarMinWidth, max_w = std::max(min_w, vp->WorkSize.x * kSidebarMaxShare);
  s.sidebar_width = std::clamp(s.sidebar_width, min_w, max_w);
  if (!present) {
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(ImVec2(s.sidebar_width, height));
    ImGui::SetNextWindowSizeConstraints(ImVec2(min_w, height), ImVec2(max_w, height));
    if (begin_host_window(tr_id("app.sidebar"), nullptr, fixed & ~ImGuiWindowFlags_NoResize)) {
      if (ImGui::CollapsingHeader(tr_id("app.sidebar.input"), ImGuiTreeNodeFlags_DefaultOpen)) DrawInputPanel(s);
      if (ImGui::CollapsingHeader(tr_id("app.sidebar.model"), ImGuiTreeNodeFlags_DefaultOpen)) DrawModelPanel(s);
    }
    if (ImGui::GetWindowWidth() != s.sidebar_width) ImGui::MarkIniSettingsDirty();  // saved within io.IniSavingRate
    s.sidebar_width = ImGui::GetWindowWidth();
    ImGui::End();
  }
  const float sidebar_w = present ? 0.0f : s.sidebar_width;

  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + sidebar_w, vp->WorkPos.y));
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x - sidebar_w, vp->WorkSize.y - status_h));
  if (begin_host_window("Labs", nullptr, fixed | ImGuiWindowFlags_NoTitleBar)) {  // i18n: name (an ImGui id: no title bar)
    DrawLessonStrip(s);
    draw_tab_strip(s, f);
    // The tab's content scrolls on its own: the lesson strip and the tabs stay on screen.
    ImGui::BeginChild("tab_content", ImVec2(0, 0), false);
    if (!s.trace) {
      ImGui::TextDisabled("%s", tr("status.computing_first"));
      if (s.recompute_slow) recompute_progress_bar(s);
    } else {
      kTabList[s.lab_tab].draw(s);
    }
    ImGui::EndChild();
  }
  ImGui::End();

  if (present) {
    draw_busy_corner(s);
    return;
  }
  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x, vp->WorkPos.y + vp->WorkSize.y - status_h));
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x, status_h));
  if (begin_host_window("status", nullptr, fixed | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar)) {
    // One line: each part takes what the previous ones left; a part that does not fit ends in "…" and shows
    // its whole text in a tooltip (a status line must not grow, and must not be cut silently).
    bool first = true;
    const auto part = [&](const ImVec4* color, const std::string& text) {
      if (!first) ImGui::SameLine();
      first = false;
      const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
      const float room = std::max(ImGui::GetFontSize(), right - ImGui::GetCursorScreenPos().x);
      if (color) ImGui::PushStyleColor(ImGuiCol_Text, *color);
      text_ellipsis(text, room);
      if (color) ImGui::PopStyleColor();
    };
    // A slow recompute: its progress first (it is what changes), then the note that the trace is the previous one.
    if (s.trace && s.recompute_slow) {
      recompute_progress_bar(s);
      first = false;
      const ImVec4 dim = ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled);
      part(&dim, tr(kStaleNote));
    }
    // A model folder being read: its progress, then which folder.
    if (s.model_load.loading()) {
      if (!first) ImGui::SameLine();
      model_load_progress_bar(s, ImGui::GetFontSize() * kBusyBarEms);
      first = false;
      const ImVec4 dim = ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled);
      part(&dim, trf("app_pretrained.loading", arg("dir", s.model_load.job.key())));
    }
    // The real model, compact: its name and parameters, and whether it runs as trained (green) or toggled (amber).
    if (const std::shared_ptr<const PretrainedModel> m = session_model(s)) {
      const bool trained = loaded_as_trained(s.session, *m);
      const ImVec4 color = trained ? kAsTrainedColor : kWarningColor;
      part(&color, trf(trained ? "app_pretrained.status_trained" : "app_pretrained.status_toggled", arg("title", m->card.title),
                       arg("params", with_separators(m->card.parameters))));
    }
    if (s.trace) {
      part(nullptr, trf("status.stats", arg("recompute", s.recompute_ms), arg("frame", s.frame_ms), arg("tensors", s.trace->tensors.size()),
                        arg("n", s.trace->source_tokens.size())));
    }
    if (s.error) part(&kErrorColor, "· " + trf("status.not_applied", arg("reason", s.error->what)));
    else if (s.trace && !s.trace->warnings.empty()) part(&kWarningColor, "· " + s.trace->warnings.front());
    if (!s.message.empty()) {
      const ImVec4 dim = ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled);
      part(&dim, "· " + s.message.str());
    }
  }
  ImGui::End();
}

}  // namespace

void draw_ui(AppState& s, UiFrame& f) {
  s.gradients_wanted = false;  // the Gradients panel asks again while it is drawn
  handle_shortcuts(s, f);
  handle_lesson_keys(s);
  lesson_export_tick(s, f);
  if (!s.lessons.presentation) draw_menu(s, f);
  draw_layout(s, f);
  draw_model_error(s);
  f.dialog.draw();
}

}  // namespace qkv::app
