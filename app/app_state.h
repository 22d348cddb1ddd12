// QKV Lab app — the one AppState: the session being edited, the last good trace, and the UI's selections.
// Panels read the trace and edit the session; recompute happens once, at the start of the next frame.
#pragma once

#include "app/jobs.h"
#include "app/widgets/layout_math.h"
#include "core/lessons.h"
#include "core/model.h"
#include "core/pretrained.h"

#include <chrono>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qkv::app {

class TextureCache;
class HeatmapRenderer;
class TrainingRun;

// Which matrix the attention grid shows.
enum class Stage { S, S_scaled, S_masked, P, O, Count };
const char* stage_name(Stage);   // tensor suffix: "S", "S_scaled", ...
const char* stage_title(Stage);  // for people: "QKᵀ (raw scores)", ...

// The layer stepper's sub-steps: which of them a model has, and in which order, is core::layer_steps(config).
using Step = LayerStep;
const char* step_title(Step);  // a stable name for lessons' "step": "softmax", "norm", "activation", ...

// Which attention block is selected: a stack, a layer, self or cross.
struct BlockRef {
  bool decoder = false;
  bool cross = false;
  int layer = 0;
  std::string path() const;  // e.g. "encoder.0.self_attn"
};

struct Selection {
  BlockRef block;
  int head = 0;
  Stage stage = Stage::P;
  Step step = Step::Softmax;
  int pinned_row = -1;  // a query row shown as a bar chart
  int hover_row = -1;   // the cell of S under the mouse (drives the Q/K highlight)
  int hover_col = -1;
};

// Where a heatmap was drawn this frame (screen pixels), for scripted tests of the rendering.
struct DrawnHeatmap {
  std::string key;
  float x0, y0, x1, y1;  // the part of the cells visible on screen (clipped by its window); x1 ≤ x0: none
  int rows, cols;
  float full_x0 = 0, full_y0 = 0, full_x1 = 0, full_y1 = 0;  // all the cells, wherever they are
  int row_label_step = 1, col_label_step = 1;  // every k-th token label drawn (k > 1: thinned, and said so)
  int labels_drawn = 0;                        // row + column labels drawn
  int masked_cells = 0;                        // cells hatched as masked (−∞ in the matrix or in its mask)
  float zoom = 1.0f;
};
// Where a labelled control (or its error message: label "error: <label>") was drawn this frame, so scripted
// tests can click it (--click) and check what is shown under it.
struct DrawnWidget {
  std::string label;
  float x0, y0, x1, y1;
};

// Lessons (app/lessons_ui.cpp): the curriculum, the open lesson and the classroom modes.
struct LessonState {
  std::vector<Lesson> lessons;            // from assets/lessons/, sorted by number
  std::vector<std::string> load_errors;   // files that could not be read (shown in the Lessons tab)
  int active = -1;  // the open lesson (its strip shows above the labs), −1: none
  int selected = 0; // the lesson shown in the Lessons tab
  int step = 0;     // 0: the opening state; k: after the lesson's first k "try" steps
  std::set<std::string> done;  // progress marks, persisted in imgui.ini
  bool presentation = false;   // full screen, large fonts, high contrast, editing chrome hidden
  float strip_height = 0.0f;   // the lesson strip's height last frame (it fits its wrapped text)
  bool reveal = false;         // the explanation is shown (drill: the answer)
  bool drill = false;          // interview drill: question first, then the answer, then the demo
  std::string search;
  std::map<std::string, std::string> rendered;  // "<id>/<lang>/<field>" -> text with live figures
  // Export of a lesson's figures: one PNG per step (menu, or qkvlab --lesson ID --export-png DIR).
  std::string export_dir;
  int export_step = -1;  // −1: not exporting
  int export_wait = 0;   // frames to render before the next capture
  int export_lesson = -1;
  bool export_failed = false;  // a capture or the lesson failed: qkvlab --export-png exits 1
  bool quit_after_export = false;
};

// The Output tab (app/panels/output_panel.cpp): sampling settings and a generation in progress.
// Generator::start on a worker: it runs the whole prompt through the model (seconds at GPT-2 sizes), so a frame never
// waits for it.
struct GeneratorStart {
  std::shared_ptr<Generator> generator;  // null: `error` says why
  std::string error;
  uint64_t generation = 0;  // the trace generation the session was copied at (a newer one drops the result)
};

