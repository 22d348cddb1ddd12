// qkvlab — the desktop app: one window, the panels of app/panels/ around one AppState.
//   qkvlab [--session FILE] [--screenshot OUT.png [--frames N]] [--panel NAME] [--width W --height H] …
//
// [SECTION] Options
// [SECTION] The window and GL
// [SECTION] Scripted runs: what tests read after the last frame
// [SECTION] main: set-up, the frame loop (sleeps while nothing changes)
#include "app/app_state.h"
#include "app/gl/gl.h"
#include "app/gl/heatmap_renderer.h"
#include "app/gl/screenshot.h"
#include "app/gl/texture.h"
#include "app/jobs.h"
#include "app/lessons_ui.h"
#include "app/platform/events.h"
#include "app/training.h"
#include "app/ui.h"
#include "core/files.h"
#include "core/memory.h"

#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <imgui_internal.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace {

using namespace qkv;
using namespace qkv::app;

// [SECTION] Options
struct Options {
  std::string session_file, screenshot, panel, layout_json, state_json, block, lesson, lesson_png_dir, keys, click, type;
  std::string lang = "en";
  std::vector<std::string> check_glyphs;
  int head = 0, train_steps = 0, lesson_step = 0, frames = 3, width = 1440, height = 900;
  bool presentation = false, lang_given = false;
  bool scripted() const { return !screenshot.empty() || !lesson_png_dir.empty(); }
};

// Returns an exit code when the program should stop (help, a bad flag: 2), else −1.
int parse_options(int argc, char** argv, Options& o) {
  CLI::App cli{"QKV Lab — the Transformer's attention, visible and touchable"};
  cli.add_option("--session", o.session_file, "Open this session (JSON)");
  cli.add_option("--screenshot", o.screenshot, "Render, save the window as PNG, and exit");
  cli.add_option("--frames", o.frames, "Frames to render before the screenshot")->check(CLI::Range(1, 10000));
  cli.add_option("--panel", o.panel, "Open on this tab: " + tab_names());
  cli.add_option("--block", o.block, "Select an attention block, e.g. decoder.0.cross_attn");
  cli.add_option("--head", o.head, "Select a head")->check(CLI::Range(0, 1023));
  cli.add_option("--layout-json", o.layout_json, "With --screenshot: also write where each heatmap was drawn (for tests)");
  cli.add_option("--state-json", o.state_json, "With --screenshot: also write the selection, tab, lesson, dialog and tab strip (for tests)");
  cli.add_option("--keys", o.keys, "With --screenshot: tap these keys at once after the first frame, as a fast clicker does "
                                   "(comma-separated: Right,PageDown,Ctrl+O,S …)");
  cli.add_option("--click", o.click, "With --screenshot: click the control with this label after the first frame (e.g. d_model)");
  cli.add_option("--type", o.type, "With --screenshot: type this text after --click (or into whatever has the keyboard)");
  cli.add_option("--train-steps", o.train_steps, "Train the Train tab's default run this many steps before the first frame (paused)")
      ->check(CLI::Range(0, 100000));
  cli.add_option("--lesson", o.lesson, "Open a lesson (id or number) at its live state");
  cli.add_option("--step", o.lesson_step, "With --lesson: open it at this \"try\" step")->check(CLI::Range(0, 100));
  cli.add_option("--export-png", o.lesson_png_dir, "With --lesson: write one PNG per step of the lesson to this folder and exit");
  cli.add_option("--lang", o.lang, "Lessons in en | zh")->check(CLI::IsMember({"en", "zh"}));
  cli.add_flag("--presentation", o.presentation, "Start in presentation mode (full screen, large fonts, high contrast)");
  cli.add_option("--width", o.width, "Window width")->check(CLI::Range(320, 8192));
  cli.add_option("--height", o.height, "Window height")->check(CLI::Range(240, 8192));
  cli.add_option("--check-glyphs", o.check_glyphs, "List every character of these UTF-8 files that the font atlas lacks; exit 1 if any")
      ->expected(1, -1);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }
  o.lang_given = cli.count("--lang") > 0;
  return -1;
}

