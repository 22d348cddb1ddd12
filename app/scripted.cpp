#include "app/scripted.h"

#include "app/gl/gl.h"
#include "app/gl/screenshot.h"
#include "app/platform/events.h"
#include "app/real_model.h"
#include "app/window.h"
#include "core/files.h"

#include <imgui_internal.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <sstream>

namespace qkv::app {

namespace {
constexpr int kKeysFrame = 1;       // --keys, and the --click press at the earliest: frame 0 has drawn the controls
constexpr int kTypeAfterClick = 2;  // the first --type character, frames after the click: the field has the keyboard
// The longest a scripted run waits for background jobs (a lab's sweep, a recompute) before capturing anyway.
constexpr std::chrono::seconds kJobsTimeout{120};

std::vector<std::string> utf8_characters(const std::string& text) {
  std::vector<std::string> out;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80 || out.empty()) out.emplace_back();
    out.back() += static_cast<char>(c);
  }
  return out;
}
}  // namespace

ScriptedRun::ScriptedRun(const Options& o) : o_(o), typed_(utf8_characters(o.type)), start_(std::chrono::steady_clock::now()) {}

ImVec2 ScriptedRun::play_input(int frame, const AppState& state, UiFrame& ui, int* exit_code) {
  ImVec2 mouse(-FLT_MAX, -FLT_MAX);
  if (!active()) return mouse;
  if (frame == kKeysFrame && !o_.keys.empty()) {
    std::stringstream list(o_.keys);
    for (std::string key; std::getline(list, key, ',');) {
      std::string error;
      if (!queue_key_tap(key, &error)) std::fprintf(stderr, "qkvlab: --keys: %s\n", error.c_str()), *exit_code = 2, ui.quit = true;
    }
  }
  // The click and the typing wait for the first trace on screen (a person clicks into a window that shows
  // something; and a panel appearing with the trace would take the keyboard from a field clicked before).
  // With --model, that is the model's first trace: the load and its recompute come first.
  const bool model_pending = state.model_load.loading() || (state.trace_session.model_dir != state.session.model_dir && !state.error);
  if (input_start_ < 0 && frame >= kKeysFrame && state.trace && !model_pending) input_start_ = frame;
  if (input_start_ < 0) return mouse;
  const int f = frame - input_start_;  // the click in frame 0 of the input, its release in frame 1
  if (!o_.click.empty() && f <= 1) {
    const auto it = std::find_if(state.drawn_widgets.begin(), state.drawn_widgets.end(), [&](const DrawnWidget& w) { return w.label == o_.click; });
    if (it == state.drawn_widgets.end()) {
      std::fprintf(stderr, "qkvlab: --click: no control labelled %s on screen\n", o_.click.c_str());
      *exit_code = 2, ui.quit = true;
    } else {
      mouse = ImVec2((it->x0 + it->x1) * 0.5f, (it->y0 + it->y1) * 0.5f);
      if (f == 0) queue_click();
    }
  }
  // Then one character per frame, whatever is computing.
  if (f >= kTypeAfterClick && typed_next_ < typed_.size()) queue_text(typed_[typed_next_++]);
  return mouse;
}

bool ScriptedRun::capture_due(int frame, const AppState& state) const {
  if (o_.screenshot.empty() || frame + 1 < o_.frames) return false;
  if (std::chrono::steady_clock::now() - start_ > kJobsTimeout) return true;
  if (typed_next_ < typed_.size()) return false;
  return o_.until_computing ? state.recompute_slow : state.frames_since_jobs >= kSettleFrames;
}

void ScriptedRun::frame_took(double ms) {
  if (input_start_ >= 0) longest_since_input_ms_ = std::max(longest_since_input_ms_, ms);
}

