// QKV Lab app — the input event queue (see events.h for why it exists).
#include "app/platform/events.h"

#include "app/gl/gl.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <imgui.h>
#include <imgui_internal.h>  // ImTextCharFromUtf8

#include <deque>
#include <map>
#include <set>
#include <sstream>

namespace qkv::app {
namespace {

struct KeyEvent {
  int key, scancode, action, mods;
};

GLFWwindow* g_window = nullptr;
std::deque<KeyEvent> g_keys;
bool g_release_click = false;  // a scripted click's release, due next frame
unsigned long long g_events = 0;

void on_key(GLFWwindow*, int key, int scancode, int action, int mods) {
  ++g_events;
  if (action == GLFW_REPEAT) return;  // ImGui makes its own repeats from the held state
  g_keys.push_back({key, scancode, action, mods});
}
void on_char(GLFWwindow* w, unsigned int c) { ++g_events, ImGui_ImplGlfw_CharCallback(w, c); }
void on_mouse_button(GLFWwindow* w, int button, int action, int mods) { ++g_events, ImGui_ImplGlfw_MouseButtonCallback(w, button, action, mods); }
void on_scroll(GLFWwindow* w, double x, double y) { ++g_events, ImGui_ImplGlfw_ScrollCallback(w, x, y); }
void on_cursor(GLFWwindow*, double, double) { ++g_events; }  // ImGui 1.86 polls the position itself
void on_size(GLFWwindow*, int, int) { ++g_events; }
void on_refresh(GLFWwindow*) { ++g_events; }
void on_focus(GLFWwindow*, int) { ++g_events; }
void on_enter(GLFWwindow*, int) { ++g_events; }

const std::map<std::string, int>& key_names() {
  // i18n: names begin (key names of --keys)
  static const std::map<std::string, int> names = {
      {"Left", GLFW_KEY_LEFT},       {"Right", GLFW_KEY_RIGHT},         {"Up", GLFW_KEY_UP},       {"Down", GLFW_KEY_DOWN},
      {"PageUp", GLFW_KEY_PAGE_UP},  {"PageDown", GLFW_KEY_PAGE_DOWN}, {"Home", GLFW_KEY_HOME},   {"End", GLFW_KEY_END},
      {"Escape", GLFW_KEY_ESCAPE},   {"Enter", GLFW_KEY_ENTER},         {"Tab", GLFW_KEY_TAB},     {"Space", GLFW_KEY_SPACE},
      {"F5", GLFW_KEY_F5},           {"F6", GLFW_KEY_F6},               {"F11", GLFW_KEY_F11},     {"F12", GLFW_KEY_F12},
  };
  // i18n: names end
  return names;
}

}  // namespace

void install_event_queue(GLFWwindow* window) {
  g_window = window;
  // Replaces the ImGui backend's callbacks; each one below forwards to it.
  glfwSetKeyCallback(window, on_key);
  glfwSetCharCallback(window, on_char);
  glfwSetMouseButtonCallback(window, on_mouse_button);
  glfwSetScrollCallback(window, on_scroll);
  glfwSetCursorPosCallback(window, on_cursor);
  glfwSetFramebufferSizeCallback(window, on_size);
  glfwSetWindowRefreshCallback(window, on_refresh);
  glfwSetWindowFocusCallback(window, on_focus);
  glfwSetCursorEnterCallback(window, on_enter);
}

void deliver_key_events() {
  if (g_release_click) ImGui_ImplGlfw_MouseButtonCallback(g_window, GLFW_MOUSE_BUTTON_LEFT, GLFW_RELEASE, 0), g_release_click = false;
  std::set<int> changed;  // keys that already changed state this frame
  std::deque<KeyEvent> later;
  for (const KeyEvent& e : g_keys) {
    // A key's second change waits for the next frame, and so does everything after it for that key.
    if (changed.count(e.key)) {
      later.push_back(e);
      continue;
    }
    changed.insert(e.key);
    ImGui_ImplGlfw_KeyCallback(g_window, e.key, e.scancode, e.action, e.mods);
  }
  g_keys = std::move(later);
}

bool key_events_pending() { return !g_keys.empty() || g_release_click; }
unsigned long long input_event_count() { return g_events; }

void queue_text(const std::string& utf8) {
  for (size_t i = 0; i < utf8.size();) {
    unsigned c = 0;
    const int n = ImTextCharFromUtf8(&c, utf8.c_str() + i, utf8.c_str() + utf8.size());
    on_char(g_window, c);
    i += static_cast<size_t>(n > 0 ? n : 1);
  }
}

void queue_click() {
  on_mouse_button(g_window, GLFW_MOUSE_BUTTON_LEFT, GLFW_PRESS, 0);
  g_release_click = true;
}

// i18n: names begin (the --keys spelling; the errors go to stderr only, scripted.cpp)
bool queue_key_tap(const std::string& spec, std::string* error) {
  std::vector<std::string> parts;
  std::stringstream in(spec);
  for (std::string part; std::getline(in, part, '+');) parts.push_back(part);
  if (parts.empty()) return error && (*error = "empty key name", false);
  int mods = 0;
  std::vector<int> modifier_keys;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] == "Ctrl") mods |= GLFW_MOD_CONTROL, modifier_keys.push_back(GLFW_KEY_LEFT_CONTROL);
    else if (parts[i] == "Shift") mods |= GLFW_MOD_SHIFT, modifier_keys.push_back(GLFW_KEY_LEFT_SHIFT);
    else if (parts[i] == "Alt") mods |= GLFW_MOD_ALT, modifier_keys.push_back(GLFW_KEY_LEFT_ALT);
    else return error && (*error = "unknown modifier " + parts[i] + " in " + spec + " (Ctrl, Shift, Alt)", false);
  }
  const std::string& base = parts.back();
  int key = -1;
  if (auto it = key_names().find(base); it != key_names().end()) key = it->second;
  else if (base.size() == 1 && base[0] >= 'A' && base[0] <= 'Z') key = GLFW_KEY_A + (base[0] - 'A');
  else if (base.size() == 1 && base[0] >= '0' && base[0] <= '9') key = GLFW_KEY_0 + (base[0] - '0');
  if (key < 0) return error && (*error = "unknown key " + base + " (a letter, a digit, or Left Right Up Down PageUp PageDown Home End Escape Enter Tab Space F5 F6 F11 F12)", false);
  for (int m : modifier_keys) on_key(g_window, m, 0, GLFW_PRESS, mods);
  on_key(g_window, key, 0, GLFW_PRESS, mods);
  on_key(g_window, key, 0, GLFW_RELEASE, mods);
  for (int m : modifier_keys) on_key(g_window, m, 0, GLFW_RELEASE, 0);
  return true;
}
// i18n: names end

}  // namespace qkv::app
