// QKV Lab app — Gradients tab, Pre- vs Post-Norm and residual on/off: ‖∂L/∂x_l‖_F layer by layer for each variant.
// The measurement is core::labs::norm_sweep, run on a worker; this view draws its result.
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/plot.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/norms.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace qkv::app::gradients {
namespace {

using labs::NormSweep;
using labs::NormVariant;
KeyedResult<NormSweep> norm_sweep;

// `current`: the result is the session's own (not a stale one shown while a newer one computes).
void draw_norm_result(AppState& s, bool current);

}  // namespace

bool NormSweepPending() { return !norm_sweep.has() || norm_sweep.job.running(); }

void DrawNormSweepView(AppState& s, const std::string& key, bool session_valid) {
  const Session session = s.session;
  const std::vector<std::string> dirs = s.weights.search_dirs;
  sweep_section<NormSweep>(
      s, norm_sweep, key, session_valid, [session, dirs](JobControl& c) { return labs::norm_sweep(session, dirs, c.progress()); },
      "The session is not valid: the comparison runs once it is.", [&s, &key] { draw_norm_result(s, !norm_sweep.stale(key)); });
}

namespace {

void draw_norm_result(AppState& s, bool current) {
  const NormSweep& r = norm_sweep.value;
  const int L = r.layers;
  const std::string& stack = r.stack;
  text_wrapped("The live model (its weights, text and loss) run %s, each with its gradients: ‖∂L/∂x_l‖_F where x_l is the input "
               "of %s layer l, and at %d the output of its last layer.%s %.0f ms on a worker thread, again only when the session changes.",
               r.norms ? "with Post-Norm and Pre-Norm, residuals on and off" : "with residuals on and off", stack.c_str(), L,
               r.arch == Arch::EncoderDecoder ? " Encoder–decoder: the encoder stack (its gradient arrives through cross-attention)." : "",
               r.ms);
  if (!r.norms) ImGui::TextDisabled("Norms are off (norm = none): Pre and Post are the same model, so only residual on/off is compared.");
  if (r.pattern)
    wrapped_colored(kWarningColor, "The pattern loss acts on the first attention head only, so every layer above it gets "
                                                     "zero gradient (not drawn on the log scale): choose a cross-entropy loss for this comparison.");
  std::vector<Series> series;
  std::string errors;
  // log₁₀ of the norms: they differ by orders of magnitude between the variants, and a constant factor per layer
  // (vanishing or exploding) is a straight line. Zero norms (no gradient) are left out.
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < r.variants.size(); ++i) {
    const NormVariant& v = r.variants[i];
    if (!v.error.empty()) {
      errors += v.label(r.norms) + ": " + v.error + "  ";
      continue;
    }
    const bool current = r.is_current(v);
    Series line{v.label(r.norms) + (current ? " (this model)" : ""), {}, {}, palette(static_cast<int>(i))};
    line.dashed = !current;
    line.points = true;
    for (int l = 0; l < static_cast<int>(v.norms.size()); ++l) {
      const float y = v.norms[l] > 0.0f ? std::log10(v.norms[l]) : NAN;
      line.x.push_back(static_cast<float>(l));
      line.y.push_back(y);
      if (std::isfinite(y)) lo = std::min(lo, y), hi = std::max(hi, y);
    }
    series.push_back(std::move(line));
  }
  if (!errors.empty()) error_text("Not run: %s", errors.c_str());
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_plot = avail * 0.6f;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "layer_norms";
  pa.x_label = stack + " layer l (input of l; " + std::to_string(L) + " = output of the last)";
  pa.integer_x = true;
  pa.y_label = "log₁₀ ‖∂L/∂x_l‖_F   (0 = 1, −1 = 0.1, −2 = 0.01)";
  pa.size = ImVec2(w_plot, kNormPlotHeight);
  if (lo <= hi) {
    const float span = std::max(hi - lo, 0.5f);
    pa.y_min = lo - 0.1f * span;
    pa.y_max = hi + span * (0.1f + 0.16f * static_cast<float>(series.size()));  // headroom for the legend, top right
    if (pa.y_min == 0.0f && pa.y_max == 0.0f) pa.y_max = 1.0f;
  }
  DrawLinePlot(pa, series);
  if (current) {  // where the finished comparison's plot is (--layout-json): tests check that it arrives
    const ImVec2 p0 = ImGui::GetItemRectMin(), p1 = ImGui::GetItemRectMax();
    s.drawn_heatmaps.push_back({"plot:gradients.layer-norms", p0.x, p0.y, p1.x, p1.y, 0, 0});
  }
  ImGui::EndGroup();
  ImGui::SameLine(0, kSectionGap);
  ImGui::BeginGroup();
  const float w_text = std::max(160.0f, ImGui::GetContentRegionAvail().x);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_text);
  // The numbers, and input/output ratios: < 1 means the gradient shrinks on its way down to the input.
  if (ImGui::BeginTable("layer_norm_numbers", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp, ImVec2(w_text, 0))) {
    ImGui::TableSetupColumn("variant", ImGuiTableColumnFlags_WidthStretch, 1.6f);
    ImGui::TableSetupColumn("at the input", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("input ÷ output", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableHeadersRow();
    for (const NormVariant& v : r.variants) {
      if (!v.error.empty() || v.norms.empty()) continue;
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(v.label(r.norms).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(sci(v.norms.front()).c_str());
      ImGui::TableNextColumn();
      const float out = v.norms.back();
      ImGui::TextUnformatted(out > 0.0f ? sci(v.norms.front() / out).c_str() : "—");
    }
    ImGui::EndTable();
  }
  hover_tip("input ÷ output: the gradient norm at the stack's input over the one at its last layer's output. Below 1 the gradient "
            "shrinks on its way down through the layers; above 1 it grows.");
  ImGui::Spacing();
  wrapped_disabled("Reading aid: with a residual, x_l + F(x_l) passes ∂L/∂x straight through (the identity path), so every layer gets "
                   "gradient. Post-Norm without residuals: the gradient shrinks layer by layer toward the input. Pre-Norm keeps the "
                   "residual path free of norms, which is why deep Transformers train more easily with it.");
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

}  // namespace
}  // namespace qkv::app::gradients
