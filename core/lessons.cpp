#include "core/paths.h"
#include "core/lessons.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <climits>
#include <cstring>
#include <cctype>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/counters.h"
#include "core/files.h"
#include "core/model.h"
#include "core/network.h"
#include "core/ops.h"

namespace qkv {

using nlohmann::json;

const char* name(Lang l) { return l == Lang::Zh ? "zh" : "en"; }

namespace {

// [SECTION] Parsing: every key is checked; a lesson that says something we do not understand is refused.
struct Bad {
  std::string what;
};

// A figure's format: "count", or one printf conversion of a double (%f %e %g with flags, width, precision), width and
// precision at most kMaxFormatDigits digits each (up to 99: a number a lesson prints fits in format_number's buffer).
constexpr size_t kMaxFormatDigits = 2;
bool valid_format(const std::string& f) {
  if (f == "count") return true;
  int conversions = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') continue;
    if (i + 1 < f.size() && f[i + 1] == '%') {
      ++i;
      continue;
    }
    size_t k = i + 1;
    while (k < f.size() && std::strchr("-+ 0#", f[k])) ++k;
    // Width and precision of at most two digits each (issue 11, defect 5: "%.999999999f" took minutes and 4.9 GB).
    const auto digits = [&] {
      const size_t first = k;
      while (k < f.size() && std::isdigit(static_cast<unsigned char>(f[k]))) ++k;
      return k - first;
    };
    if (digits() > kMaxFormatDigits) return false;
    if (k < f.size() && f[k] == '.') {
      ++k;
      if (digits() > kMaxFormatDigits) return false;
    }
    if (k >= f.size() || !std::strchr("fFeEgG", f[k])) return false;
    ++conversions;
    i = k;
  }
  return conversions == 1 && f.size() < 32;
}

int int_of(const json& j, const char* key, int fallback, const std::string& where) {
  if (!j.contains(key)) return fallback;
  const json& v = j[key];
  const bool fits = v.is_number_integer() && (v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(INT_MAX)
                                                                     : v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX);
  if (!fits) throw Bad{where + "." + key + " must be a whole number in range"};
  return static_cast<int>(v.get<int64_t>());
}

void only_keys(const json& j, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!j.is_object()) throw Bad{where + " must be an object"};
  for (const auto& item : j.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one in a lambda
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) == allowed.end())
      throw Bad{where + " has an unknown key \"" + key + "\""};
  }
}

Text text_of(const json& j, const std::string& where, bool required = true) {
  Text t;
  if (j.is_null() && !required) return t;
  only_keys(j, {"en", "zh"}, where);
  if (!j.contains("en") || !j["en"].is_string() || j["en"].get<std::string>().empty()) throw Bad{where + ".en is missing"};
  if (!j.contains("zh") || !j["zh"].is_string() || j["zh"].get<std::string>().empty()) throw Bad{where + ".zh is missing"};
  t.en = j["en"].get<std::string>();
  t.zh = j["zh"].get<std::string>();
  return t;
}

LessonView view_of(const json& j, const std::string& where) {
  only_keys(j, {"panel", "block", "head", "step", "stage", "pinned_row", "section"}, where);
  LessonView v;
  v.panel = j.value("panel", v.panel);
  v.block = j.value("block", v.block);
  v.head = int_of(j, "head", v.head, where);
  v.step = j.value("step", v.step);
  v.stage = j.value("stage", v.stage);
  v.pinned_row = int_of(j, "pinned_row", v.pinned_row, where);
  v.section = j.value("section", v.section);
  return v;
}

std::string patch_of(const json& j, const std::string& where) {
  if (j.is_null()) return "";
  if (!j.is_object()) throw Bad{where + " must be a JSON object (a merge patch of the session)"};
  return j.dump();
}

std::vector<Highlight> highlights_of(const json& list, const std::string& where) {
  std::vector<Highlight> out;
  if (!list.is_array()) throw Bad{where + " must be a list"};
  for (const json& h : list) {
    only_keys(h, {"tensor", "row", "col", "note"}, where);
    Highlight hl;
    hl.tensor = h.at("tensor").get<std::string>();
    hl.row = int_of(h, "row", -1, where);
    hl.col = int_of(h, "col", -1, where);
    if (hl.row < -1 || hl.col < -1) throw Bad{where + ": row and col are −1 (all) or an index"};
    if (h.contains("note")) hl.note = text_of(h["note"], where + ".note");
    out.push_back(std::move(hl));
  }
  return out;
}

}  // namespace

