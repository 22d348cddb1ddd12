// QKV Lab app — line plots and histograms drawn with ImDrawList (ImGui 1.86 has no plotting library).
#pragma once

#include <imgui.h>

#include <string>
#include <vector>

namespace qkv::app {

struct Series {
  std::string label;
  std::vector<float> x, y;
  ImU32 color = 0;    // 0: a colour from the plot's palette
  bool dashed = false;
  bool points = false;  // draw a dot at each point
};

struct PlotArgs {
  const char* id = "plot";
  std::string x_label, y_label;
  ImVec2 size{0, 220};    // 0 width: the available width
  bool log_x = false;     // logarithmic x axis (positive x only)
  bool y_from_zero = false;
  bool integer_x = false;  // x counts things (layers, steps): ticks at whole numbers only
  float y_min = 0, y_max = 0;  // both 0: fit the data
};

// Axes with ticks, every series, a legend, and the values of the nearest x on hover.
void DrawLinePlot(const PlotArgs&, const std::vector<Series>&);

// Bars of `counts` over equal-width bins from lo to hi, with the axis labelled.
void DrawHistogram(const char* id, const std::vector<float>& counts, float lo, float hi, const std::string& x_label, ImVec2 size,
                   ImU32 color = 0);

// A palette colour by index (distinct in both themes).
ImU32 palette(int i);

}  // namespace qkv::app
