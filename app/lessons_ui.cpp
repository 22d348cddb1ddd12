#include "app/lessons_ui.h"
#include "app/widgets/text_wrap.h"

#include <GLFW/glfw3.h>  // key codes: ImGui 1.86 indexes keys by the backend's codes
#include <imgui.h>
#include <imgui_internal.h>  // MarkIniSettingsDirty
#include <imgui_stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/shortcuts.h"
#include "app/ui.h"
#include "app/widgets/common.h"
#include "core/files.h"

namespace qkv::app {

// [SECTION] Loading
void load_lessons_into(AppState& s) {
  LessonState& L = s.lessons;
  L.load_errors.clear();
  L.lessons = load_lessons(assets_dir() + "/lessons", &L.load_errors);
  for (const std::string& e : L.load_errors) std::fprintf(stderr, "qkvlab: lessons: %s\n", e.c_str());
}

int find_lesson(const AppState& s, const std::string& id) {
  const auto& all = s.lessons.lessons;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].id == id || std::to_string(all[i].number) == id) return static_cast<int>(i);
  return -1;
}

// [SECTION] Opening a lesson's live state
namespace {

bool parse_block(const std::string& path, BlockRef& out) {
  const size_t a = path.find('.'), b = path.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) return false;
  const std::string stack = path.substr(0, a), kind = path.substr(b + 1);
  out.decoder = stack == "decoder";
  out.cross = kind == "cross_attn";
  out.layer = std::atoi(path.c_str() + a + 1);
  return stack == "encoder" || stack == "decoder";
}

void apply_view(AppState& s, const LessonView& v) {
  s.request_tab = find_tab(v.panel);
  if (!v.block.empty()) {
    BlockRef b;
    if (parse_block(v.block, b)) s.sel.block = b;
  }
  s.sel.head = v.head;
  // A step of the block as this config wires it; "norm" and "+residual" name the attention sublayer's (the first).
  if (!v.step.empty())
    for (const LayerStepView& st : layer_steps(s.session.model, s.sel.block.path(), s.sel.head))
      if (v.step == step_title(st.step)) {
        s.sel.step = st.step;
        break;
      }
  for (int i = 0; i < static_cast<int>(Stage::Count); ++i)
    if (!v.stage.empty() && v.stage == stage_name(static_cast<Stage>(i))) s.sel.stage = static_cast<Stage>(i);
  s.sel.pinned_row = v.pinned_row;
  s.request_section = v.section;
}

const std::string& rendered(AppState& s, const Lesson& l, const char* field, const Text& text) {
  const std::string key = l.id + "/" + name(i18n::language()) + "/" + field;
  auto it = s.lessons.rendered.find(key);
  if (it != s.lessons.rendered.end()) return it->second;
  Result<Session> base = lesson_session(l);
  std::string out = base ? render_text(text.in(i18n::language()), l, *base, assets_dir() + "/weights") : text.in(i18n::language());
  return s.lessons.rendered[key] = std::move(out);
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool matches(const Lesson& l, const std::string& query) {
  if (query.empty()) return true;
  const std::string q = lower(query);
  if (lower(l.id).find(q) != std::string::npos) return true;
  for (const Text* t : lesson_texts(l))
    if (lower(t->en).find(q) != std::string::npos || t->zh.find(query) != std::string::npos) return true;
  return false;
}

void paragraphs(const std::string& text) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find("\n\n", start);
    text_wrapped("%s", text.substr(start, end == std::string::npos ? std::string::npos : end - start).c_str());
    if (end == std::string::npos) break;
    ImGui::Spacing();
    start = end + 2;
  }
}

}  // namespace

