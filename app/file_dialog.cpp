// QKV Lab app — file and folder choosers (see file_dialog.h).
#include "app/file_dialog.h"

#include "app/widgets/common.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

namespace qkv::app {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_extension(const std::string& name, const std::vector<std::string>& extensions) {
  if (extensions.empty()) return true;
  const std::string l = lower(name);
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const std::string& e) { return l.size() > e.size() && l.compare(l.size() - e.size(), e.size(), lower(e)) == 0; });
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Runs argv, returns its standard output without the last newline; nullopt if it was cancelled (exit 1);
// throws nothing: a program that cannot start reports exit 127, which the caller treats as "no native dialog".
struct RunResult {
  int exit_code = 127;
  std::string out;
};
RunResult run_capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]), close(fds[1]);
    return {};
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]), close(fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  RunResult r;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) r.out.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 127;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
  return r;
}

std::string start_dir(const std::string& initial) {
  std::error_code ec;
  fs::path p = initial.empty() ? fs::current_path(ec) : fs::absolute(initial, ec);
  if (!fs::is_directory(p, ec)) p = p.parent_path();
  if (!fs::is_directory(p, ec)) p = fs::current_path(ec);
  return p.lexically_normal().string();
}

}  // namespace

std::vector<DirEntry> list_directory(const std::string& dir, const std::vector<std::string>& extensions, bool folders_only,
                                     bool show_hidden, std::string* error) {
  std::vector<DirEntry> dirs, files;
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    if (error) *error = trf("file.dialog.cannot_read", arg("dir", dir), arg("reason", ec.message()));
    return {};
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!show_hidden && !name.empty() && name[0] == '.') continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) dirs.push_back({name, true});
    else if (!folders_only && has_extension(name, extensions)) files.push_back({name, false});
  }
  const auto by_name = [](const DirEntry& a, const DirEntry& b) { return lower(a.name) < lower(b.name); };
  std::sort(dirs.begin(), dirs.end(), by_name);
  std::sort(files.begin(), files.end(), by_name);
  std::vector<DirEntry> out;
  if (fs::path(dir).lexically_normal() != fs::path(dir).lexically_normal().root_path()) out.push_back({"..", true});
  out.insert(out.end(), dirs.begin(), dirs.end());
  out.insert(out.end(), files.begin(), files.end());
  if (error) error->clear();
  return out;
}

std::string chosen_path(const std::string& dir, const std::string& name, FileDialogMode mode, const std::vector<std::string>& extensions) {
  fs::path p = fs::path(name).is_absolute() ? fs::path(name) : fs::path(dir) / name;
  p = p.lexically_normal();
  std::string s = p.string();
  if (mode == FileDialogMode::Save && !extensions.empty() && !has_extension(s, extensions)) s += extensions.front();
  return s;
}

std::optional<std::vector<std::string>> native_dialog_command(const FileDialogRequest& r) {
  if (const char* env = std::getenv("QKVLAB_NATIVE_DIALOG"); env && std::string(env) == "0") return std::nullopt;
  const char* x11 = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if (!(x11 && *x11) && !(wayland && *wayland)) return std::nullopt;
  std::string patterns;
  for (const std::string& e : r.extensions) patterns += (patterns.empty() ? "*" : " *") + e;
  const std::string dir = start_dir(r.initial);
  if (on_path("zenity")) {
    std::vector<std::string> argv{"zenity", "--file-selection", "--title=" + r.title};
    if (r.mode == FileDialogMode::Save) argv.insert(argv.end(), {"--save", "--confirm-overwrite"});
    if (r.mode == FileDialogMode::Folder) argv.push_back("--directory");
    const std::string name = r.mode == FileDialogMode::Save ? fs::path(r.initial).filename().string() : "";
    argv.push_back("--filename=" + (fs::path(dir) / name).string());
    if (!patterns.empty() && r.mode != FileDialogMode::Folder) argv.push_back("--file-filter=" + patterns);
    return argv;
  }
  if (on_path("kdialog")) {
    std::vector<std::string> argv{"kdialog", "--title", r.title};
    if (r.mode == FileDialogMode::Open) argv.insert(argv.end(), {"--getopenfilename", dir});
    if (r.mode == FileDialogMode::Save) argv.insert(argv.end(), {"--getsavefilename", (fs::path(dir) / fs::path(r.initial).filename()).string()});
    if (r.mode == FileDialogMode::Folder) argv.insert(argv.end(), {"--getexistingdirectory", dir});
    if (!patterns.empty() && r.mode != FileDialogMode::Folder) argv.push_back(patterns);
    return argv;
  }
  return std::nullopt;
}

