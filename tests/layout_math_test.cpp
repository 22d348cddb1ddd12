// The heatmap grid, label thinning, zoom/pan and legend placement of app/widgets/layout_math.cpp, against
// hand-computed values and invariants (nothing off screen at any n; the cell under the mouse stays put).
#include "app/widgets/layout_math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qkv::app {
namespace {

// The Attention tab at 1440×900 with the sidebar: about 1000 × 700 px for the grid; 170 px of labels and
// legend beside each heatmap, 110 px of titles and column labels above it.
GridSpec heads_spec(int items, int n) {
  GridSpec g;
  g.items = items;
  g.rows = g.cols = n;
  g.avail_w = 1000;
  g.avail_h = 700;
  g.chrome_w = 170;
  g.chrome_h = 110;
  g.gap_x = 16;
  g.gap_y = 4;
  return g;
}

// Where each item goes, as the panel places them: left to right, `columns` per row.
Rect item_rect(const GridSpec& g, const GridLayout& l, int k) {
  const int c = k % l.columns, r = k / l.columns;
  const float x0 = static_cast<float>(c) * (l.item_w + g.gap_x), y0 = static_cast<float>(r) * (l.item_h + g.gap_y);
  return {x0, y0, x0 + g.chrome_w + l.cell * static_cast<float>(g.cols), y0 + g.chrome_h + l.cell * static_cast<float>(g.rows)};
}

TEST(GridLayout, EveryHeadInsideTheWidthAtAnyLength) {
  for (int n : {1, 3, 9, 48, 100, 300, 1000})
    for (int items : {1, 2, 3, 5, 9}) {
      const GridSpec g = heads_spec(items, n);
      const GridLayout l = grid_layout(g);
      ASSERT_GE(l.columns, 1);
      ASSERT_GT(l.cell, 0.0f);
      for (int k = 0; k < items; ++k) {
        const Rect r = item_rect(g, l, k);
        EXPECT_LE(r.x1, g.avail_w + 0.01f) << "n=" << n << " items=" << items << " head " << k;
        if (l.fits_height) EXPECT_LE(r.y1, g.avail_h + 0.01f) << "n=" << n << " items=" << items << " head " << k;
        else EXPECT_LE(r.height(), g.avail_h + 0.01f) << "each head fits the height on its own";
      }
    }
}

TEST(GridLayout, FortyEightTokensFillThePanel) {
  // 4 heads + their mean at n = 48: 3 columns × 2 rows; cells limited by the height: (700 − 4)/2 − 110 = 238 px
  // for 48 rows → 4.958 px; by the width: (1000 − 32)/3 − 170 = 152.67 px → 3.18 px. Width wins: 3.18 px.
  const GridLayout l = grid_layout(heads_spec(5, 48));
  EXPECT_EQ(l.columns, 3);
  EXPECT_NEAR(l.cell, (968.0f / 3.0f - 170.0f) / 48.0f, 1e-3f);
  // Two columns: (984/2 − 170)/48 = 6.71 px by width, (700 − 8)/3 − 110 = 120.67/48 = 2.51 px by height: worse.
  EXPECT_TRUE(l.fits_height);
  // One head on its own (the "one head large" view): min((1000 − 170)/48, (700 − 110)/48) = 12.29 px.
  const GridLayout one = grid_layout(heads_spec(1, 48));
  EXPECT_NEAR(one.cell, 590.0f / 48.0f, 1e-3f);
  EXPECT_GT(one.cell * 48.0f, 99.0f * 5.0f);
}

TEST(GridLayout, GivesUpTheHeightRatherThanShrinkingHeadsToNothing) {
  // 9 items in 700 px at n = 300: at best 4 columns × 3 rows of 0.40-px cells ((700 − 8)/3 − 110 = 120.7 px
  // for 300 rows), under min_side 200: scroll instead, 4 columns of (1752/4 − 170)/300 = 0.893-px cells.
  GridSpec g = heads_spec(9, 300);
  g.avail_w = 1800;
  g.min_side = 200;
  const GridLayout l = grid_layout(g);
  EXPECT_FALSE(l.fits_height);
  EXPECT_EQ(l.columns, 4);
  EXPECT_NEAR(l.cell, (1752.0f / 4.0f - 170.0f) / 300.0f, 1e-4f);
  EXPECT_GE(l.cell * 300.0f, g.min_side);
  // With unlimited height, cells are capped by max_cell only.
  GridSpec small = heads_spec(2, 4);
  small.avail_h = 0;
  EXPECT_FLOAT_EQ(grid_layout(small).cell, small.max_cell);
  EXPECT_EQ(grid_layout(small).columns, 2) << "ties go to more columns";
}

TEST(LabelStep, ThinsEvenlyInStepsPeopleCountIn) {
  EXPECT_EQ(label_step(20.0f, 14.0f), 1);
  EXPECT_EQ(label_step(14.0f, 14.0f), 1);
  EXPECT_EQ(label_step(7.0f, 14.0f), 2);
  EXPECT_EQ(label_step(5.0f, 14.0f), 3);
  EXPECT_EQ(label_step(3.0f, 14.0f), 5);
  EXPECT_EQ(label_step(1.0f, 14.0f), 20);
  EXPECT_EQ(label_step(0.6f, 14.0f), 25);
  EXPECT_EQ(label_step(0.5f, 14.0f), 50);
  for (float cell = 0.05f; cell < 30.0f; cell *= 1.1f) {
    const int k = label_step(cell, 14.0f);
    EXPECT_GE(cell * static_cast<float>(k), 14.0f) << "labels never overlap, cell " << cell;
  }
  EXPECT_EQ(label_step_note(1), "");
  EXPECT_EQ(label_step_note(2), "every 2nd label");
  EXPECT_EQ(label_step_note(3), "every 3rd label");
  EXPECT_EQ(label_step_note(4), "every 4th label");
  EXPECT_EQ(label_step_note(25), "every 25th label");
}

TEST(HeatmapView, ZoomKeepsTheCellUnderTheMouse) {
  const int rows = 48, cols = 48;
  HeatmapView v;
  // Zoom 2× with the mouse at 3/4 of the width and 1/4 of the height: cell (12, 36) stays under it.
  v = zoom_at(v, rows, cols, 2.0f, 0.75f, 0.25f);
  EXPECT_FLOAT_EQ(v.zoom, 2.0f);
  EXPECT_FLOAT_EQ(v.x + 0.75f * cols / v.zoom, 36.0f);
  EXPECT_FLOAT_EQ(v.y + 0.25f * rows / v.zoom, 12.0f);
  // The view never leaves the matrix, however far it is dragged or zoomed.
  v = pan_by(v, rows, cols, -10.0f, 10.0f);
  EXPECT_FLOAT_EQ(v.x, cols - cols / v.zoom);
  EXPECT_FLOAT_EQ(v.y, 0.0f);
  v = zoom_at(v, rows, cols, 1000.0f, 0.5f, 0.5f);
  EXPECT_FLOAT_EQ(v.zoom, max_zoom(rows, cols));
  v = zoom_at(v, rows, cols, 1e-6f, 0.5f, 0.5f);
  EXPECT_FLOAT_EQ(v.zoom, 1.0f);
  EXPECT_FLOAT_EQ(v.x, 0.0f);
  EXPECT_FLOAT_EQ(v.y, 0.0f);
  EXPECT_FLOAT_EQ(max_zoom(1, 1), 1.0f);
  const HeatmapView bad = clamp_view(HeatmapView{NAN, NAN, INFINITY}, 5, 5);
  EXPECT_FLOAT_EQ(bad.zoom, 1.0f);
  EXPECT_FLOAT_EQ(bad.x, 0.0f);
}

TEST(HeatmapView, HeadsOfABlockShareOneView) {
  EXPECT_EQ(heatmap_view_key("decoder.1.self_attn.head.2.P"), "decoder.1.self_attn.P");
  EXPECT_EQ(heatmap_view_key("decoder.1.self_attn.head.13.S_masked"), heatmap_view_key("decoder.1.self_attn.head.0.S_masked"));
  EXPECT_NE(heatmap_view_key("encoder.0.self_attn.head.0.P"), heatmap_view_key("encoder.0.self_attn.head.0.S"));
  EXPECT_EQ(heatmap_view_key("other:encoder.0.ffn.W_1"), "other:encoder.0.ffn.W_1");
}

TEST(LegendPlace, NeverOnACurve) {
  const Rect plot{0, 0, 400, 200};
  // A rising line from bottom left to top right: it crosses the top-right and bottom-left corners.
  const std::vector<std::vector<Point>> rising = {{{0, 200}, {400, 0}}};
  EXPECT_EQ(legend_place(rising, plot, 100, 40, 4), LegendPlace::TopLeft);
  // Only the end points are given: the corners are found covered because segments are sampled.
  const std::vector<std::vector<Point>> falling = {{{0, 0}, {400, 200}}};
  // A falling line crosses the top-left and bottom-right corners: top right is free.
  EXPECT_EQ(legend_place(falling, plot, 100, 40, 4), LegendPlace::TopRight);
  // A level line along the top and one along the bottom: no corner is free, the legend goes outside.
  const std::vector<std::vector<Point>> both = {{{0, 10}, {400, 10}}, {{0, 190}, {400, 190}}};
  EXPECT_EQ(legend_place(both, plot, 100, 40, 4), LegendPlace::Outside);
  // A box larger than the plot goes outside too.
  EXPECT_EQ(legend_place({}, plot, 500, 40, 4), LegendPlace::Outside);
  // Whatever the data, a chosen corner's box holds no sampled point of any curve.
  const std::vector<std::vector<Point>> wave = [] {
    std::vector<Point> p;
    for (int x = 0; x <= 400; x += 40) p.push_back({static_cast<float>(x), 100.0f + 90.0f * std::sin(x / 40.0f)});
    return std::vector<std::vector<Point>>{p};
  }();
  const LegendPlace place = legend_place(wave, plot, 80, 30, 4);
  if (place != LegendPlace::Outside) {
    const Rect box = legend_box(place, plot, 80, 30, 4);
    for (size_t k = 0; k + 1 < wave[0].size(); ++k)
      for (int t = 0; t <= 100; ++t) {
        const float u = t / 100.0f;
        const Point& a = wave[0][k];
        const Point& b = wave[0][k + 1];
        EXPECT_FALSE(box.contains(a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u));
      }
  }
}

TEST(Rect, Intersect) {
  const Rect r = intersect(Rect{0, 0, 100, 100}, Rect{50, -10, 200, 40});
  EXPECT_FLOAT_EQ(r.x0, 50);
  EXPECT_FLOAT_EQ(r.y0, 0);
  EXPECT_FLOAT_EQ(r.x1, 100);
  EXPECT_FLOAT_EQ(r.y1, 40);
  EXPECT_TRUE(intersect(Rect{0, 0, 10, 10}, Rect{20, 20, 30, 30}).empty());
}

}  // namespace
}  // namespace qkv::app
