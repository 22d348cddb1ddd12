#include "app/widgets/common.h"

#include "app/widgets/text_wrap.h"

#include <cstdarg>

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

void same_line_if_fits(float item_width, const char* label) {
  const ImGuiStyle& style = ImGui::GetStyle();
  float w = item_width;
  if (label) {
    const char* end = ImGui::FindRenderedTextEnd(label);
    if (end != label) w += style.ItemInnerSpacing.x + ImGui::CalcTextSize(label, end).x;
  }
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + style.ItemSpacing.x + w <= right) ImGui::SameLine();
}

void error_text(const char* fmt, ...) {
  char text[2048];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

}  // namespace qkv::app
