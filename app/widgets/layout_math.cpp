#include "app/widgets/layout_math.h"

#include "core/i18n.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace qkv::app {

Rect intersect(const Rect& a, const Rect& b) {
  return {std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1), std::min(a.y1, b.y1)};
}

// [SECTION] A grid of equal heatmaps

namespace {

struct Slot {
  float w, h, cell;
};

// The slot of one heatmap with `columns` columns; h_rows: how many heatmaps must share avail_h vertically.
Slot slot_for(const GridSpec& g, int columns, int h_rows) {
  const float w = (g.avail_w - g.gap_x * static_cast<float>(columns - 1)) / static_cast<float>(columns);
  float cell = (w - g.chrome_w) / static_cast<float>(std::max(1, g.cols));
  float h = 0.0f;
  if (g.avail_h > 0.0f) {
    h = (g.avail_h - g.gap_y * static_cast<float>(h_rows - 1)) / static_cast<float>(h_rows);
    cell = std::min(cell, (h - g.chrome_h) / static_cast<float>(std::max(1, g.rows)));
  }
  cell = std::min(cell, g.max_cell);
  if (g.avail_h <= 0.0f) h = g.chrome_h + cell * static_cast<float>(g.rows);
  return {w, h, cell};
}

}  // namespace

GridLayout grid_layout(const GridSpec& g) {
  const int items = std::max(1, g.items);
  const int max_c = std::clamp(g.max_columns, 1, items);
  const float longest = static_cast<float>(std::max(1, std::max(g.rows, g.cols)));
  GridLayout best;
  best.cell = -1.0f;
  for (int c = 1; c <= max_c; ++c) {
    const int r = (items + c - 1) / c;
    const Slot s = slot_for(g, c, r);
    // Ties (cells capped by max_cell) go to more columns: fewer rows keep more of the grid above the fold.
    if (s.cell >= best.cell - 1e-4f) best = {c, r, s.cell, s.w, s.h, true};
  }
  if (g.avail_h <= 0.0f || best.cell * longest >= g.min_side) return best;
  // Fitting everything in the height leaves unreadably small heatmaps: scroll instead. Each heatmap still fits
  // the height on its own, and as many columns are used as keep every heatmap at least min_side.
  for (int c = max_c; c >= 1; --c) {
    const int r = (items + c - 1) / c;
    const Slot s = slot_for(g, c, 1);
    if (s.cell * longest >= g.min_side || c == 1) return {c, r, s.cell, s.w, s.h, r == 1};
  }
  return best;
}

// [SECTION] Token labels

int label_step(float cell_px, float min_gap_px) {
  if (!(cell_px > 0.0f)) return 1 << 30;
  // 1, 2, 3, 4, 5, then 10, 20, 25, 50, 100, 200, 250, 500, …: steps people count in.
  for (int step : {1, 2, 3, 4, 5})
    if (cell_px * static_cast<float>(step) >= min_gap_px) return step;
  for (int scale = 10; scale < (1 << 26); scale *= 10)
    for (int step : {scale, 2 * scale, 5 * scale / 2, 5 * scale})
      if (cell_px * static_cast<float>(step) >= min_gap_px) return step;
  return 1 << 30;
}

std::string label_step_note(int step) {
  if (step <= 1) return {};
  // English counts with an ordinal ("every 3rd label"); Chinese with the number ("每 3 个标签标一个").
  std::string nth = std::to_string(step);
  if (i18n::language() == Lang::En) {
    const int last2 = step % 100, last = step % 10;
    nth += (last2 >= 11 && last2 <= 13) ? "th" : last == 1 ? "st" : last == 2 ? "nd" : last == 3 ? "rd" : "th";
  }
  // The unit tests of this file run without the catalog (tests/layout_math_test.cpp): the English text then.
  if (!i18n::has("widgets.heatmap.label_step")) return "every " + nth + " label";
  return i18n::trf("widgets.heatmap.label_step", i18n::arg("nth", nth));
}

// [SECTION] Zoom and pan

std::string heatmap_view_key(const std::string& key) {
  const size_t at = key.find(".head.");
  if (at == std::string::npos) return key;
  size_t end = at + 6;
  while (end < key.size() && std::isdigit(static_cast<unsigned char>(key[end]))) ++end;
  return key.substr(0, at) + key.substr(end);
}

