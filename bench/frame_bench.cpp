// Frames of the real UI: (1) steady frame time with the Attention tab showing 12 heads of n = 256, and
// (2) toggle → next frame at teaching size (flip √d_k, recompute, draw, glFinish).
// Needs a display:  xvfb-run -a -s "-screen 0 1440x900x24" ./build/qkvlab_frame_bench
#include "app/app_state.h"
#include "app/gl/gl.h"
#include "app/gl/heatmap_renderer.h"
#include "app/gl/texture.h"
#include "app/ui.h"
#include "core/memory.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <benchmark/benchmark.h>
#include <imgui.h>

#include <cstdio>
#include <memory>

namespace {

using namespace qkv;
using namespace qkv::app;

// One window with the app's UI, kept for the whole run.
struct Gui {
  GLFWwindow* window = nullptr;
  AppState state;
  std::unique_ptr<TextureCache> textures;
  std::unique_ptr<HeatmapRenderer> heatmaps;
  UiFrame ui;
};

Gui* open_gui() {
  static Gui* gui = [] {
    if (!glfwInit()) return static_cast<Gui*>(nullptr);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
    auto* g = new Gui;
    g->window = glfwCreateWindow(1440, 900, "QKV Lab frame benchmark", nullptr, nullptr);
    if (!g->window) return static_cast<Gui*>(nullptr);
    glfwMakeContextCurrent(g->window);
    glfwSwapInterval(0);
    if (!gladLoadGL(glfwGetProcAddress)) return static_cast<Gui*>(nullptr);
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;
    load_fonts(17.0f);
    apply_theme(g->state);
    ImGui_ImplGlfw_InitForOpenGL(g->window, false);
    ImGui_ImplOpenGL3_Init("#version 330");
    g->textures = std::make_unique<TextureCache>();
    g->heatmaps = std::make_unique<HeatmapRenderer>();
    std::string error;
    if (!g->heatmaps->init(&error)) return static_cast<Gui*>(nullptr);
    g->state.textures = g->textures.get();
    g->state.heatmaps = g->heatmaps.get();
    return g;
  }();
  return gui;
}

// One whole frame, as the app's loop draws it, finished on the GPU.
void frame(Gui& g) {
  glfwPollEvents();
  recompute_if_dirty(g.state);
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  g.heatmaps->new_frame();
  g.state.drawn_heatmaps.clear();
  draw_ui(g.state, g.ui);
  ImGui::Render();
  int w = 0, h = 0;
  glfwGetFramebufferSize(g.window, &w, &h);
  glViewport(0, 0, w, h);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  g.textures->end_frame();
  glfwSwapBuffers(g.window);
  glFinish();
}

std::string words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += 'w';
    text += std::to_string(i);
    text += ' ';
  }
  return text;
}

void BM_FrameTwelveHeadsN256(benchmark::State& st) {
  Gui* g = open_gui();
  if (!g) return st.SkipWithError("no display or no OpenGL 3.3: run under xvfb-run");
  g->state.session = Session{};
  g->state.session.input.text = words(256);
  g->state.session.model.layers = 1;
  g->state.session.model.d_model = 384;
  g->state.session.model.heads = 12;  // d_k = 32
  g->state.session.model.max_len = 512;
  g->state.dirty = true;
  g->ui.forced_tab = find_tab("attention");
  for (int i = 0; i < 3; ++i) frame(*g);  // recompute and first uploads happen here
  g->ui.forced_tab = -1;
  for (auto _ : st) frame(*g);
  st.counters["fps"] = benchmark::Counter(static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["heatmaps"] = static_cast<double>(g->state.drawn_heatmaps.size());
  st.counters["uploads_per_frame"] = g->textures->uploads_last_frame();
}
BENCHMARK(BM_FrameTwelveHeadsN256)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_ToggleToFrameTeaching(benchmark::State& st) {
  Gui* g = open_gui();
  if (!g) return st.SkipWithError("no display or no OpenGL 3.3: run under xvfb-run");
  g->state.session = Session{};
  g->state.dirty = true;
  g->ui.forced_tab = find_tab("attention");
  for (int i = 0; i < 3; ++i) frame(*g);
  g->ui.forced_tab = -1;
  for (auto _ : st) {
    ScoreScale& scale = g->state.session.model.score_scale;
    scale = scale == ScoreScale::None ? ScoreScale::InvSqrtDk : ScoreScale::None;
    g->state.dirty = true;
    frame(*g);  // the toggle's result is on screen at the end of this frame
    if (g->state.dirty || g->state.error) st.SkipWithError("the toggle was not applied in the next frame");
  }
  st.counters["recompute_ms"] = g->state.recompute_ms;
}
BENCHMARK(BM_ToggleToFrameTeaching)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  qkv::retain_freed_memory(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
