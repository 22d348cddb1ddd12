// qkvlab — the desktop app: one window, the panels of app/panels/ around one AppState.
//   qkvlab [--session FILE] [--screenshot OUT.png [--frames N]] [--panel NAME] [--width W --height H]
#include "app/app_state.h"
#include "app/gl/gl.h"
#include "app/gl/heatmap_renderer.h"
#include "app/gl/screenshot.h"
#include "app/gl/texture.h"
#include "app/lessons_ui.h"
#include "app/training.h"
#include "app/ui.h"
#include "core/export.h"
#include "core/files.h"
#include "core/memory.h"

#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <imgui_internal.h>
#include <imgui_stdlib.h>

#include <cfloat>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

namespace {

using namespace qkv;
using namespace qkv::app;

void glfw_error(int code, const char* description) { std::fprintf(stderr, "qkvlab: GLFW error %d: %s\n", code, description); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"QKV Lab — the Transformer's attention, visible and touchable"};
  std::string session_file, screenshot, panel, layout_json, block;
  int head = 0, train_steps = 0, lesson_step = 0;
  std::string lesson, lesson_png_dir, lang = "en";
  bool presentation = false;
  int frames = 3, width = 1440, height = 900;
  cli.add_option("--session", session_file, "Open this session (JSON)");
  cli.add_option("--screenshot", screenshot, "Render, save the window as PNG, and exit");
  cli.add_option("--frames", frames, "Frames to render before the screenshot")->check(CLI::Range(1, 10000));
  const std::string panel_names = tab_names();
  cli.add_option("--panel", panel, "Open on this tab: " + panel_names);
  cli.add_option("--block", block, "Select an attention block, e.g. decoder.0.cross_attn");
  cli.add_option("--head", head, "Select a head")->check(CLI::Range(0, 1023));
  cli.add_option("--layout-json", layout_json, "With --screenshot: also write where each heatmap was drawn (for tests)");
  cli.add_option("--train-steps", train_steps, "Train the Train tab's default run this many steps before the first frame (paused)")
      ->check(CLI::Range(0, 100000));
  cli.add_option("--lesson", lesson, "Open a lesson (id or number) at its live state");
  cli.add_option("--step", lesson_step, "With --lesson: open it at this \"try\" step")->check(CLI::Range(0, 100));
  cli.add_option("--export-png", lesson_png_dir, "With --lesson: write one PNG per step of the lesson to this folder and exit");
  cli.add_option("--lang", lang, "Lessons in en | zh")->check(CLI::IsMember({"en", "zh"}));
  cli.add_flag("--presentation", presentation, "Start in presentation mode (full screen, large fonts, high contrast)");
  cli.add_option("--width", width, "Window width")->check(CLI::Range(320, 8192));
  cli.add_option("--height", height, "Window height")->check(CLI::Range(240, 8192));
  CLI11_PARSE(cli, argc, argv);

