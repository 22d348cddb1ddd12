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
#include "core/i18n.h"
#include "core/model.h"
#include "core/network.h"
#include "core/ops.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;
using nlohmann::json;

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
  if (!fits) throw Bad{trf("core.lessons.not_whole_number", arg("field", where + "." + key))};
  return static_cast<int>(v.get<int64_t>());
}

void only_keys(const json& j, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!j.is_object()) throw Bad{trf("core.lessons.not_object", arg("where", where))};
  for (const auto& item : j.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one in a lambda
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) == allowed.end())
      throw Bad{trf("core.lessons.unknown_key", arg("where", where), arg("key", key))};
  }
}

Text text_of(const json& j, const std::string& where, bool required = true) {
  Text t;
  if (j.is_null() && !required) return t;
  only_keys(j, {"en", "zh"}, where);
  if (!j.contains("en") || !j["en"].is_string() || j["en"].get<std::string>().empty()) throw Bad{trf("core.lessons.missing", arg("field", where + ".en"))};
  if (!j.contains("zh") || !j["zh"].is_string() || j["zh"].get<std::string>().empty()) throw Bad{trf("core.lessons.missing", arg("field", where + ".zh"))};
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
  if (!j.is_object()) throw Bad{trf("core.lessons.patch_not_object", arg("where", where))};
  return j.dump();
}

std::vector<Highlight> highlights_of(const json& list, const std::string& where) {
  std::vector<Highlight> out;
  if (!list.is_array()) throw Bad{trf("core.lessons.not_list", arg("where", where))};
  for (const json& h : list) {
    only_keys(h, {"tensor", "row", "col", "note"}, where);
    Highlight hl;
    hl.tensor = h.at("tensor").get<std::string>();
    hl.row = int_of(h, "row", -1, where);
    hl.col = int_of(h, "col", -1, where);
    if (hl.row < -1 || hl.col < -1) throw Bad{trf("core.lessons.bad_row_col", arg("where", where))};
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
  if (j.is_discarded()) return Error{trf("core.lessons.not_json", arg("file", where)), tr("core.lessons.hint_commas")};
  try {
    only_keys(j, {"id", "number", "needs", "title", "question", "short_answer", "explanation", "session", "view", "highlight", "figures", "try"},
              where);
    Lesson l;
    l.file = file;
    if (!j.contains("id") || !j["id"].is_string()) throw Bad{trf("core.lessons.no_id", arg("where", where))};
    l.id = j["id"].get<std::string>();
    if (!j.contains("number")) throw Bad{trf("core.lessons.no_number", arg("where", where))};
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
        throw Bad{trf("core.lessons.bad_kind", arg("figure", l.id + ".figures." + key), arg("kind", fig.kind))};
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
        throw Bad{trf("core.lessons.bad_format", arg("figure", l.id + ".figures." + key), arg("format", fig.format))};
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
    return Error{b.what, tr("core.lessons.hint_schema")};
  } catch (const json::exception& e) {
    return Error{where + ": " + e.what(), tr("core.lessons.hint_schema")};
  }
}

std::vector<Lesson> load_lessons(const std::string& dir, std::vector<std::string>* errors) {
  std::vector<Lesson> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    if (errors) errors->push_back(trf("core.lessons.no_folder", arg("dir", dir)));
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
        errors->push_back(trf("core.lessons.duplicate", arg("file", path.filename().string()),
                              arg("other", std::filesystem::path(same->file).filename().string())));
      continue;
    }
    out.push_back(std::move(*l));
  }
  std::stable_sort(out.begin(), out.end(), [](const Lesson& a, const Lesson& b) { return a.number < b.number; });
  return out;
}

