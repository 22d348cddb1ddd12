// QKV Lab app — the geometry of heatmaps, grids of heatmaps and plot legends as pure functions (no ImGui, no
// GL), so tests can check "no heatmap is drawn off screen", "labels are thinned evenly, never dropped" and "no
// legend covers a curve" without a display.
//
// [SECTION] Rectangles
// [SECTION] A grid of equal heatmaps
// [SECTION] Token labels
// [SECTION] Zoom and pan
// [SECTION] Plot legends
#pragma once

#include <string>
#include <vector>

namespace qkv::app {

// [SECTION] Rectangles

struct Rect {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float width() const { return x1 > x0 ? x1 - x0 : 0.0f; }
  float height() const { return y1 > y0 ? y1 - y0 : 0.0f; }
  bool empty() const { return x1 <= x0 || y1 <= y0; }
  bool contains(float x, float y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};
Rect intersect(const Rect& a, const Rect& b);  // empty (x1 ≤ x0 or y1 ≤ y0) when they do not overlap

// [SECTION] A grid of equal heatmaps (the heads of a block): how many columns, how large a cell.
struct GridSpec {
  int items = 1;                   // heatmaps in the grid
  int rows = 1, cols = 1;          // cells of each heatmap (n query × m key)
  float avail_w = 0, avail_h = 0;  // the space of the whole grid; avail_h ≤ 0: any height
  float chrome_w = 0, chrome_h = 0;  // per heatmap, around its cells: labels, legend, titles, stats line
  float gap_x = 8, gap_y = 8;
  float max_cell = 40;             // pixels per cell at most
  int max_columns = 4;
  float min_side = 120;            // below this many pixels per heatmap, fitting the height is given up (scroll)
};
struct GridLayout {
  int columns = 1, grid_rows = 1;
  float cell = 1;                  // pixels per cell
  float item_w = 0, item_h = 0;    // the box of one heatmap with its chrome
  bool fits_height = true;         // false: the grid is taller than avail_h (the panel scrolls; never the width)
};
// Every heatmap stays inside avail_w whatever n is. Among 1..max_columns columns, the one with the largest
// cells that fits both avail_w and avail_h; if that makes a heatmap smaller than min_side, the height is given
// up and the most columns whose heatmaps still reach min_side (each one fits the height on its own) are used.
GridLayout grid_layout(const GridSpec&);

// [SECTION] Token labels
// Every k-th label when cells are smaller than a line of text: the smallest k of 1, 2, 3, 4, 5, 10, 20, 25, 50,
// 100, … for which labels are at least min_gap pixels apart. Labels 0, k, 2k, … are drawn.
int label_step(float cell_px, float min_gap_px);
// "every 4th label" / "每 4 个标签标一个" in the current language (k = 1: empty).
std::string label_step_note(int step);

// [SECTION] Zoom and pan
// The visible window of a heatmap's cells: columns [x, x + cols/zoom), rows [y, y + rows/zoom) (fractional).
struct HeatmapView {
  float zoom = 1.0f;  // 1: the whole matrix
  float x = 0.0f, y = 0.0f;
};
// The zoom state a heatmap shares: its key without ".head.<i>", so the heads of a block zoom and pan together
// ("decoder.1.self_attn.head.2.P" → "decoder.1.self_attn.P").
std::string heatmap_view_key(const std::string& key);
float max_zoom(int rows, int cols);  // at least 2 cells stay visible along the longer axis
HeatmapView clamp_view(HeatmapView, int rows, int cols);
// Zooms by `factor` keeping the cell under (fx, fy) in place (fractions of the grid's width and height).
HeatmapView zoom_at(HeatmapView, int rows, int cols, float factor, float fx, float fy);
// Moves the view by a drag of (dx, dy) fractions of the grid's width and height (dragging right shows columns to the left).
HeatmapView pan_by(HeatmapView, int rows, int cols, float dx, float dy);

// [SECTION] Plot legends
struct Point {
  float x = 0, y = 0;
};
enum class LegendPlace { TopRight, TopLeft, BottomRight, BottomLeft, Outside, Count };
// Where a legend box of box_w × box_h (inset by `margin`) covers no data: the first free corner of TopRight,
// TopLeft, BottomRight, BottomLeft, judged by the polylines (screen points, segments sampled every 2 px);
// Outside (below the plot) when every corner covers some.
LegendPlace legend_place(const std::vector<std::vector<Point>>& polylines, const Rect& plot, float box_w, float box_h, float margin);
Rect legend_box(LegendPlace, const Rect& plot, float box_w, float box_h, float margin);  // for the four corners

}  // namespace qkv::app
