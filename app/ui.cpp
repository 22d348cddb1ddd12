// QKV Lab app — the window's contents: fonts, theme, settings, the menu and the layout of the panels.
#include "app/ui.h"

#include "app/lessons_ui.h"

#include "app/panels/panels.h"
#include "core/export.h"

#include <imgui.h>
#include <imgui_internal.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>

namespace qkv::app {

// [SECTION] The panels, in one place: the sidebar's and the main area's tabs.
namespace {
const Tab kTabList[] = {
    {"lessons", "Lessons 课程", DrawLessonsPanel},
    {"stepper", "Layer stepper", DrawStepperPanel},
    {"attention", "Attention heads", DrawAttentionPanel},
    {"qkv", "Q, K, V", DrawQKVPanel},
    {"scaling", "Scaling & softmax", DrawScalingPanel},
    {"masks", "Masks", DrawMaskPanel},
    {"positions", "Positional encoding", DrawPositionsPanel},
    {"parameters", "Parameters & cost", DrawParametersPanel},
    {"gradients", "Gradients", DrawGradientsPanel},
    {"train", "Train", DrawTrainPanel},
    {"output", "Output", DrawOutputPanel},
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
void load_fonts(float size) {
  ImGuiIO& io = ImGui::GetIO();
  // Latin, Greek (τ), punctuation (· — …), super/subscripts, phonetic (ᵀ), arrows, maths (√ −∞ ×), boxes.
  static ImVector<ImWchar> ranges;
  ImFontGlyphRangesBuilder builder;
  builder.AddRanges(io.Fonts->GetGlyphRangesDefault());
  static const ImWchar extra[] = {0x0370, 0x03FF, 0x1D00, 0x1D7F, 0x2000, 0x206F, 0x2070, 0x209F, 0x2190, 0x21FF,
                                  0x2200, 0x22FF, 0x2300, 0x23FF, 0x2500, 0x25FF, 0};
  builder.AddRanges(extra);
  builder.BuildRanges(&ranges);
  const char* latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  if (!std::filesystem::exists(latin) || !io.Fonts->AddFontFromFileTTF(latin, size, nullptr, ranges.Data)) {
    std::fprintf(stderr, "qkvlab: %s not found (install fonts-dejavu-core); using ImGui's built-in font, some symbols will show as '?'\n", latin);
    io.Fonts->AddFontDefault();
    return;
  }
  // Chinese, merged in when a CJK font is installed (fonts-wqy-microhei or fonts-noto-cjk).
  for (const char* cjk : {"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"}) {
    if (!std::filesystem::exists(cjk)) continue;
    ImFontConfig merge;
    merge.MergeMode = true;
    merge.OversampleH = 1;
    if (io.Fonts->AddFontFromFileTTF(cjk, size, &merge, io.Fonts->GetGlyphRangesChineseSimplifiedCommon())) return;
  }
}

void apply_theme(const AppState& s) {
  if (ImGui::GetCurrentContext()->SettingsLoaded) ImGui::MarkIniSettingsDirty();
  if (s.dark_theme) ImGui::StyleColorsDark();
  else ImGui::StyleColorsLight();
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowRounding = 0.0f;
  style.FrameRounding = 4.0f;
  style.GrabRounding = 4.0f;
  style.TabRounding = 4.0f;
  ImGui::GetIO().FontGlobalScale = s.font_scale;
  if (s.lessons.presentation) {  // high contrast and large type for a projector
    ImGui::StyleColorsDark();
    style.Colors[ImGuiCol_WindowBg] = ImVec4(0, 0, 0, 1);
    style.Colors[ImGuiCol_ChildBg] = ImVec4(0, 0, 0, 1);
    style.Colors[ImGuiCol_Text] = ImVec4(1, 1, 1, 1);
    style.Colors[ImGuiCol_TextDisabled] = ImVec4(0.85f, 0.85f, 0.85f, 1);
    style.Colors[ImGuiCol_FrameBg] = ImVec4(0.12f, 0.12f, 0.16f, 1);
    style.Colors[ImGuiCol_Tab] = ImVec4(0.15f, 0.15f, 0.2f, 1);
    style.Colors[ImGuiCol_TabActive] = ImVec4(0.1f, 0.35f, 0.8f, 1);
    ImGui::GetIO().FontGlobalScale = s.font_scale * 1.5f;
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
    else if (std::sscanf(line, "Tab=%d", &i) == 1 && i >= 0 && i < kTabCount) s->lab_tab = i;
    else if (std::sscanf(line, "SidebarWidth=%f", &f) == 1 && f >= 100.0f && f <= 4000.0f) s->sidebar_width = f;
    else if (std::sscanf(line, "Lang=%d", &i) == 1 && i >= 0 && i < static_cast<int>(Lang::Count)) s->lessons.lang = static_cast<Lang>(i);
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
    out->appendf("[%s][Settings]\nDarkTheme=%d\nFontScale=%.2f\nTab=%d\nSidebarWidth=%.0f\nLang=%d\nLessonsDone=%s\n\n", h->TypeName,
                 g_settings_target->dark_theme ? 1 : 0, g_settings_target->font_scale, g_settings_target->lab_tab, g_settings_target->sidebar_width,
                 static_cast<int>(g_settings_target->lessons.lang), done.c_str());
  };
  ImGui::GetCurrentContext()->SettingsHandlers.push_back(handler);
}

std::string config_dir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  const std::string dir = xdg && *xdg ? std::string(xdg) + "/qkvlab" : std::string(home ? home : ".") + "/.config/qkvlab";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir;
}

// [SECTION] File menu: a path prompt (ImGui has no native file dialog) and the actions.
namespace {

void draw_menu(AppState& s, PathPrompt& prompt, bool& quit, std::string& pending_screenshot) {
  if (!ImGui::BeginMainMenuBar()) return;
  const auto ask = [&](const char* title, std::string initial, std::function<void(const std::string&)> action) {
    prompt = {title, std::move(initial), std::move(action)};
  };
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("New session", "Ctrl+N")) {
      s.session = default_session(&s.message);
      s.session_path.clear();
      s.dirty = true;
    }
    if (ImGui::MenuItem("Open session…", "Ctrl+O"))
      ask("Open session", s.session_path.empty() ? "session.json" : s.session_path, [&s](const std::string& path) {
        Result<Session> loaded = load_session(path);
        if (!loaded) {
          s.message = "Not opened: " + loaded.error().message();
          return;
        }
        s.session = *loaded;
        s.session_path = path;
        s.dirty = true;
        s.message = "Opened " + path;
      });
    const auto save_to = [&s](const std::string& path) {
      if (auto e = save_session(s.session, path)) s.message = "Not saved: " + e->message();
      else s.session_path = path, s.message = "Saved " + path;
    };
    if (ImGui::MenuItem("Save session", "Ctrl+S")) {
      if (s.session_path.empty()) ask("Save session as", "session.json", save_to);
      else save_to(s.session_path);
    }
    if (ImGui::MenuItem("Save session as…")) ask("Save session as", s.session_path.empty() ? "session.json" : s.session_path, save_to);
    ImGui::Separator();
    if (ImGui::MenuItem("Export view as PNG…", "F12"))
      ask("Export the window as PNG", "qkvlab-view.png", [&pending_screenshot](const std::string& path) { pending_screenshot = path; });
    if (ImGui::MenuItem("Export every tensor as .npy…"))
      ask("Export tensors to folder", "qkvlab-export", [&s](const std::string& dir) {
        if (!s.trace) return;
        if (auto e = export_npy(*s.trace, s.session, dir)) s.message = "Not exported: " + e->message();
        else s.message = "Exported " + std::to_string(s.trace->tensors.size() + s.trace->weights->size()) + " tensors to " + dir;
      });
    if (ImGui::MenuItem("Export every tensor as CSV…"))
      ask("Export tensors to folder (CSV)", "qkvlab-csv", [&s](const std::string& dir) {
        if (!s.trace) return;
        if (auto e = export_csv(*s.trace, dir)) s.message = "Not exported: " + e->message();
        else s.message = "Exported " + std::to_string(s.trace->tensors.size() + s.trace->weights->size()) + " tensors as CSV to " + dir;
      });
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) quit = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    if (ImGui::MenuItem("Dark theme", nullptr, s.dark_theme)) s.dark_theme = true, apply_theme(s);
    if (ImGui::MenuItem("Light theme", nullptr, !s.dark_theme)) s.dark_theme = false, apply_theme(s);
    if (ImGui::SliderFloat("Font scale", &s.font_scale, 0.75f, 2.0f, "%.2f")) apply_theme(s);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Lessons")) {
    if (ImGui::MenuItem("Open the Lessons tab")) s.request_tab = find_tab("lessons");
    if (ImGui::MenuItem("Presentation mode", "F11")) {
      if (s.lessons.active < 0) open_lesson(s, s.lessons.selected, 0);
      s.lessons.presentation = true;
    }
    if (ImGui::MenuItem("Export the open lesson's figures (PNG)", nullptr, false, s.lessons.active >= 0)) {
      const Lesson& l = s.lessons.lessons[static_cast<size_t>(s.lessons.active)];
      start_lesson_export(s, s.lessons.active, "qkvlab-lesson-" + l.id, false);
    }
    if (ImGui::MenuItem("Close the lesson", nullptr, false, s.lessons.active >= 0)) close_lesson(s);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    ImGui::TextUnformatted("QKV Lab: every number of a Transformer's forward pass, live.");
    ImGui::Separator();
    ImGui::TextUnformatted("← →  previous / next sub-step of the layer");
    ImGui::TextUnformatted("↑ ↓  previous / next attention block (layer)");
    ImGui::TextUnformatted("Hover a cell: its query, key, score, scaled score, mask, probability");
    ImGui::TextUnformatted("Click a row: pin it as a bar chart; right-click a heatmap: save it as PNG or CSV");
    ImGui::TextUnformatted("Click a token chip: mark it as padding");
    ImGui::TextUnformatted("Ctrl+O / Ctrl+S: open / save the session; F12: export the view as PNG; S: flip the √d_k scaling");
    ImGui::TextUnformatted("Gradients tab: ∂L/∂S, ∂L/∂P, the softmax Jacobian of a pinned row, weight-gradient norms, why √d_k");
    ImGui::TextUnformatted("Train tab: F5 train / pause / resume, F6 one step; the previous run stays as a dashed ghost curve");
    ImGui::TextUnformatted("Lessons tab: 30 interview questions in English and 简体中文, each opening a live demo; drill mode");
    ImGui::TextUnformatted("F11 presentation mode; PageDown / PageUp (and the arrows in presentation) step through a lesson");
    ImGui::TextUnformatted("The app opens on shipped trained weights (reverse the letters); Model ▸ Weights switches to untrained");
    ImGui::EndMenu();
  }
  ImGui::EndMainMenuBar();

