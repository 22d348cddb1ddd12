// QKV Lab app — Gradients tab, the selected head: P, ∂L/∂P and ∂L/∂S side by side, whether every masked cell got
// exactly zero gradient, and how much gradient the softmax passes on (labs::head_gradient_summary).
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "core/labs/softmax.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace qkv::app::gradients {

void DrawHeadGradientsView(AppState& s, const std::string& head) {
  const Trace& t = *s.trace;
  const BlockRef& b = s.sel.block;
  const Mat* P = t.tensors.find(paths::join(head, "P"));
  const Mat* S_masked = t.tensors.find(paths::join(head, "S_masked"));
  const Mat* dP = t.tensors.find(paths::grad(paths::join(head, "P")));
  const Mat* dS = t.tensors.find(paths::grad(paths::join(head, "S")));
  // Each heatmap reserves the width of its own legend (wider for a signed range such as −0.0015).
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  // Three side by side when each still gets readable cells and room for its token labels (about 10 px per cell
  // plus labels and legend); otherwise P and ∂L/∂P on one row and ∂L/∂S below, or one per row.
  const float avail = ImGui::GetContentRegionAvail().x;
  const float font = ImGui::GetFontSize();
  const float needed = static_cast<float>(P ? P->cols() : 1) * 10.0f + font * 9.0f;
  const int per_row = std::clamp(static_cast<int>((avail + gap) / (needed + gap)), 1, 3);
  const float row_w = avail - static_cast<float>(per_row - 1) * gap;
  const float p_width = per_row == 3 ? row_w * 0.3f : row_w / per_row;
  const float grad_width = per_row == 3 ? row_w * 0.35f : row_w / per_row;  // signed legends are wider than P's 0–1

  ImGui::BeginGroup();
  ImGui::TextUnformatted("attention weights (forward)");
  hover_tip("P = softmax(S·scale + mask), row by row. Click a row to pin it for the Jacobian below.");
  HeatmapArgs a;
  a.key = paths::join(head, "P");
  a.M = P;
  a.name = "P";
  a.row_labels = &query_tokens(s, b);
  a.col_labels = &key_tokens(s, b);
  a.max_width = p_width;
  a.S = t.tensors.find(paths::join(head, "S"));
  a.S_scaled = t.tensors.find(paths::join(head, "S_scaled"));
  a.S_masked = S_masked;
  a.P = P;
  a.pinned_row = &s.sel.pinned_row;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  if (per_row > 1) ImGui::SameLine(0, gap);
  ImGui::BeginGroup();
  ImGui::TextUnformatted("gradient into the attention weights");
  hover_tip("∂L/∂P: how the loss changes as each weight changes. It comes back from O = P·V: ∂L/∂P = ∂L/∂O · Vᵀ, so it is "
            "usually NOT zero at masked cells — the mask acts one step earlier.");
  HeatmapArgs g;
  g.key = paths::grad(paths::join(head, "P"));
  g.M = dP;
  g.name = "∂L/∂P";
  g.row_labels = a.row_labels;
  g.col_labels = a.col_labels;
  g.signed_scale = true;
  g.max_width = grad_width;
  g.pinned_row = &s.sel.pinned_row;
  DrawHeatmap(s, g);
  ImGui::EndGroup();

  if (per_row > 2) ImGui::SameLine(0, gap);
  ImGui::BeginGroup();
  ImGui::TextUnformatted("gradient into the raw scores S = QKᵀ");
  hover_tip("∂L/∂S, row by row: scale · J·(∂L/∂P row), J = diag(p) − ppᵀ the softmax Jacobian. This is what reaches Q and K "
            "(and so W_Q, W_K): ∂L/∂Q = ∂L/∂S · K.");
  HeatmapArgs d = g;
  d.key = paths::grad(paths::join(head, "S"));
  d.M = dS;
  d.name = "∂L/∂S";
  DrawHeatmap(s, d);
  ImGui::EndGroup();

  const labs::HeadGradientSummary sum = labs::head_gradient_summary(t, head);
  if (!sum.ok) {
    ImGui::TextDisabled("This head has no score gradients in this configuration.");
    return;
  }
  // Masked cells: −∞ in S_masked, so p = 0 there and the Jacobian's row and column vanish: ∂L/∂S = 0 exactly.
  if (sum.masked == 0) {
    ImGui::TextDisabled("masked cells: none of %ld in this block (turn on a causal mask or mark padding to see them get zero gradient)", sum.cells);
  } else if (sum.leaked == 0) {
    check_mark(true, "Checked cell by cell: ∂L/∂S == 0.0f at every −∞ cell");
    ImGui::SameLine();
    ImGui::Text("masked cells: %d of %ld — every one has ∂L/∂S = 0 exactly", sum.masked, sum.cells);
    hover_tip("p = 0 at a masked cell, so its row and column of diag(p) − ppᵀ are zero: no gradient reaches that score, "
              "whatever ∂L/∂P is there. The mask blocks learning from the future (causal) and from padding.");
  } else {
    check_mark(false, "A masked cell received gradient: that would be a bug");
    ImGui::SameLine();
    error_text("masked cells: %d of %ld — %d have ∂L/∂S ≠ 0 (largest |∂L/∂S| %s): this is a bug", sum.masked, sum.cells, sum.leaked,
               sci(sum.worst_leak).c_str());
  }
  ImGui::Text("‖∂L/∂P‖_F = %s   ‖∂L/∂S‖_F = %s   ‖∂L/∂Z‖_F = ‖∂L/∂S‖_F ÷ scale = %s   ‖∂L/∂Z‖/‖∂L/∂P‖ = %s", sci(sum.norm_dP).c_str(),
              sci(sum.norm_dS).c_str(), sci(sum.norm_dZ).c_str(), sum.norm_dP > 0 ? sci(sum.ratio).c_str() : "— (∂L/∂P = 0)");
  char tip[360];
  std::snprintf(tip, sizeof tip,
                "Z = S·scale + mask is the softmax's input; scale = %.4g here (1/(√d_k·τ), or 1/τ without √d_k).\n"
                "‖∂L/∂Z‖/‖∂L/∂P‖ is how much gradient the softmax lets through per unit arriving from above: near 0 when\n"
                "its rows are saturated (one weight ≈ 1). The \"why √d_k\" plot below measures it against d_k.",
                sum.scale);
  hover_tip(tip);
}

}  // namespace qkv::app::gradients
