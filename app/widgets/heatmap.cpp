#include "app/widgets/heatmap.h"
#include "app/widgets/common.h"

#include "app/gl/heatmap_renderer.h"
#include "app/gl/texture.h"
#include "app/png_export.h"
#include "app/widgets/text_wrap.h"
#include "core/export.h"
#include "core/files.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_map>

namespace qkv::app {
namespace {

// Text rotated by −90° (reads bottom to top) whose baseline starts at bottom_left: drawn horizontally at the
// pivot, then each vertex (dx, dy) from the pivot is moved to (dy, −dx). The clip rectangle passed to AddText
// is the whole display, so glyphs are not culled before they are rotated into place.
void add_vertical_text(ImDrawList* list, ImVec2 bottom_left, ImU32 color, const char* text) {
  const float height = ImGui::GetFontSize();
  const ImVec2 pivot(bottom_left.x - height, bottom_left.y);
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const ImVec4 everywhere(-display.x, -display.y, 2.0f * display.x, 2.0f * display.y);
  const int first = list->VtxBuffer.Size;
  list->AddText(ImGui::GetFont(), height, pivot, color, text, nullptr, 0.0f, &everywhere);
  for (int i = first; i < list->VtxBuffer.Size; ++i) {
    ImDrawVert& v = list->VtxBuffer[i];
    const float dx = v.pos.x - pivot.x, dy = v.pos.y - pivot.y;
    v.pos = ImVec2(pivot.x + dy, pivot.y - dx);
  }
}

std::string truncated(const std::string& text, float width) {
  return cut_with_ellipsis(text, width, [](std::string_view s) { return ImGui::CalcTextSize(s.data(), s.data() + s.size()).x; });
}

const std::string& label_at(const std::vector<std::string>* labels, int i, std::string& scratch) {
  if (labels && i < static_cast<int>(labels->size())) return (*labels)[i];
  scratch = std::to_string(i);
  return scratch;
}

// What a heatmap's frame needs from its whole matrix (the colour range, the masked cells for the caption): computed once
// per matrix and trace generation, not every frame — at n = 1,000 that is a million cells per heatmap.
struct MatrixSummary {
  const float* data = nullptr;
  const float* mask = nullptr;
  uint64_t generation = 0;
  float max_abs_finite = 0.0f;
  int masked = 0;
};
float max_abs_finite(const Mat& M);
bool minus_inf(float v);
const MatrixSummary& summarize(const std::string& key, uint64_t generation, const Mat& M, const Mat* mask) {
  static std::unordered_map<std::string, MatrixSummary> cache;  // a cache of pure functions of the trace: not app data
  MatrixSummary& c = cache[key];
  if (c.data == M.data() && c.mask == (mask ? mask->data() : nullptr) && c.generation == generation) return c;
  c = MatrixSummary{M.data(), mask ? mask->data() : nullptr, generation, max_abs_finite(M), 0};
  for (Eigen::Index i = 0; i < M.rows(); ++i)
    for (Eigen::Index j = 0; j < M.cols(); ++j) c.masked += minus_inf(M(i, j)) || (mask && minus_inf((*mask)(i, j))) ? 1 : 0;
  if (cache.size() > 512) {  // heatmaps come and go with the model: start again rather than grow
    const MatrixSummary kept = c;
    cache.clear();
    return cache[key] = kept;
  }
  return c;
}

float max_abs_finite(const Mat& M) {
  float m = 0.0f;
  for (Eigen::Index k = 0; k < M.size(); ++k)
    if (std::isfinite(M.data()[k])) m = std::max(m, std::fabs(M.data()[k]));
  return m;
}

}  // namespace

std::string shape_label(const std::string& name, const Mat& M, const char* row_axis, const char* col_axis) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s  [%lld %s × %lld %s]", name.c_str(), static_cast<long long>(M.rows()), row_axis,
                static_cast<long long>(M.cols()), col_axis);
  return buf;
}

