// QKV Lab app — the window's input events between GLFW and ImGui 1.86.
//
// ImGui 1.86 reads keys as a per-frame "is it down" state (io.KeysDown), so a key pressed and released between
// two frames (a presentation clicker's tap, a quick ← →) is never seen as pressed. Here every key event is
// queued and handed to ImGui one state change per key per frame: a tap is down for one frame and up the
// next, and no press is lost however fast the keys come. The queue also counts events, so the main loop can
// sleep while nothing happens (idle at 0% CPU) and wake for the next one.
#pragma once

#include <string>
#include <vector>

struct GLFWwindow;

namespace qkv::app {

// Installs the callbacks (after ImGui_ImplGlfw_InitForOpenGL with install_callbacks = true).
void install_event_queue(GLFWwindow*);
// Hands the queued key events to ImGui, at most one change of each key: call once per frame, after polling.
void deliver_key_events();
// True while key events wait in the queue (the next frame must come without waiting for new events).
bool key_events_pending();
// How many input events (keys, characters, mouse, scroll, resize, focus) have arrived so far.
unsigned long long input_event_count();

// A scripted key for tests: "Right", "PageDown", "F11", "S", "Ctrl+O", "Ctrl+Shift+S"… → pressed and released
// at once, as a fast clicker does. Returns false (and says why in *error) for an unknown name.
bool queue_key_tap(const std::string& name, std::string* error);

// Scripted text for tests: each character as if typed (through the same callback as the keyboard's).
void queue_text(const std::string& utf8);
// A scripted left click: press now, release at the next deliver_key_events().
void queue_click();

}  // namespace qkv::app
