// QKV Lab app — the Parameters & cost lab: parameters and FLOPs per component (core/counters.h) for the model in
// the sidebar and for a published preset; the memory of the n×n attention matrices as n grows; the FLOPs that
// grow with n against those that grow with n².
//
// Every number comes from count_model, presets() and attention_matrix_bytes; the n / n² split is read off
// count_model at n = 1, 2, 3 (its FLOPs are a quadratic in n, see the convention in core/counters.h).
//
// [SECTION] Formatting
// [SECTION] The n and n² parts of the FLOPs
// [SECTION] The component table
// [SECTION] Curves against n
// [SECTION] DrawParametersPanel
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/plot.h"
#include "app/widgets/text_wrap.h"
#include "core/counters.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

// [SECTION] Formatting

// 124439808 -> "124 439 808", grouped by a narrow no-break space (U+202F): ImGui wraps text after a comma, which
// would split a number across lines.
std::string thousands(int64_t v) { return group_digits(v, "\u202F", "−"); }

// 2.53e11 -> "253.4 G" (decimal prefixes, as FLOP counts are quoted).
std::string si(double v) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
  int p = 0;
  while (std::fabs(v) >= 1000.0 && p < 5) v /= 1000.0, ++p;
  char buf[32];
  std::snprintf(buf, sizeof buf, p == 0 ? "%.0f %s" : "%.1f %s", v, prefixes[p]);
  return buf;
}

std::string bytes_text(double b) {
  char buf[48];
  if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else return trf("parameters.bytes", arg("n", b));
  return buf;
}

// A printf format for an ImGui slider whose value is shown inside the catalog text `key` as {n}: the text's own
// '%' are escaped, {n} becomes "%d" (a translation is never read as a format).
std::string slider_format(const char* key) {
  std::string out = printf_escaped(trf(key, arg("n", "\x1F")));
  if (const size_t at = out.find('\x1F'); at != std::string::npos) out.replace(at, 1, "%d");
  return out;
}

void right_aligned(const std::string& text) {
  const float w = ImGui::CalcTextSize(text.c_str()).x;
  ImGui::SetCursorPosX(ImGui::GetCursorPosX() + std::max(0.0f, ImGui::GetColumnWidth() - w));
  ImGui::TextUnformatted(text.c_str());
}

// [SECTION] The n and n² parts of the FLOPs

constexpr int64_t kMinN = 16, kMaxN = 8192;
constexpr int64_t kCheckN = 1000;  // where the fitted quadratic is checked against count_model

// FLOPs(n) = c0 + c1·n + c2·n²: c2·n² is every query against every key (QKᵀ, softmax, P·V), c1·n is the work
// done per token (projections, FFN, norms, output), c0 the work done once (a pooler or a classifier on [CLS]).
struct Quadratic {
  int64_t c0 = 0, c1 = 0, c2 = 0;
  int64_t at(int64_t n) const { return c0 + c1 * n + c2 * n * n; }
  int64_t squared(int64_t n) const { return c2 * n * n; }
  int64_t linear(int64_t n) const { return c0 + c1 * n; }
};

// From the exact values at n = 1, 2, 3 (finite differences). n starts at 1: below it a model with a [CLS] token
// has no patches at all, which is not the same polynomial.
Quadratic fit(int64_t f1, int64_t f2, int64_t f3) {
  Quadratic q;
  q.c2 = (f3 - 2 * f2 + f1) / 2;
  q.c1 = f2 - f1 - 3 * q.c2;
  q.c0 = f1 - q.c1 - q.c2;
  return q;
}

struct Split {
  Quadratic total;
  std::map<std::string, Quadratic> rows;  // by component
  bool exact = false;                     // the fit reproduces count_model at a long sequence too
};

