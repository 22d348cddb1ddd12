// QKV Lab app — the heatmap widget: a matrix with token labels on both axes, its name and shape, a colour
// legend with its range, exact values on hover, and click-to-pin a row (shown as a bar chart). It fills the
// width (and height, if given) it is offered; the mouse wheel zooms and a drag pans (double-click resets); when
// cells are smaller than a line of text the labels are thinned evenly, the title says so, and the hovered row's
// and column's labels are always drawn in full.
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
  // Axis names in the shape, in the current language: P [9 query × 9 key] (the defaults: keys of app.json).
  const char* row_axis = i18n::tr("widgets.axis.query");
  const char* col_axis = i18n::tr("widgets.axis.key");
  bool signed_scale = false;       // diverging colormap around 0; else probabilities on [0, 1]
  float max_cell = 40.0f;          // pixels per cell at most (fits the available width otherwise)
  float max_width = 0.0f;          // 0: the available width
  // For attention matrices the tooltip shows the whole chain for the hovered cell.
  const Mat* S = nullptr;
  const Mat* S_scaled = nullptr;
  const Mat* S_masked = nullptr;
  const Mat* P = nullptr;
  // A lean trace (core/trace.h) derives each head's n×m stages on demand: instead of the four pointers above, the head's
  // path, looked up only while a cell is hovered (so a grid of heads holds the stage it shows, not all four).
  const TraceTensors* stages_from = nullptr;
  std::string stages_head;         // e.g. "encoder.0.self_attn.head.1"
  int* pinned_row = nullptr;       // clicking a row pins/unpins it
  int highlight_row = -1;
  int highlight_col = -1;
  uint64_t generation = 0;  // when M changes outside core::run's traces (live training): bump it; 0 = the trace's
  float max_height = 0.0f;  // 0: any height; else cells shrink so the widget (title to legend) fits this height
  const Mat* mask = nullptr;  // same shape as M: cells that are −∞ here (S_masked) are hatched over their colour
  bool zoomable = true;       // mouse wheel zooms, drag pans, double-click resets
  std::string view_key;       // zoom/pan shared by heatmaps with this key; empty: key without ".head.<i>"
};

// The pixels the widget adds around its cells (title, labels, legend): a grid of heatmaps sizes itself with it.
struct HeatmapChrome {
  float left = 0, top = 0, right = 0, bottom = 0;
};
HeatmapChrome heatmap_chrome(const HeatmapArgs&);

struct HeatmapHover {
  int row = -1, col = -1;
  bool clicked = false;  // the mouse went up on this cell without dragging (a drag pans the view)
};

HeatmapHover DrawHeatmap(AppState&, const HeatmapArgs&);

// One row of weights as horizontal bars, labelled with the key tokens and the values.
void DrawRowBars(const char* id, const RowVec& values, const std::vector<std::string>& labels, float width);

// "P  [n=9 query × m=9 key]"
std::string shape_label(const std::string& name, const Mat& M, const char* row_axis, const char* col_axis);

}  // namespace qkv::app
