#include "app/widgets/plot.h"
#include "app/widgets/common.h"
#include "app/widgets/layout_math.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>

namespace qkv::app {
namespace {

std::string tick_text(float v) {
  char buf[32];
  const float a = std::fabs(v);
  if (a != 0.0f && (a >= 1e4f || a < 1e-3f)) std::snprintf(buf, sizeof buf, "%.1e", v);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// "Nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over span.
float nice_step(float span, int count) {
  const float raw = span / std::max(1, count);
  const float mag = std::pow(10.0f, std::floor(std::log10(raw)));
  const float norm = raw / mag;
  return (norm < 1.5f ? 1.0f : norm < 3.5f ? 2.0f : norm < 7.5f ? 5.0f : 10.0f) * mag;
}

}  // namespace

ImU32 palette(int i) {
  static const ImU32 colors[] = {IM_COL32(86, 180, 233, 255), IM_COL32(230, 159, 0, 255), IM_COL32(0, 158, 115, 255),
                                 IM_COL32(204, 121, 167, 255), IM_COL32(240, 228, 66, 255), IM_COL32(213, 94, 0, 255),
                                 IM_COL32(0, 114, 178, 255), IM_COL32(170, 170, 170, 255)};
  return colors[i % 8];
}

void DrawLinePlot(const PlotArgs& a, const std::vector<Series>& series) {
  ImGui::PushID(a.id);
  const float w = a.size.x > 0 ? a.size.x : ImGui::GetContentRegionAvail().x;
  const ImVec2 size(w, a.size.y);
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float font = ImGui::GetFontSize();
  const float left = font * 3.6f, bottom = font * 2.6f, top = font * 1.4f, right = font * 0.8f;  // top: room for the y label
  const ImVec2 g0(p0.x + left, p0.y + top);
  ImVec2 g1(p0.x + size.x - right, p0.y + size.y - bottom);
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), grid = ImGui::GetColorU32(ImGuiCol_Border);

