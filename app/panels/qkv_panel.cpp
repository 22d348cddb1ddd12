// QKV Lab app — the Q, K, V lab: X, this head's slices of W_Q, W_K, W_V, and Q, K, V of the selected head with
// the shape equations, each checked against the trace; S = QKᵀ, where hovering a cell (i, j) highlights row i of
// Q and row j of K and recomputes q_i·k_j from them.
//
// Shapes: X_q [n, d_model] (the queries' input), X_kv [m, d_model] (the keys' and values' input; = X_q in
// self-attention), W_Q, W_K [d_model, h·d_k], W_V [d_model, h·d_v]; head i uses columns i·d_k … (i+1)·d_k.
//
// [SECTION] Which tensors the block reads
// [SECTION] Small helpers
// [SECTION] Equations and notes
// [SECTION] The hovered cell of S
// [SECTION] DrawQKVPanel
#include "core/paths.h"
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

// [SECTION] Which tensors the block reads

// The inputs of one attention block, as traced (see the sublayer and attention code in core/model.cpp):
// Pre-Norm: X = Norm(H), otherwise the residual stream H itself; cross-attention's keys and values are the
// encoder's output (after its final norm with Pre-Norm).
struct BlockInputs {
  std::string xq, xkv;            // trace paths
  const char* xq_what = "";       // for people: catalog keys (assets/i18n/qkv.json)
  const char* xkv_what = "";
};

BlockInputs block_inputs(const ModelConfig& c, const BlockRef& b) {
  const bool pre = c.norm_placement == NormPlacement::Pre && c.norm != NormKind::None;
  const std::string layer = std::string(b.decoder ? "decoder." : "encoder.") + std::to_string(b.layer);
  BlockInputs in;
  if (!b.cross) {
    in.xq = pre ? layer + ".self_attn.norm" : layer + ".input";
    in.xq_what = pre ? "qkv.in_norm" : "qkv.in_stream";
    in.xkv = in.xq;
    in.xkv_what = in.xq_what;
    return in;
  }
  if (pre) {
    in.xq = layer + ".cross_attn.norm";
    in.xq_what = "qkv.in_dec_pre";
  } else if (c.norm != NormKind::None) {
    in.xq = layer + ".self_attn.norm";
    in.xq_what = "qkv.in_dec_post";
  } else {
    in.xq = layer + ".self_attn.residual";
    in.xq_what = "qkv.in_dec_plain";
  }
  const std::string last = "encoder." + std::to_string(std::max(0, c.layers - 1)) + ".output";
  in.xkv = pre ? "encoder.final_norm" : last;
  in.xkv_what = pre ? "qkv.in_enc_pre" : "qkv.in_enc_last";
  return in;
}

// [SECTION] Small helpers

// Outlines row `row` (or the cell (row, col)) of the heatmap just drawn under `key`, thick and two-toned so it
// shows on every colour of both colormaps (the widget's own highlight is a thin white line).
void outline(const AppState& s, const std::string& key, int row, int col) {
  if (row < 0 || s.drawn_heatmaps.empty() || s.drawn_heatmaps.back().key != key) return;
  const DrawnHeatmap& d = s.drawn_heatmaps.back();
  if (row >= d.rows || col >= d.cols || d.rows <= 0 || d.cols <= 0) return;
  const float ch = (d.y1 - d.y0) / d.rows, cw = (d.x1 - d.x0) / d.cols;
  const ImVec2 a(col >= 0 ? d.x0 + col * cw : d.x0, d.y0 + row * ch);
  const ImVec2 b(col >= 0 ? a.x + cw : d.x1, a.y + ch);
  ImDrawList* list = ImGui::GetWindowDrawList();
  list->AddRect(ImVec2(a.x - 1, a.y - 1), ImVec2(b.x + 1, b.y + 1), IM_COL32(0, 0, 0, 255), 0.0f, 0, 3.5f);
  list->AddRect(ImVec2(a.x - 1, a.y - 1), ImVec2(b.x + 1, b.y + 1), IM_COL32(255, 200, 40, 255), 0.0f, 0, 2.0f);
}

