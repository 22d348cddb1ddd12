// QKV Lab app — the Gradients tab's views (one file each, like Tracy's TracyView_*.cpp), shared by
// gradients_panel.cpp, which lays them out (DrawGradientsPanel). Internal to app/panels/gradients/.
//   loss_view.cpp              the loss, its controls and value
//   head_gradients_view.cpp    P, ∂L/∂P and ∂L/∂S of the selected head; masked cells get exactly 0
//   jacobian_view.cpp          the softmax Jacobian of the pinned row (labs::row_jacobian)
//   norm_table_view.cpp        ‖∂L/∂W_Q‖ … ‖∂L/∂W_O‖ per head and block (labs::weight_gradient_norms)
//   matrix_gradients_view.cpp  ∂L/∂embed.E and ∂L/∂<layer>.input
//   dk_sweep_view.cpp          "why √d_k" (labs::dk_gradient_sweep on a worker)
//   norm_sweep_view.cpp        Pre/Post-Norm × residual (labs::norm_sweep on a worker)
// Views only draw: the numbers come from the trace and core/labs.
#pragma once

#include "app/app_state.h"
#include "app/jobs.h"
#include "app/widgets/common.h"

#include <imgui.h>

#include <functional>
#include <string>

namespace qkv::app::gradients {

// [SECTION] Shared look
inline const ImVec4 kWarningColor{1.0f, 0.8f, 0.3f, 1.0f};  // a caveat that is not an error
inline constexpr float kStaleAlpha = 0.45f;                      // a sweep's result drawn while a newer one computes
inline constexpr float kSweepPlotHeight = 260.0f;                // "why √d_k" plots
inline constexpr float kNormPlotHeight = 300.0f;                 // the per-layer gradient-norm plot
inline constexpr float kGradientCell = 18.0f;                    // largest cell of a gradient matrix heatmap (px)
inline constexpr float kSectionGap = 16.0f;                      // horizontal gap between a control and the next
inline constexpr int kSweepPalette[2] = {0, 5};                  // palette() of the scaled and the unscaled curve

void wrapped_disabled(const char* text);
void wrapped_colored(const ImVec4& color, const std::string& text);
std::string sci(double v);  // 4 decimals, or 2-digit scientific for tiny and huge values
const char* first_stack(Arch arch);
std::string first_self_attention_head(Arch arch);

// [SECTION] The views
void DrawLossView(AppState& s, const std::string& key);
void DrawHeadGradientsView(AppState& s, const std::string& head);
void DrawJacobianView(AppState& s, const std::string& head);
void DrawNormTableView(AppState& s);
void DrawEmbeddingGradientView(AppState& s);
void DrawLayerInputGradientView(AppState& s);
void DrawDkSweepView(AppState& s, const std::string& key, bool session_valid);
bool DkSweepPending();  // no result yet, or one computing: a lesson's scroll request waits
void DrawNormSweepView(AppState& s, const std::string& key, bool session_valid);
bool NormSweepPending();

// [SECTION] The sweeps' job plumbing (both sweep views)

// The sweeps run copies of the session on a worker thread (app/jobs.h; core::run is pure), keyed by the session's
// JSON: no frame waits for them. Until the first result arrives the section shows its progress; later, the previous
// result stays on screen, greyed, while the new one is computed, and a newer edit cancels an outdated job. The
// jobs cancel and join when the app exits, so closing it mid-sweep waits for one run at most.
template <typename R>
void update_sweep(AppState& s, KeyedResult<R>& sweep, const std::string& key, bool session_valid, std::function<R(JobControl&)> compute) {
  sweep.update(key, session_valid, std::move(compute));
  if (sweep.job.running()) {
    s.animating = true;  // the progress moves, and the result must show when it arrives
    ++s.jobs_running;
  }
}

void progress_bar(int done, int total, const char* what);  // "k of N runs" with a bar

template <typename R>
void job_progress(const KeyedResult<R>& sweep, const char* what) {
  if (sweep.job.running()) progress_bar(sweep.job.done(), sweep.job.total(), what);
}

// What a sweep's result stands for when it is not the current session's; true: draw it greyed.
template <typename R>
bool stale_note(const KeyedResult<R>& sweep, const std::string& key, bool session_valid) {
  if (!sweep.stale(key)) return false;
  if (sweep.job.running()) job_progress(sweep, tr("gradients.sweep.recomputing"));
  else if (!session_valid) ImGui::TextDisabled("%s", tr("gradients.sweep.stale_invalid"));
  return true;
}

// A sweep's section: starts or picks up its job, shows progress until the first result, then `draw()` (greyed while
// a newer result computes). `not_valid`: what to say while the session is invalid and there is no result yet.
template <typename R, typename Draw>
void sweep_section(AppState& s, KeyedResult<R>& sweep, const std::string& key, bool session_valid, std::function<R(JobControl&)> compute,
                   const char* not_valid, Draw draw) {
  update_sweep<R>(s, sweep, key, session_valid, std::move(compute));
  if (!sweep.has()) {
    if (sweep.job.running()) job_progress(sweep, tr("gradients.sweep.measuring"));
    else ImGui::TextDisabled("%s", not_valid);
    return;
  }
  const bool stale = stale_note(sweep, key, session_valid);
  ImGui::PushStyleVar(ImGuiStyleVar_Alpha, ImGui::GetStyle().Alpha * (stale ? kStaleAlpha : 1.0f));
  draw();
  ImGui::PopStyleVar();
}

}  // namespace qkv::app::gradients