Result<Lesson> parse_lesson(const std::string& json_text, const std::string& file) {
  const std::string where = file.empty() ? "lesson" : std::filesystem::path(file).filename().string();
  if (auto e = check_json_depth(json_text, where)) return *e;
  const json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return Error{where + " is not valid JSON", "check commas and quotes"};
  try {
    only_keys(j, {"id", "number", "needs", "title", "question", "short_answer", "explanation", "session", "view", "highlight", "figures", "try"},
              where);
    Lesson l;
    l.file = file;
    if (!j.contains("id") || !j["id"].is_string()) throw Bad{where + ": id is missing"};
    l.id = j["id"].get<std::string>();
    if (!j.contains("number")) throw Bad{where + ": number is missing (an integer)"};
    l.number = int_of(j, "number", 0, where);
    if (j.contains("needs")) l.needs = j["needs"].get<std::vector<std::string>>();
    l.title = text_of(j.value("title", json()), l.id + ".title");
    l.question = text_of(j.value("question", json()), l.id + ".question");
    l.short_answer = text_of(j.value("short_answer", json()), l.id + ".short_answer");
    l.explanation = text_of(j.value("explanation", json()), l.id + ".explanation");
    l.session_json = j.contains("session") ? patch_of(j["session"], l.id + ".session") : "{}";
    if (j.contains("view")) l.view = view_of(j["view"], l.id + ".view");
    l.highlights = highlights_of(j.value("highlight", json::array()), l.id + ".highlight");
    const json figures = j.value("figures", json::object());  // a named copy: items() must not outlive it
    for (const auto& [key, f] : figures.items()) {
      only_keys(f, {"kind", "values", "scale", "index", "head", "stat", "tensor", "preset", "row", "col", "format", "set", "expect"},
                l.id + ".figures." + key);
      Figure fig;
      fig.kind = f.at("kind").get<std::string>();
      static const char* kinds[] = {"softmax", "head_stat", "tensor", "shape", "rows", "cols", "params", "loss", "norm", "softmax_gain"};
      if (std::find(std::begin(kinds), std::end(kinds), fig.kind) == std::end(kinds))
        throw Bad{l.id + ".figures." + key + ": kind \"" + fig.kind +
                  "\" is not one of softmax, head_stat, tensor, shape, rows, cols, params, loss, norm, softmax_gain"};
      if (f.contains("values")) fig.values = f["values"].get<std::vector<double>>();
      fig.scale = f.value("scale", 1.0);
      fig.index = int_of(f, "index", 0, l.id + ".figures." + key);
      fig.head = f.value("head", "");
      fig.stat = f.value("stat", "");
      fig.tensor = f.value("tensor", "");
      fig.preset = f.value("preset", "");
      fig.row = int_of(f, "row", 0, l.id + ".figures." + key);
      fig.col = int_of(f, "col", 0, l.id + ".figures." + key);
      fig.format = f.value("format", fig.format);
      if (!valid_format(fig.format))
        throw Bad{l.id + ".figures." + key + ": format \"" + fig.format + "\" must be \"count\" or one %f / %e / %g conversion"};
      if (f.contains("set")) fig.set = patch_of(f["set"], l.id + ".figures." + key + ".set");
      if (f.contains("expect")) fig.expect = f["expect"].get<double>();
      l.figures[key] = std::move(fig);
    }
    for (const json& step : j.value("try", json::array())) {
      only_keys(step, {"text", "set", "view", "highlight"}, l.id + ".try");
      TryStep t;
      t.text = text_of(step.at("text"), l.id + ".try.text");
      if (step.contains("set")) t.set = patch_of(step["set"], l.id + ".try.set");
      if (step.contains("view")) t.view = view_of(step["view"], l.id + ".try.view");
      if (step.contains("highlight")) t.highlights = highlights_of(step["highlight"], l.id + ".try.highlight");
      l.steps.push_back(std::move(t));
    }
    return l;
  } catch (const Bad& b) {
    return Error{b.what, "see assets/lessons/README.md for the schema"};
  } catch (const json::exception& e) {
    return Error{where + ": " + e.what(), "see assets/lessons/README.md for the schema"};
  }
}