void open_lesson(AppState& s, int index, int step) {
  if (index < 0 || index >= static_cast<int>(s.lessons.lessons.size())) return;
  const Lesson& l = s.lessons.lessons[static_cast<size_t>(index)];
  Result<Session> base = lesson_session(l);
  if (!base) {
    s.message = phrase("lessons.msg.cannot_open", arg("id", l.id), arg("reason", base.error().message()));
    return;
  }
  Session current = *base;
  LessonView view = l.view;
  step = std::clamp(step, 0, static_cast<int>(l.steps.size()));
  for (int k = 0; k < step; ++k) {
    Result<Session> next = patch_session(current, l.steps[static_cast<size_t>(k)].set);
    if (!next) {
      s.message = phrase("lessons.msg.step_failed", arg("id", l.id), arg("step", k + 1), arg("reason", next.error().message()));
      step = k;
      break;
    }
    current = *next;
    if (l.steps[static_cast<size_t>(k)].view) view = *l.steps[static_cast<size_t>(k)].view;
  }
  s.session = current;
  s.session_path.clear();
  s.dirty = true;
  s.error.reset();
  apply_view(s, view);
  s.highlights = step == 0 ? l.highlights : l.steps[static_cast<size_t>(step - 1)].highlights;
  // The first highlighted tensor scrolls into view where its tab is taller than the window (unless the step
  // names a section of its own).
  s.scroll_to_tensor = s.highlights.empty() || !s.request_section.empty() ? "" : s.highlights.front().tensor;
  s.lessons.active = index;
  s.lessons.selected = index;
  s.lessons.step = step;
  s.message = step == 0 ? phrase("lessons.msg.opened", arg("number", l.number)) : phrase("lessons.msg.opened_step", arg("number", l.number), arg("step", step));
}

void close_lesson(AppState& s) {
  s.lessons.active = -1;
  s.highlights.clear();
}

namespace {
void go(AppState& s, int delta) {
  LessonState& L = s.lessons;
  if (L.active < 0) return;
  const int steps = static_cast<int>(L.lessons[static_cast<size_t>(L.active)].steps.size());
  if (delta > 0) {
    if (L.step < steps) open_lesson(s, L.active, L.step + 1);
    else if (L.active + 1 < static_cast<int>(L.lessons.size())) open_lesson(s, L.active + 1, 0);
  } else {
    if (L.step > 0) open_lesson(s, L.active, L.step - 1);
    else if (L.active > 0) open_lesson(s, L.active - 1, 0);
  }
}
}  // namespace

void handle_lesson_keys(AppState& s) {
  if (ImGui::GetIO().WantTextInput || ImGui::GetIO().KeyCtrl) return;  // Ctrl+PageDown/Up switch tabs
  LessonState& L = s.lessons;
  if (ImGui::IsKeyPressed(GLFW_KEY_F11)) L.presentation = !L.presentation;
  if (L.presentation && ImGui::IsKeyPressed(GLFW_KEY_ESCAPE)) L.presentation = false;
  if (L.active < 0) return;
  // What presentation clickers send: PageDown / PageUp, and the arrow keys.
  const bool arrows = L.presentation;
  if (ImGui::IsKeyPressed(GLFW_KEY_PAGE_DOWN) || (arrows && (ImGui::IsKeyPressed(GLFW_KEY_RIGHT) || ImGui::IsKeyPressed(GLFW_KEY_DOWN)))) go(s, +1);
  if (ImGui::IsKeyPressed(GLFW_KEY_PAGE_UP) || (arrows && (ImGui::IsKeyPressed(GLFW_KEY_LEFT) || ImGui::IsKeyPressed(GLFW_KEY_UP)))) go(s, -1);
}