  if (prompt.title && !ImGui::IsPopupOpen(prompt.title)) ImGui::OpenPopup(prompt.title);
  if (prompt.title && ImGui::BeginPopupModal(prompt.title, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 30);
    if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
    const bool enter = ImGui::InputText("path", &prompt.path, ImGuiInputTextFlags_EnterReturnsTrue);
    if (enter || ImGui::Button("OK")) {
      prompt.action(prompt.path);
      prompt = {};
      ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
      prompt = {};
      ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
  }
}

// [SECTION] The layout: sidebar (input, model) | tabs of the labs; status bar at the bottom.
// The three host windows tile the viewport, so their background is the glClear colour: drawing it again as a
// full-screen blended quad costs time under software GL (llvmpipe) for nothing.
bool begin_host_window(const char* name, bool* open, ImGuiWindowFlags flags) {
  ImGui::PushStyleColor(ImGuiCol_WindowBg, IM_COL32(0, 0, 0, 0));
  const bool visible = ImGui::Begin(name, open, flags);
  ImGui::PopStyleColor();
  return visible;
}

void draw_layout(AppState& s, int forced_tab) {
  if (s.request_tab >= 0) {
    forced_tab = s.request_tab;
    s.request_tab = -1;
  }
  const bool present = s.lessons.presentation;  // presentation: no sidebar, no status bar
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float status_h = present ? 0.0f : ImGui::GetFrameHeight() + 6.0f;
  const ImGuiWindowFlags fixed = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings;

  // The sidebar's right edge can be dragged; its width is kept in AppState and saved in imgui.ini.
  const float height = vp->WorkSize.y - status_h;
  const float min_w = 260.0f, max_w = std::max(min_w, vp->WorkSize.x * 0.6f);
  s.sidebar_width = std::clamp(s.sidebar_width, min_w, max_w);
  if (!present) {
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(ImVec2(s.sidebar_width, height));
    ImGui::SetNextWindowSizeConstraints(ImVec2(min_w, height), ImVec2(max_w, height));
    if (begin_host_window("Sentence and model", nullptr, fixed & ~ImGuiWindowFlags_NoResize)) {
      if (ImGui::CollapsingHeader("Input", ImGuiTreeNodeFlags_DefaultOpen)) DrawInputPanel(s);
      if (ImGui::CollapsingHeader("Model", ImGuiTreeNodeFlags_DefaultOpen)) DrawModelPanel(s);
    }
    if (ImGui::GetWindowWidth() != s.sidebar_width) ImGui::MarkIniSettingsDirty();  // saved within io.IniSavingRate
    s.sidebar_width = ImGui::GetWindowWidth();
    ImGui::End();
  }
  const float sidebar_w = present ? 0.0f : s.sidebar_width;

  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + sidebar_w, vp->WorkPos.y));
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x - sidebar_w, vp->WorkSize.y - status_h));
  if (begin_host_window("Labs", nullptr, fixed | ImGuiWindowFlags_NoTitleBar)) {
    DrawLessonStrip(s);
    if (ImGui::BeginTabBar("labs")) {
      for (int i = 0; i < kTabCount; ++i) {
        const ImGuiTabItemFlags flags = forced_tab == i ? ImGuiTabItemFlags_SetSelected : 0;
        if (ImGui::BeginTabItem(kTabList[i].title, nullptr, flags)) {
          if (s.lab_tab != i) ImGui::MarkIniSettingsDirty();
          s.lab_tab = i;
          if (!s.trace) ImGui::TextDisabled("Computing…");
          else kTabList[i].draw(s);
          ImGui::EndTabItem();
        }
      }
      ImGui::EndTabBar();
    }
  }
  ImGui::End();

  if (present) return;
  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x, vp->WorkPos.y + vp->WorkSize.y - status_h));
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x, status_h));
  if (begin_host_window("status", nullptr, fixed | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar)) {
    if (s.trace)
      ImGui::Text("recompute %.2f ms · frame %.1f ms · %zu tensors · n = %zu", s.recompute_ms, s.frame_ms, s.trace->tensors.size(),
                  s.trace->source_tokens.size());
    if (s.error) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "· not applied: %s", s.error->what.c_str());
    } else if (s.trace && !s.trace->warnings.empty()) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(1.0f, 0.8f, 0.3f, 1.0f), "· %s", s.trace->warnings.front().c_str());
    }
    if (!s.message.empty()) {
      ImGui::SameLine();
      ImGui::TextDisabled("· %s", s.message.c_str());
    }
  }
  ImGui::End();
}

}  // namespace

void draw_ui(AppState& s, UiFrame& f) {
  s.gradients_wanted = false;  // the Gradients panel asks again while it is drawn
  handle_lesson_keys(s);
  lesson_export_tick(s, f);
  if (!s.lessons.presentation) draw_menu(s, f.prompt, f.quit, f.pending_screenshot);
  draw_layout(s, f.forced_tab);
}

}  // namespace qkv::app
