// QKV Lab — heatmaps as PNG files (CPU colormap of core/colormap.cpp), for the CLI and the app.
#pragma once

#include <optional>
#include <string>

#include "core/trace.h"

namespace qkv {

// Writes DIR/<head path>.<stage>__<tokens>.png for every head of sequence 0 and every stage in
// {S, S_scaled, S_masked, P}: P with the sequential colormap on [0, 1], scores with the diverging one
// (symmetric around 0), masked cells hatched grey; each with a title (name and shape), token labels on both
// axes and a colour legend with its range, cells of at least min_cell px (fewer only past 85 tokens).
// DIR/index.json says where each image's grid lies (x0, y0, cell, rows, cols). Returns the number of images.
Result<int> export_png(const Trace&, const std::string& dir, int min_cell = 24);

// A labelled heatmap image (RGB8, white background): title at the top, column labels written upwards above the
// grid, row labels to its left, the legend to its right. The grid's top-left cell starts at (x0, y0).
struct LabelledHeatmap {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  int x0 = 0, y0 = 0, cell = 0;
  float lo = 0.0f, hi = 1.0f;  // the legend's range
};
LabelledHeatmap render_labelled_heatmap(const Mat& M, bool signed_values, const std::vector<std::string>* row_labels,
                                        const std::vector<std::string>* col_labels, const std::string& title, int min_cell = 24);

// A heatmap image of M, RGB8, cell_pixels per cell. signed_values: diverging colormap scaled by max |finite|.
std::vector<uint8_t> heatmap_rgb(const Mat& M, bool signed_values, int cell_pixels);
// One heatmap as a PNG file (atomic write); cells are scaled to about 512 pixels across.
std::optional<Error> write_heatmap_png(const std::string& path, const Mat& M, bool signed_values);

}  // namespace qkv