// [SECTION] The strip above the labs
void DrawLessonStrip(AppState& s) {
  LessonState& L = s.lessons;
  if (L.active < 0) return;
  const Lesson& l = L.lessons[static_cast<size_t>(L.active)];
  const ImVec4 accent(1.0f, 0.82f, 0.25f, 1.0f);
  ImGui::PushStyleColor(ImGuiCol_ChildBg, ImGui::GetStyleColorVec4(ImGuiCol_FrameBg));
  // As tall as its text was last frame (the title, question and notes wrap), at most 40% of the window.
  const float estimate = ImGui::GetTextLineHeightWithSpacing() * (3.5f + 0.9f * static_cast<float>(s.highlights.size())) + 12.0f;
  const float height = std::min(L.strip_height > 0.0f ? L.strip_height : estimate, ImGui::GetMainViewport()->WorkSize.y * 0.4f);
  ImGui::BeginChild("lesson_strip", ImVec2(0, height), true);
  // The buttons sit at the top right; the title wraps in the space to their left (never under them).
  const std::string prev = std::string("◀ ") + tr("lessons.prev"), next = std::string(tr("lessons.next")) + " ▶";
  const ImGuiStyle& style = ImGui::GetStyle();
  const auto small_w = [&](const std::string& label) { return ImGui::CalcTextSize(label.c_str()).x + style.FramePadding.x * 2.0f; };
  const float buttons_w = small_w(prev) + small_w(next) + small_w(tr("lessons.close")) + style.ItemSpacing.x * 2.0f;
  const ImVec2 top = ImGui::GetCursorPos();
  const float right = ImGui::GetWindowContentRegionMax().x;
  ImGui::SetCursorPos(ImVec2(std::max(top.x, right - buttons_w), top.y));
  bool closed = false;
  if (ImGui::SmallButton(prev.c_str())) go(s, -1);
  hover_tip(tr("lessons.keys"));
  ImGui::SameLine();
  if (ImGui::SmallButton(next.c_str())) go(s, +1);
  hover_tip(tr("lessons.keys"));
  ImGui::SameLine();
  if (ImGui::SmallButton(tr("lessons.close"))) closed = true;
  const float buttons_bottom = ImGui::GetItemRectMax().y;
  ImGui::SetCursorPos(top);
  ImGui::PushTextWrapPos(std::max(top.x + 100.0f, right - buttons_w - style.ItemSpacing.x));
  const std::string step_text = trf("lessons.step_of", arg("step", L.step), arg("count", l.steps.size()));
  colored_text(accent, "%d. %s  %s", l.number, l.title.in(i18n::language()).c_str(), step_text.c_str());
  ImGui::PopTextWrapPos();
  if (ImGui::GetItemRectMax().y < buttons_bottom) ImGui::SetCursorScreenPos(ImVec2(ImGui::GetCursorScreenPos().x, buttons_bottom + style.ItemSpacing.y));
  if (closed) {
    close_lesson(s);
    ImGui::EndChild();
    ImGui::PopStyleColor();
    return;
  }
  if (L.step == 0) {
    text_wrapped("%s", rendered(s, l, "question", l.question).c_str());
    for (const Highlight& h : l.highlights) {
      ImGui::TextColored(accent, "%s", tr("lessons.look"));
      ImGui::SameLine();
      text_wrapped("%s%s%s", h.tensor.c_str(), h.note.en.empty() ? "" : " — ", h.note.en.empty() ? "" : h.note.in(i18n::language()).c_str());
    }
  } else {
    const TryStep& t = l.steps[static_cast<size_t>(L.step - 1)];
    ImGui::TextColored(accent, "%s", trf("lessons.try_n", arg("n", L.step)).c_str());
    ImGui::SameLine();
    text_wrapped("%s", rendered(s, l, ("try" + std::to_string(L.step)).c_str(), t.text).c_str());
    for (const Highlight& h : t.highlights) {
      ImGui::TextColored(accent, "%s", tr("lessons.look"));
      ImGui::SameLine();
      text_wrapped("%s%s%s", h.tensor.c_str(), h.note.en.empty() ? "" : " — ", h.note.en.empty() ? "" : h.note.in(i18n::language()).c_str());
    }
  }
  L.strip_height = ImGui::GetCursorPosY() - ImGui::GetStyle().ItemSpacing.y + ImGui::GetStyle().WindowPadding.y * 2.0f;
  ImGui::EndChild();
  ImGui::PopStyleColor();
}

