// QKV Lab app — the heatmap widget: a matrix with token labels on both axes, its name and shape, a colour
// legend with its range, exact values on hover, and click-to-pin a row (shown as a bar chart).
#pragma once

#include "app/app_state.h"

#include <string>
#include <vector>

namespace qkv::app {

struct HeatmapArgs {
  std::string key;    // texture cache key: a tensor path, unique per trace (prefix it for a second trace)
  const Mat* M = nullptr;
  std::string name;   // e.g. "P" or "encoder.0.self_attn.head.2.P"; the shape is appended
  const std::vector<std::string>* row_labels = nullptr;  // tokens, or null for indices
  const std::vector<std::string>* col_labels = nullptr;
  const char* row_axis = "query";  // axis names in the shape: P [n=9 query × m=9 key]
  const char* col_axis = "key";
  bool signed_scale = false;       // diverging colormap around 0; else probabilities on [0, 1]
  float max_cell = 40.0f;          // pixels per cell at most (fits the available width otherwise)
  float max_width = 0.0f;          // 0: the available width
  // For attention matrices the tooltip shows the whole chain for the hovered cell.
  const Mat* S = nullptr;
  const Mat* S_scaled = nullptr;
  const Mat* S_masked = nullptr;
  const Mat* P = nullptr;
  int* pinned_row = nullptr;       // clicking a row pins/unpins it
  int highlight_row = -1;
  int highlight_col = -1;
  uint64_t generation = 0;  // when M changes outside core::run's traces (live training): bump it; 0 = the trace's
};

struct HeatmapHover {
  int row = -1, col = -1;
};

HeatmapHover DrawHeatmap(AppState&, const HeatmapArgs&);

// One row of weights as horizontal bars, labelled with the key tokens and the values.
void DrawRowBars(const char* id, const RowVec& values, const std::vector<std::string>& labels, float width);

// "P  [n=9 query × m=9 key]"
std::string shape_label(const std::string& name, const Mat& M, const char* row_axis, const char* col_axis);

}  // namespace qkv::app