std::vector<Lesson> load_lessons(const std::string& dir, std::vector<std::string>* errors) {
  std::vector<Lesson> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    if (errors) errors->push_back("no lessons folder at " + dir);
    return out;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    Result<std::string> text = read_file(path.string());
    if (!text) {
      if (errors) errors->push_back(text.error().message());
      continue;
    }
    Result<Lesson> l = parse_lesson(*text, path.string());
    if (!l) {
      if (errors) errors->push_back(l.error().message());
      continue;
    }
    const auto same = std::find_if(out.begin(), out.end(), [&](const Lesson& o) { return o.id == l->id || o.number == l->number; });
    if (same != out.end()) {
      if (errors)
        errors->push_back(path.filename().string() + " repeats the id or number of " + std::filesystem::path(same->file).filename().string() +
                          "; it was skipped");
      continue;
    }
    out.push_back(std::move(*l));
  }
  std::stable_sort(out.begin(), out.end(), [](const Lesson& a, const Lesson& b) { return a.number < b.number; });
  return out;
}

Result<Session> patch_session(const Session& base, const std::string& merge_patch) {
  if (merge_patch.empty()) return base;
  if (auto e = check_json_depth(merge_patch, "the session patch")) return *e;
  json doc = json::parse(to_json(base), nullptr, false);
  const json patch = json::parse(merge_patch, nullptr, false);
  if (patch.is_discarded()) return Error{"the patch is not valid JSON", ""};
  doc.merge_patch(patch);
  return session_from_json(doc.dump());
}

Result<Session> lesson_session(const Lesson& l) { return patch_session(Session{}, l.session_json); }

namespace {

std::string format_number(const std::string& format, double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v < 0 ? "−∞" : "∞");
  if (format == "count") {  // an integer with thousands separators: 109,482,240
    std::string digits = std::to_string(static_cast<long long>(std::llround(std::fabs(v))));
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
    return (v < 0 ? "-" : "") + digits;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, format.c_str(), v);
  return buf;
}

}  // namespace

Result<std::string> evaluate_figure(const Figure& f, const Session& base, const std::string& weights_dir, double* value) {
  double v = std::numeric_limits<double>::quiet_NaN();
  if (value) *value = v;
  if (f.kind == "softmax") {
    if (f.values.empty() || f.index < 0 || f.index >= static_cast<int>(f.values.size())) return Error{"softmax figure needs values and an index in range", ""};
    MatD z(1, static_cast<Eigen::Index>(f.values.size()));
    for (size_t i = 0; i < f.values.size(); ++i) z(0, static_cast<Eigen::Index>(i)) = f.values[i];
    const MatD P = softmax_rows_t<double>(z, f.scale, nullptr);
    v = P(0, f.index);
  } else if (f.kind == "params" && !f.preset.empty()) {
    const Preset* p = find_preset(f.preset);
    if (!p) return Error{"unknown preset " + f.preset, ""};
    v = static_cast<double>(count_model(p->spec, 128).total_params);
  } else {
    Result<Session> s = patch_session(base, f.set);
    if (!s) return Error{"the figure's session is invalid: " + s.error().what, s.error().hint};
    WeightCache cache;
    cache.search_dirs = {weights_dir};
    Result<Trace> t = run(*s, &cache);
    if (!t) return t.error();
    const bool needs_gradients = f.kind == "loss" || f.kind == "softmax_gain" || f.tensor.rfind("dL/d", 0) == 0;
    if (needs_gradients)
      if (auto e = add_gradients(*s, *t)) return *e;
    if (f.kind == "params") {
      v = static_cast<double>(count_model(count_spec_for(s->model, t->vocab.size()), 1).total_params);
    } else if (f.kind == "loss") {
      v = t->tensors.at("loss")(0, 0);
    } else if (f.kind == "softmax_gain") {
      // ‖∂L/∂Z‖ / ‖∂L/∂P‖ with Z = S·scale + M the softmax input: how much gradient the softmax passes on.
      const Mat* dS = t->tensors.find(paths::grad(f.head + ".S"));
      const Mat* dP = t->tensors.find(paths::grad(f.head + ".P"));
      if (!dS || !dP) return Error{"no gradients for head " + f.head, "paths look like encoder.0.self_attn.head.0"};
      const double dk = s->model.head_dk();
      const double scale = (s->model.score_scale == ScoreScale::InvSqrtDk ? 1.0 / std::sqrt(dk) : 1.0) / s->model.temperature;
      v = dS->cast<double>().norm() / scale / std::max(1e-30, dP->cast<double>().norm());
    } else if (f.kind == "head_stat") {
      const HeadStats* h = t->head(f.head);
      if (!h) return Error{"no head " + f.head, "paths look like encoder.0.self_attn.head.0"};
      if (f.stat == "entropy") v = h->mean_entropy;
      else if (f.stat == "max_weight") v = h->mean_max_weight;
      else if (f.stat == "score_variance") v = h->score_variance;
      else if (f.stat == "score_mean") v = h->score_mean;
      else return Error{"unknown head stat " + f.stat, "entropy, max_weight, score_variance, score_mean"};
    } else {
      const Mat* M = t->tensors.find(f.tensor);
      if (!M) M = t->weights->find(f.tensor);
      if (!M) return Error{"no tensor " + f.tensor, "qkvlab-cli run --list shows every path"};
      if (f.kind == "shape") return "[" + std::to_string(M->rows()) + "×" + std::to_string(M->cols()) + "]";
      if (f.kind == "rows" || f.kind == "cols") {
        v = static_cast<double>(f.kind == "rows" ? M->rows() : M->cols());
        if (value) *value = v;
        return format_number(f.format == "%.2f" ? "%.0f" : f.format, v);
      }
      if (f.kind == "norm") {
        v = M->cast<double>().norm();
      } else {
        if (f.row < 0 || f.row >= M->rows() || f.col < 0 || f.col >= M->cols())
          return Error{f.tensor + "[" + std::to_string(f.row) + ", " + std::to_string(f.col) + "] is outside its shape", ""};
        v = (*M)(f.row, f.col);
      }
    }
  }
  if (value) *value = v;
  return format_number(f.format, v);
}

