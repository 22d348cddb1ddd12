#include "app/app_state.h"

#include "core/paths.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "app/lessons_ui.h"
#include "app/real_model.h"
#include "app/ui.h"
#include "app/widgets/common.h"
#include "core/network.h"
#include "core/trainer.h"

namespace qkv::app {

const char* stage_name(Stage s) {
  static const char* names[] = {"S", "S_scaled", "S_masked", "P", "O"};
  return names[static_cast<int>(s)];
}

const char* stage_title(Stage s) {
  // Formulas, the same in every language, apart from the mask's word.
  static const char* titles[] = {"S = QKᵀ", "S / √d_k", nullptr, "P = softmax", "O = P·V"};  // i18n: name (formulas)
  return s == Stage::S_masked ? tr("app.stage.mask") : titles[static_cast<int>(s)];
}

const char* step_title(Step s) { return name(s); }

std::string BlockRef::path() const {
  return std::string(decoder ? "decoder." : "encoder.") + std::to_string(layer) + (cross ? ".cross_attn" : ".self_attn");
}

std::vector<BlockRef> attention_blocks(const ModelConfig& c) {
  std::vector<BlockRef> blocks;
  if (c.arch != Arch::DecoderOnly)
    for (int l = 0; l < c.layers; ++l) blocks.push_back({false, false, l});
  if (c.arch != Arch::EncoderOnly)
    for (int l = 0; l < c.layers; ++l) {
      blocks.push_back({true, false, l});
      if (c.arch == Arch::EncoderDecoder) blocks.push_back({true, true, l});
    }
  return blocks;
}

void clamp_selection(AppState& s) {
  if (!s.trace) return;
  const ModelConfig& c = s.session.model;
  BlockRef& b = s.sel.block;
  if (c.arch == Arch::EncoderOnly) b.decoder = false;
  if (c.arch == Arch::DecoderOnly) b.decoder = true;
  if (c.arch != Arch::EncoderDecoder || !b.decoder) b.cross = false;
  b.layer = std::clamp(b.layer, 0, c.layers - 1);
  s.sel.head = std::clamp(s.sel.head, 0, c.heads - 1);
  const int rows = static_cast<int>(query_tokens(s, b).size());
  if (s.sel.pinned_row >= rows) s.sel.pinned_row = -1;
}

std::string assets_dir() {
  if (const char* env = std::getenv("QKVLAB_ASSETS"); env && *env) return env;
  return QKVLAB_ASSETS_DIR;
}

Session default_session(Phrase* note) {
  const std::string file = "reverse.safetensors";
  Result<TrainedWeights> trained = load_trained(assets_dir() + "/weights/" + file);
  if (!trained) {
    if (note) *note = phrase("app.shipped_not_loaded", arg("reason", trained.error().message()));
    return Session{};
  }
  Session s;
  s.model = trained->model;
  s.model.arch = Arch::EncoderDecoder;
  s.tokenizer = TokenizerKind::Chars;
  s.input = {"attention", "noitnetta"};
  s.weights = file;
  s.seed = 42;
  if (note) *note = phrase("app.shipped_opened", arg("steps", trained->steps), arg("task", trained->task));
  return s;
}

void init_weight_search(AppState& s) {
  const std::vector<std::string> dirs{assets_dir() + "/weights"};
  s.weights.search_dirs = dirs;
  s.weights_other_scale.search_dirs = dirs;
}

void replace_session(AppState& s, Session session, std::string path, Phrase message) {
  s.session = std::move(session);
  s.session_path = std::move(path);
  s.dirty = true;
  s.error.reset();
  close_lesson(s);
  s.sel.pinned_row = s.sel.hover_row = s.sel.hover_col = -1;
  s.heatmap_views.clear();  // zoom and pan belonged to the old matrices
  s.message = std::move(message);
}

void new_session(AppState& s) {
  Phrase note;
  Session fresh = default_session(&note);
  const int layers = fresh.model.layers;
  const bool trained = !fresh.weights.empty();
  replace_session(s, std::move(fresh), "", note);
  if (trained) s.sel.block = BlockRef{true, true, layers - 1};  // the reverse model's anti-diagonal
  clamp_selection(s);
}

// [SECTION] The recompute, on a worker
namespace {

// The job: runs on copies (the session, the flags, the weight caches), never on AppState. Progress counts the
// layers of every pass it makes: the session's run, the flipped run, and the gradients as one more step each
// layer's worth (add_gradients reports none: it counts as done when it returns).
//   reuse: what of the trace on screen the run may take instead of recomputing (core/model.h reusable).
//   prefetch: paths the views will ask for; a lean trace derives them here, on the worker, not in the next frame.
//   held: bytes of the traces on screen, which stay until the result arrives (they count against the memory limit).
Recomputed compute(const Session& session, bool side_by_side, bool gradients, WeightCache weights, WeightCache weights_other_scale,
                   Reuse reuse, const std::vector<std::string>& prefetch, double held, JobControl& c) {
  const auto start = std::chrono::steady_clock::now();
  const int passes = 1 + (side_by_side ? 1 : 0) + (gradients ? 1 : 0);
  int pass = 0;
  const Progress progress = [&](int done, int total) {
    c.report(pass * total + done, passes * total);
    return !c.cancelled();
  };
  // Until the run reports (drawing the weights comes first), the layers it will make: a bar from the start.
  const int layers = session.model.layers * (session.model.arch == Arch::EncoderDecoder ? 2 : 1);
  c.report(0, passes * layers);
  Recomputed out;
  RunOptions options;
  options.cache = &weights;
  options.progress = progress;
  options.reuse = std::move(reuse);
  options.memory_in_use = held;
  Result<Trace> t = run(session, options);
  options.reuse = {};  // the earlier trace is not held longer than the run needs it
  if (t) {
    ++pass;
    if (side_by_side && !c.cancelled()) {
      Session flipped = session;
      flipped.model.score_scale = session.model.score_scale == ScoreScale::None ? ScoreScale::InvSqrtDk : ScoreScale::None;
      RunOptions other_options;
      other_options.cache = &weights_other_scale;
      other_options.progress = progress;
      other_options.memory_in_use = held + static_cast<double>(t->tensors.bytes());
      Result<Trace> other = run(flipped, other_options);
      if (other) out.trace_other_scale = std::make_shared<const Trace>(std::move(*other));
      else if (!is_cancelled(other.error())) t->warnings.push_back(trf("app.no_side_by_side", arg("reason", other.error().message())));
      ++pass;
    }
    if (gradients && !c.cancelled())
      if (auto e = add_gradients(session, *t)) out.gradient_error = e->message();
    if (t->tensors.lean())
      for (const std::string& path : prefetch)
        if (!c.cancelled()) t->tensors.find(path);
    out.trace = std::move(*t);
    out.session = session;
  } else {
    out.error = t.error();
  }
  out.weights = std::move(weights);
  out.weights_other_scale = std::move(weights_other_scale);
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

// The UI thread takes a finished job's result: the caches always (they hold what the job drew), the trace unless
// the run failed. A cancelled job never gets here (Job::take drops it), but a run that says it was cancelled is
// ignored all the same.
void apply(AppState& s, Recomputed r) {
  s.weights = std::move(r.weights);
  s.weights_other_scale = std::move(r.weights_other_scale);
  if (!r.trace) {
    if (r.error && !is_cancelled(*r.error)) s.error = std::move(r.error);
    return;
  }
  s.trace_other_scale = std::move(r.trace_other_scale);
  s.gradient_error = std::move(r.gradient_error);
  s.error.reset();
  s.trace = std::make_shared<const Trace>(std::move(*r.trace));
  s.trace_session = std::move(r.session);
  ++s.generation;
  s.recompute_ms = r.ms;
  clamp_selection(s);
}

// A finished recompute: its trace or its refusal applied; one that threw (out of memory despite the estimate …) sets
// the error and keeps the trace on screen.
void take_finished_recompute(AppState& s) {
  if (auto done = s.recompute.take()) {
    apply(s, std::move(done->value));
  } else if (s.recompute.failed()) {
    s.error = Error{trf("app.recompute_failed", arg("reason", s.recompute.failed()->what)), tr("app.recompute_failed_hint")};
    s.recompute.clear_failed();
  }
}

}  // namespace

namespace {
constexpr size_t kDerivedTensorBudget = size_t{512} << 20;  // bytes of a lean trace's derived layers kept between frames
}  // namespace

// [SECTION] Real checkpoints
void open_model(AppState& s, const std::string& dir) {
  s.model_load.failed.reset();
  s.model_load.job.start(dir, [dir](JobControl& c) {
    ModelLoaded out;
    Result<std::shared_ptr<const PretrainedModel>> m = open_pretrained(dir, c.progress());
    if (m) out.model = std::move(*m);
    else out.error = m.error();
    return out;
  });
}

void close_model(AppState& s) {
  s.model_load.job.cancel();
  s.model_load.model.reset();
  new_session(s);
  s.message = phrase("app_pretrained.closed");
}

std::shared_ptr<const PretrainedModel> session_model(const AppState& s) {
  if (s.session.model_dir.empty()) return nullptr;
  if (s.model_load.model && s.model_load.model->card.folder == s.session.model_dir) return s.model_load.model;
  return cached_pretrained(s.session.model_dir);
}

namespace {

// A finished load: the model's session replaces the one on screen; a refusal leaves it and says why (a dialog and the
// status bar). A cancelled load (a newer Open, Close) never gets here.
void take_finished_model_load(AppState& s) {
  ModelLoadState& L = s.model_load;
  const std::string dir = L.job.key();
  if (auto done = L.job.take()) {
    if (!done->value.model) {
      const Error e = done->value.error.value_or(Error{tr("app.recompute_failed_hint"), ""});
      if (is_cancelled(e)) return;
      L.failed = e, L.failed_dir = done->key;
      s.message = phrase("app_pretrained.not_opened", arg("dir", done->key), arg("what", e.what));
      return;
    }
    const PretrainedModel& m = *done->value.model;
    L.model = done->value.model;
    Session next = pretrained_session(m, done->key, s.session);
    // Texts nobody typed give way to the family's prompt: the toy models' defaults.
    next.input.text = prompt_for_model(m, s.session.input.text, {default_session().input.text, Session{}.input.text});
    replace_session(s, std::move(next), "",
                    phrase("app_pretrained.opened", arg("title", m.card.title), arg("params", with_separators(m.card.parameters)),
                           arg("ms", m.card.load_ms)));
    s.model_load.failed.reset();
    // The selected block if the model has it (qkvlab --model DIR --block decoder.3.self_attn), else layer 0 of its
    // one stack, where the learner starts reading.
    const std::vector<BlockRef> blocks = attention_blocks(m.config);
    if (std::none_of(blocks.begin(), blocks.end(), [&](const BlockRef& b) { return b.path() == s.sel.block.path(); })) s.sel.block = blocks.front();
    s.sel.head = std::clamp(s.sel.head, 0, m.config.heads - 1);
    s.output.starting.cancel();
    s.output.generator.reset();
    s.output.generated.clear();
    s.output.running = s.output.step_when_ready = false;
    s.output.note = Phrase();
    // The Lessons and Train tabs are about the toy models: a real model opens on its heads.
    if (s.lab_tab == find_tab("lessons") || s.lab_tab == find_tab("train")) s.request_tab = find_tab("attention");
  } else if (L.job.failed()) {  // it threw (out of memory despite the estimate …)
    L.failed = Error{trf("app.recompute_failed", arg("reason", L.job.failed()->what)), tr("app.recompute_failed_hint")};
    L.failed_dir = dir;
    s.message = phrase("app_pretrained.not_opened", arg("dir", dir), arg("what", L.failed->what));
    L.job.clear_failed();
  }
}

}  // namespace

void recompute_if_dirty(AppState& s) {
  take_finished_model_load(s);
  if (s.model_load.loading()) {
    ++s.jobs_running;
    s.animating = true;  // the progress bar moves
  }
  // A lean trace (large models, long inputs) derives the layers the views ask for; once they add up, they are
  // dropped here, at the start of a frame, where no panel holds a pointer to them (no worker reads s.trace).
  if (s.trace && s.trace->tensors.lean() && s.trace->tensors.derived_bytes() > kDerivedTensorBudget) s.trace->tensors.release_derived();
  take_finished_recompute(s);
  // A panel that shows gradients opened on a trace without them: recompute once with gradients (unless the
  // running job already adds them).
  const bool gradients_coming = s.recompute.running() && s.recompute_gradients;
  if (s.gradients_wanted && s.trace && !s.trace->tensors.contains("loss") && s.gradient_error.empty() && !gradients_coming) s.dirty = true;
  if (s.dirty) {
    s.dirty = false;
    s.recompute_gradients = s.gradients_wanted;
    s.recompute_started = std::chrono::steady_clock::now();
    // Layers whose inputs did not change are taken from the trace on screen (e.g. the encoder when only the target
    // changed; everything when only the loss did): decided here, on the UI thread, which owns s.trace.
    Reuse reuse = s.trace && !s.recompute_from_scratch ? reusable(s.trace_session, s.trace, s.session) : Reuse{};
    s.recompute_from_scratch = false;
    // The selected block's heads at the selected stage, and its mask: what the Attention tab draws first.
    std::vector<std::string> prefetch{paths::join(s.sel.block.path(), "M")};
    for (int i = 0; i < s.session.model.heads; ++i) prefetch.push_back(paths::head_tensor(s.sel.block.path(), i, stage_name(s.sel.stage)));
    const auto bytes_of = [](const std::shared_ptr<const Trace>& t) {
      return t ? static_cast<double>(t->tensors.bytes() + t->tensors.derived_bytes()) : 0.0;
    };
    const double held = bytes_of(s.trace) + bytes_of(s.trace_other_scale);
    s.recompute.start("recompute", [session = s.session, side = s.side_by_side, gradients = s.gradients_wanted, weights = s.weights,
                                    other = s.weights_other_scale, reuse = std::move(reuse), prefetch = std::move(prefetch), held](JobControl& c) {
      return compute(session, side, gradients, weights, other, reuse, prefetch, held, c);
    });
  }
  s.recompute_slow = s.recompute.running() && std::chrono::steady_clock::now() - s.recompute_started >= kShowBusyAfter;
  if (s.recompute.running()) {
    ++s.jobs_running;
    s.animating = true;  // frames keep coming, so the result is drawn the frame it arrives
  }
}

void finish_recompute(AppState& s) {
  while (s.recompute.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.recompute_slow = false;
  take_finished_recompute(s);
}

bool start_generator(AppState& s) {
  OutputState& o = s.output;
  if (o.generator) return true;
  if (!o.starting.running()) {
    o.starting.start("generator", [session = s.session, weights = s.weights, generation = s.generation](JobControl&) mutable {
      GeneratorStart out;
      out.generation = generation;
      Result<std::unique_ptr<Generator>> g = Generator::start(session, &weights);
      if (g) out.generator = std::move(*g);
      else out.error = g.error().message();
      return out;
    });
  }
  ++s.jobs_running;
  s.animating = true;
  o.note = phrase("app.filling_kv_cache");
  return false;
}

bool poll_generator(AppState& s) {
  OutputState& o = s.output;
  bool failed = false;
  if (auto done = o.starting.take()) {
    if (done->value.generation == s.generation) {  // else: made for an older session; the next Generate starts again
      if (done->value.generator) {
        o.generator = std::move(done->value.generator);
        o.rng = Rng(o.seed);
        o.started_generation = s.generation;
        o.note = Phrase();
      } else {
        o.note = phrase("app.cannot_generate", arg("reason", done->value.error));
        failed = true;
      }
    }
  } else if (o.starting.failed()) {  // it threw (out of memory …)
    o.note = phrase("app.cannot_generate", arg("reason", o.starting.failed()->what));
    o.starting.clear_failed();
    failed = true;
  }
  if (o.starting.running()) {
    ++s.jobs_running;
    s.animating = true;
  }
  return failed;
}

const std::vector<std::string>& query_tokens(const AppState& s, const BlockRef& b) {
  const Trace& t = *s.trace;
  return b.decoder && !t.target_tokens.empty() ? t.target_tokens : t.source_tokens;
}

const std::vector<std::string>& key_tokens(const AppState& s, const BlockRef& b) {
  return b.cross ? s.trace->source_tokens : query_tokens(s, b);
}

}  // namespace qkv::app
