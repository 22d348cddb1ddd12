// QKV Lab core — lessons: data files in assets/lessons/ (schema in assets/lessons/README.md), each a question
// with a short answer and an explanation in English and 简体中文, bound to a live state of the labs. Numbers
// quoted in the text are {figure} placeholders computed by the core when the lesson is shown.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/i18n.h"  // Lang
#include "core/trace.h"

namespace qkv {


struct Text {
  std::string en, zh;
  const std::string& in(Lang l) const { return l == Lang::Zh && !zh.empty() ? zh : en; }
};

// Where the labs look when the lesson opens (app side: tab, selection).
struct LessonView {
  std::string panel = "attention";  // a tab name (qkvlab --panel)
  std::string block;                // e.g. "decoder.0.cross_attn"; empty: the first block
  int head = 0;
  std::string step;    // a stepper sub-step title, e.g. "softmax"; empty: unchanged
  std::string stage;   // S, S_scaled, S_masked, P, O; empty: unchanged
  int pinned_row = -1;
  std::string section;  // a part of the tab to scroll into view, e.g. "why-sqrt-dk" (each panel names its own)
};

struct Highlight {
  std::string tensor;  // a trace path, e.g. encoder.0.self_attn.head.0.P
  int row = -1, col = -1;  // −1: the whole row / column / tensor
  Text note;
};

// A number (or shape) the text quotes, computed from the core:
//   softmax:   softmax(values · scale)[index]
//   head_stat: stat of head (entropy | max_weight | score_variance | score_mean)
//   tensor:    tensor[row, col]
//   shape:     "[r×c]" of tensor
//   params:    total parameters of the session's model (or of `preset`)
//   loss:      the session's loss (gradients)
//   norm:      Frobenius norm of tensor (e.g. dL/d…S)
// Any figure may carry `set`, a JSON merge patch applied to the lesson's session for this figure only, and
// `expect`, the value the prose claims; tests check |live − expect| is within the format's rounding.
struct Figure {
  std::string kind;
  std::vector<double> values;
  double scale = 1.0;
  int index = 0;
  std::string head, stat, tensor, preset;
  int row = 0, col = 0;
  std::string format = "%.2f";
  std::string set;  // JSON merge patch ("" = none)
  std::optional<double> expect;
};

struct TryStep {
  Text text;
  std::string set;  // JSON merge patch applied to the current session ("" = only read)
  std::optional<LessonView> view;
  // What this step points at. The lesson's own highlights belong to its opening state (step 0); a step shows
  // only its own, so every outline on screen is drawn by the step's view.
  std::vector<Highlight> highlights;
};

struct Lesson {
  std::string id;
  int number = 0;
  std::vector<std::string> needs;  // e.g. "gradients", "trained-weights"
  Text title, question, short_answer, explanation;
  std::string session_json;  // the session the lesson opens (merged over the defaults)
  LessonView view;
  std::vector<Highlight> highlights;
  std::map<std::string, Figure> figures;
  std::vector<TryStep> steps;
  std::string file;
};

Result<Lesson> parse_lesson(const std::string& json_text, const std::string& file = "");
// Every *.json lesson in dir, sorted by number; files that fail are reported in *errors and skipped.
std::vector<Lesson> load_lessons(const std::string& dir, std::vector<std::string>* errors);

// The lesson's session, and a session with a merge patch applied (Error if the result is invalid).
Result<Session> lesson_session(const Lesson&);
Result<Session> patch_session(const Session&, const std::string& merge_patch);

// Evaluates a figure for a lesson on `base` (the session the lesson runs; the figure's own patch on top) and
// returns it formatted; *value gets the number (NaN for shapes).
Result<std::string> evaluate_figure(const Figure&, const Session& base, const std::string& weights_dir, double* value = nullptr);
// Replaces every {name} in text with its evaluated figure; unknown names become "{?name}" and are reported.
std::string render_text(const std::string& text, const Lesson&, const Session& base, const std::string& weights_dir,
                        std::vector<std::string>* problems = nullptr);
// The {name} placeholders used in a text.
std::vector<std::string> placeholders(const std::string& text);

// Everything a lesson promises, checked on the core: its session and every try step are valid, the view and
// highlights name tensors that exist (panel among kLessonPanels), both languages quote the same figures, every
// figure evaluates, and each `expect` matches the live value within the rounding of its format. Empty = fine.
std::vector<std::string> check_lesson(const Lesson&, const std::string& weights_dir);
// The tabs a lesson's view may open: the app's tab names (app/ui.cpp kTabList) other than the Lessons tab.
inline const std::vector<std::string> kLessonPanels = {"stepper",   "attention",  "qkv",       "scaling", "masks",
                                                       "positions", "parameters", "gradients", "train", "output"};
// The texts of a lesson (title, question, answers, notes, steps), for checks and search.
std::vector<const Text*> lesson_texts(const Lesson&);

}  // namespace qkv