Result<Session> patch_session(const Session& base, const std::string& merge_patch) {
  if (merge_patch.empty()) return base;
  if (auto e = check_json_depth(merge_patch, tr("core.lessons.the_session_patch"))) return *e;
  json doc = json::parse(to_json(base), nullptr, false);
  const json patch = json::parse(merge_patch, nullptr, false);
  if (patch.is_discarded()) return Error{tr("core.lessons.patch_not_json"), ""};
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
    if (f.values.empty() || f.index < 0 || f.index >= static_cast<int>(f.values.size())) return Error{tr("core.lessons.softmax_figure"), ""};
    MatD z(1, static_cast<Eigen::Index>(f.values.size()));
    for (size_t i = 0; i < f.values.size(); ++i) z(0, static_cast<Eigen::Index>(i)) = f.values[i];
    const MatD P = softmax_rows_t<double>(z, f.scale, nullptr);
    v = P(0, f.index);
  } else if (f.kind == "params" && !f.preset.empty()) {
    const Preset* p = find_preset(f.preset);
    if (!p) return Error{trf("core.lessons.unknown_preset", arg("preset", f.preset)), ""};
    v = static_cast<double>(count_model(p->spec, 128).total_params);
  } else {
    Result<Session> s = patch_session(base, f.set);
    if (!s) return Error{trf("core.lessons.figure_session_invalid", arg("error", s.error().what)), s.error().hint};
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
      if (!dS || !dP) return Error{trf("core.lessons.no_gradients", arg("head", f.head)), tr("core.lessons.hint_head_paths")};
      const double dk = s->model.head_dk();
      const double scale = (s->model.score_scale == ScoreScale::InvSqrtDk ? 1.0 / std::sqrt(dk) : 1.0) / s->model.temperature;
      v = dS->cast<double>().norm() / scale / std::max(1e-30, dP->cast<double>().norm());
    } else if (f.kind == "head_stat") {
      const HeadStats* h = t->head(f.head);
      if (!h) return Error{trf("core.lessons.no_head", arg("head", f.head)), tr("core.lessons.hint_head_paths")};
      if (f.stat == "entropy") v = h->mean_entropy;
      else if (f.stat == "max_weight") v = h->mean_max_weight;
      else if (f.stat == "score_variance") v = h->score_variance;
      else if (f.stat == "score_mean") v = h->score_mean;
      else return Error{trf("core.lessons.unknown_stat", arg("stat", f.stat)), "entropy, max_weight, score_variance, score_mean"};
    } else {
      const Mat* M = t->tensors.find(f.tensor);
      if (!M) M = t->weights->find(f.tensor);
      if (!M) return Error{trf("core.lessons.no_tensor", arg("tensor", f.tensor)), tr("core.lessons.hint_list_paths")};
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
          return Error{trf("core.lessons.cell_outside", arg("tensor", f.tensor), arg("row", f.row), arg("col", f.col)), ""};
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
      if (problems) problems->push_back(l.id + ": " + trf("core.lessons.not_a_figure", arg("figure", "{" + key + "}")));
    } else if (Result<std::string> r = evaluate_figure(it->second, base, weights_dir)) {
      shown = *r;
    } else {
      shown = "{?" + key + "}";
      if (problems) problems->push_back(l.id + ": " + trf("core.lessons.figure_error", arg("figure", key), arg("error", r.error().message())));
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

// Whether `text` is what trf(key, …) writes, in either language: the text's pieces between its placeholders appear in
// it in order. The warnings of a run are in the current language, so they are recognised by their key, not their words.
bool written_from(const std::string& text, const char* key) {
  for (int lang = 0; lang < static_cast<int>(Lang::Count); ++lang) {
    const std::string pattern = i18n::text_of(key, static_cast<Lang>(lang));
    if (pattern.empty()) continue;
    std::vector<std::string> pieces(1);
    for (size_t i = 0; i < pattern.size(); ++i) {
      const char c = pattern[i];
      if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
        pieces.back() += c;  // "{{" or "}}": a literal brace
        ++i;
      } else if (c == '{') {
        const size_t end = pattern.find('}', i);
        if (end == std::string::npos) break;
        i = end;
        pieces.emplace_back();
      } else {
        pieces.back() += c;
      }
    }
    size_t at = 0;
    bool found = true;
    for (const std::string& piece : pieces) {
      const size_t p = text.find(piece, at);
      if (p == std::string::npos || (&piece == &pieces.front() && p != 0)) {
        found = false;
        break;
      }
      at = p + piece.size();
    }
    if (found) return true;
  }
  return false;
}
}  // namespace

