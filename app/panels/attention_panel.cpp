#include "app/panels/panels.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"

#include <imgui.h>

#include <algorithm>

namespace qkv::app {
namespace {

HeatmapArgs head_args(const AppState& s, const Trace& t, const std::string& head, Stage stage, const std::string& key_prefix) {
  const BlockRef& b = s.sel.block;
  HeatmapArgs a;
  a.M = t.tensors.find(head + "." + stage_name(stage));
  a.key = key_prefix + head + "." + stage_name(stage);
  a.row_labels = &query_tokens(s, b);
  a.col_labels = stage == Stage::O ? nullptr : &key_tokens(s, b);
  a.col_axis = stage == Stage::O ? "d_v" : "key";
  a.signed_scale = stage != Stage::P;
  a.S = t.tensors.find(head + ".S");
  a.S_scaled = t.tensors.find(head + ".S_scaled");
  a.S_masked = t.tensors.find(head + ".S_masked");
  a.P = t.tensors.find(head + ".P");
  return a;
}

// Wrapped to the heatmap's width so a grid column never grows wider than its heatmap.
void head_stats_line(const Trace& t, const std::string& head, float width) {
  const HeadStats* st = t.head(head);
  if (!st) return;
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("entropy %.2f nats · max weight %.2f · score variance %.2f", st->mean_entropy, st->mean_max_weight, st->score_variance);
  ImGui::PopStyleColor();
  ImGui::PopTextWrapPos();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Mean over query rows. Entropy: log(m) is uniform attention, 0 is one-hot. Score variance: of S/√d_k over unmasked cells.");
}

}  // namespace

void DrawAttentionPanel(AppState& s) {
  if (!s.trace) return;
  const Trace& t = *s.trace;
  BlockSelector(s);
  ImGui::SameLine();
  int stage = static_cast<int>(s.sel.stage);
  for (int i = 0; i < static_cast<int>(Stage::Count); ++i) {
    ImGui::SameLine();
    ImGui::RadioButton(stage_title(static_cast<Stage>(i)), &stage, i);
  }
  s.sel.stage = static_cast<Stage>(stage);
  if (ImGui::Checkbox("compare: √d_k scaling on vs off", &s.side_by_side)) s.dirty = true;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Runs the same model a second time with the scaling flipped and shows the selected head both ways");

  const std::string block = s.sel.block.path();
  const int h = s.session.model.heads;
  if (s.side_by_side) {
    HeadSelector(s);
    const std::string head = block + ".head." + std::to_string(s.sel.head);
    const bool scaled_now = s.session.model.score_scale == ScoreScale::InvSqrtDk;
    const float half = ImGui::GetContentRegionAvail().x * 0.5f - 8.0f;
    ImGui::BeginGroup();
    ImGui::Text("%s (current)", scaled_now ? "scaled by 1/√d_k" : "NOT scaled");
    HeatmapArgs a = head_args(s, t, head, Stage::P, "");
    a.name = "P";
    a.max_width = half;
    a.pinned_row = &s.sel.pinned_row;
    DrawHeatmap(s, a);
    head_stats_line(t, head, half);
    ImGui::EndGroup();
    if (s.trace_other_scale) {
      ImGui::SameLine();
      ImGui::BeginGroup();
      ImGui::Text("%s", scaled_now ? "NOT scaled" : "scaled by 1/√d_k");
      HeatmapArgs b = head_args(s, *s.trace_other_scale, head, Stage::P, "other:");
      b.name = "P";
      b.max_width = half;
      b.pinned_row = &s.sel.pinned_row;
      DrawHeatmap(s, b);
      head_stats_line(*s.trace_other_scale, head, half);
      ImGui::EndGroup();
    }
  } else {
    // Every head, then their average, in a grid of up to 4 columns.
    // As many columns as fit with cells large enough to label every token (at least one column).
    const float font = ImGui::GetFontSize();
    const float needed = 170.0f * ImGui::GetIO().FontGlobalScale + static_cast<float>(key_tokens(s, s.sel.block).size()) * font * 1.25f;
    const float avail = ImGui::GetContentRegionAvail().x;
    // When even one column cannot label every token, labels are off anyway: show all heads at once as a grid.
    const int columns = needed > avail ? std::min(h + 1, 4) : std::clamp(static_cast<int>(avail / needed), 1, std::min(h + 1, 4));
    const float width = avail / columns - ImGui::GetStyle().ItemSpacing.x * 2.0f;
    Mat average;
    for (int i = 0; i <= h; ++i) {
      if (i % columns != 0) ImGui::SameLine();
      ImGui::BeginGroup();
      if (i < h) {
        const std::string head = block + ".head." + std::to_string(i);
        HeatmapArgs a = head_args(s, t, head, s.sel.stage, "");
        if (!a.M) {
          ImGui::EndGroup();
          continue;
        }
        average = i == 0 ? *a.M : Mat(average + *a.M);
        a.name = stage_name(s.sel.stage);
        a.max_width = width;
        a.pinned_row = &s.sel.pinned_row;
        if (ImGui::Selectable(("head " + std::to_string(i) + (s.sel.head == i ? "  (selected)" : "")).c_str(), s.sel.head == i, 0,
                              ImVec2(width, 0)))
          s.sel.head = i;
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("Select head %d for the stepper and the other labs", i);
        DrawHeatmap(s, a);
        head_stats_line(t, head, width);
      } else if (average.size()) {
        average /= static_cast<float>(h);
        HeatmapArgs a = head_args(s, t, block + ".head.0", s.sel.stage, "");
        a.M = &average;
        a.key = "average:" + block + stage_name(s.sel.stage);
        a.name = std::string("mean ") + stage_name(s.sel.stage);
        a.S = a.S_scaled = a.S_masked = a.P = nullptr;
        a.max_width = width;
        ImGui::TextUnformatted(("average of the " + std::to_string(h) + " heads").c_str());
        DrawHeatmap(s, a);
      }
      ImGui::EndGroup();
    }
  }
  // The pinned query row as bars: where this token looks.
  const std::string head = block + ".head." + std::to_string(s.sel.head);
  const Mat* P = t.tensors.find(head + ".P");
  if (P && s.sel.pinned_row >= 0 && s.sel.pinned_row < P->rows()) {
    ImGui::Separator();
    ImGui::Text("head %d, query %d \"%s\": its weights over the keys (sum = 1)", s.sel.head, s.sel.pinned_row,
                query_tokens(s, s.sel.block)[s.sel.pinned_row].c_str());
    DrawRowBars("pinned", P->row(s.sel.pinned_row), key_tokens(s, s.sel.block), ImGui::GetContentRegionAvail().x * 0.6f);
  } else {
    ImGui::TextDisabled("Click a row of a heatmap to pin it as a bar chart.");
  }
}

}  // namespace qkv::app