  retain_freed_memory(argv);
  AppState state;
  init_weight_search(state);
  state.session = default_session(&state.message);
  if (session_file.empty() && state.session.weights.empty()) std::fprintf(stderr, "qkvlab: %s\n", state.message.c_str());
  if (session_file.empty()) state.sel.block = BlockRef{true, true, state.session.model.layers - 1};
  if (!session_file.empty()) {
    Result<Session> loaded = load_session(session_file);
    if (!loaded) {
      std::fprintf(stderr, "qkvlab: %s\n", loaded.error().message().c_str());
      return 2;
    }
    state.session = *loaded;
    state.session_path = session_file;
    state.message = "Opened " + session_file;
  }
  state.sel.head = head;
  if (!block.empty()) {
    bool found = false;
    for (const BlockRef& b : attention_blocks(state.session.model))
      if (b.path() == block) state.sel.block = b, found = true;
    if (!found) {
      std::fprintf(stderr, "qkvlab: this model has no attention block %s (e.g. encoder.0.self_attn, decoder.0.cross_attn)\n", block.c_str());
      return 2;
    }
  }
  load_lessons_into(state);
  int lesson_index = -1;
  if (!lesson.empty()) {
    lesson_index = find_lesson(state, lesson);
    if (lesson_index < 0) {
      std::fprintf(stderr, "qkvlab: no lesson %s (qkvlab-cli lesson lists them)\n", lesson.c_str());
      return 2;
    }
  } else if (!lesson_png_dir.empty()) {
    std::fprintf(stderr, "qkvlab: --export-png needs --lesson ID\n");
    return 2;
  }
  if (train_steps > 0) {
    if (auto e = validate(TrainConfig{}, state.session.model)) {
      std::fprintf(stderr, "qkvlab: --train-steps: %s\n", e->message().c_str());
      return 2;
    }
    state.training = start_training(state, TrainConfig{}, std::max(train_steps, 3000));
    state.training->run_blocking(train_steps);
  }
  int forced_tab = -1;
  if (!panel.empty()) {
    forced_tab = find_tab(panel);
    if (forced_tab < 0) {
      std::fprintf(stderr, "qkvlab: unknown panel %s (one of: %s)\n", panel.c_str(), panel_names.c_str());
      return 2;
    }
  }

  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    std::fprintf(stderr, "qkvlab: cannot open a window: no display (is DISPLAY set? On a headless machine run under xvfb-run)\n");
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  if (!screenshot.empty()) glfwWindowHint(GLFW_RESIZABLE, GLFW_FALSE);
  GLFWwindow* window = glfwCreateWindow(width, height, "QKV Lab", nullptr, nullptr);
  if (!window) {
    std::fprintf(stderr, "qkvlab: cannot create an OpenGL 3.3 core window (the graphics driver may be too old)\n");
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(screenshot.empty() ? 1 : 0);
  if (!gladLoadGL(glfwGetProcAddress)) {
    std::fprintf(stderr, "qkvlab: cannot load OpenGL 3.3 functions\n");
    return 1;
  }

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  const std::string ini_path = config_dir() + "/imgui.ini";
  io.IniFilename = screenshot.empty() && lesson_png_dir.empty() ? ini_path.c_str() : nullptr;  // scripted runs neither read nor write settings
  register_settings_handler(&state);
  if (io.IniFilename) ImGui::LoadIniSettingsFromDisk(io.IniFilename);
  if (cli.count("--lang")) state.lessons.lang = lang == "zh" ? Lang::Zh : Lang::En;  // the flag wins over imgui.ini
  load_fonts(17.0f);
  apply_theme(state);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
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
    open_lesson(state, lesson_index, lesson_step);
    if (panel.empty()) forced_tab = -1;  // the lesson chooses its tab
    if (!lesson_png_dir.empty()) start_lesson_export(state, lesson_index, lesson_png_dir, true);
  }
  state.lessons.presentation = presentation;
  bool presentation_applied = false;
  int windowed_x = 0, windowed_y = 0, windowed_w = width, windowed_h = height;