// Applies the options to a fresh state (session, selection, lesson, training). Returns an exit code on a
// bad option (2), else −1.
int apply_options(const Options& o, AppState& state, int& forced_tab, int& lesson_index) {
  init_weight_search(state);
  new_session(state);
  if (o.session_file.empty() && state.session.weights.empty()) std::fprintf(stderr, "qkvlab: %s\n", state.message.c_str());
  if (!o.session_file.empty()) {
    Result<Session> loaded = load_session(o.session_file);
    if (!loaded) {
      std::fprintf(stderr, "qkvlab: %s\n", loaded.error().message().c_str());
      return 2;
    }
    replace_session(state, *loaded, o.session_file, "Opened " + o.session_file);
    state.sel.block = BlockRef{};
  }
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
    lesson_index = find_lesson(state, o.lesson);
    if (lesson_index < 0) {
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
    state.training = start_training(state, TrainConfig{}, std::max(o.train_steps, 3000));
    state.training->run_blocking(o.train_steps);
  }
  if (!o.panel.empty()) {
    forced_tab = find_tab(o.panel);
    if (forced_tab < 0) {
      std::fprintf(stderr, "qkvlab: unknown panel %s (one of: %s)\n", o.panel.c_str(), tab_names().c_str());
      return 2;
    }
  }
  return -1;
}

// [SECTION] The window and GL
void glfw_error(int code, const char* description) { std::fprintf(stderr, "qkvlab: GLFW error %d: %s\n", code, description); }