// Space after a heatmap of M for its legend's numbers, which the widget draws past its own width.
float legend_gap(const Mat& M) {
  float range = 0.0f;
  for (Eigen::Index k = 0; k < M.size(); ++k)
    if (std::isfinite(M.data()[k])) range = std::max(range, std::fabs(M.data()[k]));
  const float text = ImGui::CalcTextSize(("−" + fmt(range)).c_str()).x;
  return std::max(ImGui::GetFontSize(), text + 25.0f - 56.0f * ImGui::GetIO().FontGlobalScale + ImGui::GetFontSize());
}

float max_abs_diff(const Mat& a, const Mat& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols() || a.size() == 0) return NAN;
  return (a - b).cwiseAbs().maxCoeff();
}

// Relative to the matrix's size, so that float32 rounding counts as equal.
bool close(float diff, const Mat& ref) {
  const float scale = ref.size() ? std::max(1.0f, ref.cwiseAbs().maxCoeff()) : 1.0f;
  return std::isfinite(diff) && diff <= 1e-4f * scale;
}

// One head's slice of a fused weight (or bias) matrix: columns head·width … (head+1)·width, or empty if the
// weights do not have them (the sidebar holds a model the trace was not made with).
Mat head_columns(const Mat* W, int head, long width) {
  if (!W || width <= 0 || W->cols() < (head + 1) * width) return Mat();
  return W->middleCols(head * width, width);
}

// [SECTION] Equations and notes

struct Projection3 {
  const char* name;  // "Q"
  const Mat* X;      // its input
  Mat W, b;          // the head's slices (b empty without biases)
  const Mat* out;    // the traced Q, K or V
  Mat recomputed;    // X·W + b
};

void recompute(Projection3& p) {
  if (!p.X || p.W.size() == 0 || p.X->cols() != p.W.rows()) return;
  p.recomputed = *p.X * p.W;
  if (p.b.size() == p.W.cols()) p.recomputed.rowwise() += RowVec(p.b.row(0));
}

// One row of the equations table: formula, shapes, and the check against the trace.
void equation_row(const std::string& formula, const std::string& shapes, const std::string& check, bool ok, const char* check_tip,
                  bool show_mark) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(formula.c_str());
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(shapes.c_str());
  ImGui::TableSetColumnIndex(2);
  if (show_mark) {
    check_mark(ok, check_tip);
    ImGui::SameLine();
  }
  dim_text("%s", check.c_str());
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", check_tip);
}

// [SECTION] The hovered cell of S

// S[i, j] recomputed from row i of Q and row j of K: the dot product, or w_aᵀ tanh(q_i + k_j) for additive
// scoring, with its terms one per dimension.
struct CellTerms {
  float value = NAN;
  std::vector<float> terms;  // per dimension d of d_k
  bool additive = false;
};

CellTerms cell_terms(const Mat& Q, const Mat& K, int i, int j, const Mat& w_a) {
  CellTerms c;
  const long d_k = Q.cols();
  c.additive = w_a.size() == d_k;
  c.terms.resize(d_k);
  double sum = 0.0;
  for (long d = 0; d < d_k; ++d) {
    const float t = c.additive ? w_a(0, d) * std::tanh(Q(i, d) + K(j, d)) : Q(i, d) * K(j, d);
    c.terms[d] = t;
    sum += t;
  }
  c.value = static_cast<float>(sum);
  return c;
}

