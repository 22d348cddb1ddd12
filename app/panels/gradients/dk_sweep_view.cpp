// QKV Lab app — Gradients tab, "why √d_k": ‖∂L/∂Z_r‖ / ‖∂L/∂P_r‖ against d_k, scaled and not, and the saturation
// that goes with it. The measurement is core::labs::dk_gradient_sweep (seeded weights, d_k = 4 … 256, several seeds),
// run on a worker; this view draws its result.
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/plot.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/scaling.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace qkv::app::gradients {
namespace {

// The measurement itself is core::labs::dk_gradient_sweep: seeded weights, d_k = 4 … 256, several seeds.
constexpr const int* kSweepDk = labs::kGradDk;
constexpr int kSweepCount = labs::kGradCount;
constexpr int kSweepSeeds = 4;
KeyedResult<labs::DkGradientSweep> dk_sweep;

float top_of(const std::vector<Series>& series) {
  float top = 1e-6f;
  for (const Series& s : series)
    for (float y : s.y)
      if (std::isfinite(y)) top = std::max(top, y);
  return top;
}

void draw_dk_result(AppState& s);

}  // namespace

bool DkSweepPending() { return !dk_sweep.has() || dk_sweep.job.running(); }

void DrawDkSweepView(AppState& s, const std::string& key, bool session_valid) {
  const Session session = s.session;
  sweep_section<labs::DkGradientSweep>(
      s, dk_sweep, key, session_valid, [session](JobControl& c) { return labs::dk_gradient_sweep(session, kSweepSeeds, c.progress()); },
      tr("gradients.why_sqrt_dk.invalid"), [&s] { draw_dk_result(s); });
}

namespace {

void draw_dk_result(AppState& s) {
  const labs::DkGradientSweep& r = dk_sweep.value;
  if (r.skipped) {
    ImGui::TextDisabled(
        "%s", trf("gradients.why_sqrt_dk.skipped", arg("max", labs::kGradMaxTokens), arg("runs", 2 * kSweepCount * kSweepSeeds)).c_str());
    return;
  }
  text_wrapped("%s", trf("gradients.why_sqrt_dk.intro", arg("heads", r.heads), arg("tau", r.temperature), arg("block", r.block),
                         arg("seeds", r.seeds), arg("ms", r.ms))
                         .c_str());
  if (!r.seeded_note.empty()) wrapped_disabled(r.seeded_note.c_str());
  if (r.identity_replaced) wrapped_disabled(tr("gradients.why_sqrt_dk.identity"));
  if (!r.error.empty()) error_text("%s", trf("gradients.why_sqrt_dk.error", arg("error", r.error)).c_str());
  if (r.additive) wrapped_disabled(tr("gradients.why_sqrt_dk.additive"));
  if (!r.too_big.empty()) {
    std::string list;
    for (int dk : r.too_big) list += (list.empty() ? "" : ", ") + std::to_string(dk);
    wrapped_disabled(
        trf("gradients.why_sqrt_dk.too_big", arg("list", list), arg("heads", r.heads), arg("million", labs::kGradMaxParams / 1e6)).c_str());
  }
  const char* scaled = tr("gradients.why_sqrt_dk.scaled");
  const char* unscaled = tr("gradients.why_sqrt_dk.unscaled");
  Series on{scaled, {}, {}, palette(kSweepPalette[0])}, off{unscaled, {}, {}, palette(kSweepPalette[1])};
  Series on_lo{"", {}, {}, palette(kSweepPalette[0])}, on_hi{"", {}, {}, palette(kSweepPalette[0])}, off_lo{"", {}, {}, palette(kSweepPalette[1])}, off_hi{"", {}, {}, palette(kSweepPalette[1])};
  Series max_on{scaled, {}, {}, palette(kSweepPalette[0])}, max_off{unscaled, {}, {}, palette(kSweepPalette[1])};
  on.points = off.points = max_on.points = max_off.points = true;
  on_lo.dashed = on_hi.dashed = off_lo.dashed = off_hi.dashed = true;
  for (int k = 0; k < kSweepCount; ++k) {
    const float x = static_cast<float>(kSweepDk[k]);
    for (Series* series : {&on, &off, &max_on, &max_off, &on_lo, &on_hi, &off_lo, &off_hi}) series->x.push_back(x);
    on.y.push_back(r.scaled[k].mean);
    off.y.push_back(r.unscaled[k].mean);
    on_lo.y.push_back(r.scaled[k].lo);
    on_hi.y.push_back(r.scaled[k].hi);
    off_lo.y.push_back(r.unscaled[k].lo);
    off_hi.y.push_back(r.unscaled[k].hi);
    max_on.y.push_back(r.scaled[k].max_weight);
    max_off.y.push_back(r.unscaled[k].max_weight);
  }
  std::vector<Series> left{on, off, on_lo, on_hi, off_lo, off_hi};
  const float top = top_of(left);
  if (r.model_dk >= kSweepDk[0] && r.model_dk <= kSweepDk[kSweepCount - 1]) {
    Series marker{tr("gradients.why_sqrt_dk.model_dk"), {static_cast<float>(r.model_dk), static_cast<float>(r.model_dk)}, {0.0f, top}, palette(4)};
    marker.dashed = true;
    left.push_back(marker);
  }
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_left = avail * 0.6f, w_right = avail - w_left - ImGui::GetStyle().ItemSpacing.x;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "dk_ratio";
  pa.x_label = tr("gradients.why_sqrt_dk.x_label");
  pa.y_label = tr("gradients.why_sqrt_dk.y_label");
  pa.size = ImVec2(w_left, kSweepPlotHeight);
  pa.log_x = true;
  pa.y_min = 0.0f;
  pa.y_max = 1.35f * top;  // headroom for the legend, top right
  DrawLinePlot(pa, left);
  {
    // Where the plot was drawn (--layout-json), so a test can check that lesson 5's step shows it.
    const ImVec2 p0 = ImGui::GetItemRectMin(), p1 = ImGui::GetItemRectMax();
    s.drawn_heatmaps.push_back({"plot:gradients.why-sqrt-dk", p0.x, p0.y, p1.x, p1.y, 0, 0});
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_left);
  wrapped_disabled(labs::dk_gradient_caption(r).c_str());
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s", trf("gradients.why_sqrt_dk.caption_tip", arg("seeds", r.seeds)).c_str());
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  PlotArgs pm;
  pm.id = "dk_saturation";
  pm.x_label = tr("gradients.why_sqrt_dk.x_label");
  pm.y_label = tr("gradients.why_sqrt_dk.saturation_y");
  pm.size = ImVec2(w_right, kSweepPlotHeight);
  pm.log_x = true;
  pm.y_min = 0.0f;
  pm.y_max = 1.3f;
  DrawLinePlot(pm, {max_on, max_off});
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_right);
  wrapped_disabled(tr("gradients.why_sqrt_dk.saturation_note"));
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

}  // namespace
}  // namespace qkv::app::gradients
