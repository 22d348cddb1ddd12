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
  char buf[160];
  std::snprintf(buf, sizeof buf, "dim %d (%s%s, wavelength 2π·%.0f^(%d/%d) = %.1f)", dim, sin ? "sin" : "cos",
                unpaired ? ", no cos partner" : "", base, two_i, d_model, sinusoidal_wavelength(dim, d_model, base));
  return buf;
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

const char* pe_summary(PosEncoding pe) {
  switch (pe) {
    case PosEncoding::Sinusoidal: return "the fixed sin/cos table below is added to the token embeddings: X = E_x + PE.";
    case PosEncoding::Learned: return "a table of trained vectors (one per position, random here) is added: X = E_x + pos.learned[p].";
    case PosEncoding::RoPE: return "nothing is added; every self-attention head rotates its q and k rows by their positions.";
    case PosEncoding::ALiBi: return "nothing is added; every head adds −slope·|i−j| to its scores, a penalty on distance.";
    case PosEncoding::None: return "no positions at all: attention cannot tell word order apart (see 'why add PE' below).";
    case PosEncoding::Count: break;
  }
  return "";
}

bool draw_controls(AppState& s, int& positions, int dims[kDimPickers], int n) {
  ModelConfig& c = s.session.model;
  bool changed = false;
  const float w = ImGui::GetFontSize() * 11.0f;
  ImGui::SetNextItemWidth(w);
  if (ImGui::BeginCombo("positional encoding", name(c.pe))) {
    for (int i = 0; i < static_cast<int>(PosEncoding::Count); ++i) {
      const PosEncoding option = static_cast<PosEncoding>(i);
      if (ImGui::Selectable(name(option), option == c.pe)) c.pe = option, changed = true;
    }
    ImGui::EndCombo();
  }
  hover_tip("How the model learns word order: sinusoidal (fixed table added), learned (trained table added), RoPE (rotates q, k), "
          "ALiBi (distance penalty on scores), none");
  qkv::app::same_line_if_fits(w, "base");
  ImGui::SetNextItemWidth(w);
  double base = std::clamp(c.pe_base, kBaseMin, kBaseMax);
  if (ImGui::SliderScalar("base", ImGuiDataType_Double, &base, &kBaseMin, &kBaseMax, "%.0f", ImGuiSliderFlags_Logarithmic)) {
    c.pe_base = base;
    changed = true;
  }
  hover_tip("Dims 2i, 2i+1 turn with frequency base^(−2i/d_model): a larger base gives slower low dims, so positions stay distinct "
          "further out (used by sinusoidal and RoPE)");

  ImGui::SetNextItemWidth(w);
  int p = positions;
  if (ImGui::SliderInt("positions", &p, 2, kMaxPositions)) store("positions-lab/positions", p);
  positions = p;
  char hint[160];
  std::snprintf(hint, sizeof hint,
                "How many positions to plot (default max(n, 64) = %d). The table is computed by sinusoidal_table, not read from the "
                "trace, so it extends past the sentence",
                std::clamp(std::max(n, 64), 2, kMaxPositions));
  hover_tip(hint);
  for (int i = 0; i < kDimPickers; ++i) {
    char label[24], key[40];
    std::snprintf(label, sizeof label, "dim %c", 'a' + i);
    qkv::app::same_line_if_fits(ImGui::GetFontSize() * 7.0f, label);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7.0f);
    std::snprintf(key, sizeof key, "positions-lab/dim%d", i);
    if (ImGui::SliderInt(label, &dims[i], 0, c.d_model - 1)) store(key, dims[i]);
    hover_tip("A column of PE to plot over positions: even columns are sines, odd ones the cosines of the same frequency");
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
  a.x_label = "position p";
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
  text_wrapped_unformatted("sinusoidal_table: values in [−1, 1]");
  HeatmapArgs a;
  a.M = &sin.table;
  a.key = "positions-lab:PE:" + sin.key;
  a.name = "PE";
  a.row_axis = "position";
  a.col_axis = "dim";
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
    text_wrapped("traced for this sentence (%s stack): the rows added to E_x", stack.c_str());
    HeatmapArgs b;
    b.M = traced;
    b.key = pe_path;
    b.name = pe_path;
    b.row_labels = &query_tokens(s, stack_ref);
    b.row_axis = "token";
    b.col_axis = "dim";
    b.signed_scale = true;
    b.max_cell = 18.0f;
    b.max_width = beside ? ImGui::GetContentRegionAvail().x : 0.0f;
    DrawHeatmap(s, b);
  } else {
    text_wrapped("%s: not in the trace", pe_path.c_str());
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + ImGui::GetFontSize() * 22.0f);
    wrapped_disabled("Only sinusoidal and learned encodings add a vector to the embeddings; with this model's PE nothing is added, so "
                     "the table on the left is for reference.");
    ImGui::PopTextWrapPos();
  }
  ImGui::EndGroup();
}

