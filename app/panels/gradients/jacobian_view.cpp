// QKV Lab app — Gradients tab, the softmax Jacobian of the pinned row: J = diag(p) − ppᵀ as a heatmap, the row p as
// bars, and the chain rule checked against the tape (all numbers from labs::row_jacobian).
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/plot.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/softmax.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <string>
#include <vector>

namespace qkv::app::gradients {

void DrawJacobianView(AppState& s, const std::string& head) {
  const Trace& t = *s.trace;
  const int r = s.sel.pinned_row;
  if (!t.tensors.contains(paths::join(head, "P")) || !t.tensors.contains(paths::grad(paths::join(head, "P"))) ||
      !t.tensors.contains(paths::grad(paths::join(head, "S"))))
    return;
  const labs::RowJacobian jac = labs::row_jacobian(t, head, r);
  if (!jac.ok()) {
    ImGui::TextDisabled("Click a row of P above to pin it: its softmax Jacobian J = diag(p) − ppᵀ appears here.");
    return;
  }
  const std::vector<std::string>& keys = key_tokens(s, s.sel.block);
  const std::vector<std::string>& queries = query_tokens(s, s.sel.block);
  const int m = jac.m;
  const RowVec& p = jac.p;
  const Mat& J = jac.J;

  const float avail = ImGui::GetContentRegionAvail().x;
  const float left_w = std::min(avail * 0.45f, 520.0f);
  ImGui::BeginGroup();
  HeatmapArgs a;
  a.key = "jacobian/" + head + "/" + std::to_string(r);
  a.M = &J;
  a.name = "J = ∂p/∂z";
  a.row_labels = &keys;
  a.col_labels = &keys;
  a.row_axis = "key";
  a.col_axis = "key";
  a.signed_scale = true;
  a.max_width = left_w;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  ImGui::SameLine(0, 24);
  ImGui::BeginGroup();
  const float right_w = std::max(200.0f, ImGui::GetContentRegionAvail().x);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + right_w);
  ImGui::Text("query %d \"%s\": p = its row of P", r, r < static_cast<int>(queries.size()) ? queries[r].c_str() : "");
  {
    const float row_h = ImGui::GetFontSize() + 4.0f, bars_w = std::min(right_w, 420.0f);
    const float bars_h = std::min(static_cast<float>(m) * row_h, 12.0f * row_h) + 4.0f;  // long rows scroll
    ImGui::BeginChild("jacobian_p", ImVec2(bars_w + ImGui::GetStyle().ScrollbarSize, bars_h), false);
    DrawRowBars("jacobian_p", p, keys, bars_w);
    ImGui::EndChild();
  }
  if (jac.all_masked) {
    text_wrapped("Every key of this row is masked: p = 0, so J = 0 and no gradient reaches its scores.");
  } else {
    ImGui::Text("entropy %.3f nats (uniform over its %d keys: %.3f)   max p = %.4f   ‖J‖_F = %s", jac.entropy, jac.allowed,
                jac.uniform_entropy, jac.max_p, sci(jac.frobenius).c_str());
    hover_tip("‖J‖_F is largest for a flat row and tends to 0 as the row approaches one-hot.");
    wrapped_disabled("J_ij = p_i(δ_ij − p_j). A saturated row (one p ≈ 1, the rest ≈ 0) has J ≈ 0: whatever ∂L/∂P says, almost no "
                     "gradient passes back to the scores, so W_Q and W_K stop learning. Large unscaled dot products cause exactly that. "
                     "A masked key has p = 0, so its row and column of J are 0: that is why ∂L/∂S is exactly 0 there.");
  }
  // The chain rule, checked in core: ∂L/∂z = J·∂L/∂p, and ∂L/∂S = scale·∂L/∂z.
  if (jac.checked) {
    check_mark(jac.agrees, jac.agrees ? "Agrees to float rounding" : "J·∂L/∂p differs from ∂L/∂S ÷ scale by more than float rounding");
    ImGui::SameLine();
    ImGui::Text("check: max |J·(∂L/∂P row) − (∂L/∂S row) ÷ scale| = %s   (largest entry %s, scale %.4g)", sci(jac.check_max_diff).c_str(),
                sci(jac.check_largest).c_str(), jac.scale);
    hover_tip("The tape's backward pass computed ∂L/∂S; here J is built from p and multiplied by ∂L/∂P's row by hand. They agree.");
  }
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

}  // namespace qkv::app::gradients
