// QKV Lab app — choosing a file or folder: the desktop's own dialog (zenity or kdialog, run on a worker
// thread so the app keeps drawing) where one is installed and a display is there, else an in-app browser.
#pragma once

#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

namespace qkv::app {

enum class FileDialogMode { Open, Save, Folder };

struct FileDialogRequest {
  std::string title;                    // "Open session"
  FileDialogMode mode = FileDialogMode::Open;
  std::string initial;                  // a path: its folder opens, its file name is proposed (Save)
  std::vector<std::string> extensions;  // ".json" — files shown and the name completed; empty: every file
  std::function<void(const std::string&)> action;  // called with the chosen path
};

// One entry of a folder listing, as the browser shows it.
struct DirEntry {
  std::string name;
  bool is_dir = false;
};
// The folder's entries: ".." first (unless at the root), then folders, then files with one of the extensions
// (all files if none), each group sorted by name, case-insensitively; hidden entries (".x") only if asked.
// *error says why a folder cannot be read (the listing is then empty).
std::vector<DirEntry> list_directory(const std::string& dir, const std::vector<std::string>& extensions, bool folders_only,
                                     bool show_hidden, std::string* error);
// The path a choice stands for: name relative to dir (or absolute), with the first extension added when a
// Save name has none of them.
std::string chosen_path(const std::string& dir, const std::string& name, const FileDialogMode mode,
                        const std::vector<std::string>& extensions);
// The argument list of the desktop's dialog for this request, or nothing when none can be used (no zenity or
// kdialog on PATH, no DISPLAY/WAYLAND_DISPLAY, or QKVLAB_NATIVE_DIALOG=0).
std::optional<std::vector<std::string>> native_dialog_command(const FileDialogRequest&);

// The dialog the app shows: at most one at a time.
class FileDialog {
 public:
  void open(FileDialogRequest request);  // native when possible, else the in-app browser
  void draw();                           // every frame: the browser's modal, or a finished native dialog's result
  bool busy() const { return native_.valid() || browsing_; }  // a dialog is open
  bool waiting() const { return native_.valid(); }  // the desktop's dialog is open: poll for its answer each frame
  std::string title() const { return busy() ? request_.title : std::string(); }
  std::string dir() const { return browsing_ ? dir_ : std::string(); }
  int entries_shown() const { return browsing_ ? static_cast<int>(entries_.size()) : 0; }

 private:
  void go_to(const std::string& dir);
  void finish(const std::string& path);
  FileDialogRequest request_;
  std::future<std::optional<std::string>> native_;  // the desktop dialog's answer (nullopt: cancelled)
  bool native_failed_ = false;
  bool browsing_ = false;
  bool popup_opened_ = false;
  std::string dir_, name_, dir_edit_, error_;
  std::vector<DirEntry> entries_;
  int selected_ = -1;
  bool show_hidden_ = false;
};

}  // namespace qkv::app