void draw_similarity(AppState& s, const TableStats& sin, const TableStats* learned, int d_model) {
  const int P = static_cast<int>(sin.table.rows());
  const int shown = std::min(P, kMaxSimilarityShown);
  const Mat G = sin.similarity.topLeftCorner(shown, shown);
  ImGui::BeginGroup();
  if (shown < P) dim_text("first %d of %d positions shown; the curves use all", shown, P);
  HeatmapArgs a;
  a.M = &G;
  a.key = "positions-lab:PE·PEᵀ:" + sin.key;
  a.name = "p_m·p_n = PE·PEᵀ";
  a.row_axis = "position m";
  a.col_axis = "position n";
  a.signed_scale = true;
  a.max_cell = std::max(2.0f, std::floor(ImGui::GetFontSize() * 28.0f / shown));
  a.max_width = ImGui::GetContentRegionAvail().x * 0.55f;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  if (!same_line_if_fits(ImGui::GetFontSize() * 22.0f)) ImGui::Spacing();
  ImGui::BeginGroup();
  std::vector<Series> series;
  series.push_back({"p_0·p_k", sin.curves.k, sin.curves.from_zero});
  Series mean{"mean over m of p_m·p_m+k", sin.curves.k, sin.curves.mean};
  mean.dashed = true;
  series.push_back(std::move(mean));
  if (learned) series.push_back({"learned table: mean over m", learned->curves.k, learned->curves.mean});
  PlotArgs pa;
  pa.id = "offset";
  pa.x_label = "offset k = |m − n|";
  pa.y_label = "dot product";
  pa.size = ImVec2(0, ImGui::GetFontSize() * 16.0f);
  fit_y_with_legend(pa, series, static_cast<int>(series.size()));
  plot_gap();
  DrawLinePlot(pa, series);
  text_wrapped("max over m, k of |p_m·p_m+k − p_0·p_k| = %.1e", sin.curves.max_deviation);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + ImGui::GetContentRegionAvail().x);
  if (d_model % 2 == 0)
    wrapped_disabled("So the similarity depends on the offset only: it is Σ_i cos(k·ω_i), because sin·sin + cos·cos is the cosine of "
                     "the difference; it is largest at k = 0 and falls away as the fast dims fall out of step.");
  else
    wrapped_disabled("d_model is odd, so the last sine has no cosine partner and its term sin(m·ω)·sin((m+k)·ω) depends on m "
                     "too: that term is the whole gap above (tiny while its slow angle m·ω stays small); every sin/cos pair depends on "
                     "the offset only.");
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
    Series r{"sinusoid added, m = " + std::to_string(kRopeQueryPositions[which]), demo.offset, demo.added[which]};
    r.color = (palette(which + 4) & 0x00FFFFFF) | 0xA0000000;
    series.push_back(std::move(r));
  }
  PlotArgs a;
  a.id = "rope";
  a.x_label = "offset m − n";
  a.y_label = "score q_m·k_n";
  a.size = ImVec2(width, ImGui::GetFontSize() * 15.0f);
  fit_y_with_legend(a, series, static_cast<int>(series.size()));
  plot_gap();
  DrawLinePlot(a, series);
  char line[320];
  std::snprintf(line, sizeof line, "One fixed random q and k (normal_matrix, d = %d%s), rotated by apply_rope at query position m and key "
                "position n: both RoPE curves coincide; with the sinusoid added they do not.",
                demo.d, demo.d != c.head_dk() ? ", d_k rounded down to even" : " = d_k");
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  wrapped_disabled(line);
  ImGui::PopTextWrapPos();
}