std::vector<std::string> placeholders(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = text.find('{'); i != std::string::npos; i = text.find('{', i + 1)) {
    const size_t end = text.find('}', i);
    if (end == std::string::npos) break;
    const std::string name = text.substr(i + 1, end - i - 1);
    if (!name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos) out.push_back(name);
  }
  return out;
}

std::string render_text(const std::string& text, const Lesson& l, const Session& base, const std::string& weights_dir,
                        std::vector<std::string>* problems) {
  std::string out = text;
  for (const std::string& key : placeholders(text)) {
    std::string shown;
    auto it = l.figures.find(key);
    if (it == l.figures.end()) {
      shown = "{?" + key + "}";
      if (problems) problems->push_back(l.id + ": {" + key + "} is not a figure");
    } else if (Result<std::string> r = evaluate_figure(it->second, base, weights_dir)) {
      shown = *r;
    } else {
      shown = "{?" + key + "}";
      if (problems) problems->push_back(l.id + ": figure " + key + ": " + r.error().message());
    }
    const std::string token = "{" + key + "}";
    for (size_t p = out.find(token); p != std::string::npos; p = out.find(token, p + shown.size())) out.replace(p, token.size(), shown);
  }
  return out;
}

std::vector<const Text*> lesson_texts(const Lesson& l) {
  std::vector<const Text*> out{&l.title, &l.question, &l.short_answer, &l.explanation};
  for (const Highlight& h : l.highlights)
    if (!h.note.en.empty()) out.push_back(&h.note);
  for (const TryStep& t : l.steps) {
    out.push_back(&t.text);
    for (const Highlight& h : t.highlights)
      if (!h.note.en.empty()) out.push_back(&h.note);
  }
  return out;
}

namespace {
// Half a unit in the last printed digit of a printf format for value v: "%.2f" -> 0.005; "%.2g" of 0.0731 ->
// 0.0005 (two significant digits); "count" -> 0.5.
double rounding_of(const std::string& format, double v) {
  if (format == "count") return 0.5;
  const size_t dot = format.find('.');
  if (dot == std::string::npos) return 0.5;
  const int digits = std::atoi(format.c_str() + dot + 1);
  if (format.back() == 'g' && v != 0.0) return 0.5 * std::pow(10.0, std::floor(std::log10(std::fabs(v))) - std::max(1, digits) + 1);
  if (format.back() != 'f') return 0.5;
  return 0.5 * std::pow(10.0, -digits);
}
}  // namespace