// The readout beside S: which tokens, the recomputed score, the traced one, and each dimension's term.
void cell_readout(const AppState& s, const std::string& head, int i, int j, bool example, const Mat& Q, const Mat& K, const Mat& S,
                  const Mat& w_a, float height) {
  const Trace& t = *s.trace;
  const float start_y = ImGui::GetCursorPosY();
  const auto& qt = query_tokens(s, s.sel.block);
  const auto& kt = key_tokens(s, s.sel.block);
  const std::string qi = i < static_cast<int>(qt.size()) ? qt[i] : std::to_string(i);
  const std::string kj = j < static_cast<int>(kt.size()) ? kt[j] : std::to_string(j);
  const CellTerms c = cell_terms(Q, K, i, j, w_a);
  const float traced = S(i, j);

  if (example) dim_text("%s", tr("qkv.example_cell"));
  text_wrapped_unformatted(trf("qkv.cell", arg("i", i), arg("j", j), arg("query", qi), arg("key", kj)));
  if (c.additive)
    text_wrapped("S[%d,%d] = w_aᵀ tanh(q_%d + k_%d) = %s", i, j, i, j, fmt(c.value).c_str());
  else
    text_wrapped("S[%d,%d] = q_%d · k_%d = Σ_d Q[%d,d]·K[%d,d] = %s", i, j, i, j, i, j, fmt(c.value).c_str());
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("qkv.cell_recomputed_tip"));
  const float diff = std::fabs(c.value - traced);
  check_mark(diff <= 1e-4f * std::max(1.0f, std::fabs(traced)), tr("qkv.cell_check_tip"));
  ImGui::SameLine();
  text_wrapped_unformatted(trf("qkv.cell_traced", arg("i", i), arg("j", j), arg("value", fmt(traced)), arg("diff", diff)));

  // Where the score goes next, so the cell links to the softmax.
  const Mat* S_scaled = t.tensors.find(head + ".S_scaled");
  const Mat* S_masked = t.tensors.find(head + ".S_masked");
  const Mat* P = t.tensors.find(head + ".P");
  if (S_scaled && S_masked && P && i < P->rows() && j < P->cols()) {
    const bool masked = std::isinf((*S_masked)(i, j)) && (*S_masked)(i, j) < 0;
    text_wrapped_unformatted(trf(masked ? "qkv.cell_next_masked" : "qkv.cell_next", arg("scaled", fmt((*S_scaled)(i, j))), arg("i", i), arg("j", j),
                                 arg("p", fmt((*P)(i, j)))));
  }

  // One line per dimension: the two entries and their term of the sum.
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float table_h = std::max(height - (ImGui::GetCursorPosY() - start_y) - line, line * 10.0f);
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
  const int columns = c.additive ? 5 : 4;
  if (ImGui::BeginTable("terms", columns, flags, ImVec2(0, std::min(table_h, line * (Q.cols() + 1.5f))))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("d");
    ImGui::TableSetupColumn(("q_" + std::to_string(i) + "[d]").c_str());
    ImGui::TableSetupColumn(("k_" + std::to_string(j) + "[d]").c_str());
    if (c.additive) ImGui::TableSetupColumn("w_a[d]");
    ImGui::TableSetupColumn(c.additive ? "w_a·tanh(q+k)" : tr("qkv.term"));
    ImGui::TableHeadersRow();
    for (long d = 0; d < Q.cols(); ++d) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%ld", d);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(fmt(Q(i, d), "%+.4f").c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(fmt(K(j, d), "%+.4f").c_str());
      if (c.additive) {
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(fmt(w_a(0, d), "%+.4f").c_str());
      }
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(fmt(c.terms[d], "%+.4f").c_str());
    }
    ImGui::EndTable();
  }
  dim_text("%s", trf("qkv.term_sum", arg("sum", fmt(c.value))).c_str());
}

}  // namespace

// [SECTION] DrawQKVPanel