namespace {

// Label columns and the legend, measured from the labels (capped: a long token is shortened with "…").
struct Measure {
  float label_w = 0, col_label_h = 0, legend_w = 0, title_h = 0;
};

Measure measure(const HeatmapArgs& a) {
  Measure g;
  std::string scratch;
  const Mat& M = *a.M;
  for (int i = 0; i < M.rows(); ++i) g.label_w = std::max(g.label_w, ImGui::CalcTextSize(label_at(a.row_labels, i, scratch).c_str()).x);
  for (int j = 0; j < M.cols(); ++j) g.col_label_h = std::max(g.col_label_h, ImGui::CalcTextSize(label_at(a.col_labels, j, scratch).c_str()).x);
  const float label_cap = 110.0f * ImGui::GetIO().FontGlobalScale;
  g.label_w = std::min(g.label_w + 6.0f, label_cap);
  g.col_label_h = std::min(g.col_label_h + 6.0f, label_cap);
  // The legend: a 12-px ramp 10 px after the cells, then its labels ("1"/"0", or a signed range like −0.0015).
  g.legend_w = std::max(56.0f * ImGui::GetIO().FontGlobalScale, a.signed_scale ? ImGui::CalcTextSize("−0.00011").x + 28.0f : 0.0f);
  g.title_h = ImGui::GetTextLineHeightWithSpacing();
  return g;
}

bool minus_inf(float v) { return std::isinf(v) && v < 0; }

// Whether a heatmap (by its key) shows a lesson's tensor: the tensor itself, or a copy of it under a view prefix
// ("other_scale/…"), but not its gradient (dL/d…). Outlines, kept labels and scrolling into view all ask this.
bool shows_tensor(const std::string& key, const std::string& tensor) {
  if (key == tensor) return true;
  const bool suffix = key.size() > tensor.size() && key.compare(key.size() - tensor.size(), tensor.size(), tensor) == 0;
  return suffix && key.rfind("dL/d", 0) != 0;
}

// A label drawn in full over whatever is under it (the hovered row's or column's token).
void emphasised_text(ImDrawList* list, ImVec2 pos, const char* text, bool vertical) {
  const ImVec2 size = ImGui::CalcTextSize(text);
  const ImVec2 box = vertical ? ImVec2(size.y, size.x) : size;
  const ImVec2 p0 = vertical ? ImVec2(pos.x - size.y, pos.y - size.x) : pos;
  list->AddRectFilled(ImVec2(p0.x - 2, p0.y - 1), ImVec2(p0.x + box.x + 2, p0.y + box.y + 1), ImGui::GetColorU32(ImGuiCol_PopupBg));
  list->AddRect(ImVec2(p0.x - 2, p0.y - 1), ImVec2(p0.x + box.x + 2, p0.y + box.y + 1), IM_COL32(255, 210, 64, 255));
  if (vertical) add_vertical_text(list, pos, ImGui::GetColorU32(ImGuiCol_Text), text);
  else list->AddText(pos, ImGui::GetColorU32(ImGuiCol_Text), text);
}

}  // namespace

HeatmapChrome heatmap_chrome(const HeatmapArgs& a) {
  HeatmapChrome c;
  if (!a.M || a.M->size() == 0) return c;
  const Measure g = measure(a);
  c.left = g.label_w;
  c.top = g.title_h + g.col_label_h;
  c.right = g.legend_w;
  c.bottom = ImGui::GetStyle().ItemSpacing.y;
  return c;
}

