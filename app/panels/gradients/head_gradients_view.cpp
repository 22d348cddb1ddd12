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
  ImGui::TextUnformatted(tr("gradients.head.p_title"));
  hover_tip(tr("gradients.head.p_tip"));
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
  ImGui::TextUnformatted(tr("gradients.head.dp_title"));
  hover_tip(tr("gradients.head.dp_tip"));
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
  ImGui::TextUnformatted(tr("gradients.head.ds_title"));
  hover_tip(tr("gradients.head.ds_tip"));
  HeatmapArgs d = g;
  d.key = paths::grad(paths::join(head, "S"));
  d.M = dS;
  d.name = "∂L/∂S";
  DrawHeatmap(s, d);
  ImGui::EndGroup();

  const labs::HeadGradientSummary sum = labs::head_gradient_summary(t, head);
  if (!sum.ok) {
    ImGui::TextDisabled("%s", tr("gradients.head.no_scores"));
    return;
  }
  // Masked cells: −∞ in S_masked, so p = 0 there and the Jacobian's row and column vanish: ∂L/∂S = 0 exactly.
  if (sum.masked == 0) {
    ImGui::TextDisabled("%s", trf("gradients.head.masked_none", arg("cells", sum.cells)).c_str());
  } else if (sum.leaked == 0) {
    check_mark(true, tr("gradients.head.masked_ok_check"));
    ImGui::SameLine();
    ImGui::TextUnformatted(trf("gradients.head.masked_ok", arg("masked", sum.masked), arg("cells", sum.cells)).c_str());
    hover_tip(tr("gradients.head.masked_ok_tip"));
  } else {
    check_mark(false, tr("gradients.head.masked_bug_check"));
    ImGui::SameLine();
    error_text("%s", trf("gradients.head.masked_bug", arg("masked", sum.masked), arg("cells", sum.cells), arg("leaked", sum.leaked),
                         arg("worst", sci(sum.worst_leak)))
                   .c_str());
  }
  ImGui::Text("‖∂L/∂P‖_F = %s   ‖∂L/∂S‖_F = %s   ‖∂L/∂Z‖_F = ‖∂L/∂S‖_F ÷ scale = %s   ‖∂L/∂Z‖/‖∂L/∂P‖ = %s", sci(sum.norm_dP).c_str(),
              sci(sum.norm_dS).c_str(), sci(sum.norm_dZ).c_str(), sum.norm_dP > 0 ? sci(sum.ratio).c_str() : "— (∂L/∂P = 0)");
  hover_tip(trf("gradients.head.scale_tip", arg("scale", sum.scale)).c_str());
}

}  // namespace qkv::app::gradients