// [SECTION] The Lessons tab
void DrawLessonsPanel(AppState& s) {
  LessonState& L = s.lessons;
  if (L.lessons.empty()) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s", trf("lessons.none_in", arg("dir", assets_dir())).c_str());
    for (const std::string& e : L.load_errors) text_wrapped("%s", e.c_str());
    return;
  }
  int lang = static_cast<int>(i18n::language());
  ImGui::TextUnformatted(tr("lessons.language"));
  ImGui::SameLine();
  bool lang_changed = ImGui::RadioButton("English", &lang, 0);
  ImGui::SameLine();
  lang_changed |= ImGui::RadioButton("简体中文", &lang, 1);
  if (lang_changed) set_app_language(s, static_cast<Lang>(lang));  // the whole app's language, as the Language menu sets it
  ImGui::SameLine(0, 24);
  ImGui::SetNextItemWidth(200);
  ImGui::InputTextWithHint("##search", tr("lessons.search"), &L.search);
  ImGui::SameLine(0, 24);
  ImGui::Checkbox(tr("lessons.drill"), &L.drill);
  ImGui::SameLine(0, 24);
  if (ImGui::Button(tr("lessons.present"))) {
    if (L.active < 0) open_lesson(s, L.selected, 0);
    L.presentation = true;
  }
  ImGui::SameLine(0, 24);
  ImGui::TextUnformatted(trf("lessons.progress_of", arg("done", L.done.size()), arg("count", L.lessons.size())).c_str());
  for (const std::string& e : L.load_errors) ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s", e.c_str());

  // The list.
  const float list_w = std::min(380.0f * ImGui::GetIO().FontGlobalScale, ImGui::GetContentRegionAvail().x * 0.4f);
  ImGui::BeginChild("lesson_list", ImVec2(list_w, 0), true);
  for (size_t i = 0; i < L.lessons.size(); ++i) {
    const Lesson& l = L.lessons[i];
    if (!matches(l, L.search)) continue;
    const bool done = L.done.count(l.id) != 0;
    const std::string label = std::string(done ? "✓ " : "   ") + std::to_string(l.number) + ". " + l.title.in(i18n::language());
    if (selectable_wrapped(("##" + l.id).c_str(), label, L.selected == static_cast<int>(i))) {
      L.selected = static_cast<int>(i);
      L.reveal = false;
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", l.question.in(i18n::language()).c_str());
  }
  ImGui::EndChild();
  ImGui::SameLine();

  // The selected lesson.
  ImGui::BeginChild("lesson_text", ImVec2(0, 0), false);
  L.selected = std::clamp(L.selected, 0, static_cast<int>(L.lessons.size()) - 1);
  const Lesson& l = L.lessons[static_cast<size_t>(L.selected)];
  const ImVec4 accent(1.0f, 0.82f, 0.25f, 1.0f);
  colored_text(accent, "%d. %s", l.number, l.title.in(i18n::language()).c_str());
  if (!l.needs.empty()) {
    std::string needs;
    for (const std::string& n : l.needs) needs += (needs.empty() ? "" : ", ") + n;
    dim_text("%s", trf("lessons.needs_list", arg("list", needs)).c_str());
  }
  heading(tr("lessons.question"));
  text_wrapped("%s", rendered(s, l, "question", l.question).c_str());
  if (L.drill) ImGui::TextDisabled("%s", tr("lessons.drill_help"));
  const bool show_answer = !L.drill || L.reveal;
  if (L.drill) {
    if (ImGui::Button(L.reveal ? tr("lessons.hide") : tr("lessons.reveal"))) L.reveal = !L.reveal;
    same_line_if_fits(button_width(tr("lessons.drill_next")), nullptr);
    if (ImGui::Button(tr("lessons.drill_next"))) {
      // The next lesson not yet marked done, after the current one.
      for (size_t k = 1; k <= L.lessons.size(); ++k) {
        const size_t i = (static_cast<size_t>(L.selected) + k) % L.lessons.size();
        if (!L.done.count(L.lessons[i].id) || k == L.lessons.size()) {
          L.selected = static_cast<int>(i);
          break;
        }
      }
      L.reveal = false;
    }
  }
  if (show_answer) {
    heading(tr("lessons.short"));
    text_wrapped("%s", rendered(s, l, "short", l.short_answer).c_str());
    heading(tr("lessons.explanation"));
    paragraphs(rendered(s, l, "explanation", l.explanation));
    if (!l.steps.empty()) {
      heading(tr("lessons.try"));
      for (size_t k = 0; k < l.steps.size(); ++k) {
        ImGui::PushID(static_cast<int>(k));
        if (ImGui::SmallButton(std::to_string(k + 1).c_str())) open_lesson(s, L.selected, static_cast<int>(k + 1));
        ImGui::SameLine();
        text_wrapped("%s", rendered(s, l, ("try" + std::to_string(k + 1)).c_str(), l.steps[k].text).c_str());
        ImGui::PopID();
      }
    }
  }
  ImGui::Spacing();
  if (ImGui::Button(L.drill ? tr("lessons.demo") : tr("lessons.open"))) open_lesson(s, L.selected, 0);
  const bool done = L.done.count(l.id) != 0;
  same_line_if_fits(button_width(done ? tr("lessons.undone") : tr("lessons.done")), nullptr);
  if (ImGui::Button(done ? tr("lessons.undone") : tr("lessons.done"))) {
    if (done) L.done.erase(l.id);
    else L.done.insert(l.id);
    ImGui::MarkIniSettingsDirty();
  }
  same_line_if_fits(button_width(tr("lessons.export")), nullptr);
  if (ImGui::Button(tr("lessons.export"))) start_lesson_export(s, L.selected, "qkvlab-lesson-" + l.id, false);
  ImGui::EndChild();
}

