// QKV Lab app — the positional-encoding lab: sin/cos curves of chosen dimensions, the PE matrix, ⟨p_m, p_n⟩ and
// its dependence on the offset k = n − m only, the base; sinusoidal, learned, RoPE and ALiBi compared live.
//
// [SECTION] Panel-local UI state (ImGui storage) and the derived cache (the numbers: core/labs/positions.h)
// [SECTION] Drawing: controls, curves, PE matrix, similarity, comparison
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/plot.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/positions.h"
#include "core/paths.h"
#include "core/positional.h"

#include <imgui.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

// UI bounds of the lab's own controls (not model numbers).
constexpr int kMaxPositions = 512;
constexpr int kMaxSimilarityShown = 256;  // PE·PEᵀ heatmap shows at most this many positions (2 px per cell)
constexpr double kBaseMin = 10.0, kBaseMax = 100000.0;
constexpr int kDimPickers = 3;
constexpr int kMaxAlibiCurves = 8;
using labs::kRopeQueryPositions;

// [SECTION] Panel-local UI state and the derived cache

// The panel's own sliders live in ImGui's per-window storage (like a tree node's open state), not in statics
// or AppState: they change no number of the model. A key not stored yet means "not touched: use the default".
int stored(const char* key, int fallback) { return ImGui::GetStateStorage()->GetInt(ImGui::GetID(key), fallback); }
void store(const char* key, int value) { ImGui::GetStateStorage()->SetInt(ImGui::GetID(key), value); }

// One positional table, its similarity and offset curves (labs::table_stats), cached by the inputs that made it.
struct TableStats : labs::TableStats {
  std::string key;  // what the table was made from; empty: nothing cached
};

// A cache fully derived from AppState (session.model.d_model, pe_base, the trace's pos.learned) and the sliders
// above; it only spares recomputing PE·PEᵀ (up to 512×512×d_model) every frame.
struct PositionsCache {
  TableStats sinusoid;
  TableStats learned;
};
PositionsCache g_cache;

void fill_stats(TableStats& st, const std::string& key, Mat table) {
  if (st.key == key) return;
  st.key = key;
  static_cast<labs::TableStats&>(st) = labs::table_stats(std::move(table));
}


std::string dim_label(int dim, int d_model, double base) {
  const int two_i = dim - dim % 2;
  const bool sin = dim % 2 == 0;
  const bool unpaired = sin && dim == d_model - 1;  // d_model odd: the last sin has no cos partner
  return trf(unpaired ? "positions.dim_label_unpaired" : "positions.dim_label", arg("dim", dim), arg("fn", sin ? "sin" : "cos"),
             arg("base", base), arg("two_i", two_i), arg("d_model", d_model), arg("wl", sinusoidal_wavelength(dim, d_model, base)));
}

// [SECTION] Drawing

// Fits the y axis to the data with room above it for a legend of `legend_lines` lines.
void fit_y_with_legend(PlotArgs& a, const std::vector<Series>& series, int legend_lines) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (const Series& sr : series)
    for (float y : sr.y)
      if (std::isfinite(y)) {
        lo = std::min(lo, y);
        hi = std::max(hi, y);
      }
  if (lo > hi) return;
  const float span = std::max(hi - lo, 1e-6f);
  const float plot_h = a.size.y - ImGui::GetFontSize() * 3.2f;  // the plot's inner height (axes take the rest)
  const float legend_share = std::min(0.6f, (legend_lines + 1) * (ImGui::GetFontSize() + 2.0f) / std::max(plot_h, 1.0f));
  a.y_min = lo - 0.05f * span;
  a.y_max = hi + span * legend_share / (1.0f - legend_share);
}

// A little space so a plot's y-axis title does not touch the line above.
void plot_gap() { ImGui::Dummy(ImVec2(0.0f, ImGui::GetFontSize() * 0.4f)); }

void wrapped_disabled(const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped("%s", text);
  ImGui::PopStyleColor();
}

// Places the next group beside the previous item when at least min_width is left, else below it.
bool same_line_if_fits(float min_width) {
  const float right = ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x * 3.0f;
  const float end = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (end - right < min_width) return false;
  ImGui::SameLine(0.0f, ImGui::GetStyle().ItemSpacing.x * 3.0f);
  return true;
}

// "This model uses …: …", one whole sentence per encoding.
const char* pe_summary(PosEncoding pe) {
  switch (pe) {
    case PosEncoding::Sinusoidal: return tr("positions.uses.sinusoidal");
    case PosEncoding::Learned: return tr("positions.uses.learned");
    case PosEncoding::RoPE: return tr("positions.uses.rope");
    case PosEncoding::ALiBi: return tr("positions.uses.alibi");
    case PosEncoding::None: return tr("positions.uses.none");
    case PosEncoding::Count: break;
  }
  return "";
}