  // Data range.
  float x_lo = FLT_MAX, x_hi = -FLT_MAX, y_lo = FLT_MAX, y_hi = -FLT_MAX;
  for (const Series& s : series)
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k]) || (a.log_x && s.x[k] <= 0)) continue;
      x_lo = std::min(x_lo, s.x[k]);
      x_hi = std::max(x_hi, s.x[k]);
      y_lo = std::min(y_lo, s.y[k]);
      y_hi = std::max(y_hi, s.y[k]);
    }
  if (x_lo > x_hi) {
    ImGui::Dummy(size);
    ImGui::PopID();
    return;
  }
  if (a.y_min != 0.0f || a.y_max != 0.0f) y_lo = a.y_min, y_hi = a.y_max;
  if (a.y_from_zero) y_lo = std::min(y_lo, 0.0f);
  if (y_hi - y_lo < 1e-12f) y_hi = y_lo + 1.0f;
  if (x_hi - x_lo < 1e-12f) x_hi = x_lo + 1.0f;
  const auto fx = [&](float x) { return a.log_x ? (std::log(x) - std::log(x_lo)) / (std::log(x_hi) - std::log(x_lo)) : (x - x_lo) / (x_hi - x_lo); };
  const auto to_screen = [&](float x, float y) { return ImVec2(g0.x + fx(x) * (g1.x - g0.x), g1.y - (y - y_lo) / (y_hi - y_lo) * (g1.y - g0.y)); };

  // The legend goes in a corner of the plot that no curve crosses, else below the plot (which then shrinks).
  const float entry_h = font + 2.0f, swatch_w = 20.0f;
  float legend_w = 0.0f;
  int legend_n = 0;
  for (const Series& s : series)
    if (!s.label.empty()) legend_w = std::max(legend_w, ImGui::CalcTextSize(s.label.c_str()).x + swatch_w + 6.0f), ++legend_n;
  const float legend_h = entry_h * static_cast<float>(legend_n);
  LegendPlace place = LegendPlace::Outside;
  float below_w = 0.0f;  // outside: entries side by side, wrapped to the plot's width
  int below_rows = 1;
  if (legend_n > 0) {
    std::vector<std::vector<Point>> lines;
    for (const Series& s : series) {
      std::vector<Point>& line = lines.emplace_back();
      for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
        const bool ok = std::isfinite(s.x[k]) && std::isfinite(s.y[k]) && !(a.log_x && s.x[k] <= 0);
        const ImVec2 p = ok ? to_screen(s.x[k], std::clamp(s.y[k], y_lo, y_hi)) : ImVec2(NAN, NAN);
        line.push_back({p.x, p.y});
      }
    }
    place = legend_place(lines, Rect{g0.x, g0.y, g1.x, g1.y}, legend_w, legend_h, 4.0f);
    if (place == LegendPlace::Outside) {
      for (const Series& s : series) {
        if (s.label.empty()) continue;
        const float w = ImGui::CalcTextSize(s.label.c_str()).x + swatch_w + 18.0f;
        if (below_w > 0.0f && below_w + w > g1.x - g0.x) ++below_rows, below_w = 0.0f;
        below_w += w;
      }
      g1.y -= entry_h * static_cast<float>(below_rows);
    }
  }

  // Axes and ticks.
  list->AddRect(g0, g1, grid);
  const float y_step = nice_step(y_hi - y_lo, 5);
  for (float y = std::ceil(y_lo / y_step) * y_step; y <= y_hi + y_step * 1e-3f; y += y_step) {
    const ImVec2 p = to_screen(x_lo, y);
    list->AddLine(ImVec2(g0.x, p.y), ImVec2(g1.x, p.y), (grid & 0x00FFFFFF) | 0x50000000);
    const std::string t = tick_text(std::fabs(y) < y_step * 1e-3f ? 0.0f : y);
    list->AddText(ImVec2(g0.x - ImGui::CalcTextSize(t.c_str()).x - 4, p.y - font * 0.5f), text, t.c_str());
  }
  if (a.log_x) {
    for (float x = std::pow(10.0f, std::floor(std::log10(x_lo))); x <= x_hi * 1.0001f; x *= 10.0f)
      for (float m : {1.0f, 2.0f, 5.0f}) {
        const float v = x * m;
        if (v < x_lo * 0.9999f || v > x_hi * 1.0001f) continue;
        const ImVec2 p = to_screen(v, y_lo);
        list->AddLine(ImVec2(p.x, g0.y), ImVec2(p.x, g1.y), (grid & 0x00FFFFFF) | 0x50000000);
        const std::string t = tick_text(v);
        list->AddText(ImVec2(p.x - ImGui::CalcTextSize(t.c_str()).x * 0.5f, g1.y + 2), text, t.c_str());
      }
  } else {
    float x_step = nice_step(x_hi - x_lo, std::max(2, static_cast<int>((g1.x - g0.x) / (font * 5))));
    if (a.integer_x) x_step = std::max(1.0f, std::round(x_step));
    for (float x = std::ceil(x_lo / x_step) * x_step; x <= x_hi + x_step * 1e-3f; x += x_step) {
      const ImVec2 p = to_screen(x, y_lo);
      list->AddLine(ImVec2(p.x, g0.y), ImVec2(p.x, g1.y), (grid & 0x00FFFFFF) | 0x50000000);
      const std::string t = tick_text(std::fabs(x) < x_step * 1e-3f ? 0.0f : x);
      list->AddText(ImVec2(p.x - ImGui::CalcTextSize(t.c_str()).x * 0.5f, g1.y + 2), text, t.c_str());
    }
  }
  list->AddText(ImVec2((g0.x + g1.x - ImGui::CalcTextSize(a.x_label.c_str()).x) * 0.5f, g1.y + font * 1.3f), text, a.x_label.c_str());
  list->AddText(ImVec2(p0.x, p0.y - font * 0.2f), text, a.y_label.c_str());

  // Series, clipped to the plot area.
  list->PushClipRect(g0, g1, true);
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const ImU32 color = s.color ? s.color : palette(static_cast<int>(i));
    ImVec2 prev;
    bool has_prev = false;
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k]) || (a.log_x && s.x[k] <= 0)) {
        has_prev = false;
        continue;
      }
      const ImVec2 p = to_screen(s.x[k], std::clamp(s.y[k], y_lo - (y_hi - y_lo), y_hi + (y_hi - y_lo)));
      if (has_prev && !s.dashed) list->AddLine(prev, p, color, 2.0f);
      if (has_prev && s.dashed) {  // 6 px dashes with 4 px gaps along the segment, whatever the point spacing
        const float dx = p.x - prev.x, dy = p.y - prev.y, len = std::sqrt(dx * dx + dy * dy);
        for (float t = 0.0f; t < len; t += 10.0f) {
          const float t1 = std::min(t + 6.0f, len);
          list->AddLine(ImVec2(prev.x + dx * t / len, prev.y + dy * t / len), ImVec2(prev.x + dx * t1 / len, prev.y + dy * t1 / len), color, 2.0f);
        }
      }
      if (s.points) list->AddCircleFilled(p, 3.0f, color);
      prev = p;
      has_prev = true;
    }
  }
  list->PopClipRect();

  // Legend: in the free corner (entries stacked, swatch then text), or below the x label, side by side.
  if (legend_n > 0) {
    const Rect box = place == LegendPlace::Outside ? Rect{g0.x, g1.y + font * 2.6f, g1.x, p0.y + size.y}
                                                   : legend_box(place, Rect{g0.x, g0.y, g1.x, g1.y}, legend_w, legend_h, 4.0f);
    float lx = box.x0, ly = box.y0;
    for (size_t i = 0; i < series.size(); ++i) {
      if (series[i].label.empty()) continue;
      const ImU32 color = series[i].color ? series[i].color : palette(static_cast<int>(i));
      const float tw = ImGui::CalcTextSize(series[i].label.c_str()).x;
      if (place == LegendPlace::Outside && lx > box.x0 && lx + tw + swatch_w + 18.0f > box.x1) lx = box.x0, ly += entry_h;
      list->AddRectFilled(ImVec2(lx, ly + font * 0.35f), ImVec2(lx + swatch_w - 6.0f, ly + font * 0.65f), color);
      list->AddText(ImVec2(lx + swatch_w, ly), text, series[i].label.c_str());
      if (place == LegendPlace::Outside) lx += tw + swatch_w + 18.0f;
      else ly += entry_h;
    }
  }

  // Hover: every series' value at the nearest x.
  ImGui::InvisibleButton("area", size);
  if (ImGui::IsItemHovered()) {
    const float mx = ImGui::GetIO().MousePos.x;
    ImGui::BeginTooltip();
    for (size_t i = 0; i < series.size(); ++i) {
      const Series& s = series[i];
      size_t best = 0;
      float best_d = FLT_MAX;
      for (size_t k = 0; k < s.x.size(); ++k)
        if (std::isfinite(s.x[k]) && (!a.log_x || s.x[k] > 0)) {
          const float d = std::fabs(to_screen(s.x[k], y_lo).x - mx);
          if (d < best_d) best_d = d, best = k;
        }
      if (s.label.empty()) continue;  // unlabelled helper lines (bands, markers) are not in the legend either
      if (!s.x.empty() && best < s.y.size())
        ImGui::Text("%s: %s = %s, %s = %s", s.label.c_str(), a.x_label.c_str(), tick_text(s.x[best]).c_str(), a.y_label.c_str(),
                    std::isfinite(s.y[best]) ? tick_text(s.y[best]).c_str() : tr("widgets.plot.not_measured"));
    }
    ImGui::EndTooltip();
  }
  ImGui::PopID();
}

void DrawHistogram(const char* id, const std::vector<float>& counts, float lo, float hi, const std::string& x_label, ImVec2 size, ImU32 color) {
  std::vector<Series> bars;
  Series s;
  s.label = "";
  const size_t n = counts.size();
  for (size_t k = 0; k < n; ++k) {
    const float x0 = lo + (hi - lo) * k / n, x1 = lo + (hi - lo) * (k + 1) / n;
    s.x.insert(s.x.end(), {x0, x0, x1, x1});
    s.y.insert(s.y.end(), {0.0f, counts[k], counts[k], 0.0f});
  }
  s.color = color ? color : palette(0);
  bars.push_back(std::move(s));
  PlotArgs a;
  a.id = id;
  a.x_label = x_label;
  a.y_label = tr("widgets.plot.count");
  a.size = size;
  a.y_from_zero = true;
  DrawLinePlot(a, bars);
}

}  // namespace qkv::app