void DrawQKVPanel(AppState& s) {
  if (!s.trace) return;
  const Trace& t = *s.trace;
  const ModelConfig& c = s.session.model;
  BlockSelector(s);
  same_line_if_fits(HeadSelectorWidth(), nullptr);
  HeadSelector(s);

  const BlockRef& b = s.sel.block;
  const std::string block = b.path();
  const int head_index = s.sel.head;
  const std::string head = paths::head(block, head_index);
  const Mat* Q = t.tensors.find(head + ".Q");
  const Mat* K = t.tensors.find(head + ".K");
  const Mat* V = t.tensors.find(head + ".V");
  const Mat* S = t.tensors.find(head + ".S");
  if (!Q || !K || !V || !S || !t.weights) {
    dim_text("%s", trf("qkv.missing", arg("head", head)).c_str());
    return;
  }
  const BlockInputs in = block_inputs(c, b);
  const Mat* Xq = t.tensors.find(in.xq);
  const Mat* Xkv = t.tensors.find(in.xkv);
  const auto& qt = query_tokens(s, b);
  const auto& kt = key_tokens(s, b);
  // Widths from the traced tensors, not the sidebar: an invalid edit keeps the previous trace on screen.
  const long n = Q->rows(), m = K->rows(), d_k = Q->cols(), d_v = V->cols();
  const long d_model = Xq ? Xq->cols() : 0;
  const bool rope = !b.cross && c.pe == PosEncoding::RoPE;
  const bool additive = t.weights->find(block + ".w_a") != nullptr;  // the run's scoring, even if the sidebar changed since

  Projection3 proj[3] = {{"Q", Xq, {}, {}, Q, {}}, {"K", Xkv, {}, {}, K, {}}, {"V", Xkv, {}, {}, V, {}}};
  for (Projection3& p : proj) {
    const long width = p.out->cols();
    p.W = head_columns(t.weights->find(block + ".W_" + p.name), head_index, width);
    p.b = head_columns(t.weights->find(block + ".b_" + p.name), head_index, width);
    recompute(p);
  }
  Mat w_a;  // [1, d_k], additive scoring only
  if (const Mat* all = t.weights->find(block + ".w_a"); all && head_index < all->rows()) w_a = all->row(head_index);

  // X, in words, then the equations with the live sizes and each checked against the trace.
  text_wrapped_unformatted(trf("qkv.x_is", arg("x", b.cross ? "X_dec" : "X"), arg("path", in.xq), arg("what", tr(in.xq_what))));
  if (b.cross) text_wrapped_unformatted(trf("qkv.x_enc_is", arg("path", in.xkv), arg("what", tr(in.xkv_what))));
  const char* xq_name = b.cross ? "X_dec" : "X";
  const char* xkv_name = b.cross ? "X_enc" : "X";
  // The check column stretches and wraps, so a long check never runs past the panel's edge.
  if (ImGui::BeginTable("equations", 3, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_BordersInnerV)) {
    ImGui::TableSetupColumn(tr("qkv.col_formula"), ImGuiTableColumnFlags_WidthFixed);
    ImGui::TableSetupColumn(tr("qkv.col_shapes"), ImGuiTableColumnFlags_WidthFixed);
    ImGui::TableSetupColumn(tr("qkv.col_check"), ImGuiTableColumnFlags_WidthStretch);
    for (int k = 0; k < 3; ++k) {
      Projection3& p = proj[k];
      const std::string bias = p.b.size() ? std::string(" + b_") + p.name : "";
      const std::string product = std::string(p.name) + " = " + (k == 0 ? xq_name : xkv_name) + "·W_" + p.name + bias;
      const std::string formula = rope && k < 2 ? trf("qkv.then_rope", arg("formula", product)) : product;
      const long rows = p.out->rows(), cols = p.out->cols();
      const char* count_key = k == 0 ? (rows == 1 ? "qkv.n_query" : "qkv.n_queries") : (rows == 1 ? "qkv.m_key" : "qkv.m_keys");
      const std::string shapes = dims(rows, d_model) + "·" + dims(d_model, cols) + " = " + dims(rows, cols) + "   " + trf(count_key, arg("n", rows));
      const float diff = p.recomputed.size() ? max_abs_diff(p.recomputed, *p.out) : NAN;
      std::string check;
      if (!std::isfinite(diff)) {
        check = tr("qkv.not_recomputed_weights");
      } else if (rope && k < 2) {
        check = trf("qkv.rope_check", arg("name", p.name), arg("diff", diff));
      } else {
        char buf[160];
        std::snprintf(buf, sizeof buf, "max |%s·W_%s[:, %ld:%ld]%s − %s| = %.1e", k == 0 ? xq_name : xkv_name, p.name, head_index * cols,
                      (head_index + 1) * cols, p.b.size() ? " + b" : "", p.name, diff);
        check = buf;
      }
      equation_row(formula, shapes, check, close(diff, *p.out), tr("qkv.projection_check_tip"), !(rope && k < 2));
    }
    Mat S_check;
    if (!additive) S_check = *Q * K->transpose();
    const float s_diff = additive ? NAN : max_abs_diff(S_check, *S);
    char check[96];
    if (std::isfinite(s_diff)) std::snprintf(check, sizeof check, "max |Q·Kᵀ − S| = %.1e", s_diff);  // i18n: name
    else std::snprintf(check, sizeof check, "%s", tr("qkv.not_recomputed"));
    equation_row(additive ? "S[i,j] = w_aᵀ tanh(q_i + k_j)" : "S = Q·Kᵀ",
                 additive ? dims(n, d_k) + " ⊕ " + dims(m, d_k) + " → " + dims(n, m) : dims(n, d_k) + "·" + dims(d_k, m) + " = " + dims(n, m),
                 additive ? tr("qkv.additive_check") : check, close(s_diff, *S), tr("qkv.scores_check_tip"), !additive);
    ImGui::EndTable();
  }

  // What the projection setting means for this head.
  const bool self = !b.cross;
  if (c.projection == Projection::TiedQK) {
    if (self && S->rows() == S->cols()) {
      const float asym = S->rows() ? (*S - S->transpose()).cwiseAbs().maxCoeff() : 0.0f;
      text_wrapped_unformatted(trf(additive ? "qkv.tied_self_additive" : "qkv.tied_self", arg("asym", asym)));
    } else {
      text_wrapped_unformatted(tr("qkv.tied_cross"));
    }
  } else if (c.projection == Projection::Identity) {
    const bool past = (head_index + 1) * d_k > d_model;  // the identity's columns run out: the rest are zero
    const char* key = past ? (self ? "qkv.identity_past_self" : "qkv.identity_past") : (self ? "qkv.identity_self" : "qkv.identity");
    text_wrapped_unformatted(trf(key, arg("first", head_index * d_k), arg("last", (head_index + 1) * d_k - 1)));
  }
  if (rope) text_wrapped_unformatted(tr("qkv.rope"));

  const float avail = ImGui::GetContentRegionAvail().x;
  const float min_gap = ImGui::GetFontSize();

  // Inputs: X (and, for cross-attention, the encoder's output below it), tokens by d_model.
  ImGui::Spacing();
  dim_text("%s", trf("qkv.inputs", arg("d_model", d_model)).c_str());
  ImGui::Separator();
  for (int k = 0; k < (b.cross ? 2 : 1); ++k) {
    HeatmapArgs a;
    a.key = k == 0 ? in.xq : in.xkv;
    a.M = k == 0 ? Xq : Xkv;
    a.name = k == 0 ? xq_name : xkv_name;
    a.row_labels = k == 0 ? &qt : &kt;
    a.row_axis = tr(!b.cross ? "qkv.axis_tokens" : k == 0 ? "qkv.axis_target_tokens" : "qkv.axis_source_tokens");
    a.col_axis = "d_model";
    a.signed_scale = true;
    a.max_cell = 16.0f;
    a.max_width = avail;
    DrawHeatmap(s, a);
  }

  // The head's weights: tall and narrow, cells small enough that the three fit side by side.
  ImGui::Spacing();
  dim_text("%s", trf("qkv.weights", arg("head", head_index), arg("k0", head_index * d_k), arg("k1", (head_index + 1) * d_k - 1), arg("v0", head_index * d_v),
                     arg("v1", (head_index + 1) * d_v - 1)).c_str());
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("qkv.weights_tip"));
  ImGui::Separator();
  const float weight_cell = std::clamp(224.0f / std::max<long>(1, d_model), 2.0f, 14.0f);
  float gap = min_gap;
  for (int k = 0; k < 3; ++k) {
    Projection3& p = proj[k];
    if (k > 0) ImGui::SameLine(0, gap);
    ImGui::BeginGroup();
    const long cols = p.out->cols();
    HeatmapArgs a;
    a.key = "qkv:" + block + ".W_" + p.name + ".head." + std::to_string(head_index);  // a texture key, not a path
    a.M = &p.W;
    a.name = "W_" + std::string(p.name) + "[:, " + std::to_string(head_index * cols) + ":" + std::to_string((head_index + 1) * cols) + "]";
    a.row_axis = "d_model";
    a.col_axis = k == 2 ? "d_v" : "d_k";
    a.signed_scale = true;
    a.max_cell = weight_cell;
    a.max_width = avail / 3.0f - 3.0f * min_gap;
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + a.max_width);
    DrawHeatmap(s, a);
    ImGui::PopTextWrapPos();
    ImGui::EndGroup();
    gap = legend_gap(p.W);
  }

  // Q, K, V: the rows whose dot product made the hovered score are highlighted (last frame's hover: S is drawn
  // below them). Three to a line while their cells stay readable, else fewer.
  int hi = s.sel.hover_row, hj = s.sel.hover_col;
  const bool example = hi < 0 || hj < 0 || hi >= n || hj >= m;
  if (example && n > 0 && m > 0) {
    // The example cell: the pinned query (or the first) and the key it weighs most.
    hi = static_cast<int>(std::min<long>(n - 1, std::max(0, s.sel.pinned_row)));
    const Mat* P = t.tensors.find(head + ".P");
    Eigen::Index best = 0;
    if (P && P->rows() == n && P->cols() == m) P->row(hi).maxCoeff(&best);
    hj = static_cast<int>(best);
  }
  ImGui::Spacing();
  dim_text("%s", trf("qkv.projections", arg("d_k", d_k), arg("d_v", d_v)).c_str());
  ImGui::Separator();
  const float label_w = 110.0f * ImGui::GetIO().FontGlobalScale, legend_w = 56.0f * ImGui::GetIO().FontGlobalScale;
  const float needed = label_w + legend_w + 8.0f * std::max(d_k, d_v) + 4.0f * min_gap;
  const int per_line = std::clamp(static_cast<int>(avail / needed), 1, 3);
  gap = min_gap;
  for (int k = 0; k < 3; ++k) {
    if (k % per_line != 0) ImGui::SameLine(0, gap);
    ImGui::BeginGroup();
    HeatmapArgs a;
    a.key = head + "." + proj[k].name;
    a.M = proj[k].out;
    a.name = proj[k].name;
    a.row_labels = k == 0 ? &qt : &kt;
    a.row_axis = tr(k == 0 ? "qkv.axis_query" : "qkv.axis_key");
    a.col_axis = k == 2 ? "d_v" : "d_k";
    a.signed_scale = true;
    a.max_cell = 18.0f;
    a.max_width = avail / per_line - 3.0f * min_gap;
    a.highlight_row = k == 0 ? hi : k == 1 ? hj : -1;
    DrawHeatmap(s, a);
    outline(s, a.key, a.highlight_row, -1);
    ImGui::EndGroup();
    gap = legend_gap(*proj[k].out);
  }

  // S, and the readout of its hovered cell.
  ImGui::Spacing();
  dim_text("%s", tr("qkv.scores"));
  ImGui::Separator();
  const float s_width = std::min(avail * 0.5f, 170.0f * ImGui::GetIO().FontGlobalScale + 28.0f * m);
  const float top = ImGui::GetCursorPosY();
  ImGui::BeginGroup();
  HeatmapArgs a;
  a.key = head + ".S";
  a.M = S;
  a.name = additive ? tr("qkv.s_additive") : "S = QKᵀ";
  a.row_labels = &qt;
  a.col_labels = &kt;
  a.row_axis = tr("qkv.axis_query");
  a.col_axis = tr("qkv.axis_key");
  a.signed_scale = true;
  a.max_cell = 28.0f;
  a.max_width = s_width;
  a.S = S;
  a.S_scaled = t.tensors.find(head + ".S_scaled");
  a.S_masked = t.tensors.find(head + ".S_masked");
  a.P = t.tensors.find(head + ".P");
  a.highlight_row = hi;
  a.highlight_col = hj;
  const HeatmapHover hover = DrawHeatmap(s, a);
  outline(s, a.key, hi, hj);
  ImGui::EndGroup();
  const float s_height = ImGui::GetCursorPosY() - top;
  if (hover.row >= 0 && hover.col >= 0) {
    // Kept after the mouse leaves, so the readout and the highlighted rows stay readable.
    s.sel.hover_row = hover.row;
    s.sel.hover_col = hover.col;
    const CellTerms ct = cell_terms(*Q, *K, hover.row, hover.col, w_a);
    ImGui::BeginTooltip();  // appends to the heatmap's tooltip
    ImGui::Separator();
    ImGui::TextUnformatted(trf("qkv.hover_recomputed", arg("i", hover.row), arg("j", hover.col), arg("value", fmt(ct.value))).c_str());
    ImGui::EndTooltip();
  }
  if (n > 0 && m > 0 && hi >= 0 && hj >= 0) {
    ImGui::SameLine(0, legend_gap(*S));
    ImGui::BeginGroup();
    cell_readout(s, head, hi, hj, example, *Q, *K, *S, w_a, s_height);
    ImGui::EndGroup();
  }
}

}  // namespace qkv::app