// [SECTION] Export of a lesson's figures
void start_lesson_export(AppState& s, int index, const std::string& dir, bool quit_after) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    s.message = phrase("lessons.msg.cannot_create", arg("dir", dir), arg("reason", ec.message()));
    std::fprintf(stderr, "qkvlab: %s\n", trf_in(Lang::En, "lessons.msg.cannot_create", arg("dir", dir), arg("reason", ec.message())).c_str());
    return;
  }
  s.lessons.quit_after_export = quit_after;
  open_lesson(s, index, 0);
  if (s.lessons.active != index) {  // the lesson could not open (its message says why)
    std::fprintf(stderr, "qkvlab: not exported: %s\n", s.message.c_str());
    s.lessons.export_failed = true;
    return;
  }
  s.lessons.export_dir = dir;
  s.lessons.export_lesson = index;
  s.lessons.export_step = 0;
  s.lessons.export_wait = 6;
}

void lesson_export_tick(AppState& s, UiFrame& f) {
  LessonState& L = s.lessons;
  if (L.export_failed && L.quit_after_export) f.quit = true;
  if (L.export_step < 0) return;
  if (L.active != L.export_lesson) {  // the lesson was closed or changed: stop rather than export something else
    s.message = phrase("lessons.msg.export_stopped");
    L.export_step = -1;
    L.export_failed = true;
    return;
  }
  const Lesson& l = L.lessons[static_cast<size_t>(L.active)];
  if (L.export_wait > 0) {
    --L.export_wait;
    return;
  }
  if (L.export_wait == 0 && s.frames_since_jobs < kSettleFrames) return;  // a lab still computes (or lays out) what this step shows
  if (L.export_wait == 0) {  // this frame is captured after it renders
    char number[16];
    std::snprintf(number, sizeof number, "/%02d-", l.number);
    f.pending_screenshot = L.export_dir + number + l.id + "-" + std::to_string(L.export_step) + ".png";
    L.export_wait = -1;
    return;
  }
  if (L.export_step < static_cast<int>(l.steps.size())) {
    ++L.export_step;
    open_lesson(s, L.active, L.export_step);
    L.export_wait = 6;
    return;
  }
  const size_t figures = l.steps.size() + 1;
  s.message = phrase("lessons.msg.exported", arg("count", figures), arg("id", l.id), arg("dir", L.export_dir));
  std::fprintf(stderr, "qkvlab: %s\n", trf_in(Lang::En, "lessons.msg.exported", arg("count", figures), arg("id", l.id), arg("dir", L.export_dir)).c_str());
  L.export_step = -1;
  if (L.quit_after_export) f.quit = true;
}

}  // namespace qkv::app