bool draw_controls(AppState& s, int& positions, int dims[kDimPickers], int n) {
  ModelConfig& c = s.session.model;
  bool changed = false;
  const float w = ImGui::GetFontSize() * 11.0f;
  ImGui::SetNextItemWidth(w);
  if (ImGui::BeginCombo(tr_id("positions.pe_combo"), value_label(c.pe))) {
    for (int i = 0; i < static_cast<int>(PosEncoding::Count); ++i) {
      const PosEncoding option = static_cast<PosEncoding>(i);
      ImGui::PushID(i);
      if (ImGui::Selectable(value_label(option), option == c.pe)) c.pe = option, changed = true;
      ImGui::PopID();
    }
    ImGui::EndCombo();
  }
  hover_tip(tr("positions.pe_tip"));
  qkv::app::same_line_if_fits(w, tr_id("positions.base"));
  ImGui::SetNextItemWidth(w);
  double base = std::clamp(c.pe_base, kBaseMin, kBaseMax);
  if (ImGui::SliderScalar(tr_id("positions.base"), ImGuiDataType_Double, &base, &kBaseMin, &kBaseMax, "%.0f",
                          ImGuiSliderFlags_Logarithmic)) {
    c.pe_base = base;
    changed = true;
  }
  hover_tip(tr("positions.base_tip"));

  ImGui::SetNextItemWidth(w);
  int p = positions;
  if (ImGui::SliderInt(tr_id("positions.positions"), &p, 2, kMaxPositions)) store("positions-lab/positions", p);
  positions = p;
  hover_tip(trf("positions.positions_tip", arg("n", std::clamp(std::max(n, 64), 2, kMaxPositions))).c_str());
  for (int i = 0; i < kDimPickers; ++i) {
    char key[40];
    const std::string letter(1, static_cast<char>('a' + i));
    const std::string label = trf("positions.dim_picker", arg("c", letter)) + "###positions.dim_picker" + letter;
    qkv::app::same_line_if_fits(ImGui::GetFontSize() * 7.0f, label.c_str());
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7.0f);
    std::snprintf(key, sizeof key, "positions-lab/dim%d", i);
    if (ImGui::SliderInt(label.c_str(), &dims[i], 0, c.d_model - 1)) store(key, dims[i]);
    hover_tip(tr("positions.dim_tip"));
  }
  return changed;
}

void draw_curves(const Mat& PE, const int dims[kDimPickers], int d_model, double base) {
  std::vector<Series> series;
  std::vector<float> x(PE.rows());
  for (int p = 0; p < PE.rows(); ++p) x[p] = static_cast<float>(p);
  for (int i = 0; i < kDimPickers; ++i) {
    Series sr;
    sr.label = dim_label(dims[i], d_model, base);
    sr.x = x;
    for (int p = 0; p < PE.rows(); ++p) sr.y.push_back(PE(p, dims[i]));
    sr.points = PE.rows() <= 40;
    series.push_back(std::move(sr));
  }
  PlotArgs a;
  a.id = "curves";
  a.x_label = tr("positions.axis.position_p");
  a.y_label = "PE[p, dim]";
  a.size = ImVec2(0, ImGui::GetFontSize() * 14.0f);
  fit_y_with_legend(a, series, kDimPickers);
  plot_gap();
  DrawLinePlot(a, series);
}

