#include "app/window.h"

#include "app/gl/gl.h"
#include "app/platform/events.h"
#include "app/ui.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <cstdio>

namespace qkv::app {

namespace {
constexpr int kGlMajor = 3, kGlMinor = 3;
constexpr const char* kGlslVersion = "#version 330";
constexpr const char* kTitle = "QKV Lab";  // i18n: name (the program's name, in every language)

void glfw_error(int code, const char* description) { std::fprintf(stderr, "qkvlab: GLFW error %d: %s\n", code, description); }
}  // namespace

Window::~Window() {
  heatmaps_.reset();
  textures_.reset();
  if (imgui_) {
    if (!ini_path_.empty()) ImGui::SaveIniSettingsToDisk(ini_path_.c_str());
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
  }
  if (window_) glfwDestroyWindow(window_);
  glfwTerminate();
}

std::unique_ptr<Window> open_window(const WindowOptions& o, AppState& state, std::string* error) {
  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    *error = "cannot open a window: no display (is DISPLAY set? On a headless machine run under xvfb-run)";  // i18n: name — stderr only (main prints it)
    return nullptr;
  }
  auto w = std::make_unique<Window>();
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, kGlMajor);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, kGlMinor);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  if (o.scripted) glfwWindowHint(GLFW_RESIZABLE, GLFW_FALSE);
  w->window_ = glfwCreateWindow(o.width, o.height, kTitle, nullptr, nullptr);
  if (!w->window_) {
    *error = "cannot create an OpenGL 3.3 core window (the graphics driver may be too old)";  // i18n: name — stderr only
    return nullptr;
  }
  glfwMakeContextCurrent(w->window_);
  glfwSwapInterval(o.scripted ? 0 : 1);
  if (!gladLoadGL(glfwGetProcAddress)) {
    *error = "cannot load OpenGL 3.3 functions";  // i18n: name — stderr only
    return nullptr;
  }

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  w->imgui_ = true;
  ImGuiIO& io = ImGui::GetIO();
  if (!o.scripted) w->ini_path_ = config_dir() + "/imgui.ini";  // scripted runs neither read nor write settings
  io.IniFilename = nullptr;  // read and written here, so the file is the state's as well as ImGui's
  register_settings_handler(&state);
  if (!w->ini_path_.empty()) {
    io.IniFilename = w->ini_path_.c_str();  // ImGui also saves it every io.IniSavingRate seconds when dirty
    ImGui::LoadIniSettingsFromDisk(io.IniFilename);
  }
  load_fonts(kFontSize);
  apply_theme(state);
  ImGui_ImplGlfw_InitForOpenGL(w->window_, true);
  install_event_queue(w->window_);
  ImGui_ImplOpenGL3_Init(kGlslVersion);
  w->textures_ = std::make_unique<TextureCache>();
  w->heatmaps_ = std::make_unique<HeatmapRenderer>();
  if (!w->heatmaps_->init(error)) return nullptr;
  state.textures = w->textures_.get();
  state.heatmaps = w->heatmaps_.get();
  return w;
}

void FullScreen::follow(GLFWwindow* window, AppState& state, bool scripted) {
  if (state.lessons.presentation == applied_) return;
  applied_ = state.lessons.presentation;
  apply_theme(state);
  if (scripted) return;
  GLFWmonitor* monitor = glfwGetPrimaryMonitor();
  const GLFWvidmode* mode = monitor ? glfwGetVideoMode(monitor) : nullptr;
  if (applied_ && mode) {
    glfwGetWindowPos(window, &x_, &y_);
    glfwGetWindowSize(window, &w_, &h_);
    glfwSetWindowMonitor(window, monitor, 0, 0, mode->width, mode->height, mode->refreshRate);
  } else if (!applied_ && w_ > 0) {
    glfwSetWindowMonitor(window, nullptr, x_, y_, w_, h_, 0);
  }
}

}  // namespace qkv::app