std::vector<std::string> check_lesson(const Lesson& l, const std::string& weights_dir) {
  const std::vector<std::string>& panels = kLessonPanels;
  std::vector<std::string> problems;
  const auto say = [&](const std::string& what) { problems.push_back(l.id + ": " + what); };
  for (const std::string& need : l.needs)
    if (need != "gradients" && need != "trained-weights") say(trf("core.lessons.unknown_need", arg("need", need)));
  Result<Session> s = lesson_session(l);
  if (!s) {
    say(trf("core.lessons.session_invalid", arg("error", s.error().message())));
    return problems;
  }
  WeightCache cache;
  cache.search_dirs = {weights_dir};
  Result<Trace> t = run(*s, &cache);
  if (!t) {
    say(trf("core.lessons.session_fails", arg("error", t.error().message())));
    return problems;
  }
  if (s->decode_steps == 0)
    if (auto e = add_gradients(*s, *t)) say(trf("core.lessons.gradients_error", arg("error", e->message())));
  for (const std::string& w : t->warnings)
    if (written_from(w, "core.model.untrained_tokens") || written_from(w, "core.model.mismatched_tensors"))  // not a masked row
      say(trf("core.lessons.weights_warning", arg("warning", w)));
  const auto check_view = [&](const LessonView& v, const Trace& trace, const ModelConfig& model) {
    if (std::find(panels.begin(), panels.end(), v.panel) == panels.end()) say(trf("core.lessons.panel_not_tab", arg("panel", v.panel)));
    if (!v.block.empty() && !trace.tensors.contains(paths::head_tensor(v.block, v.head, "P")))
      say(trf("core.lessons.view_head_missing", arg("block", v.block), arg("head", v.head)));
    if (v.head < 0 || v.head >= model.heads) say(trf("core.lessons.view_head_range", arg("head", v.head)));
    if (!v.step.empty()) {  // a step of the layer stepper, as this model wires it
      const std::string block = v.block.empty() ? (trace.tensors.contains("encoder.0.self_attn.M") ? "encoder.0.self_attn" : "decoder.0.self_attn") : v.block;
      bool found = false;
      for (const LayerStepView& st : layer_steps(model, block, std::max(0, v.head))) found = found || v.step == name(st.step);
      if (!found) say(trf("core.lessons.view_step", arg("step", v.step), arg("block", block)));
    }
  };
  check_view(l.view, *t, s->model);
  const auto check_highlights = [&](const std::vector<Highlight>& highlights, const Trace& trace) {
    for (const Highlight& h : highlights) {
      const Mat* M = trace.tensors.find(h.tensor);
      if (!M) M = trace.weights->find(h.tensor);
      if (!M) {
        say(trf("core.lessons.highlight_missing", arg("tensor", h.tensor)));
        continue;
      }
      if (h.row >= M->rows() || h.col >= M->cols())
        say(trf("core.lessons.highlight_outside", arg("tensor", h.tensor), arg("row", h.row), arg("col", h.col), arg("rows", M->rows()),
                arg("cols", M->cols())));
    }
  };
  check_highlights(l.highlights, *t);
  for (const Text* text : lesson_texts(l)) {
    std::vector<std::string> en = placeholders(text->en), zh = placeholders(text->zh);
    std::sort(en.begin(), en.end());
    std::sort(zh.begin(), zh.end());
    if (en != zh) say(trf("core.lessons.figures_differ", arg("text", text->en.substr(0, 60))));
    for (const std::string& key : en)
      if (!l.figures.count(key)) say(trf("core.lessons.not_a_figure", arg("figure", "{" + key + "}")));
  }
  for (const auto& [key, fig] : l.figures) {
    double v = 0;
    Result<std::string> r = evaluate_figure(fig, *s, weights_dir, &v);
    if (!r) {
      say(trf("core.lessons.figure_error", arg("figure", key), arg("error", r.error().message())));
      continue;
    }
    if (fig.expect && !(std::fabs(v - *fig.expect) <= rounding_of(fig.format, *fig.expect) + 1e-9))
      say(trf("core.lessons.figure_mismatch", arg("figure", key), arg("value", *r), arg("expected", format_number(fig.format, *fig.expect))));
  }
  Session current = *s;
  for (const TryStep& step : l.steps) {
    Result<Session> next = patch_session(current, step.set);
    if (!next) {
      say(trf("core.lessons.try_step_invalid", arg("step", step.text.en.substr(0, 50)), arg("error", next.error().message())));
      break;
    }
    current = *next;
    Result<Trace> st = run(current, &cache);
    if (!st) {
      say(trf("core.lessons.try_step_fails", arg("step", step.text.en.substr(0, 50)), arg("error", st.error().message())));
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
