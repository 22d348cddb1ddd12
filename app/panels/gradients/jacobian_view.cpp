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
    ImGui::TextDisabled("%s", tr("gradients.jacobian.hint"));
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
  a.row_axis = tr("gradients.axis.key");
  a.col_axis = tr("gradients.axis.key");
  a.signed_scale = true;
  a.max_width = left_w;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  ImGui::SameLine(0, 24);
  ImGui::BeginGroup();
  const float right_w = std::max(200.0f, ImGui::GetContentRegionAvail().x);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + right_w);
  ImGui::TextUnformatted(
      trf("gradients.jacobian.query", arg("row", r), arg("token", r < static_cast<int>(queries.size()) ? queries[r].c_str() : "")).c_str());
  {
    const float row_h = ImGui::GetFontSize() + 4.0f, bars_w = std::min(right_w, 420.0f);
    const float bars_h = std::min(static_cast<float>(m) * row_h, 12.0f * row_h) + 4.0f;  // long rows scroll
    ImGui::BeginChild("jacobian_p", ImVec2(bars_w + ImGui::GetStyle().ScrollbarSize, bars_h), false);
    DrawRowBars("jacobian_p", p, keys, bars_w);
    ImGui::EndChild();
  }
  if (jac.all_masked) {
    text_wrapped("%s", tr("gradients.jacobian.all_masked"));
  } else {
    ImGui::TextUnformatted(trf("gradients.jacobian.stats", arg("entropy", jac.entropy), arg("keys", jac.allowed),
                               arg("uniform", jac.uniform_entropy), arg("max_p", jac.max_p), arg("frobenius", sci(jac.frobenius)))
                               .c_str());
    hover_tip(tr("gradients.jacobian.frobenius_tip"));
    wrapped_disabled(tr("gradients.jacobian.explain"));
  }
  // The chain rule, checked in core: ∂L/∂z = J·∂L/∂p, and ∂L/∂S = scale·∂L/∂z.
  if (jac.checked) {
    check_mark(jac.agrees, jac.agrees ? tr("gradients.jacobian.agrees") : tr("gradients.jacobian.differs"));
    ImGui::SameLine();
    ImGui::TextUnformatted(trf("gradients.jacobian.check", arg("diff", sci(jac.check_max_diff)), arg("largest", sci(jac.check_largest)),
                               arg("scale", jac.scale))
                               .c_str());
    hover_tip(tr("gradients.jacobian.check_tip"));
  }
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

}  // namespace qkv::app::gradients