GLFWwindow* open_window(const Options& o) {
  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    std::fprintf(stderr, "qkvlab: cannot open a window: no display (is DISPLAY set? On a headless machine run under xvfb-run)\n");
    return nullptr;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  if (o.scripted()) glfwWindowHint(GLFW_RESIZABLE, GLFW_FALSE);
  GLFWwindow* window = glfwCreateWindow(o.width, o.height, "QKV Lab", nullptr, nullptr);
  if (!window) {
    std::fprintf(stderr, "qkvlab: cannot create an OpenGL 3.3 core window (the graphics driver may be too old)\n");
    glfwTerminate();
    return nullptr;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(o.scripted() ? 0 : 1);
  if (!gladLoadGL(glfwGetProcAddress)) {
    std::fprintf(stderr, "qkvlab: cannot load OpenGL 3.3 functions\n");
    glfwDestroyWindow(window);
    glfwTerminate();
    return nullptr;
  }
  return window;
}

// Presentation mode: full screen on the primary monitor (scripted runs keep their size).
struct FullScreen {
  bool applied = false;
  int x = 0, y = 0, w = 0, h = 0;
  void follow(GLFWwindow* window, AppState& state, bool scripted) {
    if (state.lessons.presentation == applied) return;
    applied = state.lessons.presentation;
    apply_theme(state);
    if (scripted) return;
    GLFWmonitor* monitor = glfwGetPrimaryMonitor();
    const GLFWvidmode* mode = monitor ? glfwGetVideoMode(monitor) : nullptr;
    if (applied && mode) {
      glfwGetWindowPos(window, &x, &y);
      glfwGetWindowSize(window, &w, &h);
      glfwSetWindowMonitor(window, monitor, 0, 0, mode->width, mode->height, mode->refreshRate);
    } else if (!applied && w > 0) {
      glfwSetWindowMonitor(window, nullptr, x, y, w, h, 0);
    }
  }
};

// [SECTION] Scripted runs: what tests read after the last frame
std::string layout_json(const AppState& s) {
  nlohmann::json out = nlohmann::json::array();
  for (const DrawnHeatmap& h : s.drawn_heatmaps)
    // x0..y1: the part visible on screen; full_*: all the cells (they differ when a heatmap is clipped).
    out.push_back({{"key", h.key}, {"x0", h.x0}, {"y0", h.y0}, {"x1", h.x1}, {"y1", h.y1}, {"rows", h.rows}, {"cols", h.cols},
                   {"full_x0", h.full_x0}, {"full_y0", h.full_y0}, {"full_x1", h.full_x1}, {"full_y1", h.full_y1},
                   {"row_label_step", h.row_label_step}, {"col_label_step", h.col_label_step}, {"labels_drawn", h.labels_drawn},
                   {"masked_cells", h.masked_cells}, {"zoom", h.zoom}});
  return out.dump(1) + "\n";
}

std::string state_json(const AppState& s, const UiFrame& ui, int width, int height) {
  nlohmann::json tabs_drawn = nlohmann::json::array();
  for (const DrawnTab& t : ui.drawn_tabs)
    tabs_drawn.push_back({{"name", t.name}, {"title", t.title}, {"x0", t.x0}, {"y0", t.y0}, {"x1", t.x1}, {"y1", t.y1}, {"text_width", t.text_width}});
  nlohmann::json widgets = nlohmann::json::array();
  for (const DrawnWidget& w : s.drawn_widgets) widgets.push_back({{"label", w.label}, {"x0", w.x0}, {"y0", w.y0}, {"x1", w.x1}, {"y1", w.y1}});
  // Windows whose content is wider than what they show without a horizontal scrollbar: something is cut off
  // at their right edge (ImGui records every item's extent, text included, in ContentSize).
  nlohmann::json overflowing = nlohmann::json::array();
  for (const ImGuiWindow* w : ImGui::GetCurrentContext()->Windows) {
    if (!w->WasActive || w->Hidden || w->ScrollbarX || (w->Flags & ImGuiWindowFlags_HorizontalScrollbar)) continue;
    const float visible = w->InnerRect.GetWidth() + w->WindowPadding.x;
    if (w->ContentSize.x > visible + 1.0f)
      overflowing.push_back({{"window", w->Name}, {"content_width", w->ContentSize.x}, {"visible_width", visible}});
  }
  const LessonState& L = s.lessons;
  nlohmann::json j = {
      {"window", {{"width", width}, {"height", height}}},
      {"tab", s.lab_tab >= 0 && s.lab_tab < static_cast<int>(tabs().size()) ? tabs()[static_cast<size_t>(s.lab_tab)].name : ""},
      {"tabs_drawn", tabs_drawn},
      {"overflowing_windows", overflowing},
      {"longest_frame_ms", s.longest_frame_ms},
      {"block", s.sel.block.path()},
      {"head", s.sel.head},
      {"step", step_title(s.sel.step)},
      {"pinned_row", s.sel.pinned_row},
      {"lesson", L.active >= 0 ? nlohmann::json(L.lessons[static_cast<size_t>(L.active)].id) : nlohmann::json(nullptr)},
      {"lesson_step", L.step},
      {"presentation", L.presentation},
      {"highlights", s.highlights.size()},
      {"text", s.session.input.text},
      {"target", s.session.input.target},
      {"model", {{"d_model", s.session.model.d_model}, {"heads", s.session.model.heads}, {"layers", s.session.model.layers}}},
      {"widgets", widgets},
      {"session_path", s.session_path},
      {"message", s.message},
      {"error", s.error ? nlohmann::json(s.error->message()) : nlohmann::json(nullptr)},
      {"dialog", ui.dialog.title()},
      {"dialog_entries", ui.dialog.entries_shown()},
      {"dialog_dir", ui.dialog.dir()},
  };
  return j.dump(1) + "\n";
}

int check_glyphs(const std::vector<std::string>& files) {
  ImGui::CreateContext();
  load_fonts(17.0f);
  std::string error;
  const std::vector<std::string> missing = missing_glyphs(files, &error);
  ImGui::DestroyContext();
  if (!error.empty()) {
    std::fprintf(stderr, "qkvlab: --check-glyphs: %s\n", error.c_str());
    return 2;
  }
  for (const std::string& m : missing) std::printf("missing glyph %s\n", m.c_str());
  std::printf("%zu file(s) checked: %zu character(s) without a glyph\n", files.size(), missing.size());
  return missing.empty() ? 0 : 1;
}

}  // namespace

