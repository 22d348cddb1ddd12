// QKV Lab app — the Gradients lab: the loss; ∂L/∂P and ∂L/∂S of the selected head (masked cells get exactly 0);
// the softmax Jacobian diag(p) − ppᵀ of a pinned row; ‖∂L/∂W_Q‖, ‖∂L/∂W_K‖, ‖∂L/∂W_V‖, ‖∂L/∂W_O‖ per head and
// layer; "why √d_k" measured with the model at d_k = 4 … 256; and the per-layer gradient norms with Pre- vs
// Post-Norm and residuals on or off.
//
// The gradients of the live model come with the trace (AppState::gradients_wanted → core::add_gradients). The two
// sweeps run copies of the session (core/labs) on a worker. Each section is a view of its own file (gradients_views.h);
// this file holds their shared helpers and lays them out.
//
// [SECTION] Shared helpers
// [SECTION] The tab
#include "app/panels/gradients/gradients_views.h"
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/paths.h"

#include <imgui.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace qkv::app {
namespace gradients {

// [SECTION] Shared helpers

void wrapped_disabled(const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

void wrapped_colored(const ImVec4& color, const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, color);
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

std::string sci(double v) {
  if (!std::isfinite(v)) return fmt(static_cast<float>(v));
  char buf[32];
  if (v != 0.0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e4)) std::snprintf(buf, sizeof buf, "%.2e", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// The first stack of the forward pass: its layer inputs are where the per-layer gradient norms are read.
const char* first_stack(Arch arch) { return arch == Arch::DecoderOnly ? "decoder" : "encoder"; }

std::string first_self_attention_head(Arch arch) { return paths::head(paths::block(first_stack(arch), 0, paths::kSelf), 0); }

void progress_bar(int done, int total, const char* what) {
  const std::string overlay =
      total > 0 ? trf("gradients.sweep.runs", arg("done", done), arg("total", total)) : tr("gradients.sweep.starting");
  wrapped_disabled(what);
  ImGui::ProgressBar(total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f,
                     ImVec2(std::min(ImGui::GetFontSize() * 16, ImGui::GetContentRegionAvail().x), 0), overlay.c_str());
}

}  // namespace gradients

// [SECTION] The tab

void DrawGradientsPanel(AppState& s) {
  using namespace gradients;
  s.gradients_wanted = true;
  if (!s.trace) return;
  const Trace& t = *s.trace;
  if (!t.tensors.contains("loss")) {
    if (!s.gradient_error.empty()) {
      error_text("%s", trf("gradients.no_gradients", arg("why", s.gradient_error)).c_str());
      if (s.session.decode_steps > 0) {
        if (ImGui::Button(tr("gradients.decode_off"))) {
          s.session.decode_steps = 0;
          s.dirty = true;
        }
        hover_tip(tr("gradients.decode_off_tip"));
      }
    } else if (s.error) {
      error_text("%s", trf("gradients.not_applied", arg("why", s.error->message())).c_str());
    } else {
      ImGui::TextDisabled("%s", tr("gradients.computing"));
    }
    return;
  }
  const std::string key = to_json(s.session);
  const bool session_valid = !validate(s.session);

  // The tab scrolls inside its own child window, so the lesson strip and the tab bar above stay in view when a
  // lesson step scrolls a plot below the fold to the top.
  ImGui::BeginChild("gradients_tab", ImVec2(0, 0), false);
  DrawLossView(s, key);

  heading(tr("gradients.heading.head"));
  BlockSelector(s);
  ImGui::SameLine();
  HeadSelector(s);
  const std::string head = paths::head(s.sel.block.path(), s.sel.head);
  ImGui::SameLine(0, 20);
  ImGui::TextDisabled("%s", head.c_str());
  DrawHeadGradientsView(s, head);

  heading(tr("gradients.heading.jacobian"));
  DrawJacobianView(s, head);

  heading(tr("gradients.heading.norms"));
  DrawNormTableView(s);

  heading(tr("gradients.heading.embedding"));
  DrawEmbeddingGradientView(s);

  ImGui::Spacing();
  // A lesson step that points at a plot below the fold scrolls it to the top of the tab, once.
  // While the section's sweep is still computing, the tab is shorter than it will be and the scroll is clamped: the
  // request stays until the result is drawn.
  const auto scroll_here_if_requested = [&s](const char* section, bool pending) {
    if (s.request_section != section) return;
    ImGui::SetScrollHereY(0.0f);
    ImGui::SetNextItemOpen(true);
    if (!pending) s.request_section.clear();
  };
  scroll_here_if_requested("layer-input", false);
  heading(tr("gradients.heading.layer_input"));
  DrawLayerInputGradientView(s);
  scroll_here_if_requested("why-sqrt-dk", DkSweepPending());
  if (ImGui::CollapsingHeader(tr_id("gradients.why_sqrt_dk.header"), ImGuiTreeNodeFlags_DefaultOpen))
    DrawDkSweepView(s, key, session_valid);
  scroll_here_if_requested("layer-norms", NormSweepPending());
  if (ImGui::CollapsingHeader(tr_id("gradients.norms.header"), ImGuiTreeNodeFlags_DefaultOpen))
    DrawNormSweepView(s, key, session_valid);
  ImGui::EndChild();
}

}  // namespace qkv::app