void draw_pe_matrices(AppState& s, const TableStats& sin, const std::string& stack, const BlockRef& stack_ref) {
  const Trace& t = *s.trace;
  const int P = static_cast<int>(sin.table.rows());
  const float target_h = ImGui::GetFontSize() * 28.0f;
  const float full_width = ImGui::GetContentRegionAvail().x;
  ImGui::BeginGroup();
  text_wrapped_unformatted(tr("positions.pe_table_caption"));
  HeatmapArgs a;
  a.M = &sin.table;
  a.key = "positions-lab:PE:" + sin.key;
  a.name = "PE";
  a.row_axis = tr("positions.axis.position");
  a.col_axis = tr("positions.axis.dim");
  a.signed_scale = true;
  a.max_cell = std::max(2.0f, std::floor(target_h / P));
  a.max_width = ImGui::GetContentRegionAvail().x * 0.48f;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  const std::string pe_path = paths::join(paths::join(stack, "embed"), "PE");
  const Mat* traced = t.tensors.find(pe_path);
  // Beside the table only when its cells can still carry the token labels (about a font height each).
  // If even the full width cannot label it, beside is as good as below.
  const float labelled_width = ImGui::GetFontSize() * (0.9f * static_cast<float>(sin.table.cols()) + 10.0f);
  const bool beside = same_line_if_fits(traced && labelled_width <= full_width ? labelled_width : ImGui::GetFontSize() * 20.0f);
  ImGui::BeginGroup();
  if (traced) {
    text_wrapped_unformatted(tr(stack_ref.decoder ? "positions.traced_decoder" : "positions.traced_encoder"));
    HeatmapArgs b;
    b.M = traced;
    b.key = pe_path;
    b.name = pe_path;
    b.row_labels = &query_tokens(s, stack_ref);
    b.row_axis = tr("positions.axis.token");
    b.col_axis = tr("positions.axis.dim");
    b.signed_scale = true;
    b.max_cell = 18.0f;
    b.max_width = beside ? ImGui::GetContentRegionAvail().x : 0.0f;
    DrawHeatmap(s, b);
  } else {
    text_wrapped_unformatted(trf("positions.not_traced", arg("path", pe_path)));
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + ImGui::GetFontSize() * 22.0f);
    wrapped_disabled(tr("positions.not_added"));
    ImGui::PopTextWrapPos();
  }
  ImGui::EndGroup();
}

void draw_similarity(AppState& s, const TableStats& sin, const TableStats* learned, int d_model) {
  const int P = static_cast<int>(sin.table.rows());
  const int shown = std::min(P, kMaxSimilarityShown);
  const Mat G = sin.similarity.topLeftCorner(shown, shown);
  ImGui::BeginGroup();
  if (shown < P) dim_text("%s", trf("positions.first_shown", arg("shown", shown), arg("total", P)).c_str());
  HeatmapArgs a;
  a.M = &G;
  a.key = "positions-lab:PE·PEᵀ:" + sin.key;
  a.name = "p_m·p_n = PE·PEᵀ";
  a.row_axis = tr("positions.axis.position_m");
  a.col_axis = tr("positions.axis.position_n");
  a.signed_scale = true;
  a.max_cell = std::max(2.0f, std::floor(ImGui::GetFontSize() * 28.0f / shown));
  a.max_width = ImGui::GetContentRegionAvail().x * 0.55f;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  if (!same_line_if_fits(ImGui::GetFontSize() * 22.0f)) ImGui::Spacing();
  ImGui::BeginGroup();
  std::vector<Series> series;
  series.push_back({"p_0·p_k", sin.curves.k, sin.curves.from_zero});
  Series mean{tr("positions.legend.mean"), sin.curves.k, sin.curves.mean};
  mean.dashed = true;
  series.push_back(std::move(mean));
  if (learned) series.push_back({tr("positions.legend.learned_mean"), learned->curves.k, learned->curves.mean});
  PlotArgs pa;
  pa.id = "offset";
  pa.x_label = tr("positions.axis.offset_k");
  pa.y_label = tr("positions.axis.dot");
  pa.size = ImVec2(0, ImGui::GetFontSize() * 16.0f);
  fit_y_with_legend(pa, series, static_cast<int>(series.size()));
  plot_gap();
  DrawLinePlot(pa, series);
  text_wrapped_unformatted(trf("positions.max_deviation", arg("x", sin.curves.max_deviation)));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + ImGui::GetContentRegionAvail().x);
  if (d_model % 2 == 0)
    wrapped_disabled(tr("positions.offset_only_even"));
  else
    wrapped_disabled(tr("positions.offset_only_odd"));
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

void draw_rope_demo(const AppState& s, float width) {
  const ModelConfig& c = s.session.model;
  const labs::RopeDemo demo = labs::rope_demo(s.session.seed, c.head_dk(), c.pe_base);
  std::vector<Series> series;
  for (int which = 0; which < 2; ++which) {
    Series r{"RoPE, m = " + std::to_string(kRopeQueryPositions[which]), demo.offset, demo.rope[which]};
    r.points = which == 1;
    r.dashed = which == 1;
    series.push_back(std::move(r));
  }
  for (int which = 0; which < 2; ++which) {
    Series r{trf("positions.legend.sin_added", arg("m", kRopeQueryPositions[which])), demo.offset, demo.added[which]};
    r.color = (palette(which + 4) & 0x00FFFFFF) | 0xA0000000;
    series.push_back(std::move(r));
  }
  PlotArgs a;
  a.id = "rope";
  a.x_label = tr("positions.axis.offset_mn");
  a.y_label = tr("positions.axis.score");
  a.size = ImVec2(width, ImGui::GetFontSize() * 15.0f);
  fit_y_with_legend(a, series, static_cast<int>(series.size()));
  plot_gap();
  DrawLinePlot(a, series);
  const std::string line = trf(demo.d != c.head_dk() ? "positions.rope_note_rounded" : "positions.rope_note", arg("d", demo.d));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  wrapped_disabled(line.c_str());
  ImGui::PopTextWrapPos();
}

