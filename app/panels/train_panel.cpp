// The Train tab: a toy task trained live on a worker thread. The loss and accuracy curves grow as it runs,
// the previous run stays as a dashed ghost for comparison, and the attention heads are redrawn from the
// latest weights so the reverse task's anti-diagonal can be watched as it forms.
#include <GLFW/glfw3.h>  // key codes: ImGui 1.86 indexes keys by the backend's codes
#include <imgui.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/paths.h"
#include "app/panels/panels.h"
#include "app/training.h"
#include "app/ui.h"
#include "app/widgets/common.h"
#include "app/widgets/text_wrap.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/plot.h"

namespace qkv::app {
namespace {

struct TrainPanelState {
  TrainConfig config;
  int max_steps = 3000;
  std::optional<TrainingCurve> ghost;  // the previous run's curves
  std::string error;                   // why Train was refused
  // The live model on the example, recomputed on a worker when training publishes new weights; the last one stays
  // on screen until the next arrives. preview_key: the run and weights version it shows.
  std::shared_ptr<const Trace> preview;
  std::string preview_key;
  uint64_t preview_version = 0;
  Job<std::shared_ptr<const Trace>> preview_job;
  void forget_preview() {
    preview_job.cancel();
    preview.reset();  // a new run may reuse the old one's address: never show its heads
    preview_key.clear();
  }
};
TrainPanelState& panel() {
  static TrainPanelState state;  // settings of the Train tab; the run itself lives in AppState::training
  return state;
}

// Smooths the per-step loss with an exponential moving average so the curve reads at a glance.
// A non-finite loss (a diverged step) is left out of the average, so one bad step does not end the curve.
std::vector<float> smoothed(const std::vector<float>& y) {
  std::vector<float> out(y.size());
  float ema = y.empty() || !std::isfinite(y[0]) ? 0.0f : y[0];
  for (size_t i = 0; i < y.size(); ++i) out[i] = ema = std::isfinite(y[i]) ? 0.9f * ema + 0.1f * y[i] : ema;
  return out;
}


// The task as the learner reads it (the combo); name(Task) stays the spelling the CLI and the config parse.
const char* task_label(Task t) {
  switch (t) {
    case Task::Copy: return tr("train.task.copy");
    case Task::Reverse: return tr("train.task.reverse");
    case Task::Sort: return tr("train.task.sort");
    default: return tr("train.task.next_token");
  }
}

void start_new_run(AppState& s, TrainPanelState& p) {
  if (auto e = validate(p.config, s.session.model)) {
    p.error = e->message();
    return;
  }
  p.error.clear();
  if (s.training && s.training->snapshot().steps > 0) p.ghost = s.training->snapshot().curve;
  p.forget_preview();
  s.training = start_training(s, p.config, p.max_steps);
  s.training->resume();
}

void refresh_preview(AppState& s, TrainPanelState& p, const TrainingRun& run, const TrainingSnapshot& snap) {
  const std::string want = std::to_string(reinterpret_cast<uintptr_t>(&run)) + "/" + std::to_string(snap.weights_version);
  if (auto done = p.preview_job.take(); done && done->value) {
    p.preview = std::move(done->value);
    p.preview_key = std::move(done->key);
    p.preview_version = std::stoull(p.preview_key.substr(p.preview_key.find('/') + 1));
  } else if (p.preview_job.failed()) {  // it threw: not started again for these weights (the last preview stays)
    p.preview_key = p.preview_job.failed()->key;
    std::fprintf(stderr, "training preview: %s\n", p.preview_job.failed()->what.c_str());
    p.preview_job.clear_failed();
  }
  if (p.preview_key != want && p.preview_job.key() != want) {
    // Copies made here, on the UI thread (the trainer's vocabulary and model are fixed when the run is made).
    auto trained = std::make_shared<TrainedWeights>();
    trained->weights = *snap.weights;
    trained->vocab = run.trainer_unsafe().vocab();
    trained->model = run.trainer_unsafe().model();
    trained->task = name(run.config().task);
    trained->steps = snap.steps;
    Session example = run.trainer_unsafe().example_session(training_example(run.config()));
    example.weights = "live training";  // i18n: name (the weights' key in the cache below, not shown as prose)
    p.preview_job.start(want, [example = std::move(example), trained = std::shared_ptr<const TrainedWeights>(std::move(trained))](JobControl&) {
      WeightCache cache;
      cache.set_trained("live training", trained);  // i18n: name
      Result<Trace> t = qkv::run(example, &cache);
      return t ? std::make_shared<const Trace>(std::move(*t)) : std::shared_ptr<const Trace>();
    });
  }
  if (p.preview_job.running()) {
    s.animating = true;
    // Scripted runs wait for the preview of the final weights; while training goes on, a new one is always coming.
    if (!snap.running) ++s.jobs_running;
  }
}

// Opens the trained model in the other labs: saved under ~/.config/qkvlab/trained/ so the session can name it.
void use_in_lab(AppState& s, TrainingRun& run) {
  run.pause();
  if (!run.idle()) {
    s.message = phrase("train.finishing");
    return;
  }
  const std::string dir = config_dir() + "/trained";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/" + name(run.config().task) + ".safetensors";
  if (auto e = run.trainer_unsafe().save(path)) {
    s.message = phrase("train.not_saved", arg("reason", e->message()));
    return;
  }
  Session session = run.trainer_unsafe().example_session(training_example(run.config()));
  session.weights = path;
  const int last = session.model.layers - 1;
  replace_session(s, session, "", phrase("train.opened", arg("path", path)));
  s.sel.block = run.config().task == Task::NextToken ? BlockRef{true, false, last} : BlockRef{true, true, last};
}

void settings(AppState& s, TrainPanelState& p, bool locked) {
  TrainConfig& c = p.config;
  const float em = ImGui::GetFontSize() / 16.0f;  // widths scale with the font (presentation mode)
  ImGui::BeginDisabled(locked);
  ImGui::SetNextItemWidth(160 * em);
  if (ImGui::BeginCombo(tr("train.task"), task_label(c.task))) {
    for (int i = 0; i < static_cast<int>(Task::Count); ++i)
      if (ImGui::Selectable(task_label(static_cast<Task>(i)), static_cast<int>(c.task) == i)) c.task = static_cast<Task>(i);
    ImGui::EndCombo();
  }
  hover_tip(tr("train.task_tip"));
  same_line_if_fits(110 * em, tr("train.length"));
  ImGui::SetNextItemWidth(110 * em);
  int lengths[2] = {c.min_len, c.max_len};
  if (ImGui::InputInt2(tr("train.length"), lengths)) {
    for (int& v : lengths) v = std::clamp(v, 1, 32);
    c.min_len = std::min(lengths[0], lengths[1]), c.max_len = std::max(lengths[0], lengths[1]);
  }
  hover_tip(tr("train.length_tip"));
  if (c.task != Task::NextToken) {
    same_line_if_fits(90 * em, tr("train.letters"));
    ImGui::SetNextItemWidth(90 * em);
    ImGui::SliderInt(tr("train.letters"), &c.alphabet, 2, 26);
    hover_tip(tr("train.letters_tip"));
  }
  same_line_if_fits(90 * em, tr("train.batch"));
  ImGui::SetNextItemWidth(90 * em);
  ImGui::SliderInt(tr("train.batch"), &c.batch, 1, 128);
  ImGui::SetNextItemWidth(110 * em);
  ImGui::SliderInt(tr("train.warmup"), &c.warmup, 1, 4000);
  hover_tip(tr("train.warmup_tip"));
  float factor = static_cast<float>(c.lr_factor), clip = static_cast<float>(c.clip_norm), smoothing = static_cast<float>(c.label_smoothing);
  same_line_if_fits(90 * em, tr("train.lr_factor"));
  ImGui::SetNextItemWidth(90 * em);
  if (ImGui::SliderFloat(tr("train.lr_factor"), &factor, 0.1f, 5.0f, "%.2f")) c.lr_factor = factor;
  same_line_if_fits(90 * em, tr("train.clip"));
  ImGui::SetNextItemWidth(90 * em);
  const std::string off = printf_escaped(tr("train.off"));
  if (ImGui::SliderFloat(tr("train.clip"), &clip, 0.0f, 5.0f, clip == 0.0f ? off.c_str() : "%.2f")) c.clip_norm = clip;
  hover_tip(tr("train.clip_tip"));
  same_line_if_fits(90 * em, tr("train.label_smoothing"));
  ImGui::SetNextItemWidth(90 * em);
  if (ImGui::SliderFloat(tr("train.label_smoothing"), &smoothing, 0.0f, 0.3f, "%.2f")) c.label_smoothing = smoothing;
  same_line_if_fits(150 * em, tr("train.steps"));
  ImGui::SetNextItemWidth(150 * em);
  if (ImGui::InputInt(tr("train.steps"), &p.max_steps, 100, 1000)) p.max_steps = std::clamp(p.max_steps, 10, 100000);
  same_line_if_fits(ImGui::GetFrameHeight(), tr("train.freeze"));
  ImGui::Checkbox(tr("train.freeze"), &c.freeze_embeddings);
  hover_tip(tr("train.freeze_tip"));
  ImGui::EndDisabled();
  const ModelConfig& m = s.session.model;
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped("%s", trf("train.model", arg("L", m.layers), arg("d_model", m.d_model), arg("h", m.heads), arg("d_ff", m.d_ff),
                         arg("scale", tr(m.score_scale == ScoreScale::InvSqrtDk ? "train.on" : "train.off")), arg("placement", name(m.norm_placement)),
                         arg("norm", name(m.norm)), arg("residual", tr(m.residual ? "train.on" : "train.off")), arg("dropout", m.dropout))
                         .c_str());
  ImGui::PopStyleColor();
  hover_tip(tr("train.model_tip"));
}

void controls(AppState& s, TrainPanelState& p) {
  const bool typing = ImGui::GetIO().WantTextInput;
  const bool f5 = !typing && ImGui::IsKeyPressed(GLFW_KEY_F5);
  const bool f6 = !typing && ImGui::IsKeyPressed(GLFW_KEY_F6);
  TrainingRun* run = s.training.get();
  const TrainingSnapshot snap = run ? run->snapshot() : TrainingSnapshot{};
  if (!run || snap.finished) {
    if (ImGui::Button(tr(run ? "train.train_again" : "train.train")) || f5) start_new_run(s, p);
    hover_tip(tr("train.train_tip"));
  } else if (snap.running) {
    if (ImGui::Button(tr("train.pause")) || f5) run->pause();
  } else {
    if (ImGui::Button(tr("train.resume")) || f5) run->resume();
    same_line_if_fits(button_width(tr("train.step")), nullptr);
    if (ImGui::Button(tr("train.step")) || f6) run->step_once();
    hover_tip(tr("train.step_tip"));
  }
  if (run) {
    same_line_if_fits(button_width(tr("train.reset")), nullptr);
    if (ImGui::Button(tr("train.reset"))) {
      if (snap.steps > 0) p.ghost = snap.curve;
      s.training.reset();
      p.forget_preview();
      return;
    }
    hover_tip(tr("train.reset_tip"));
    same_line_if_fits(button_width(tr("train.use")), nullptr);
    if (ImGui::Button(tr("train.use"))) use_in_lab(s, *run);
    hover_tip(tr("train.use_tip"));
  }
  if (!p.error.empty()) error_text("%s", trf("train.not_started", arg("reason", p.error)).c_str());
}

void curves(const TrainingSnapshot& snap, const TrainPanelState& p, float width) {
  std::vector<Series> loss, accuracy;
  if (p.ghost) {
    loss.push_back(Series{trf("train.ghost_run", arg("label", p.ghost->label)), p.ghost->step, smoothed(p.ghost->loss), palette(3), true});
    accuracy.push_back(Series{tr("train.ghost"), p.ghost->eval_step, p.ghost->eval_accuracy, palette(3), true});
  }
  if (!snap.curve.step.empty()) {
    loss.push_back(Series{snap.curve.label, snap.curve.step, smoothed(snap.curve.loss), palette(0)});
    accuracy.push_back(Series{tr("train.this_run"), snap.curve.eval_step, snap.curve.eval_accuracy, palette(0)});
  }
  PlotArgs pl;
  pl.id = "train_loss";
  pl.x_label = tr("train.axis_step");
  pl.y_label = tr("train.axis_loss");
  pl.size = ImVec2(width * 0.6f, 230);
  pl.y_from_zero = true;
  pl.integer_x = true;
  DrawLinePlot(pl, loss);
  ImGui::SameLine();
  PlotArgs pa;
  pa.id = "train_accuracy";
  pa.x_label = tr("train.axis_step");
  pa.y_label = tr("train.axis_accuracy");
  pa.size = ImVec2(width * 0.4f - ImGui::GetStyle().ItemSpacing.x, 230);
  pa.y_min = 0.0f;
  pa.y_max = 1.0f;
  DrawLinePlot(pa, accuracy);
}

void heads(AppState& s, TrainPanelState& p, const TrainingRun& run) {
  if (!p.preview) return;
  const Trace& t = *p.preview;
  const bool letters = run.config().task != Task::NextToken;
  const int last = run.model().layers - 1;
  const std::string block = "decoder." + std::to_string(last) + (letters ? ".cross_attn" : ".self_attn");
  heading(trf("train.heads_heading", arg("block", block)).c_str());
  dim_text("%s", describe(run.config().task));
  const int h = run.model().heads;
  // As many heads per row as keep cells big enough for token labels (≈ 16 px + labels + legend), rows balanced.
  const float avail = ImGui::GetContentRegionAvail().x;
  const float need = 120.0f + 16.0f * static_cast<float>(t.source_tokens.size());
  const int fit = std::clamp(static_cast<int>(avail / need), 1, h);
  const int rows_of_heads = (h + fit - 1) / fit;
  const int per_row = (h + rows_of_heads - 1) / rows_of_heads;
  const float w = (avail - ImGui::GetStyle().ItemSpacing.x * static_cast<float>(per_row - 1)) / static_cast<float>(per_row);
  const std::vector<std::string>& rows = letters ? t.target_tokens : t.source_tokens;
  for (int i = 0; i < h; ++i) {
    const std::string path = paths::head_tensor(block, i, "P");
    const Mat* P = t.tensors.find(path);
    if (!P) continue;
    if (i % per_row) ImGui::SameLine();
    ImGui::BeginGroup();
    HeatmapArgs a;
    a.key = "train/" + path;
    a.M = P;
    a.P = P;
    a.name = trf("train.head_P", arg("i", i));
    a.row_labels = &rows;
    a.col_labels = &t.source_tokens;
    a.row_axis = tr(letters ? "train.axis_output" : "train.axis_query");
    a.col_axis = tr(letters ? "train.axis_input" : "train.axis_key");
    a.max_width = w;
    a.max_cell = 30.0f;
    a.generation = (1ull << 48) + p.preview_version;
    DrawHeatmap(s, a);
    ImGui::EndGroup();
  }
}

}  // namespace

void DrawTrainPanel(AppState& s) {
  TrainPanelState& p = panel();
  text_wrapped("%s", tr("train.intro"));
  settings(s, p, s.training != nullptr);
  controls(s, p);
  if (!s.training) {
    if (p.ghost) curves(TrainingSnapshot{}, p, ImGui::GetContentRegionAvail().x);
    return;
  }
  TrainingRun& run = *s.training;
  const TrainingSnapshot snap = run.snapshot();
  const std::string progress = trf(snap.finished ? "train.progress_done" : snap.running ? "train.progress" : "train.progress_paused",
                                   arg("n", snap.steps), arg("total", snap.max_steps));
  ImGui::ProgressBar(static_cast<float>(snap.steps) / static_cast<float>(std::max(1, snap.max_steps)), ImVec2(-1, 0), progress.c_str());
  const float loss = snap.curve.loss.empty() ? 0.0f : snap.curve.loss.back();
  text_wrapped("%s", trf("train.stats", arg("loss", fmt(loss)), arg("accuracy", 100.0f * snap.accuracy), arg("lr", snap.lr),
                         arg("g", fmt(snap.grad_norm, "%.3f")), arg("rate", snap.running ? snap.steps_per_second : 0.0f))
                         .c_str());
  hover_tip(tr("train.stats_tip"));
  if (!snap.error.empty()) error_text("%s", snap.error.c_str());
  if (!std::isfinite(loss))
    error_text("%s", tr("train.diverged"));
  curves(snap, p, ImGui::GetContentRegionAvail().x);
  refresh_preview(s, p, run, snap);
  heads(s, p, run);
}

}  // namespace qkv::app