void draw_alibi_demo(const AppState& s, float width) {
  const int h = s.session.model.heads;
  const labs::AlibiDemo demo = labs::alibi_demo(h, kMaxAlibiCurves);
  const int shown = static_cast<int>(demo.curves.size());
  std::vector<Series> series;
  for (const labs::AlibiCurve& curve : demo.curves) {
    Series sr;
    char label[64];
    std::snprintf(label, sizeof label, "head %d, slope %.4g", curve.head, curve.slope);
    sr.label = label;
    sr.x = curve.offset;
    sr.y = curve.bias;
    series.push_back(std::move(sr));
  }
  PlotArgs a;
  a.id = "alibi";
  a.x_label = "offset j − i (key − query)";
  a.y_label = "bias B_ij";
  a.size = ImVec2(width, ImGui::GetFontSize() * std::max(15.0f, 6.0f + 1.6f * shown));
  fit_y_with_legend(a, series, shown);
  plot_gap();
  DrawLinePlot(a, series);
  char line[320];
  std::snprintf(line, sizeof line, "alibi_slopes(h = %d)%s: steep heads look locally, flat ones far; the bias is added to the scaled "
                "scores, so nothing depends on absolute position.",
                h, shown < h ? (", " + std::to_string(shown) + " of the heads shown").c_str() : "");
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  wrapped_disabled(line);
  ImGui::PopTextWrapPos();
}