Split split_flops(const CountSpec& spec) {
  const CountTable t[3] = {count_model(spec, 1), count_model(spec, 2), count_model(spec, 3)};
  std::map<std::string, std::array<int64_t, 3>> f;  // a row left out (0 params, 0 FLOPs) counts 0
  for (int k = 0; k < 3; ++k)
    for (const ComponentCount& r : t[k].rows) f[r.component][k] = r.flops;
  Split s;
  s.total = fit(t[0].total_flops, t[1].total_flops, t[2].total_flops);
  for (auto& [name, v] : f) s.rows[name] = fit(v[0], v[1], v[2]);
  s.exact = s.total.at(kCheckN) == count_model(spec, kCheckN).total_flops;
  return s;
}

// [SECTION] The component table

void component_table(const char* id, const CountTable& t, const Split& split, int64_t n) {
  // ScrollX: wider than the panel (presentation fonts, a narrow window), the table scrolls instead of being cut.
  // Its height is set to its rows (+ the scrollbar when last frame needed one), as a scrolling table would
  // otherwise fill the panel.
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_BordersOuterH |
                                ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX;
  const ImGuiStyle& style = ImGui::GetStyle();
  ImGuiStorage* storage = ImGui::GetStateStorage();  // the panel's, not the table's
  const ImGuiID scrolls_id = ImGui::GetID((std::string(id) + " scrolls").c_str());
  const float row_h = ImGui::GetTextLineHeight() + style.CellPadding.y * 2.0f;
  const float height = row_h * static_cast<float>(t.rows.size() + 2) + style.CellPadding.y * 2.0f +
                       (storage->GetBool(scrolls_id, true) ? style.ScrollbarSize : 0.0f);
  if (!ImGui::BeginTable(id, 6, flags, ImVec2(0.0f, height))) return;
  storage->SetBool(scrolls_id, ImGui::GetCurrentWindow()->ScrollbarX);
  const std::string flops_at = trf("parameters.col_flops_at", arg("n", n));
  ImGui::TableSetupColumn(tr("parameters.col_component"));
  ImGui::TableSetupColumn(tr("parameters.col_parameters"));
  ImGui::TableSetupColumn(tr("parameters.col_share"));
  ImGui::TableSetupColumn(flops_at.c_str());
  ImGui::TableSetupColumn(tr("parameters.col_squared"));
  ImGui::TableSetupColumn(tr("parameters.col_flop_share"));
  ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
  const char* tips[] = {tr("parameters.col_component_tip"), tr("parameters.col_parameters_tip"), tr("parameters.col_share_tip"),
                        tr("parameters.col_flops_at_tip"),  tr("parameters.col_squared_tip"),    tr("parameters.col_flop_share_tip")};
  for (int c = 0; c < 6; ++c) {
    ImGui::TableSetColumnIndex(c);
    ImGui::TableHeader(ImGui::TableGetColumnName(c));
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tips[c]);
  }
  const auto percent = [](int64_t part, int64_t whole) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f %%", whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
    return std::string(buf);
  };
  for (const ComponentCount& r : t.rows) {
    const auto it = split.rows.find(r.component);
    const int64_t squared = split.exact && it != split.rows.end() ? it->second.squared(n) : 0;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(r.component.c_str());
    ImGui::TableNextColumn();
    right_aligned(thousands(r.params));
    ImGui::TableNextColumn();
    right_aligned(percent(r.params, t.total_params));
    ImGui::TableNextColumn();
    right_aligned(thousands(r.flops));
    ImGui::TableNextColumn();
    right_aligned(squared ? thousands(squared) : "—");
    ImGui::TableNextColumn();
    right_aligned(percent(r.flops, t.total_flops));
  }
  ImGui::TableNextRow();
  ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg0, ImGui::GetColorU32(ImGuiCol_TableHeaderBg));
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(tr("parameters.total"));
  ImGui::TableNextColumn();
  right_aligned(thousands(t.total_params));
  ImGui::TableNextColumn();
  right_aligned("100 %");
  ImGui::TableNextColumn();
  right_aligned(thousands(t.total_flops));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%sFLOP", si(static_cast<double>(t.total_flops)).c_str());
  ImGui::TableNextColumn();
  right_aligned(split.exact ? thousands(split.total.squared(n)) : "—");
  ImGui::TableNextColumn();
  right_aligned("100 %");
  ImGui::EndTable();
}

// [SECTION] Curves against n