HeatmapHover DrawHeatmap(AppState& s, const HeatmapArgs& a) {
  HeatmapHover hover;
  if (!a.M || a.M->size() == 0) {
    if (a.max_width > 0) ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + a.max_width);
    dim_text("%s", trf("widgets.heatmap.not_computed", arg("name", a.name)).c_str());
    if (a.max_width > 0) ImGui::PopTextWrapPos();
    return hover;
  }
  const Mat& M = *a.M;
  const int rows = static_cast<int>(M.rows()), cols = static_cast<int>(M.cols());
  // A lesson's highlighted tensor brings itself into view (its panel may be taller than the window), once.
  if (!s.scroll_to_tensor.empty() && shows_tensor(a.key, s.scroll_to_tensor)) {
    const float top = ImGui::GetCursorScreenPos().y, window_top = ImGui::GetWindowPos().y, window_bottom = window_top + ImGui::GetWindowHeight();
    if (top < window_top || top + ImGui::GetFontSize() * 6.0f > window_bottom) ImGui::SetScrollHereY(0.05f);
    s.scroll_to_tensor.clear();
  }
  const Measure g = measure(a);
  const float font = ImGui::GetFontSize();

  // Geometry: title; row labels | cells | legend; column labels (vertical) above the cells. Whole pixels per
  // cell from 8 px up (crisp, equal cells); fractional below, where rounding down would waste up to a fifth of
  // the space (a 4.9-px fit drawn at 4 px), and a long sequence still fits as an overview.
  const float avail_w = (a.max_width > 0 ? a.max_width : ImGui::GetContentRegionAvail().x) - g.label_w - g.legend_w;
  float fit = avail_w / static_cast<float>(std::max(1, cols));
  if (a.max_height > 0) fit = std::min(fit, (a.max_height - g.title_h - g.col_label_h - ImGui::GetStyle().ItemSpacing.y) / static_cast<float>(std::max(1, rows)));
  // Never wider than offered (a long sequence gets sub-pixel cells rather than running off the window).
  const float cell = std::clamp(fit >= 8.0f ? std::floor(fit) : fit, 0.05f, a.max_cell);

  // The zoomed view: cells [v.x, v.x + cols/zoom) × [v.y, v.y + rows/zoom) fill the same rectangle.
  const std::string view_key = a.view_key.empty() ? heatmap_view_key(a.key) : a.view_key;
  HeatmapView v = a.zoomable ? clamp_view(s.heatmap_views[view_key], rows, cols) : HeatmapView{};
  const float vis_c = static_cast<float>(cols) / v.zoom, vis_r = static_cast<float>(rows) / v.zoom;
  const float cell_x = cell * v.zoom, cell_y = cell * v.zoom;
  const int row_step = label_step(cell_y, font * 0.95f), col_step = label_step(cell_x, font * 0.95f);

  ImGui::PushID(a.key.c_str());
  // Title: name and shape, then what the view leaves out (thinned labels, zoom), never silently.
  const float total_w = g.label_w + cell * static_cast<float>(cols) + g.legend_w;
  // The title never widens the widget beyond what it was offered (a grid column would spill off the window).
  const std::string full_title = shape_label(a.name, M, a.row_axis, a.col_axis);
  const float offered = std::max(total_w, a.max_width > 0 ? a.max_width : ImGui::GetContentRegionAvail().x);
  // Too wide: the compact shape "P [10×9]" first (the axes are in the tooltip), then "…".
  char compact[200];
  std::snprintf(compact, sizeof compact, "%s [%lld×%lld]", a.name.c_str(), static_cast<long long>(M.rows()), static_cast<long long>(M.cols()));
  const std::string title = ImGui::CalcTextSize(full_title.c_str()).x <= offered ? full_title : truncated(compact, offered);
  std::string note;
  if (row_step > 1 || col_step > 1) note = label_step_note(std::max(row_step, col_step));
  if (v.zoom > 1.0f) note += (note.empty() ? "" : " · ") + trf("widgets.heatmap.zoom", arg("zoom", v.zoom));
  // The least of the note worth showing: its first five characters and "…" ("every…").
  std::string note_start;
  for (size_t i = 0, chars = 0; i < note.size(); ++i) {
    const bool first_byte = (static_cast<unsigned char>(note[i]) & 0xC0) != 0x80;  // a UTF-8 character starts here
    if (first_byte && ++chars > 5) break;
    note_start += note[i];
  }
  note_start += "…";
  const float note_min_w = ImGui::CalcTextSize(note_start.c_str()).x;
  const bool note_fits = !note.empty() && ImGui::CalcTextSize(title.c_str()).x + note_min_w < offered;
  ImGui::TextUnformatted(title.c_str());
  // Whatever the title line had no room for is in its tooltip, never dropped.
  if ((title != full_title || (!note.empty() && !note_fits)) && ImGui::IsItemHovered())
    ImGui::SetTooltip("%s%s%s", full_title.c_str(), note.empty() ? "" : "\n", note.c_str());
  if (note_fits) {
    const float room = offered - ImGui::CalcTextSize(title.c_str()).x - ImGui::GetStyle().ItemSpacing.x;
    ImGui::SameLine();
    ImGui::TextDisabled("%s", truncated(note, std::max(room, note_min_w)).c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", trf("widgets.heatmap.note_tip", arg("note", note)).c_str());
  }

  const ImVec2 origin(ImGui::GetCursorScreenPos().x, ImGui::GetCursorScreenPos().y);
  const ImVec2 grid0(origin.x + g.label_w, origin.y + g.col_label_h);
  const ImVec2 grid1(grid0.x + cell * static_cast<float>(cols), grid0.y + cell * static_cast<float>(rows));
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text);

  // Cells, coloured on the GPU; masked cells hatched.
  HeatmapLook look;
  look.signed_scale = a.signed_scale;
  const uint64_t generation = a.generation ? a.generation : s.generation;
  const bool has_mask = a.mask && a.mask->rows() == rows && a.mask->cols() == cols;
  const MatrixSummary& summary = summarize(a.key, generation, M, has_mask ? a.mask : nullptr);
  look.range = a.signed_scale ? std::max(summary.max_abs_finite, 1e-12f) : 1.0f;
  look.highlight_row = a.highlight_row >= 0 ? a.highlight_row : (a.pinned_row ? *a.pinned_row : -1);
  look.highlight_col = a.highlight_col;
  if (has_mask) look.mask = s.textures->get(a.key + "#mask", generation, *a.mask).id();
  const int masked = summary.masked;
  s.heatmaps->draw(list, s.textures->get(a.key, generation, M), grid0, grid1, look,
                   ImVec2(v.x / static_cast<float>(cols), v.y / static_cast<float>(rows)),
                   ImVec2((v.x + vis_c) / static_cast<float>(cols), (v.y + vis_r) / static_cast<float>(rows)));

  // Axis labels of the visible cells: every row_step-th / col_step-th.
  std::string scratch;
  int labels_drawn = 0;
  const int r0 = static_cast<int>(std::floor(v.y)), r1 = std::min(rows, static_cast<int>(std::ceil(v.y + vis_r)));
  const int c0 = static_cast<int>(std::floor(v.x)), c1 = std::min(cols, static_cast<int>(std::ceil(v.x + vis_c)));
  const auto row_y = [&](int i) { return grid0.y + (static_cast<float>(i) - v.y) * cell_y; };
  const auto col_x = [&](int j) { return grid0.x + (static_cast<float>(j) - v.x) * cell_x; };
  const auto row_label_pos = [&](const std::string& text, int i) {
    return ImVec2(grid0.x - 4.0f - ImGui::CalcTextSize(text.c_str()).x, row_y(i) + (cell_y - font) * 0.5f);
  };
  const auto col_label_pos = [&](int j) { return ImVec2(col_x(j) + (cell_x + font) * 0.5f, grid0.y - 4.0f); };
  // Rows and columns someone points at keep their label where labels are thinned: the pinned row, the
  // highlighted row/column, and the cells the open lesson outlines in this matrix.
  std::vector<int> keep_rows, keep_cols;
  if (a.pinned_row && *a.pinned_row >= 0) keep_rows.push_back(*a.pinned_row);
  if (a.highlight_row >= 0) keep_rows.push_back(a.highlight_row);
  if (a.highlight_col >= 0) keep_cols.push_back(a.highlight_col);
  for (const Highlight& h : s.highlights)
    if (shows_tensor(a.key, h.tensor)) {
      if (h.row >= 0) keep_rows.push_back(h.row);
      if (h.col >= 0) keep_cols.push_back(h.col);
    }
  for (int i = r0; i < r1; ++i) {
    if (i % row_step != 0) continue;
    const float centre = row_y(i) + cell_y * 0.5f;
    if (centre < grid0.y || centre > grid1.y) continue;
    const std::string text = truncated(label_at(a.row_labels, i, scratch), g.label_w - 6.0f);
    list->AddText(row_label_pos(text, i), text_col, text.c_str());
    ++labels_drawn;
  }
  for (int j = c0; j < c1; ++j) {
    if (j % col_step != 0) continue;
    const float centre = col_x(j) + cell_x * 0.5f;
    if (centre < grid0.x || centre > grid1.x) continue;
    const std::string text = truncated(label_at(a.col_labels, j, scratch), g.col_label_h - 6.0f);
    add_vertical_text(list, col_label_pos(j), text_col, text.c_str());
    ++labels_drawn;
  }

  for (int i : keep_rows)
    if (i >= r0 && i < r1 && i % row_step != 0 && row_y(i) + cell_y * 0.5f >= grid0.y && row_y(i) + cell_y * 0.5f <= grid1.y) {
      const std::string text = truncated(label_at(a.row_labels, i, scratch), g.label_w - 6.0f);
      emphasised_text(list, row_label_pos(text, i), text.c_str(), false);
      ++labels_drawn;
    }
  for (int j : keep_cols)
    if (j >= c0 && j < c1 && j % col_step != 0 && col_x(j) + cell_x * 0.5f >= grid0.x && col_x(j) + cell_x * 0.5f <= grid1.x) {
      const std::string text = truncated(label_at(a.col_labels, j, scratch), g.col_label_h - 6.0f);
      emphasised_text(list, col_label_pos(j), text.c_str(), true);
      ++labels_drawn;
    }

  // Where it was drawn, for tests: the cells' rectangle and the part of it visible in its window.
  {
    const ImVec2 clip0 = list->GetClipRectMin(), clip1 = list->GetClipRectMax();
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    const Rect full{grid0.x, grid0.y, grid1.x, grid1.y};
    const Rect seen = intersect(intersect(full, Rect{clip0.x, clip0.y, clip1.x, clip1.y}), Rect{0, 0, display.x, display.y});
    DrawnHeatmap d{a.key, seen.x0, seen.y0, seen.x1, seen.y1, rows, cols};
    d.full_x0 = full.x0, d.full_y0 = full.y0, d.full_x1 = full.x1, d.full_y1 = full.y1;
    d.row_label_step = row_step, d.col_label_step = col_step, d.labels_drawn = labels_drawn, d.masked_cells = masked, d.zoom = v.zoom;
    s.drawn_heatmaps.push_back(d);
  }

  // Legend: the colormap from its minimum to its maximum, drawn by the same shader.
  {
    static const Mat kSequentialRamp = [] {
      Mat ramp(64, 1);
      for (int i = 0; i < 64; ++i) ramp(i, 0) = 1.0f - i / 63.0f;
      return ramp;
    }();
    static const Mat kDivergingRamp = [] {
      Mat ramp(64, 1);
      for (int i = 0; i < 64; ++i) ramp(i, 0) = 1.0f - 2.0f * i / 63.0f;
      return ramp;
    }();
    const float bar_h = std::max(grid1.y - grid0.y, 60.0f);
    const ImVec2 l0(grid1.x + 10.0f, grid0.y), l1(grid1.x + 22.0f, grid0.y + bar_h);
    HeatmapLook legend_look;
    legend_look.signed_scale = a.signed_scale;
    legend_look.range = 1.0f;
    s.heatmaps->draw(list, s.textures->get(a.signed_scale ? "legend.diverging" : "legend.sequential", 0, a.signed_scale ? kDivergingRamp : kSequentialRamp),
                     l0, l1, legend_look);
    // Gradients can be tiny: below 0.01 the range is written with 3 significant digits (2.4e-05), not +0.0000.
    const char* range_format = look.range < 0.01f ? "%.2g" : look.range >= 1000.0f ? "%.0f" : "%.4g";
    const std::string top = a.signed_scale ? "+" + fmt(look.range, range_format) : "1",
                      bottom = a.signed_scale ? "−" + fmt(look.range, range_format) : "0";
    list->AddText(ImVec2(l1.x + 3.0f, l0.y - 2.0f), text_col, top.c_str());
    list->AddText(ImVec2(l1.x + 3.0f, l1.y - font), text_col, bottom.c_str());
    if (a.signed_scale) list->AddText(ImVec2(l1.x + 3.0f, (l0.y + l1.y - font) * 0.5f), text_col, "0");
  }

  // Cells the open lesson points at: a thick outline around the row, the column, the cell or the whole matrix.
  list->PushClipRect(ImVec2(grid0.x - 3, grid0.y - 3), ImVec2(grid1.x + 3, grid1.y + 3), true);
  for (const Highlight& h : s.highlights) {
    if (!shows_tensor(a.key, h.tensor)) continue;
    ImVec2 h0 = grid0, h1 = grid1;
    if (h.row >= 0 && h.row < rows) h0.y = row_y(h.row), h1.y = h0.y + cell_y;
    if (h.col >= 0 && h.col < cols) h0.x = col_x(h.col), h1.x = h0.x + cell_x;
    list->AddRect(ImVec2(h0.x - 2, h0.y - 2), ImVec2(h1.x + 2, h1.y + 2), IM_COL32(255, 210, 64, 255), 0.0f, 0, 3.0f);
  }
  list->PopClipRect();

  // Interaction: the grid is one invisible button. Wheel: zoom about the mouse; drag: pan; double-click: reset.
  ImGui::SetCursorScreenPos(grid0);
  ImGui::InvisibleButton("cells", ImVec2(grid1.x - grid0.x, grid1.y - grid0.y));
  const ImGuiIO& io = ImGui::GetIO();
  const float grid_w = grid1.x - grid0.x, grid_h = grid1.y - grid0.y;
  bool dragged = false;
  // In a panel that scrolls, the plain wheel keeps scrolling it and Ctrl+wheel zooms (as in a browser or a PDF
  // viewer); where the panel does not scroll, the plain wheel zooms.
  const bool page_scrolls = ImGui::GetCurrentWindow()->ScrollMax.y > 0.0f;
  const bool wheel_zooms = a.zoomable && (!page_scrolls || io.KeyCtrl);
  if (a.zoomable) {
    if (wheel_zooms) ImGui::SetItemUsingMouseWheel();
    const ImVec2 drag = ImGui::GetMouseDragDelta(0);
    dragged = drag.x != 0.0f || drag.y != 0.0f;
    HeatmapView next = v;
    if (wheel_zooms && ImGui::IsItemHovered() && io.MouseWheel != 0.0f)
      next = zoom_at(v, rows, cols, std::pow(1.25f, io.MouseWheel), (io.MousePos.x - grid0.x) / grid_w, (io.MousePos.y - grid0.y) / grid_h);
    if (ImGui::IsItemActive() && dragged && (io.MouseDelta.x != 0.0f || io.MouseDelta.y != 0.0f))
      next = pan_by(next, rows, cols, io.MouseDelta.x / grid_w, io.MouseDelta.y / grid_h);
    if (ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(0)) next = HeatmapView{};
    if (next.zoom != v.zoom || next.x != v.x || next.y != v.y) s.heatmap_views[view_key] = next;
  }
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = io.MousePos;
    hover.row = std::clamp(static_cast<int>(v.y + (m.y - grid0.y) / cell_y), 0, rows - 1);
    hover.col = std::clamp(static_cast<int>(v.x + (m.x - grid0.x) / cell_x), 0, cols - 1);
    hover.clicked = ImGui::IsMouseReleased(0) && !dragged;
    const int i = hover.row, j = hover.col;
    // The hovered row's and column's tokens in full, even where labels are thinned.
    {
      const std::string row_text = label_at(a.row_labels, i, scratch);
      emphasised_text(list, row_label_pos(truncated(row_text, g.label_w - 6.0f), i), truncated(row_text, g.label_w - 6.0f).c_str(), false);
      const std::string col_text = truncated(label_at(a.col_labels, j, scratch), g.col_label_h - 6.0f);
      emphasised_text(list, col_label_pos(j), col_text.c_str(), true);
    }
    ImGui::BeginTooltip();
    std::string q, k;
    ImGui::Text("%s %d: %s", a.row_axis, i, label_at(a.row_labels, i, q).c_str());
    ImGui::Text("%s %d: %s", a.col_axis, j, label_at(a.col_labels, j, k).c_str());
    ImGui::Separator();
    // The chain of the hovered cell: given, or looked up now (a lean trace derives the head's stages on this hover).
    const auto stage = [&](const Mat* given, const char* name) {
      return given || !a.stages_from ? given : a.stages_from->find(a.stages_head + "." + name);
    };
    const Mat *S = stage(a.S, "S"), *S_scaled = stage(a.S_scaled, "S_scaled"), *S_masked = stage(a.S_masked, "S_masked"), *P = stage(a.P, "P");
    if (S && S->rows() == rows && S->cols() == cols) {
      ImGui::TextUnformatted(trf("widgets.heatmap.tip_score", arg("value", fmt((*S)(i, j)))).c_str());
      if (S_scaled) ImGui::TextUnformatted(trf("widgets.heatmap.tip_scaled", arg("value", fmt((*S_scaled)(i, j)))).c_str());
      if (S_masked) {
        const bool masked_cell = minus_inf((*S_masked)(i, j));
        ImGui::TextUnformatted(trf("widgets.heatmap.tip_mask", arg("value", tr(masked_cell ? "widgets.heatmap.masked" : "widgets.heatmap.allowed"))).c_str());
      }
      if (P) ImGui::TextUnformatted(trf("widgets.heatmap.tip_probability", arg("value", fmt((*P)(i, j)))).c_str());
    } else {
      ImGui::TextUnformatted(trf("widgets.heatmap.tip_value", arg("value", fmt(M(i, j)))).c_str());
      if (has_mask && minus_inf((*a.mask)(i, j))) ImGui::TextUnformatted(tr("widgets.heatmap.tip_masked_before"));
    }
    if (a.pinned_row) ImGui::TextDisabled("%s", trf(*a.pinned_row == i ? "widgets.heatmap.tip_unpin" : "widgets.heatmap.tip_pin", arg("row", i)).c_str());
    if (a.zoomable) ImGui::TextDisabled("%s", tr(page_scrolls ? "widgets.heatmap.tip_zoom_ctrl" : "widgets.heatmap.tip_zoom"));
    ImGui::TextDisabled("%s", tr("widgets.heatmap.tip_save"));
    ImGui::EndTooltip();
    if (a.pinned_row && hover.clicked) *a.pinned_row = *a.pinned_row == i ? -1 : i;
  }
  // Right click: save this matrix (what it holds, not the screen) as PNG or CSV in the current folder.
  if (ImGui::BeginPopupContextItem("export")) {
    std::string file = a.key;
    for (char& c : file)
      if (c == ':' || c == '/') c = '_';
    if (ImGui::MenuItem(trf("widgets.heatmap.save_png", arg("file", file)).c_str())) {
      const auto e = write_heatmap_png(file + ".png", M, a.signed_scale);
      s.message = e ? phrase("file.not_saved", arg("reason", e->message())) : phrase("file.saved", arg("path", file + ".png"));
    }
    if (ImGui::MenuItem(trf("widgets.heatmap.save_csv", arg("file", file)).c_str())) {
      const auto e = write_file_atomically(file + ".csv", tensor_csv(M, a.row_labels, a.col_labels));
      s.message = e ? phrase("file.not_saved", arg("reason", e->message())) : phrase("file.saved", arg("path", file + ".csv"));
    }
    ImGui::EndPopup();
  }
  // Leave the cursor below the whole widget.
  ImGui::SetCursorScreenPos(ImVec2(origin.x, std::max(grid1.y, grid0.y + 60.0f) + ImGui::GetStyle().ItemSpacing.y));
  ImGui::Dummy(ImVec2(total_w, 0.0f));
  ImGui::PopID();
  return hover;
}

