// QKV Lab app — the window: GLFW with an OpenGL 3.3 core context, ImGui on it (settings, fonts, theme, input),
// the GL objects the panels draw with, and presentation mode's full screen.
#pragma once

#include "app/app_state.h"
#include "app/gl/heatmap_renderer.h"
#include "app/gl/texture.h"

#include <memory>
#include <string>

struct GLFWwindow;

namespace qkv::app {

inline constexpr float kFontSize = 17.0f;  // pixels, before the font scale (View menu) and presentation's ×1.5

struct WindowOptions {
  int width = 1440, height = 900;
  bool scripted = false;  // a fixed size, no vsync, no imgui.ini
};

// The window and everything that lives as long as it. Opened by open_window; the destructor saves imgui.ini (when
// it was read) and tears ImGui, GL and GLFW down in order.
class Window {
 public:
  Window() = default;
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;
  ~Window();
  GLFWwindow* glfw() const { return window_; }

 private:
  friend std::unique_ptr<Window> open_window(const WindowOptions&, AppState&, std::string* error);
  GLFWwindow* window_ = nullptr;
  bool imgui_ = false;
  std::string ini_path_;  // empty: settings are neither read nor written
  std::unique_ptr<TextureCache> textures_;      // GL objects: deleted while the context is still current
  std::unique_ptr<HeatmapRenderer> heatmaps_;
};

// Opens the window, loads imgui.ini into the state (theme, tab, language…), fonts and theme, and points the state
// at the window's texture cache and heatmap renderer. Null with *error saying why (no display, an old driver).
std::unique_ptr<Window> open_window(const WindowOptions&, AppState&, std::string* error);

// Presentation mode: full screen on the primary monitor (scripted runs keep their size). Call once per frame.
class FullScreen {
 public:
  void follow(GLFWwindow*, AppState&, bool scripted);

 private:
  bool applied_ = false;
  int x_ = 0, y_ = 0, w_ = 0, h_ = 0;  // the window's place before it went full screen
};

}  // namespace qkv::app