void draw_comparison(AppState& s, const TableStats* learned, const BlockRef& self_ref) {
  const ModelConfig& c = s.session.model;
  const Trace& t = *s.trace;
  const auto bullet = [&](PosEncoding kind, const char* text) {
    ImGui::Bullet();
    // The name and its text wrap as one paragraph, so a long name cannot push the text past the edge.
    const std::string head = std::string(name(kind)) + (c.pe == kind ? " (this model):" : ":");
    if (c.pe == kind) ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_PlotHistogram));
    text_wrapped("%s %s", head.c_str(), text);
    if (c.pe == kind) ImGui::PopStyleColor();
  };
  bullet(PosEncoding::Sinusoidal,
         "fixed, no parameters; defined at every position, so it extrapolates past the longest sentence; p_m+k is p_m with each pair "
         "(2i, 2i+1) rotated by k·ω_i, so an offset is a linear map — the curves and PE·PEᵀ above.");

  bullet(PosEncoding::Learned, "one trained vector per position up to max_len; nothing beyond max_len; before training the rows are random, "
                               "so p_m·p_n shows no offset structure (its mean curve above is flat except at k = 0).");
  if (learned) {
    const Mat& T = learned->table;
    ImGui::Indent();
    text_wrapped("pos.learned rows 0…%d from the trace's weights (untrained: random, empirical std %.3f)", static_cast<int>(T.rows()) - 1,
                learned->rms);
    HeatmapArgs a;
    a.M = &T;
    a.key = "positions-lab:learned:" + learned->key;
    a.name = "pos.learned[0:" + std::to_string(T.rows()) + "]";
    a.row_axis = "position";
    a.col_axis = "dim";
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
    g.name = "p_m·p_n of the learned rows";
    g.row_axis = "position m";
    g.col_axis = "position n";
    g.signed_scale = true;
    g.max_cell = a.max_cell;
    DrawHeatmap(s, g);
    ImGui::EndGroup();
    ImGui::Unindent();
  } else {
    ImGui::Indent();
    dim_text("(choose pe = learned to see the model's table here)");
    ImGui::Unindent();
  }

  bullet(PosEncoding::RoPE, "rotates each (2i, 2i+1) pair of q and k by position·ω_i inside attention, so q_m·k_n depends only on m − n; "
                            "nothing is added to X.");
  bullet(PosEncoding::ALiBi, "no embedding at all: each head adds −slope·|i−j| to its scores, a fixed penalty on distance with a "
                             "different slope per head; extrapolates to long inputs.");
  bullet(PosEncoding::None, "attention alone is permutation-equivariant: shuffle the tokens and every output row is shuffled the same "
                            "way, so word order is invisible (a causal mask leaks a little of it).");
  ImGui::Spacing();
  const float half = ImGui::GetContentRegionAvail().x * 0.5f - ImGui::GetStyle().ItemSpacing.x * 2.0f;
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
  text_wrapped_unformatted("RoPE: the score depends on the offset only");
  ImGui::PopTextWrapPos();
  draw_rope_demo(s, half);
  ImGui::EndGroup();
  ImGui::SameLine(0.0f, ImGui::GetStyle().ItemSpacing.x * 4.0f);
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
  text_wrapped("ALiBi: bias against offset for h = %d", c.heads);
  ImGui::PopTextWrapPos();
  draw_alibi_demo(s, half);
  ImGui::EndGroup();

  // The traced bias of the selected head, when this model uses ALiBi.
  const std::string B_path = paths::head_tensor(self_ref.path(), s.sel.head, "B");
  if (const Mat* B = t.tensors.find(B_path)) {
    ImGui::Spacing();
    text_wrapped("This model's ALiBi bias in %s, as traced:", block_title(self_ref).c_str());
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

  text_wrapped("This model uses %s: %s", name(c.pe), pe_summary(c.pe));
  if (s.error) error_text("The current edits are not applied (%s); traced tensors are from the last valid model.",
                                  s.error->what.c_str());
  char why_base[320];
  if (d > 2)
    std::snprintf(why_base, sizeof why_base,
                  "Why base %.0f: the wavelengths 2π·base^(2i/d_model) grow geometrically from %.2f (dim 0) to %.0f (dim %d), so close "
                  "positions differ in the fast dims and far ones stay distinct in the slow dims, up to about base·2π positions.",
                  base, sinusoidal_wavelength(0, d, base), sinusoidal_wavelength(d - 1, d, base), d - 1 - (d - 1) % 2);
  else
    std::snprintf(why_base, sizeof why_base,
                  "Why the base: with d_model = %d there is one frequency only (wavelength %.2f), so positions repeat every %.2f; "
                  "with more dims the base spreads the wavelengths geometrically up to base·2π.",
                  d, sinusoidal_wavelength(0, d, base), sinusoidal_wavelength(0, d, base));
  ImGui::PushTextWrapPos(0.0f);
  wrapped_disabled(why_base);
  wrapped_disabled("Why add PE at all: self-attention is permutation-equivariant — shuffle the tokens and every output row is shuffled "
                   "the same way — so without positions \"dog bites man\" and \"man bites dog\" give the same vectors.");
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

  heading("Sin/cos curves: PE[p, dim] over positions p (sinusoidal_table)");
  draw_curves(g_cache.sinusoid.table, dims, d, base);

  heading("The PE matrix: one row per position, one column per dimension");
  draw_pe_matrices(s, g_cache.sinusoid, stack, stack_ref);

  heading("Similarity of positions p_m·p_n and its decay with the offset |m − n|");
  draw_similarity(s, g_cache.sinusoid, learned, d);

  heading("Sinusoidal, learned, RoPE, ALiBi compared");
  draw_comparison(s, learned, stack_ref);
}

}  // namespace qkv::app