std::vector<std::string> check_lesson(const Lesson& l, const std::string& weights_dir) {
  const std::vector<std::string>& panels = kLessonPanels;
  std::vector<std::string> problems;
  const auto say = [&](const std::string& what) { problems.push_back(l.id + ": " + what); };
  for (const std::string& need : l.needs)
    if (need != "gradients" && need != "trained-weights") say("needs \"" + need + "\" is not known (gradients, trained-weights)");
  Result<Session> s = lesson_session(l);
  if (!s) {
    say("its session is invalid: " + s.error().message());
    return problems;
  }
  WeightCache cache;
  cache.search_dirs = {weights_dir};
  Result<Trace> t = run(*s, &cache);
  if (!t) {
    say("its session does not run: " + t.error().message());
    return problems;
  }
  if (s->decode_steps == 0)
    if (auto e = add_gradients(*s, *t)) say("gradients: " + e->message());
  for (const std::string& w : t->warnings)
    if (w.find("trained") != std::string::npos || w.find("never saw") != std::string::npos) say("weights: " + w);
  const auto check_view = [&](const LessonView& v, const Trace& trace, const ModelConfig& model) {
    if (std::find(panels.begin(), panels.end(), v.panel) == panels.end()) say("panel \"" + v.panel + "\" is not a tab");
    if (!v.block.empty() && !trace.tensors.contains(paths::head_tensor(v.block, v.head, "P")))
      say("view: " + v.block + " head " + std::to_string(v.head) + " does not exist in this model");
    if (v.head < 0 || v.head >= model.heads) say("view: head " + std::to_string(v.head) + " is not one of this model's heads");
    if (!v.step.empty()) {  // a step of the layer stepper, as this model wires it
      const std::string block = v.block.empty() ? (trace.tensors.contains("encoder.0.self_attn.M") ? "encoder.0.self_attn" : "decoder.0.self_attn") : v.block;
      bool found = false;
      for (const LayerStepView& st : layer_steps(model, block, std::max(0, v.head))) found = found || v.step == name(st.step);
      if (!found) say("view: step \"" + v.step + "\" is not a step of " + block + " in this model");
    }
  };
  check_view(l.view, *t, s->model);
  const auto check_highlights = [&](const std::vector<Highlight>& highlights, const Trace& trace) {
    for (const Highlight& h : highlights) {
      const Mat* M = trace.tensors.find(h.tensor);
      if (!M) M = trace.weights->find(h.tensor);
      if (!M) {
        say("highlighted tensor " + h.tensor + " does not exist");
        continue;
      }
      if (h.row >= M->rows() || h.col >= M->cols())
        say("highlight " + h.tensor + " [" + std::to_string(h.row) + ", " + std::to_string(h.col) + "] is outside " + std::to_string(M->rows()) + "×" +
            std::to_string(M->cols()));
    }
  };
  check_highlights(l.highlights, *t);
  for (const Text* text : lesson_texts(l)) {
    std::vector<std::string> en = placeholders(text->en), zh = placeholders(text->zh);
    std::sort(en.begin(), en.end());
    std::sort(zh.begin(), zh.end());
    if (en != zh) say("English and Chinese quote different figures in \"" + text->en.substr(0, 60) + "\"");
    for (const std::string& key : en)
      if (!l.figures.count(key)) say("{" + key + "} is not a figure");
  }
  for (const auto& [key, fig] : l.figures) {
    double v = 0;
    Result<std::string> r = evaluate_figure(fig, *s, weights_dir, &v);
    if (!r) {
      say("figure " + key + ": " + r.error().message());
      continue;
    }
    if (fig.expect && !(std::fabs(v - *fig.expect) <= rounding_of(fig.format, *fig.expect) + 1e-9))
      say("figure " + key + " is " + *r + " on the core, but the lesson says " + format_number(fig.format, *fig.expect));
  }
  Session current = *s;
  for (const TryStep& step : l.steps) {
    Result<Session> next = patch_session(current, step.set);
    if (!next) {
      say("try step \"" + step.text.en.substr(0, 50) + "\": " + next.error().message());
      break;
    }
    current = *next;
    Result<Trace> st = run(current, &cache);
    if (!st) {
      say("try step \"" + step.text.en.substr(0, 50) + "\" does not run: " + st.error().message());
      break;
    }
    if (step.view) check_view(*step.view, *st, current.model);
    if (!step.highlights.empty()) {
      Trace with_gradients = std::move(*st);
      if (current.decode_steps == 0) add_gradients(current, with_gradients);  // a step may point at dL/d…
      check_highlights(step.highlights, with_gradients);
    }
  }
  return problems;
}

}  // namespace qkv