// [SECTION] main: set-up, the frame loop (sleeps while nothing changes)
int main(int argc, char** argv) {
  Options o;
  if (const int code = parse_options(argc, argv, o); code >= 0) return code;
  if (!o.check_glyphs.empty()) return check_glyphs(o.check_glyphs);

  retain_freed_memory(argv);
  AppState state;
  int forced_tab = -1, lesson_index = -1;
  if (const int code = apply_options(o, state, forced_tab, lesson_index); code >= 0) return code;

  GLFWwindow* window = open_window(o);
  if (!window) return 1;

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  const std::string ini_path = config_dir() + "/imgui.ini";
  io.IniFilename = o.scripted() ? nullptr : ini_path.c_str();  // scripted runs neither read nor write settings
  register_settings_handler(&state);
  if (io.IniFilename) ImGui::LoadIniSettingsFromDisk(io.IniFilename);
  if (o.lang_given) state.lessons.lang = o.lang == "zh" ? Lang::Zh : Lang::En;  // the flag wins over imgui.ini
  load_fonts(17.0f);
  apply_theme(state);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  install_event_queue(window);
  ImGui_ImplOpenGL3_Init("#version 330");

  TextureCache textures;
  HeatmapRenderer heatmaps;
  std::string shader_error;
  if (!heatmaps.init(&shader_error)) {
    std::fprintf(stderr, "qkvlab: %s\n", shader_error.c_str());
    return 1;
  }
  state.textures = &textures;
  state.heatmaps = &heatmaps;
  if (state.lab_tab < 0) state.lab_tab = find_tab("attention");  // first start: the trained model's heads
  if (forced_tab < 0) forced_tab = state.lab_tab;
  if (lesson_index >= 0) {
    open_lesson(state, lesson_index, o.lesson_step);
    if (o.panel.empty()) forced_tab = -1;  // the lesson chooses its tab
    if (!o.lesson_png_dir.empty()) start_lesson_export(state, lesson_index, o.lesson_png_dir, true);
  }
  state.lessons.presentation = o.presentation;
  if (forced_tab >= 0) state.lab_tab = forced_tab;

  FullScreen full_screen;
  UiFrame ui;
  int exit_code = 0;
  // Frames still to draw after the last event: ImGui settles hover and layout over a couple of frames.
  constexpr int kFramesAfterEvent = 3;
  constexpr double kIdleWakeSeconds = 5.0;  // a safety net: nothing on screen changes while idle
  int frames_to_draw = kFramesAfterEvent;
  unsigned long long events_seen = input_event_count();
  const auto run_start = std::chrono::steady_clock::now();
  for (int frame = 0; !glfwWindowShouldClose(window) && !ui.quit; ++frame) {
    // Sleep until something happens, unless something moves on screen or a scripted run is rendering.
    const bool training = state.training && !state.training->idle();
    const bool busy = o.scripted() || state.dirty || state.animating || training || state.output.running || state.lessons.export_step >= 0 ||
                      ui.dialog.waiting() ||
                      key_events_pending() || !ui.pending_screenshot.empty();
    if (busy || frames_to_draw > 0) glfwPollEvents();
    else glfwWaitEventsTimeout(kIdleWakeSeconds);
    if (input_event_count() != events_seen) events_seen = input_event_count(), frames_to_draw = kFramesAfterEvent;
    else if (!busy && frames_to_draw > 0) --frames_to_draw;
    if (o.scripted() && frame == 1 && !o.keys.empty()) {
      std::stringstream list(o.keys);
      for (std::string key; std::getline(list, key, ',');) {
        std::string error;
        if (!queue_key_tap(key, &error)) std::fprintf(stderr, "qkvlab: --keys: %s\n", error.c_str()), exit_code = 2, ui.quit = true;
      }
    }
    // Scripted input (tests): the click lands on a control drawn in frame 0, the text is typed two frames later.
    ImVec2 scripted_mouse(-FLT_MAX, -FLT_MAX);
    if (o.scripted() && !o.click.empty() && frame >= 1 && frame <= 2) {
      const auto it = std::find_if(state.drawn_widgets.begin(), state.drawn_widgets.end(), [&](const DrawnWidget& w) { return w.label == o.click; });
      if (it == state.drawn_widgets.end()) {
        std::fprintf(stderr, "qkvlab: --click: no control labelled %s on screen\n", o.click.c_str());
        exit_code = 2, ui.quit = true;
      } else {
        scripted_mouse = ImVec2((it->x0 + it->x1) * 0.5f, (it->y0 + it->y1) * 0.5f);
        if (frame == 1) queue_click();
      }
    }
    if (o.scripted() && !o.type.empty() && frame == 3) queue_text(o.type);
    deliver_key_events();
    const auto frame_start = std::chrono::steady_clock::now();
    recompute_if_dirty(state);
    full_screen.follow(window, state, o.scripted());
    state.animating = false;
    state.jobs_running = 0;
    // The first frame is drawn twice: ImGui lays out new windows and the tab strip in a frame it does not show,
    // so the first frame on screen (and a --frames 1 screenshot) is complete.
    for (int pass = frame == 0 ? 0 : 1; pass < 2; ++pass) {
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      if (o.scripted()) io.MousePos = scripted_mouse;  // no stray tooltip in scripted screenshots
      ImGui::NewFrame();
      state.drawn_heatmaps.clear();
      state.drawn_widgets.clear();
      heatmaps.new_frame();
      ui.forced_tab = frame < 2 ? forced_tab : -1;
      draw_ui(state, ui);
      ImGui::Render();
    }
    int fb_w = 0, fb_h = 0;
    glfwGetFramebufferSize(window, &fb_w, &fb_h);
    glViewport(0, 0, fb_w, fb_h);
    const ImVec4 clear = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
    glClearColor(clear.x, clear.y, clear.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    textures.end_frame();
    if (!ui.pending_screenshot.empty()) {
      if (auto e = write_screenshot(ui.pending_screenshot, fb_w, fb_h)) {
        state.message = "Not exported: " + e->message();
        if (state.lessons.export_step >= 0) state.lessons.export_failed = true;
        std::fprintf(stderr, "qkvlab: %s\n", state.message.c_str());
      } else {
        state.message = "Saved the view to " + ui.pending_screenshot;
      }
      ui.pending_screenshot.clear();
    }
    // Background jobs are waited for (at most two minutes): the screenshot shows their results, laid out — the
    // frames after a result arrives settle the layout it changed (a scrollbar that appears narrows the page).
    if (state.jobs_running > 0) state.frames_since_jobs = 0;
    else state.frames_since_jobs = std::min(state.frames_since_jobs + 1, 1000);
    const bool jobs_waited = state.frames_since_jobs >= kSettleFrames || std::chrono::steady_clock::now() - run_start > std::chrono::seconds(120);
    if (!o.screenshot.empty() && frame + 1 >= o.frames && jobs_waited) {
      GLenum err = glGetError();
      if (err != GL_NO_ERROR) {
        for (; err != GL_NO_ERROR; err = glGetError()) std::fprintf(stderr, "qkvlab: GL error 0x%x\n", err);
        exit_code = 1;
      }
      if (auto e = write_screenshot(o.screenshot, fb_w, fb_h)) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
      if (state.error) std::fprintf(stderr, "qkvlab: the session was not applied: %s\n", state.error->message().c_str());
      if (!o.layout_json.empty())
        if (auto e = write_file_atomically(o.layout_json, layout_json(state))) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
      if (!o.state_json.empty())
        if (auto e = write_file_atomically(o.state_json, state_json(state, ui, fb_w, fb_h))) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
      ui.quit = true;
    }
    glfwSwapBuffers(window);
    state.frame_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame_start).count();
    state.longest_frame_ms = std::max(state.longest_frame_ms, state.frame_ms);
    // Waiting for a job, a scripted run leaves the cores to it rather than spinning frames (no vsync there).
    if (o.scripted() && state.jobs_running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  cancel_all_jobs();  // a lab's sweep still running stops at its next run; no worker outlives main
  if (io.IniFilename) ImGui::SaveIniSettingsToDisk(io.IniFilename);
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  if (!o.lesson_png_dir.empty() && state.lessons.export_failed) exit_code = 1;
  return exit_code;
}
