// QKV Lab — heatmaps as PNG files (CPU colormap of core/colormap.cpp), for the CLI and the app.
#pragma once

#include <optional>
#include <string>

#include "core/trace.h"

namespace qkv {

// Writes DIR/<head path>.<stage>__<tokens>.png for every head of sequence 0 and every stage in
// {S, S_scaled, S_masked, P}: P with the sequential colormap on [0, 1], scores with the diverging one
// (symmetric around 0), masked cells hatched grey. Returns the number of files or an Error.
Result<int> export_png(const Trace&, const std::string& dir, int cell_pixels = 16);

// A heatmap image of M, RGB8, cell_pixels per cell. signed_values: diverging colormap scaled by max |finite|.
std::vector<uint8_t> heatmap_rgb(const Mat& M, bool signed_values, int cell_pixels);
// One heatmap as a PNG file (atomic write); cells are scaled to about 512 pixels across.
std::optional<Error> write_heatmap_png(const std::string& path, const Mat& M, bool signed_values);

}  // namespace qkv