std::vector<int64_t> n_grid() {
  std::vector<int64_t> ns;  // four points per octave, 16 … 8192
  for (int k = 0; k <= 36; ++k) ns.push_back(static_cast<int64_t>(std::llround(kMinN * std::pow(2.0, k / 4.0))));
  return ns;
}

struct Curves {
  std::vector<float> n, mem, linear, squared, total, share;  // mem in bytes; FLOPs; share of n² in %
  bool split = false;                                        // linear, squared and share are known
};

Curves curves(const CountSpec& spec, const Split& sp) {
  const Quadratic& q = sp.total;
  Curves c;
  c.split = sp.exact;
  for (int64_t n : n_grid()) {
    const int64_t total = count_model(spec, n).total_flops;
    c.n.push_back(static_cast<float>(n));
    c.mem.push_back(static_cast<float>(attention_matrix_bytes(spec.model, n, n)));
    c.squared.push_back(static_cast<float>(q.squared(n)));
    c.linear.push_back(static_cast<float>(total - q.squared(n)));
    c.total.push_back(static_cast<float>(total));
    c.share.push_back(total > 0 ? 100.0f * static_cast<float>(q.squared(n)) / static_cast<float>(total) : 0.0f);
  }
  return c;
}

// A unit that keeps the largest value of the series readable: returns the divisor and sets its name.
double unit_for(const std::vector<const std::vector<float>*>& series, bool bytes, std::string& name) {
  float hi = 0.0f;
  for (const auto* s : series)
    for (float v : *s) hi = std::max(hi, v);
  struct Unit {
    float from;
    const char* name;
    double divisor;
  };
  static const Unit kBytes[] = {{16.0f * 1024 * 1024 * 1024, "GiB", 1024.0 * 1024 * 1024}, {16.0f * 1024 * 1024, "MiB", 1024.0 * 1024}, {0.0f, "KiB", 1024.0}};
  static const Unit kFlops[] = {{1e13f, "TFLOP", 1e12}, {1e10f, "GFLOP", 1e9}, {1e7f, "MFLOP", 1e6}, {0.0f, "kFLOP", 1e3}};
  for (const Unit& u : bytes ? std::vector<Unit>(std::begin(kBytes), std::end(kBytes)) : std::vector<Unit>(std::begin(kFlops), std::end(kFlops)))
    if (hi >= u.from) {
      name = u.name;
      return u.divisor;
    }
  name = bytes ? tr("parameters.unit_bytes") : "FLOP";
  return 1.0;
}

std::vector<float> scaled(const std::vector<float>& v, double divisor) {
  std::vector<float> out;
  for (float x : v) out.push_back(static_cast<float>(x / divisor));
  return out;
}

// The n at which the n² part equals the rest: c2·n² = c0 + c1·n.
double crossover(const Quadratic& q) {
  if (q.c2 <= 0) return NAN;
  const double a = static_cast<double>(q.c2), b = static_cast<double>(q.c1), c = static_cast<double>(q.c0);
  return (b + std::sqrt(b * b + 4.0 * a * c)) / (2.0 * a);
}

void flops_plot(const char* id, const std::string& title, const Curves& c, float width) {
  std::string unit;
  const double div = unit_for({&c.total}, false, unit);
  PlotArgs a;
  a.id = id;
  a.x_label = tr("parameters.axis_n");
  a.y_label = trf("parameters.axis_flops", arg("unit", unit), arg("model", title));
  a.size = ImVec2(width, 230.0f * ImGui::GetIO().FontGlobalScale);
  a.log_x = true;
  a.y_from_zero = true;
  std::vector<Series> s;
  if (c.split) {
    s.push_back({tr("parameters.series_linear"), c.n, scaled(c.linear, div), palette(0), false, false});
    s.push_back({"∝ n²: QKᵀ, softmax, P·V", c.n, scaled(c.squared, div), palette(5), false, false});
  }
  s.push_back({tr("parameters.total"), c.n, scaled(c.total, div), palette(7), true, false});
  DrawLinePlot(a, s);
}

