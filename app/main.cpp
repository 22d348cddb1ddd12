// qkvlab — the desktop app: one window, the panels of app/panels/ around one AppState.
//   qkvlab [--session FILE] [--screenshot OUT.png [--frames N]] [--panel NAME] [--width W --height H] …
// The command line is app/options.cpp, the window app/window.cpp, scripted runs app/scripted.cpp; here is the
// frame loop: it sleeps while nothing changes, and never waits for a computation (they run as jobs, app/jobs.h).
#include "app/gl/gl.h"
#include "app/gl/screenshot.h"
#include "app/lessons_ui.h"
#include "app/options.h"
#include "app/platform/events.h"
#include "app/scripted.h"
#include "app/training.h"
#include "app/ui.h"
#include "app/widgets/common.h"
#include "app/window.h"
#include "core/i18n.h"
#include "core/memory.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <thread>

#include <unistd.h>

namespace {

using namespace qkv;
using namespace qkv::app;

// Frames still to draw after the last event: ImGui settles hover and layout over a couple of frames.
constexpr int kFramesAfterEvent = 3;
constexpr double kIdleWakeSeconds = 5.0;  // a safety net: nothing on screen changes while idle
// Waiting for a job, a scripted run leaves the cores to it rather than spinning frames (it has no vsync).
constexpr std::chrono::milliseconds kScriptedJobPoll{15};
constexpr int kFramesCounted = 1000;  // frames_since_jobs stops counting here

// Something moves on screen or is about to: the loop polls instead of sleeping until the next event.
bool busy(const AppState& s, const UiFrame& ui, bool scripted) {
  const bool training = s.training && !s.training->idle();
  return scripted || s.dirty || s.animating || training || s.output.running || s.lessons.export_step >= 0 || ui.dialog.waiting() ||
         key_events_pending() || !ui.pending_screenshot.empty();
}

// Draws the UI into the frame. The first frame is drawn twice: ImGui lays out new windows and the tab strip in a
// frame it does not show, so the first frame on screen (and a --frames 1 screenshot) is complete.
void draw_frame(AppState& state, UiFrame& ui, int frame, int forced_tab, bool scripted, ImVec2 scripted_mouse) {
  for (int pass = frame == 0 ? 0 : 1; pass < 2; ++pass) {
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (scripted) ImGui::GetIO().MousePos = scripted_mouse;  // no stray tooltip in scripted screenshots
    ImGui::NewFrame();
    state.drawn_heatmaps.clear();
    state.drawn_widgets.clear();
    state.heatmaps->new_frame();
    ui.forced_tab = frame < 2 ? forced_tab : -1;
    draw_ui(state, ui);
    ImGui::Render();
  }
}

// The File menu's "Export view as PNG" (and a lesson's figures): the frame just rendered, saved.
void write_pending_screenshot(AppState& state, UiFrame& ui, int fb_w, int fb_h) {
  if (ui.pending_screenshot.empty()) return;
  if (auto e = write_screenshot(ui.pending_screenshot, fb_w, fb_h)) {
    state.message = phrase("file.not_exported", arg("reason", e->message()));
    if (state.lessons.export_step >= 0) state.lessons.export_failed = true;
    std::fprintf(stderr, "qkvlab: %s\n", trf_in(Lang::En, "file.not_exported", arg("reason", e->message())).c_str());
  } else {
    state.message = phrase("file.saved_view", arg("path", ui.pending_screenshot));
  }
  ui.pending_screenshot.clear();
}

// Returns the exit code.
int frame_loop(GLFWwindow* window, AppState& state, ScriptedRun& script, int forced_tab) {
  FullScreen full_screen;
  UiFrame ui;
  int exit_code = 0;
  int frames_to_draw = kFramesAfterEvent;
  unsigned long long events_seen = input_event_count();
  for (int frame = 0; !glfwWindowShouldClose(window) && !ui.quit; ++frame) {
    const bool is_busy = busy(state, ui, script.active());
    if (is_busy || frames_to_draw > 0) glfwPollEvents();
    else glfwWaitEventsTimeout(kIdleWakeSeconds);
    if (input_event_count() != events_seen) events_seen = input_event_count(), frames_to_draw = kFramesAfterEvent;
    else if (!is_busy && frames_to_draw > 0) --frames_to_draw;
    const ImVec2 scripted_mouse = script.play_input(frame, state, ui, &exit_code);
    deliver_key_events();

    const auto frame_start = std::chrono::steady_clock::now();
    state.animating = false;
    state.jobs_running = 0;
    recompute_if_dirty(state);  // starts or picks up the recompute job; never waits for it
    full_screen.follow(window, state, script.active());
    draw_frame(state, ui, frame, forced_tab, script.active(), scripted_mouse);
    int fb_w = 0, fb_h = 0;
    glfwGetFramebufferSize(window, &fb_w, &fb_h);
    glViewport(0, 0, fb_w, fb_h);
    const ImVec4 clear = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
    glClearColor(clear.x, clear.y, clear.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    state.textures->end_frame();
    write_pending_screenshot(state, ui, fb_w, fb_h);

    // Background jobs are waited for by scripted runs: the screenshot shows their results, laid out — the frames
    // after a result arrives settle the layout it changed (a scrollbar that appears narrows the page). A dirty
    // session counts as a job: its recompute starts at the next frame.
    if (state.jobs_running > 0 || state.dirty) state.frames_since_jobs = 0;
    else state.frames_since_jobs = std::min(state.frames_since_jobs + 1, kFramesCounted);
    if (script.capture_due(frame, state)) {
      exit_code = std::max(exit_code, script.capture(state, ui, fb_w, fb_h));
      ui.quit = true;
    }
    glfwSwapBuffers(window);
    state.frame_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame_start).count();
    state.longest_frame_ms = std::max(state.longest_frame_ms, state.frame_ms);
    script.frame_took(state.frame_ms);
    if (script.active() && state.jobs_running > 0) std::this_thread::sleep_for(kScriptedJobPoll);
  }
  return exit_code;
}

// The app; main() around it catches what would otherwise end the program unexplained.
int run_app(int argc, char** argv, AppState& state) {
  Options o;
  if (const int code = parse_options(argc, argv, o); code >= 0) return code;
  if (!o.check_glyphs.empty()) return check_glyphs(o.check_glyphs);
  // The texts of every tab, menu and message (assets/i18n/); a broken file is reported and the rest still loads.
  for (const Error& e : i18n::load(assets_dir() + "/i18n")) std::fprintf(stderr, "qkvlab: %s\n", e.message().c_str());
  // The language before the first message is made: --lang, else the one imgui.ini saved (the window reads the rest).
  if (o.lang_given) i18n::set_language(o.lang == "zh" ? Lang::Zh : Lang::En);
  else if (!o.scripted())
    if (std::optional<Lang> saved = saved_language(config_dir() + "/imgui.ini")) i18n::set_language(*saved);

  retain_freed_memory(argv);
  StartView start;
  if (const int code = apply_options(o, state, start); code >= 0) return code;
  int exit_code = 0;
  {
    std::string error;
    const std::unique_ptr<Window> window = open_window({o.width, o.height, o.scripted()}, state, &error);
    if (!window) {
      std::fprintf(stderr, "qkvlab: %s\n", error.c_str());
      return 1;
    }
    const int forced_tab = open_start_view(o, state, start);
    ScriptedRun script(o);
    exit_code = frame_loop(window->glfw(), state, script, forced_tab);
    cancel_all_jobs();  // a lab's sweep or a recompute still running stops at its next check; no worker outlives main
  }
  if (!o.lesson_png_dir.empty() && state.lessons.export_failed) exit_code = 1;
  return exit_code;
}

}  // namespace

// No exception leaves main unexplained (issue 11): the jobs are stopped, the session being edited is saved where the
// message says, and the app exits with 1. (Jobs catch their own: a recompute that throws is an error on screen.)
int main(int argc, char** argv) {
  AppState state;
  std::string what;
  try {
    return run_app(argc, argv, state);
  } catch (const std::bad_alloc&) {
    what = "out of memory";  // i18n: name — stderr only
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an unknown error";  // i18n: name — stderr only
  }
  cancel_all_jobs();
  const std::string saved = (std::filesystem::temp_directory_path() / ("qkvlab-recovered-" + std::to_string(getpid()) + ".json")).string();
  const bool kept = !save_session(state.session, saved).has_value();
  std::fprintf(stderr, "qkvlab: stopped by an internal error: %s.%s\n", what.c_str(),
               kept ? (" The session being edited is saved in " + saved + " (open it with --session).").c_str() : "");
  return 1;
}