void DrawRowBars(const char* id, const RowVec& values, const std::vector<std::string>& labels, float width) {
  ImGui::PushID(id);
  ImDrawList* list = ImGui::GetWindowDrawList();
  const float row_h = ImGui::GetFontSize() + 4.0f;
  float label_w = 0.0f;
  for (const std::string& l : labels) label_w = std::min(std::max(label_w, ImGui::CalcTextSize(l.c_str()).x), 120.0f);
  // Room for the widest value after the longest bar: at the font's size (presentation mode's large type included).
  float value_w = 0.0f;
  for (int j = 0; j < values.size(); ++j) value_w = std::max(value_w, ImGui::CalcTextSize(fmt(values[j]).c_str()).x);
  const float bar_w = std::max(40.0f, width - label_w - value_w - 16.0f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float max_v = std::max(values.maxCoeff(), 1e-12f);
  for (int j = 0; j < values.size(); ++j) {
    const float y = origin.y + j * row_h;
    const std::string label = j < static_cast<int>(labels.size()) ? truncated(labels[j], 120.0f) : std::to_string(j);
    list->AddText(ImVec2(origin.x + label_w - ImGui::CalcTextSize(label.c_str()).x, y), ImGui::GetColorU32(ImGuiCol_Text), label.c_str());
    const float w = std::isfinite(values[j]) ? bar_w * std::max(0.0f, values[j]) / max_v : 0.0f;
    list->AddRectFilled(ImVec2(origin.x + label_w + 6.0f, y + 2.0f), ImVec2(origin.x + label_w + 6.0f + w, y + row_h - 2.0f),
                        ImGui::GetColorU32(ImGuiCol_PlotHistogram));
    list->AddText(ImVec2(origin.x + label_w + 10.0f + w, y), ImGui::GetColorU32(ImGuiCol_Text), fmt(values[j]).c_str());
  }
  ImGui::Dummy(ImVec2(width, row_h * values.size()));
  ImGui::PopID();
}

}  // namespace qkv::app