std::string model_line(const ModelConfig& c) {
  char buf[200];
  // The architecture as the Model panel shows it.
  std::snprintf(buf, sizeof buf, "%s, L = %d, d_model = %d, h = %d, d_k = %d, d_v = %d, d_ff = %d", value_label(c.arch), c.layers, c.d_model, c.heads,
                c.head_dk(), c.head_dv(), c.d_ff);
  return buf;
}

// The weights core drew for the last run, counted the way count_model counts them: a tied W_K (and b_K) is a
// copy of W_Q, and identity projections are fixed, not learned.
int64_t traced_parameters(const Trace& t, Projection projection, int& tensors) {
  int64_t total = 0;
  tensors = 0;
  const auto ends_with = [](const std::string& s, const char* tail) {
    const size_t n = std::char_traits<char>::length(tail);
    return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
  };
  for (const TensorMap::Entry& e : t.weights->entries()) {
    if (projection == Projection::TiedQK && (ends_with(e.path, ".W_K") || ends_with(e.path, ".b_K"))) continue;
    if (projection == Projection::Identity && (ends_with(e.path, ".W_Q") || ends_with(e.path, ".W_K") || ends_with(e.path, ".W_V"))) continue;
    total += e.value.size();
    ++tensors;
  }
  return total;
}

// Bytes of S, S_scaled, S_masked and P of sequence 0 in the trace.
int64_t traced_attention_bytes(const Trace& t) {
  int64_t bytes = 0;
  for (const TensorMap::Entry& e : t.tensors.entries()) {
    const std::string& p = e.path;
    if (p.rfind("batch.", 0) == 0 || p.rfind("decode.", 0) == 0 || p.find(".head.") == std::string::npos) continue;
    const std::string stage = p.substr(p.rfind('.') + 1);
    if (stage == "S" || stage == "S_scaled" || stage == "S_masked" || stage == "P") bytes += e.value.size() * static_cast<int64_t>(sizeof(float));
  }
  return bytes;
}

}  // namespace

// [SECTION] DrawParametersPanel