inline constexpr int kMaxShownK = 20;  // the Output table's top-k at most
struct OutputState {
  Job<GeneratorStart> starting;  // filling the KV cache with the prompt
  bool step_when_ready = false;  // Step was pressed before the cache was filled: feed one token when it is
  SamplingOptions sampling;
  uint64_t seed = 1;
  int max_new = 16;        // tokens a Generate run appends at most
  int shown_k = 5;         // a large vocabulary's table: the top-k listed per position
  bool running = false;    // Generate: one token per frame until Stop, [EOS] or max_new
  std::shared_ptr<Generator> generator;  // null until Generate/Step
  std::vector<int> generated;            // token ids appended so far
  Rng rng{1};
  uint64_t started_generation = 0;       // the trace generation it started from (a new session restarts it)
  i18n::Phrase note;                     // why generation stopped, or an error (in every language)
};

inline constexpr int kSettleFrames = 3;

// A real checkpoint's folder read on a worker (File ▸ Open model…, qkvlab --model DIR): core::open_pretrained converts
// every tensor (seconds for GPT-2), so frames keep drawing with its progress (tensors converted / all).
struct ModelLoaded {
  std::shared_ptr<const PretrainedModel> model;  // null: `error` says why
  std::optional<Error> error;
};
struct ModelLoadState {
  Job<ModelLoaded> job;   // its key is the folder being read
  std::optional<Error> failed;  // the last load's refusal, shown in a dialog until dismissed (the session stays)
  std::string failed_dir;
  std::shared_ptr<const PretrainedModel> model;  // the last model opened (the session's, while model_dir names it)
  bool loading() const { return job.running(); }
};

// What a recompute job (a worker, app/app_state.cpp) hands back to the UI thread. The job runs on copies of the
// session and of the weight caches (copies share their immutable tensors), so nothing of AppState is touched off
// the UI thread; the caches come back with the result, with whatever weights the job drew or read.
struct Recomputed {
  std::optional<Trace> trace;                     // none: `error` says why
  Session session;                                // the session that made it
  std::optional<Error> error;
  std::shared_ptr<const Trace> trace_other_scale; // with side_by_side: the same session with √d_k flipped
  std::string gradient_error;
  WeightCache weights, weights_other_scale;
  double ms = 0.0;                                // the whole job: run, flipped run, gradients
};

// A job that has run this long shows a progress bar (and the trace on screen is marked stale); a shorter one is
// over before anyone could read either, and would only flicker.
inline constexpr std::chrono::milliseconds kShowBusyAfter{200};

struct AppState {
  Session session;
  bool dirty = true;                    // the session changed: recompute at the start of the next frame
  std::shared_ptr<const Trace> trace;   // the last session that ran (never an invalid one)
  Session trace_session;                // the session `trace` was made from (what the next recompute may take from it)
  bool recompute_from_scratch = false;  // the next recompute takes nothing from `trace` (after a language switch)
  std::shared_ptr<const Trace> trace_other_scale;  // the same session with √d_k flipped, when side_by_side is on
  bool side_by_side = false;
  AblationKind ablation_kind = AblationKind::Zero;  // the Attention tab's "ablate head/layer": zero or mean
  uint64_t generation = 0;              // bumps with every new trace; textures re-upload on change
  std::optional<Error> error;           // why the current edits are not applied
  // The recompute of the latest edit, on a worker: a newer edit cancels it (core::run stops at its next layer).
  // `trace` stays on screen until its result arrives.
  Job<Recomputed> recompute;
  bool recompute_gradients = false;     // the running job adds gradients (none is started again for them)
  std::chrono::steady_clock::time_point recompute_started;
  // The trace on screen is not the session's: an edit waits for its recompute or is computing.
  bool trace_stale() const { return dirty || recompute.running(); }
  // Set once a frame, before drawing: the running recompute has taken longer than kShowBusyAfter, so this frame
  // shows "computing…" with its progress (and scripted runs know what the frame they capture shows).
  bool recompute_slow = false;
  std::string last_edited_field;        // the Model panel's field edited last: its refusal is shown under it
  WeightCache weights, weights_other_scale;
  Selection sel;

  // Gradients: computed with each recompute while a panel that shows them is open (it sets gradients_wanted
  // every frame); the trace then holds "loss" and dL/d<path>. gradient_error says why they are missing.
  bool gradients_wanted = false;
  std::string gradient_error;

  LessonState lessons;
  std::vector<Highlight> highlights;  // cells the open lesson points at (outlined in heatmaps)
  int request_tab = -1;               // select this tab on the next frame (lessons, --panel)
  std::string request_section;        // the open lesson step's part of its tab: the panel scrolls it into view once
  std::string scroll_to_tensor;       // a heatmap of this tensor scrolls itself into view when drawn (a lesson's highlight)

