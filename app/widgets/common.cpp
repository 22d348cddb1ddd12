#include "app/widgets/common.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <cmath>
#include <cstdio>

namespace qkv::app {

void heading(const char* text) {
  ImGui::Spacing();
  ImGui::TextDisabled("%s", text);
  ImGui::Separator();
}

void hover_tip(const char* text) {
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

void check_mark(bool ok, const char* tooltip) {
  const float sz = ImGui::GetFontSize();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  if (ok) ImGui::RenderCheckMark(ImGui::GetWindowDrawList(), ImVec2(p.x, p.y + sz * 0.1f), IM_COL32(80, 200, 120, 255), sz * 0.8f);
  else ImGui::GetWindowDrawList()->AddText(p, IM_COL32(255, 110, 100, 255), "≠");
  ImGui::Dummy(ImVec2(sz, sz));
  hover_tip(tooltip);
}

std::string fmt(float v, const char* format) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "−∞" : "+∞";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string dims(long rows, long cols) { return "[" + std::to_string(rows) + "×" + std::to_string(cols) + "]"; }

}  // namespace qkv::app