void DrawParametersPanel(AppState& s) {
  if (!s.trace) return;
  const Trace& t = *s.trace;
  const ModelConfig& c = s.session.model;
  const std::optional<Error> invalid = validate(c);
  const float avail = ImGui::GetContentRegionAvail().x;

  // The preset and its n live in ImGui's per-window storage, like a tree node's open state: view state, not app data.
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const std::vector<Preset>& all = presets();
  const ImGuiID preset_id = ImGui::GetID("preset"), preset_n_id = ImGui::GetID("preset_n");
  int default_preset = 0;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].name == "gpt2-small") default_preset = static_cast<int>(i);
  int preset_index = std::clamp(storage->GetInt(preset_id, default_preset), 0, static_cast<int>(all.size()) - 1);
  const Preset* preset = all.empty() ? nullptr : &all[preset_index];

  // --- The model in the sidebar.
  const int64_t n = static_cast<int64_t>(t.source_tokens.size());
  const int64_t vocab = t.vocab.size();
  CountSpec spec;
  Split split;
  if (!invalid) {
    spec = count_spec_for(c, vocab);
    split = split_flops(spec);
    const CountTable table = count_model(spec, n);
    heading(tr("parameters.h_this"));
    dim_text("%s", tr("parameters.this_note"));
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s", trf("parameters.this_note_tip", arg("elementwise", static_cast<long long>(kElementwiseFlops)),
                                  arg("softmax", static_cast<long long>(kSoftmaxFlops))).c_str());
    const char* line_key = c.arch == Arch::EncoderDecoder ? (n == 1 ? "parameters.this_line_pair_one" : "parameters.this_line_pair")
                                                          : (n == 1 ? "parameters.this_line_one" : "parameters.this_line");
    if (!s.session.model_dir.empty()) line_key = n == 1 ? "parameters.this_line_checkpoint_one" : "parameters.this_line_checkpoint";
    text_wrapped_unformatted(trf(line_key, arg("model", model_line(c)), arg("vocab", static_cast<long long>(vocab)), arg("n", static_cast<long long>(n))));
    component_table("current", table, split, n);
    if (spec.tie_output && spec.output_head) dim_text("%s", tr("parameters.tied_output"));

    int tensors = 0;
    const int64_t drawn = traced_parameters(t, c.projection, tensors);
    check_mark(drawn == table.total_params, tr("parameters.drawn_tip"));
    ImGui::SameLine();
    text_wrapped_unformatted(trf(drawn == table.total_params ? "parameters.drawn_agrees" : "parameters.drawn_disagrees", arg("count", thousands(drawn)),
                                 arg("tensors", tensors)));
    if (c.projection == Projection::TiedQK) dim_text("%s", tr("parameters.tied_qk"));
    if (c.projection == Projection::Identity) dim_text("%s", tr("parameters.identity"));

    // Multi-head costs no parameters when each head gets d_model/h dimensions.
    if (c.d_k == 0 && c.d_v == 0 && c.heads > 1) {
      CountSpec one = spec;
      one.model.heads = 1;
      const CountTable single = count_model(one, n);
      const auto attention_row = [](const CountTable& ct) -> const ComponentCount* {
        for (const ComponentCount& r : ct.rows)
          if (r.component.find("self_attn") != std::string::npos) return &r;
        return nullptr;
      };
      const ComponentCount* many = attention_row(table);
      const ComponentCount* lone = attention_row(single);
      if (many && lone && c.layers > 0) {
        const int64_t L = c.layers;
        text_wrapped_unformatted(trf("parameters.multi_head", arg("params_h", thousands(many->params / L)), arg("h", c.heads), arg("d_k", c.head_dk()),
                                     arg("params_1", thousands(lone->params / L)), arg("d_k_1", one.model.head_dk()), arg("n", static_cast<long long>(n)),
                                     arg("flops_h", thousands(many->flops / L)), arg("flops_1", thousands(lone->flops / L))));
      }
    }
  } else {
    heading(tr("parameters.h_this"));
    error_text("%s", trf("parameters.not_counted", arg("reason", invalid->message())).c_str());
  }

  // --- A published model.
  heading(tr("parameters.h_published"));
  if (!preset) return;
  ImGui::SetNextItemWidth(std::min(ImGui::GetFontSize() * 27, ImGui::GetContentRegionAvail().x - ImGui::CalcTextSize(tr("parameters.preset")).x -
                                                                  ImGui::GetStyle().ItemInnerSpacing.x));
  if (ImGui::BeginCombo(tr_id("parameters.preset"), preset->title.c_str())) {
    for (size_t i = 0; i < all.size(); ++i)
      if (ImGui::Selectable(all[i].title.c_str(), static_cast<int>(i) == preset_index)) {
        preset_index = static_cast<int>(i);
        storage->SetInt(preset_id, preset_index);
        storage->SetInt(preset_n_id, all[i].spec.model.max_len);
      }
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("parameters.preset_tip"));
  preset = &all[preset_index];
  const CountSpec& pspec = preset->spec;
  int preset_n = std::clamp(storage->GetInt(preset_n_id, pspec.model.max_len), 1, static_cast<int>(kMaxN));
  same_line_if_fits(ImGui::GetFontSize() * 12, tr_id("parameters.preset_n"));
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
  if (ImGui::SliderInt(tr_id("parameters.preset_n"), &preset_n, 1, static_cast<int>(kMaxN), slider_format("parameters.n_tokens").c_str(),
                       ImGuiSliderFlags_Logarithmic))
    storage->SetInt(preset_n_id, preset_n);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("parameters.preset_n_tip"));
  if (pspec.vocab_size > 0) text_wrapped("%s, V = %s", model_line(pspec.model).c_str(), thousands(pspec.vocab_size).c_str());
  else
    text_wrapped_unformatted(trf("parameters.patches", arg("model", model_line(pspec.model)), arg("size", static_cast<long long>(pspec.patch_size)),
                                 arg("channels", static_cast<long long>(pspec.in_channels))));
  const Split psplit = split_flops(pspec);
  const CountTable ptable = count_model(pspec, preset_n);
  component_table("preset", ptable, psplit, preset_n);
  const bool equal = ptable.total_params == preset->published_total;
  check_mark(equal, tr("parameters.published_tip"));
  ImGui::SameLine();
  text_wrapped_unformatted(trf(equal ? "parameters.published_equal" : "parameters.published_different", arg("computed", thousands(ptable.total_params)),
                               arg("published", thousands(preset->published_total))));
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(trf("parameters.source", arg("source", source_text(*preset))));
  ImGui::PopStyleColor();

  // --- Against n.
  heading(tr("parameters.h_growth"));
  ImGui::Spacing();
  const Curves pc = curves(pspec, psplit);
  Curves cc;
  if (!invalid) cc = curves(spec, split);
  const float half = (avail - ImGui::GetStyle().ItemSpacing.x * 3.0f) * 0.5f;
  const float plot_h = 230.0f * ImGui::GetIO().FontGlobalScale;
  const std::string this_label = trf("parameters.this_model_lh", arg("L", c.layers), arg("h", c.heads));
  const std::string preset_label = preset->name + " (L = " + std::to_string(pspec.model.layers) + ", h = " + std::to_string(pspec.model.heads) + ")";
  {
    std::vector<const std::vector<float>*> all_mem{&pc.mem};
    if (!invalid) all_mem.push_back(&cc.mem);
    std::string unit;
    const double div = unit_for(all_mem, true, unit);
    PlotArgs a;
    a.id = "memory";
    a.x_label = tr("parameters.axis_n");
    a.y_label = trf("parameters.axis_memory", arg("unit", unit));
    a.size = ImVec2(half, plot_h);
    a.log_x = true;
    a.y_from_zero = true;
    std::vector<Series> series;
    if (!invalid) series.push_back({this_label, cc.n, scaled(cc.mem, div), palette(0), false, false});
    series.push_back({preset_label, pc.n, scaled(pc.mem, div), palette(1), false, false});
    DrawLinePlot(a, series);
  }
  ImGui::SameLine();
  {
    PlotArgs a;
    a.id = "share";
    a.x_label = tr("parameters.axis_n");
    a.y_label = tr("parameters.axis_share");
    a.size = ImVec2(half, plot_h);
    a.log_x = true;
    a.y_min = 0.0f;
    a.y_max = 100.0f;
    std::vector<Series> series;
    if (!invalid && cc.split) series.push_back({this_label, cc.n, cc.share, palette(0), false, false});
    if (pc.split) series.push_back({preset_label, pc.n, pc.share, palette(1), false, false});
    DrawLinePlot(a, series);
  }
  // The memory of this run, checked against the trace, and where the n² part takes over.
  if (!invalid) {
    const int64_t n_q = static_cast<int64_t>(c.arch == Arch::EncoderDecoder ? t.target_tokens.size() : t.source_tokens.size());
    const int64_t predicted = attention_matrix_bytes(c, n_q, n);
    const int64_t traced = traced_attention_bytes(t);
    check_mark(predicted == traced, tr("parameters.memory_check_tip"));
    ImGui::SameLine();
    text_wrapped_unformatted(trf("parameters.memory", arg("predicted", bytes_text(static_cast<double>(predicted))),
                                 arg("traced", bytes_text(static_cast<double>(traced))), arg("n", static_cast<long long>(kMaxN)),
                                 arg("this", bytes_text(cc.mem.back())), arg("other", bytes_text(pc.mem.back())), arg("preset", preset->name)));
  }
  const double x_this = invalid || !split.exact ? NAN : crossover(split.total), x_preset = psplit.exact ? crossover(psplit.total) : NAN;
  if (std::isfinite(x_preset))
    text_wrapped_unformatted(trf("parameters.crossover", arg("this", std::isfinite(x_this) ? std::to_string(std::lround(x_this)) : std::string("—")),
                                 arg("other", x_preset), arg("preset", preset->name)));
  ImGui::Spacing();
  ImGui::Spacing();
  if (!invalid) flops_plot("flops_this", tr("parameters.this_model"), cc, half);
  if (!invalid) ImGui::SameLine();
  flops_plot("flops_preset", preset->name, pc, half);
}

}  // namespace qkv::app
