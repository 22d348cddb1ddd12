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
      tr("gradients.norms.invalid"), [&s, &key] { draw_norm_result(s, !norm_sweep.stale(key)); });
}

namespace {

void draw_norm_result(AppState& s, bool current) {
  const NormSweep& r = norm_sweep.value;
  const int L = r.layers;
  const char* stack = stack_word(r.stack == "decoder");
  text_wrapped("%s", trf(r.norms ? "gradients.norms.intro_norms" : "gradients.norms.intro_residual", arg("stack", stack), arg("L", L),
                         arg("encdec", r.arch == Arch::EncoderDecoder ? tr("gradients.norms.encdec") : ""), arg("ms", r.ms))
                         .c_str());
  if (!r.norms) ImGui::TextDisabled("%s", tr("gradients.norms.off"));
  if (r.pattern) wrapped_colored(kWarningColor, tr("gradients.norms.pattern_warning"));
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
    Series line{current ? trf("gradients.norms.this_model", arg("variant", v.label(r.norms))) : v.label(r.norms), {}, {},
                palette(static_cast<int>(i))};
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
  if (!errors.empty()) error_text("%s", trf("gradients.norms.not_run", arg("errors", errors)).c_str());
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_plot = avail * 0.6f;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "layer_norms";
  pa.x_label = trf("gradients.norms.x_label", arg("stack", stack), arg("L", L));
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
    ImGui::TableSetupColumn(tr("gradients.norms.col.variant"), ImGuiTableColumnFlags_WidthStretch, 1.6f);
    ImGui::TableSetupColumn(tr("gradients.norms.col.input"), ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn(tr("gradients.norms.col.ratio"), ImGuiTableColumnFlags_WidthStretch, 1.0f);
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
  hover_tip(tr("gradients.norms.ratio_tip"));
  ImGui::Spacing();
  wrapped_disabled(tr("gradients.norms.reading_aid"));
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

}  // namespace
}  // namespace qkv::app::gradients