  UiFrame ui;
  std::string& pending_screenshot = ui.pending_screenshot;
  bool& quit = ui.quit;
  int exit_code = 0;
  for (int frame = 0; !glfwWindowShouldClose(window) && !quit; ++frame) {
    const auto frame_start = std::chrono::steady_clock::now();
    glfwPollEvents();
    recompute_if_dirty(state);
    if (state.lessons.presentation != presentation_applied) {
      presentation_applied = state.lessons.presentation;
      apply_theme(state);
      // Full screen on the primary monitor (not in scripted screenshots, which keep their size).
      if (screenshot.empty() && lesson_png_dir.empty()) {
        GLFWmonitor* monitor = glfwGetPrimaryMonitor();
        const GLFWvidmode* mode = monitor ? glfwGetVideoMode(monitor) : nullptr;
        if (presentation_applied && mode) {
          glfwGetWindowPos(window, &windowed_x, &windowed_y);
          glfwGetWindowSize(window, &windowed_w, &windowed_h);
          glfwSetWindowMonitor(window, monitor, 0, 0, mode->width, mode->height, mode->refreshRate);
        } else if (!presentation_applied) {
          glfwSetWindowMonitor(window, nullptr, windowed_x, windowed_y, windowed_w, windowed_h, 0);
        }
      }
    }
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (!screenshot.empty() || !lesson_png_dir.empty()) io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);  // no stray tooltip in scripted screenshots
    ImGui::NewFrame();
    state.drawn_heatmaps.clear();
    heatmaps.new_frame();
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_Q)) quit = true;
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_N)) state.session = default_session(&state.message), state.dirty = true;
    if (!io.KeyCtrl && !io.WantTextInput && ImGui::IsKeyPressed(GLFW_KEY_S)) {  // S: flip the √d_k scaling, the lab's key toggle
      ModelConfig& m = state.session.model;
      m.score_scale = m.score_scale == ScoreScale::None ? ScoreScale::InvSqrtDk : ScoreScale::None;
      state.dirty = true;
    }
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_S) && !state.session_path.empty()) {
      if (auto e = save_session(state.session, state.session_path)) state.message = "Not saved: " + e->message();
      else state.message = "Saved " + state.session_path;
    }
    if (ImGui::IsKeyPressed(GLFW_KEY_F12)) pending_screenshot = "qkvlab-view.png";
    ui.forced_tab = frame < 2 ? forced_tab : -1;
    draw_ui(state, ui);
    ImGui::Render();
    int fb_w = 0, fb_h = 0;
    glfwGetFramebufferSize(window, &fb_w, &fb_h);
    glViewport(0, 0, fb_w, fb_h);
    const ImVec4 clear = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
    glClearColor(clear.x, clear.y, clear.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    textures.end_frame();
    if (!pending_screenshot.empty()) {
      if (auto e = write_screenshot(pending_screenshot, fb_w, fb_h)) {
        state.message = "Not exported: " + e->message();
        if (state.lessons.export_step >= 0) state.lessons.export_failed = true;
        std::fprintf(stderr, "qkvlab: %s\n", state.message.c_str());
      } else {
        state.message = "Saved the view to " + pending_screenshot;
      }
      pending_screenshot.clear();
    }
    if (!screenshot.empty() && frame + 1 >= frames) {
      GLenum err = glGetError();
      if (err != GL_NO_ERROR) {
        for (; err != GL_NO_ERROR; err = glGetError()) std::fprintf(stderr, "qkvlab: GL error 0x%x\n", err);
        exit_code = 1;
      }
      if (auto e = write_screenshot(screenshot, fb_w, fb_h)) {
        std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str());
        exit_code = 1;
      }
      if (state.error) std::fprintf(stderr, "qkvlab: the session was not applied: %s\n", state.error->message().c_str());
      if (!layout_json.empty()) {
        std::string json = "[\n";
        for (const DrawnHeatmap& h : state.drawn_heatmaps) {
          char line[1024];
          // x0..y1: the part visible on screen; full_*: all the cells (they differ when a heatmap is clipped).
          std::snprintf(line, sizeof line,
                        "%s  {\"key\": \"%s\", \"x0\": %.2f, \"y0\": %.2f, \"x1\": %.2f, \"y1\": %.2f, \"rows\": %d, \"cols\": %d, "
                        "\"full_x0\": %.2f, \"full_y0\": %.2f, \"full_x1\": %.2f, \"full_y1\": %.2f, \"row_label_step\": %d, "
                        "\"col_label_step\": %d, \"labels_drawn\": %d, \"masked_cells\": %d, \"zoom\": %.3f}",
                        json.size() > 2 ? ",\n" : "", h.key.c_str(), h.x0, h.y0, h.x1, h.y1, h.rows, h.cols, h.full_x0, h.full_y0, h.full_x1,
                        h.full_y1, h.row_label_step, h.col_label_step, h.labels_drawn, h.masked_cells, h.zoom);
          json += line;
        }
        json += "\n]\n";
        if (auto e = write_file_atomically(layout_json, json)) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
      }
      quit = true;
    }
    glfwSwapBuffers(window);
    state.frame_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame_start).count();
  }
  if (io.IniFilename) ImGui::SaveIniSettingsToDisk(io.IniFilename);
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  if (!lesson_png_dir.empty() && state.lessons.export_failed) exit_code = 1;
  return exit_code;
}