  // The live training run of the Train tab (a worker thread), kept across tab switches.
  std::shared_ptr<TrainingRun> training;

  // View settings (persisted in imgui.ini).
  bool dark_theme = true;
  float font_scale = 1.0f;
  int lab_tab = -1;  // −1 until imgui.ini says otherwise: the app then opens on the Attention tab
  float sidebar_width = 420.0f;  // pixels; drag the sidebar's right edge

  // Status bar.
  double recompute_ms = 0.0;
  double frame_ms = 0.0;
  std::string session_path;
  i18n::Phrase message;  // the last file operation's result, in every language (a switch redraws it)

  // Something moves on screen without input (training, generation, an export, a file dialog): the main loop
  // keeps drawing frames instead of sleeping until the next event. Panels set it while drawn; reset each frame.
  bool animating = false;
  // Background jobs (app/jobs.h) the drawn panels are waiting for; reset each frame. A scripted screenshot waits
  // for them, so it shows the finished result, not "computing…".
  int jobs_running = 0;
  // Frames drawn since the last frame in which a background job ran: scripted screenshots and lesson exports wait
  // for kSettleFrames of them, so a result that arrived has also been laid out (a new scrollbar narrows the page).
  int frames_since_jobs = 1000;
  double longest_frame_ms = 0.0;  // the slowest frame so far (tests: no frame is blocked by a lab's sweep)

  std::vector<DrawnHeatmap> drawn_heatmaps;
  std::vector<DrawnWidget> drawn_widgets;
  std::map<std::string, HeatmapView> heatmap_views;  // zoom and pan per heatmap view (app/widgets/heatmap.cpp)
  OutputState output;  // the Output tab
  ModelLoadState model_load;  // a real checkpoint being opened, or the one opened
  TextureCache* textures = nullptr;
  HeatmapRenderer* heatmaps = nullptr;
};

// The folder of shipped data: $QKVLAB_ASSETS, else the source tree's assets/ (set at build time).
std::string assets_dir();
// What the app opens on: the shipped reverse-task model on "attention", its last cross-attention selected.
// Falls back to the seeded default (with *note saying why) if the weights are missing.
Session default_session(i18n::Phrase* note = nullptr);
// Points every weight cache of the state at assets/weights/ (relative Session::weights names).
void init_weight_search(AppState&);

// Replaces the session being edited (New, Open, a starting point): the open lesson and the pinned row, hover
// and highlights described the old text, so they are dropped; the last valid trace stays until the new one runs.
void replace_session(AppState&, Session, std::string path, i18n::Phrase message);
// File ▸ New: the session the app opens on, with its last cross-attention selected.
void new_session(AppState&);

// Once per frame, before drawing: picks up a finished recompute (a new trace, or an error: an invalid session keeps
// the previous trace and sets error), then, when the session is dirty, starts the recompute of it on a worker
// (core::run, the √d_k-flipped run of side_by_side, core::add_gradients when a panel wants them), cancelling the
// one still running. Never waits for it. While it runs, it counts in jobs_running and keeps frames coming.
void recompute_if_dirty(AppState&);
// Waits for the running recompute and applies its result (tests, benchmarks and one-off tools; never in a frame).
void finish_recompute(AppState&);
// [SECTION] Real checkpoints (core/pretrained.h)
// Starts reading the model folder `dir` on a worker (a load already running is cancelled). Each frame,
// recompute_if_dirty picks up the result: the session is replaced by the model's (pretrained_session: the user's text
// kept when it fits, else the family's prompt) — or, on failure, the session stays and model_load.failed says why.
void open_model(AppState&, const std::string& dir);
// File ▸ Close model: back to the toy model the app opens on.
void close_model(AppState&);
// The model the session's model_dir names (null: none, or not read yet).
std::shared_ptr<const PretrainedModel> session_model(const AppState&);

// Output tab: the generator whose KV cache holds the session's prompt (Generator::start runs the whole model over it,
// seconds at GPT-2 sizes, so it runs on a worker). start_generator starts filling it (once) and is true once it is
// ready; poll_generator, each frame, takes a finished start — true when it failed (s.output.note says why) — and drops
// one made for an older session.
bool start_generator(AppState&);
bool poll_generator(AppState&);
// The tokens along the query and key axes of the selected block.
const std::vector<std::string>& query_tokens(const AppState&, const BlockRef&);
const std::vector<std::string>& key_tokens(const AppState&, const BlockRef&);
// Keeps the selection inside the current model (layers, heads, arch).
void clamp_selection(AppState&);
// The attention blocks of the current model, in order.
std::vector<BlockRef> attention_blocks(const ModelConfig&);

}  // namespace qkv::app