float max_zoom(int rows, int cols) { return std::max(1.0f, static_cast<float>(std::max(rows, cols)) / 2.0f); }

HeatmapView clamp_view(HeatmapView v, int rows, int cols) {
  v.zoom = std::clamp(std::isfinite(v.zoom) ? v.zoom : 1.0f, 1.0f, max_zoom(rows, cols));
  const float vis_c = static_cast<float>(cols) / v.zoom, vis_r = static_cast<float>(rows) / v.zoom;
  v.x = std::clamp(std::isfinite(v.x) ? v.x : 0.0f, 0.0f, static_cast<float>(cols) - vis_c);
  v.y = std::clamp(std::isfinite(v.y) ? v.y : 0.0f, 0.0f, static_cast<float>(rows) - vis_r);
  return v;
}

HeatmapView zoom_at(HeatmapView v, int rows, int cols, float factor, float fx, float fy) {
  v = clamp_view(v, rows, cols);
  // The cell under the mouse before: x + fx·cols/zoom; after, the same cell under the same fraction.
  const float cx = v.x + fx * static_cast<float>(cols) / v.zoom, cy = v.y + fy * static_cast<float>(rows) / v.zoom;
  HeatmapView out = v;
  out.zoom = std::clamp(v.zoom * factor, 1.0f, max_zoom(rows, cols));
  out.x = cx - fx * static_cast<float>(cols) / out.zoom;
  out.y = cy - fy * static_cast<float>(rows) / out.zoom;
  return clamp_view(out, rows, cols);
}

HeatmapView pan_by(HeatmapView v, int rows, int cols, float dx, float dy) {
  v = clamp_view(v, rows, cols);
  v.x -= dx * static_cast<float>(cols) / v.zoom;
  v.y -= dy * static_cast<float>(rows) / v.zoom;
  return clamp_view(v, rows, cols);
}

// [SECTION] Plot legends

Rect legend_box(LegendPlace place, const Rect& plot, float box_w, float box_h, float margin) {
  const bool right = place == LegendPlace::TopRight || place == LegendPlace::BottomRight;
  const bool top = place == LegendPlace::TopRight || place == LegendPlace::TopLeft;
  const float x0 = right ? plot.x1 - margin - box_w : plot.x0 + margin;
  const float y0 = top ? plot.y0 + margin : plot.y1 - margin - box_h;
  return {x0, y0, x0 + box_w, y0 + box_h};
}

LegendPlace legend_place(const std::vector<std::vector<Point>>& polylines, const Rect& plot, float box_w, float box_h, float margin) {
  if (box_w + 2 * margin > plot.width() || box_h + 2 * margin > plot.height()) return LegendPlace::Outside;
  for (int p = 0; p < static_cast<int>(LegendPlace::Outside); ++p) {
    const LegendPlace place = static_cast<LegendPlace>(p);
    // The box grown by 3 px: a curve grazing the text is as bad as one crossing it.
    Rect box = legend_box(place, plot, box_w, box_h, margin);
    box = {box.x0 - 3, box.y0 - 3, box.x1 + 3, box.y1 + 3};
    bool covered = false;
    for (const std::vector<Point>& line : polylines) {
      for (size_t k = 0; k < line.size() && !covered; ++k) {
        const Point& a = line[k];
        if (!std::isfinite(a.x) || !std::isfinite(a.y)) continue;
        if (box.contains(a.x, a.y)) covered = true;
        if (k + 1 >= line.size() || covered) continue;
        const Point& b = line[k + 1];
        if (!std::isfinite(b.x) || !std::isfinite(b.y)) continue;
        const float len = std::hypot(b.x - a.x, b.y - a.y);
        const int steps = std::min(4096, static_cast<int>(len / 2.0f));
        for (int t = 1; t < steps && !covered; ++t) {
          const float u = static_cast<float>(t) / static_cast<float>(steps);
          if (box.contains(a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u)) covered = true;
        }
      }
      if (covered) break;
    }
    if (!covered) return place;
  }
  return LegendPlace::Outside;
}

}  // namespace qkv::app