// [SECTION] The dialog
void FileDialog::open(FileDialogRequest request) {
  request_ = std::move(request);
  browsing_ = false;
  if (auto argv = native_failed_ ? std::nullopt : native_dialog_command(request_)) {
    native_ = std::async(std::launch::async, [argv = *argv]() -> std::optional<std::string> {
      RunResult r = run_capture(argv);
      if (r.exit_code == 0 && !r.out.empty()) return r.out;
      if (r.exit_code == 1) return std::string();  // cancelled
      return std::nullopt;                         // could not run: use the in-app browser
    });
    return;
  }
  browsing_ = true;
  popup_opened_ = false;
  name_ = request_.mode == FileDialogMode::Save ? fs::path(request_.initial).filename().string() : "";
  go_to(start_dir(request_.initial));
}

void FileDialog::go_to(const std::string& dir) {
  std::string error;
  std::vector<DirEntry> entries = list_directory(dir, request_.extensions, request_.mode == FileDialogMode::Folder, show_hidden_, &error);
  if (!error.empty() && !entries_.empty()) {  // stay where we are, and say why
    error_ = error;
    return;
  }
  dir_ = fs::path(dir).lexically_normal().string();
  dir_edit_ = dir_;
  entries_ = std::move(entries);
  error_ = error;
  selected_ = -1;
}

void FileDialog::finish(const std::string& path) {
  browsing_ = false;
  FileDialogRequest done = std::move(request_);
  request_ = {};
  if (!path.empty() && done.action) done.action(path);
}

