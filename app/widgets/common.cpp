#include "app/widgets/common.h"

#include "app/widgets/text_wrap.h"

#include <cstdarg>

#include <imgui.h>
#include <imgui_internal.h>

#include <cmath>
#include <cstdio>
#include <cstring>

namespace qkv::app {

std::string tr_label(const char* key, const char* suffix) { return std::string(tr(key)) + "###" + key + suffix; }

const char* stack_word(bool decoder) { return tr(decoder ? "widgets.stack.decoder" : "widgets.stack.encoder"); }

std::string printf_escaped(std::string_view text) {
  std::string out;
  for (const char c : text) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

void heading(const char* text) {
  ImGui::Spacing();
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
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

namespace {

std::string vformat(const char* fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), fmt, args);
  out.resize(static_cast<size_t>(n));
  return out;
}

void wrapped_in_color(const ImVec4& color, std::string_view text) {
  ImGui::PushStyleColor(ImGuiCol_Text, color);
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

}  // namespace

float button_width(const char* label) {
  return ImGui::CalcTextSize(label, nullptr, true).x + ImGui::GetStyle().FramePadding.x * 2.0f;
}

void error_text(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const std::string text = vformat(fmt, args);
  va_end(args);
  wrapped_in_color(kErrorColor, text);
}

void dim_text(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const std::string text = vformat(fmt, args);
  va_end(args);
  wrapped_in_color(ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled), text);
}

void colored_text(const ImVec4& color, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const std::string text = vformat(fmt, args);
  va_end(args);
  wrapped_in_color(color, text);
}

bool text_ellipsis(std::string_view text, float max_width) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (const void* nl = std::memchr(begin, '\n', text.size())) end = static_cast<const char*>(nl);
  const bool cut = end != begin + text.size() || ImGui::CalcTextSize(begin, end).x > max_width;
  if (!cut) {
    ImGui::TextUnformatted(begin, end);
    return false;
  }
  // Keep whole UTF-8 characters: drop bytes from the end until the kept part and "…" fit.
  const char* ellipsis = "…";
  const float tail = ImGui::CalcTextSize(ellipsis).x;
  const char* keep = end;
  while (keep > begin && ImGui::CalcTextSize(begin, keep).x + tail > max_width) {
    --keep;
    while (keep > begin && (static_cast<unsigned char>(*keep) & 0xC0) == 0x80) --keep;
  }
  std::string shown(begin, keep);
  shown += ellipsis;
  ImGui::TextUnformatted(shown.c_str());
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 40.0f);
    text_wrapped_unformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
  return true;
}

}  // namespace qkv::app