int ScriptedRun::capture(const AppState& state, const UiFrame& ui, int fb_w, int fb_h) const {
  int exit_code = 0;
  GLenum err = glGetError();
  if (err != GL_NO_ERROR) {
    for (; err != GL_NO_ERROR; err = glGetError()) std::fprintf(stderr, "qkvlab: GL error 0x%x\n", err);
    exit_code = 1;
  }
  if (auto e = write_screenshot(o_.screenshot, fb_w, fb_h)) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
  if (state.error) std::fprintf(stderr, "qkvlab: the session was not applied: %s\n", state.error->message().c_str());
  if (!o_.layout_json.empty())
    if (auto e = write_file_atomically(o_.layout_json, layout_json(state))) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
  if (!o_.state_json.empty()) {
    nlohmann::json j = nlohmann::json::parse(state_json(state, ui, fb_w, fb_h));
    j["longest_frame_since_input_ms"] = longest_since_input_ms_;
    if (auto e = write_file_atomically(o_.state_json, j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n")) std::fprintf(stderr, "qkvlab: %s\n", e->message().c_str()), exit_code = 1;
  }
  return exit_code;
}

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
  // The trace on screen: which tokens it was computed for, and whether it is the session's (not stale).
  nlohmann::json trace = nullptr;
  if (s.trace)
    trace = {{"source_tokens", s.trace->source_tokens}, {"generation", s.generation}, {"stale", s.trace_stale()},
             {"recompute_ms", s.recompute_ms}, {"has_loss", s.trace->tensors.contains("loss")},
             // A slow recompute is running (the status bar shows its progress): layers done / all.
             {"computing", s.recompute_slow}, {"progress", {s.recompute.done(), s.recompute.total()}}};
  // A real model: the load, the card, whether it runs as trained; the ablations (any model).
  nlohmann::json pretrained = {{"loading", s.model_load.loading()}, {"model_dir", s.session.model_dir}, {"card", nullptr}, {"as_trained", nullptr},
                               {"error", s.model_load.failed ? nlohmann::json(s.model_load.failed->what) : nlohmann::json(nullptr)},
                               {"error_hint", s.model_load.failed ? nlohmann::json(s.model_load.failed->hint) : nlohmann::json(nullptr)}};
  const std::shared_ptr<const PretrainedModel> model = session_model(s);
  if (model) {
    const ModelCard& c = model->card;
    pretrained["card"] = {{"family", name(c.family)}, {"title", c.title}, {"architecture", c.architecture}, {"layers", c.layers}, {"heads", c.heads},
                          {"d_model", c.d_model}, {"d_ff", c.d_ff}, {"vocab", c.vocab}, {"positions", c.positions}, {"parameters", c.parameters},
                          {"parameters_shown", with_separators(c.parameters)}, {"file_bytes", c.file_bytes}, {"dtype", c.dtype},
                          {"weight_bytes", model->weight_bytes()}, {"load_ms", c.load_ms}};
    pretrained["as_trained"] = loaded_as_trained(s.session, *model);
    pretrained["changes"] = changes_from_trained(s.session, *model);
  }
  nlohmann::json ablations = nlohmann::json::array();
  for (const Ablation& a : s.session.ablations) ablations.push_back({{"target", a.target}, {"kind", name(a.kind)}});
  // What the Output tab predicts from the trace on screen: a decoder's next token after the last position, BERT's
  // candidates at each [MASK], an encoder's first position; the top 5 of output.probs for each, as the screen shows them.
  nlohmann::json output_top = nullptr;
  if (s.trace)
    if (const Mat* probs = s.trace->tensors.find("output.probs"); probs && probs->rows() > 0) {
      const Trace& t = *s.trace;
      const bool same_model = s.trace_session.model_dir == s.session.model_dir;
      std::vector<int> rows;
      if (model && same_model && s.trace_session.model.arch == Arch::EncoderOnly) rows = mask_rows(t.source_ids, model->tokenizer->mask_id);
      else rows = {s.trace_session.model.arch == Arch::EncoderOnly ? 0 : static_cast<int>(probs->rows()) - 1};
      nlohmann::json list = nlohmann::json::array();
      for (int r : rows) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& [id, p] : top_tokens(probs->row(r), std::min(5, t.vocab.size())))
          top.push_back({{"id", id}, {"token", t.vocab.display(id)}, {"p", p}});
        list.push_back({{"row", r}, {"token", r < static_cast<int>(t.source_tokens.size()) ? t.source_tokens[static_cast<size_t>(r)] : ""}, {"top", top}});
      }
      output_top = {{"model_dir", s.trace_session.model_dir}, {"vocab", t.vocab.size()}, {"rows", list}};
    }
  // The Output tab's generation: the ids appended, the text as the screen shows it (a real model: its tokenizer's decode).
  nlohmann::json generation = {{"ids", s.output.generated}, {"running", s.output.running}, {"note", s.output.note.str()}, {"text", nullptr}};
  if (model && s.output.generator) generation["text"] = model->tokenizer->decode(s.output.generated);
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
      {"message", s.message.str()},
      {"error", s.error ? nlohmann::json(s.error->message()) : nlohmann::json(nullptr)},
      {"dialog", ui.dialog.title()},
      {"dialog_entries", ui.dialog.entries_shown()},
      {"dialog_dir", ui.dialog.dir()},
      {"trace", trace},
      {"pretrained", pretrained},
      {"ablations", ablations},
      {"output_top", output_top},
      {"generation", generation},
  };
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

int check_glyphs(const std::vector<std::string>& files) {
  ImGui::CreateContext();
  load_fonts(kFontSize);
  std::string error;
  const std::vector<std::string> missing = missing_glyphs(files, &error);
  ImGui::DestroyContext();
  if (!error.empty()) {
    std::fprintf(stderr, "qkvlab: --check-glyphs: %s\n", error.c_str());
    return 2;
  }
  // i18n: names begin (--check-glyphs: a tool's output, read by tests/app_shell_test.sh)
  for (const std::string& m : missing) std::printf("missing glyph %s\n", m.c_str());
  std::printf("%zu file(s) checked: %zu character(s) without a glyph\n", files.size(), missing.size());
  // i18n: names end
  return missing.empty() ? 0 : 1;
}

}  // namespace qkv::app