void draw_alibi_demo(const AppState& s, float width) {
  const int h = s.session.model.heads;
  const labs::AlibiDemo demo = labs::alibi_demo(h, kMaxAlibiCurves);
  const int shown = static_cast<int>(demo.curves.size());
  std::vector<Series> series;
  for (const labs::AlibiCurve& curve : demo.curves) {
    Series sr;
    sr.label = trf("positions.legend.alibi", arg("head", curve.head), arg("slope", curve.slope));
    sr.x = curve.offset;
    sr.y = curve.bias;
    series.push_back(std::move(sr));
  }
  PlotArgs a;
  a.id = "alibi";
  a.x_label = tr("positions.axis.offset_ji");
  a.y_label = tr("positions.axis.bias");
  a.size = ImVec2(width, ImGui::GetFontSize() * std::max(15.0f, 6.0f + 1.6f * shown));
  fit_y_with_legend(a, series, shown);
  plot_gap();
  DrawLinePlot(a, series);
  const std::string line = shown < h ? trf("positions.alibi_note_some", arg("h", h), arg("shown", shown))
                                     : trf("positions.alibi_note", arg("h", h));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  wrapped_disabled(line.c_str());
  ImGui::PopTextWrapPos();
}

void draw_comparison(AppState& s, const TableStats* learned, const BlockRef& self_ref) {
  const ModelConfig& c = s.session.model;
  const Trace& t = *s.trace;
  const auto bullet = [&](PosEncoding kind, const char* key) {
    ImGui::Bullet();
    // The name and its text wrap as one paragraph, so a long name cannot push the text past the edge.
    const std::string line = trf(c.pe == kind ? "positions.cmp.item_this" : "positions.cmp.item", arg("name", value_label(kind)), arg("text", tr(key)));
    if (c.pe == kind) ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_PlotHistogram));
    text_wrapped_unformatted(line);
    if (c.pe == kind) ImGui::PopStyleColor();
  };
  bullet(PosEncoding::Sinusoidal, "positions.cmp.sinusoidal");

  bullet(PosEncoding::Learned, "positions.cmp.learned");
  if (learned) {
    const Mat& T = learned->table;
    ImGui::Indent();
    text_wrapped_unformatted(trf("positions.learned_rows", arg("last", static_cast<int>(T.rows()) - 1), arg("std", learned->rms)));
    HeatmapArgs a;
    a.M = &T;
    a.key = "positions-lab:learned:" + learned->key;
    a.name = "pos.learned[0:" + std::to_string(T.rows()) + "]";
    a.row_axis = tr("positions.axis.position");
    a.col_axis = tr("positions.axis.dim");
    a.signed_scale = true;
    a.max_cell = std::max(2.0f, std::floor(ImGui::GetFontSize() * 20.0f / T.rows()));
    a.max_width = ImGui::GetContentRegionAvail().x * 0.45f;
    ImGui::BeginGroup();
    DrawHeatmap(s, a);
    ImGui::EndGroup();
    if (!same_line_if_fits(ImGui::GetFontSize() * 20.0f)) ImGui::Spacing();
    ImGui::BeginGroup();
    HeatmapArgs g;
    g.M = &learned->similarity;
    g.key = "positions-lab:learned·learnedᵀ:" + learned->key;
    g.name = tr("positions.learned_similarity");
    g.row_axis = tr("positions.axis.position_m");
    g.col_axis = tr("positions.axis.position_n");
    g.signed_scale = true;
    g.max_cell = a.max_cell;
    DrawHeatmap(s, g);
    ImGui::EndGroup();
    ImGui::Unindent();
  } else {
    ImGui::Indent();
    dim_text("%s", tr("positions.choose_learned"));
    ImGui::Unindent();
  }

  bullet(PosEncoding::RoPE, "positions.cmp.rope");
  bullet(PosEncoding::ALiBi, "positions.cmp.alibi");
  bullet(PosEncoding::None, "positions.cmp.none");
  ImGui::Spacing();
  const float half = ImGui::GetContentRegionAvail().x * 0.5f - ImGui::GetStyle().ItemSpacing.x * 2.0f;
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
  text_wrapped_unformatted(tr("positions.rope_title"));
  ImGui::PopTextWrapPos();
  draw_rope_demo(s, half);
  ImGui::EndGroup();
  ImGui::SameLine(0.0f, ImGui::GetStyle().ItemSpacing.x * 4.0f);
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
  text_wrapped_unformatted(trf("positions.alibi_title", arg("h", c.heads)));
  ImGui::PopTextWrapPos();
  draw_alibi_demo(s, half);
  ImGui::EndGroup();

  // The traced bias of the selected head, when this model uses ALiBi.
  const std::string B_path = paths::head_tensor(self_ref.path(), s.sel.head, "B");
  if (const Mat* B = t.tensors.find(B_path)) {
    ImGui::Spacing();
    text_wrapped_unformatted(trf("positions.alibi_traced", arg("block", block_title(self_ref))));
    qkv::app::same_line_if_fits(ImGui::GetFontSize() * 8.0f, nullptr);
    HeadSelector(s);
    HeatmapArgs a;
    a.M = B;
    a.key = B_path;
    a.name = B_path;
    a.row_labels = &query_tokens(s, self_ref);
    a.col_labels = &key_tokens(s, self_ref);
    a.signed_scale = true;
    a.max_cell = 28.0f;
    a.max_width = ImGui::GetContentRegionAvail().x * 0.6f;
    DrawHeatmap(s, a);
  }
}

}  // namespace