void FileDialog::draw() {
  if (native_.valid()) {
    if (native_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    std::optional<std::string> answer = native_.get();
    if (answer) {
      finish(*answer);
      return;
    }
    native_failed_ = true;  // this desktop's dialog does not run: the in-app browser from now on
    open(std::move(request_));
  }
  if (!browsing_) return;
  const char* id = "##file_dialog";
  if (!popup_opened_) ImGui::OpenPopup(id), popup_opened_ = true;
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowSize(ImVec2(std::min(vp->WorkSize.x * 0.9f, ImGui::GetFontSize() * 44), std::min(vp->WorkSize.y * 0.85f, ImGui::GetFontSize() * 30)),
                           ImGuiCond_Appearing);
  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + vp->WorkSize.x * 0.5f, vp->WorkPos.y + vp->WorkSize.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (!ImGui::BeginPopupModal(id, nullptr, ImGuiWindowFlags_NoTitleBar)) {
    browsing_ = false;
    return;
  }
  ImGui::TextUnformatted(request_.title.c_str());
  ImGui::Separator();
  if (ImGui::Button(tr_id("file.dialog.up")) && fs::path(dir_).has_parent_path()) go_to(fs::path(dir_).parent_path().string());
  ImGui::SameLine();
  if (ImGui::Button(tr_id("file.dialog.home")))
    if (const char* home = std::getenv("HOME")) go_to(home);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 8);
  if (ImGui::InputText("##dir", &dir_edit_, ImGuiInputTextFlags_EnterReturnsTrue)) go_to(dir_edit_);
  ImGui::SameLine();
  if (ImGui::Checkbox(tr_id("file.dialog.hidden"), &show_hidden_)) go_to(dir_);
  if (!error_.empty()) ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s", error_.c_str());

  const float footer = ImGui::GetFrameHeightWithSpacing() * 2.4f;
  ImGui::BeginChild("entries", ImVec2(0, -footer), true);
  std::string open_dir, pick;
  for (int i = 0; i < static_cast<int>(entries_.size()); ++i) {
    const DirEntry& e = entries_[static_cast<size_t>(i)];
    const std::string label = e.is_dir ? e.name + "/" : e.name;
    if (ImGui::Selectable(label.c_str(), selected_ == i, ImGuiSelectableFlags_AllowDoubleClick)) {
      selected_ = i;
      if (!e.is_dir) name_ = e.name;
      if (ImGui::IsMouseDoubleClicked(0)) (e.is_dir ? open_dir : pick) = e.name;
    }
  }
  if (entries_.empty() && error_.empty()) ImGui::TextDisabled("%s", tr("file.dialog.empty"));
  ImGui::EndChild();

  std::string exts;
  for (const std::string& e : request_.extensions) exts += (exts.empty() ? "*" : ", *") + e;
  bool confirm = false;
  if (request_.mode != FileDialogMode::Folder) {
    ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 8);
    if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
    confirm |= ImGui::InputText(tr_id("file.dialog.name"), &name_, ImGuiInputTextFlags_EnterReturnsTrue);
    if (!exts.empty()) {
      ImGui::SameLine();
      ImGui::TextDisabled("%s", exts.c_str());
    }
  } else {
    const std::string folder = selected_ >= 0 && entries_[static_cast<size_t>(selected_)].is_dir
                                   ? chosen_path(dir_, entries_[static_cast<size_t>(selected_)].name, request_.mode, {})
                                   : dir_;
    ImGui::TextDisabled("%s", trf("file.dialog.folder", arg("path", folder)).c_str());
  }
  const std::string target = request_.mode == FileDialogMode::Folder
                                 ? (selected_ >= 0 && entries_[static_cast<size_t>(selected_)].is_dir ? chosen_path(dir_, entries_[static_cast<size_t>(selected_)].name, request_.mode, {}) : dir_)
                                 : chosen_path(dir_, name_, request_.mode, request_.extensions);
  std::error_code ec;
  if (request_.mode == FileDialogMode::Save && !name_.empty() && fs::exists(target, ec)) {
    ImGui::TextColored(ImVec4(1.0f, 0.8f, 0.3f, 1.0f), "%s", trf("file.dialog.exists", arg("name", fs::path(target).filename().string())).c_str());
    ImGui::SameLine();
  }
  const char* ok = tr_id(request_.mode == FileDialogMode::Open ? "file.dialog.open" : request_.mode == FileDialogMode::Save ? "file.dialog.save" : "file.dialog.choose_folder");
  confirm |= ImGui::Button(ok);
  ImGui::SameLine();
  const bool cancel = ImGui::Button(tr_id("file.dialog.cancel")) || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape));
  if (!open_dir.empty()) {
    go_to(chosen_path(dir_, open_dir, FileDialogMode::Folder, {}));
  } else if (!pick.empty()) {
    name_ = pick;
    confirm = true;
  }
  if (cancel) {
    ImGui::CloseCurrentPopup();
    finish("");
  } else if (confirm) {
    const bool is_dir = fs::is_directory(target, ec);
    if (request_.mode != FileDialogMode::Folder && is_dir) {
      go_to(target);  // a folder typed as the name: go into it
      name_.clear();
    } else if (request_.mode == FileDialogMode::Open && !fs::exists(target, ec)) {
      error_ = trf("file.dialog.no_file", arg("path", target));
    } else if (request_.mode != FileDialogMode::Folder && name_.empty()) {
      error_ = tr("file.dialog.type_name");
    } else {
      ImGui::CloseCurrentPopup();
      finish(target);
    }
  }
  ImGui::EndPopup();
}

}  // namespace qkv::app