void DrawPositionsPanel(AppState& s) {
  if (!s.trace) return;
  const ModelConfig& c = s.session.model;
  // The stack of the selected block: decoder-only and the decoder of an encoder–decoder read "decoder".
  const BlockRef stack_ref{s.sel.block.decoder, false, s.sel.block.layer};
  const std::string stack = stack_ref.decoder ? "decoder" : "encoder";
  const int n = static_cast<int>(query_tokens(s, stack_ref).size());
  const int d_model = std::max(1, c.d_model);

  int positions = stored("positions-lab/positions", 0);
  if (positions <= 0) positions = std::clamp(std::max(n, 64), 2, kMaxPositions);
  const int default_dims[kDimPickers] = {0, std::min(1, d_model - 1), std::min(d_model - 1, 2 * (d_model / 6))};
  int dims[kDimPickers];
  for (int i = 0; i < kDimPickers; ++i) {
    char key[40];
    std::snprintf(key, sizeof key, "positions-lab/dim%d", i);
    dims[i] = std::clamp(stored(key, default_dims[i]), 0, d_model - 1);
  }
  if (draw_controls(s, positions, dims, n)) s.dirty = true;
  // The sliders may have changed the session this frame; the tables follow it at once.
  const int d = std::max(1, c.d_model);
  for (int& dim : dims) dim = std::clamp(dim, 0, d - 1);
  const double base = c.pe_base > 1.0 && std::isfinite(c.pe_base) ? c.pe_base : 10000.0;

  text_wrapped_unformatted(pe_summary(c.pe));
  if (s.error) error_text("%s", trf("positions.not_applied", arg("error", s.error->what)).c_str());
  const std::string why_base =
      d > 2 ? trf("positions.why_base", arg("base", base), arg("first", sinusoidal_wavelength(0, d, base)),
                  arg("last", sinusoidal_wavelength(d - 1, d, base)), arg("dim", d - 1 - (d - 1) % 2))
            : trf("positions.why_base_one", arg("d", d), arg("wl", sinusoidal_wavelength(0, d, base)));
  ImGui::PushTextWrapPos(0.0f);
  wrapped_disabled(why_base.c_str());
  wrapped_disabled(tr("positions.why_pe"));
  ImGui::PopTextWrapPos();

  char key[96];
  std::snprintf(key, sizeof key, "%d:%d:%.17g", positions, d, base);
  fill_stats(g_cache.sinusoid, key, sinusoidal_table(positions, d, base));
  const TableStats* learned = nullptr;
  if (const Mat* table = s.trace->weights ? s.trace->weights->find("pos.learned") : nullptr) {
    const int rows = std::min(positions, static_cast<int>(table->rows()));
    std::snprintf(key, sizeof key, "%llu:%d", static_cast<unsigned long long>(s.generation), rows);
    fill_stats(g_cache.learned, key, table->topRows(rows));
    learned = &g_cache.learned;
  }

  heading(tr("positions.h.curves"));
  draw_curves(g_cache.sinusoid.table, dims, d, base);

  heading(tr("positions.h.matrix"));
  draw_pe_matrices(s, g_cache.sinusoid, stack, stack_ref);

  heading(tr("positions.h.similarity"));
  draw_similarity(s, g_cache.sinusoid, learned, d);

  heading(tr("positions.h.compare"));
  draw_comparison(s, learned, stack_ref);
}

}  // namespace qkv::app
