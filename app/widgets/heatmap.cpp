#include "app/widgets/heatmap.h"
#include "app/widgets/common.h"

#include "app/gl/heatmap_renderer.h"
#include "app/gl/texture.h"
#include "app/png_export.h"
#include "core/export.h"
#include "core/files.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

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
  if (ImGui::CalcTextSize(text.c_str()).x <= width) return text;
  std::string out = text;
  while (!out.empty() && ImGui::CalcTextSize((out + "…").c_str()).x > width) {
    out.pop_back();
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();  // whole UTF-8 chars
  }
  return out + "…";
}

const std::string& label_at(const std::vector<std::string>* labels, int i, std::string& scratch) {
  if (labels && i < static_cast<int>(labels->size())) return (*labels)[i];
  scratch = std::to_string(i);
  return scratch;
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

HeatmapHover DrawHeatmap(AppState& s, const HeatmapArgs& a) {
  HeatmapHover hover;
  if (!a.M || a.M->size() == 0) {
    ImGui::TextDisabled("%s: not computed for this configuration", a.name.c_str());
    return hover;
  }
  const Mat& M = *a.M;
  const int rows = static_cast<int>(M.rows()), cols = static_cast<int>(M.cols());
  ImGui::PushID(a.key.c_str());
  ImGui::TextUnformatted(shape_label(a.name, M, a.row_axis, a.col_axis).c_str());

  // Geometry: row labels | cells | legend; column labels above the cells.
  std::string scratch;
  // Row labels take the width of the longest row token; column labels (drawn vertically) the height of the
  // longest column token; both capped so a long token is shortened with "…" (the tooltip has it whole).
  float label_w = 0.0f, col_label_len = 0.0f;
  for (int i = 0; i < rows; ++i) label_w = std::max(label_w, ImGui::CalcTextSize(label_at(a.row_labels, i, scratch).c_str()).x);
  for (int j = 0; j < cols; ++j) col_label_len = std::max(col_label_len, ImGui::CalcTextSize(label_at(a.col_labels, j, scratch).c_str()).x);
  const float label_cap = 110.0f * ImGui::GetIO().FontGlobalScale;
  label_w = std::min(label_w + 6.0f, label_cap);
  col_label_len = std::min(col_label_len + 6.0f, label_cap);
  // The legend: a 12-px ramp 10 px after the cells, then its labels ("1"/"0", or a signed range like −0.0015).
  const float legend_w = std::max(56.0f * ImGui::GetIO().FontGlobalScale, a.signed_scale ? ImGui::CalcTextSize("−0.00011").x + 28.0f : 0.0f);
  const float avail = (a.max_width > 0 ? a.max_width : ImGui::GetContentRegionAvail().x) - label_w - legend_w;
  // Whole pixels per cell when cells are large enough to read (crisp, equal cells); fractional below that, so
  // a long sequence still fits as an overview (the tooltip gives every exact value).
  const float fit = avail / std::max(1, cols);
  const float cell = std::clamp(fit >= 4.0f ? std::floor(fit) : fit, 0.5f, a.max_cell);
  const bool show_col_labels = cell >= ImGui::GetFontSize() * 0.9f;
  const bool show_row_labels = cell >= ImGui::GetFontSize() * 0.9f;
  const float col_label_h = show_col_labels ? col_label_len : 0.0f;

  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 grid0(origin.x + label_w, origin.y + col_label_h);
  const ImVec2 grid1(grid0.x + cell * cols, grid0.y + cell * rows);
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text);

  // Cells, coloured on the GPU.
  HeatmapLook look;
  look.signed_scale = a.signed_scale;
  look.range = a.signed_scale ? std::max(max_abs_finite(M), 1e-12f) : 1.0f;
  look.highlight_row = a.highlight_row >= 0 ? a.highlight_row : (a.pinned_row ? *a.pinned_row : -1);
  look.highlight_col = a.highlight_col;
  s.heatmaps->draw(list, s.textures->get(a.key, a.generation ? a.generation : s.generation, M), grid0, grid1, look);
  s.drawn_heatmaps.push_back({a.key, grid0.x, grid0.y, grid1.x, grid1.y, rows, cols});

  // Axis labels.
  if (show_row_labels)
    for (int i = 0; i < rows; ++i) {
      const std::string text = truncated(label_at(a.row_labels, i, scratch), label_w - 6.0f);
      const float w = ImGui::CalcTextSize(text.c_str()).x;
      list->AddText(ImVec2(grid0.x - 4.0f - w, grid0.y + i * cell + (cell - ImGui::GetFontSize()) * 0.5f), text_col, text.c_str());
    }
  if (show_col_labels)
    for (int j = 0; j < cols; ++j) {
      const std::string text = truncated(label_at(a.col_labels, j, scratch), col_label_h - 6.0f);
      add_vertical_text(list, ImVec2(grid0.x + j * cell + (cell + ImGui::GetFontSize()) * 0.5f, grid0.y - 4.0f), text_col, text.c_str());
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
    list->AddText(ImVec2(l1.x + 3.0f, l1.y - ImGui::GetFontSize()), text_col, bottom.c_str());
    if (a.signed_scale) list->AddText(ImVec2(l1.x + 3.0f, (l0.y + l1.y - ImGui::GetFontSize()) * 0.5f), text_col, "0");
  }

  // Cells the open lesson points at: a thick outline around the row, the column, the cell or the whole matrix.
  for (const Highlight& h : s.highlights) {
    // The tensor itself, or a copy of it under a view prefix ("other_scale/…"), but not its gradient (dL/d…).
    const bool suffix = a.key.size() > h.tensor.size() && a.key.compare(a.key.size() - h.tensor.size(), h.tensor.size(), h.tensor) == 0;
    if (a.key != h.tensor && !(suffix && a.key.rfind("dL/d", 0) != 0)) continue;
    const float cw = (grid1.x - grid0.x) / static_cast<float>(cols), ch = (grid1.y - grid0.y) / static_cast<float>(rows);
    ImVec2 h0 = grid0, h1 = grid1;
    if (h.row >= 0 && h.row < rows) h0.y = grid0.y + ch * static_cast<float>(h.row), h1.y = h0.y + ch;
    if (h.col >= 0 && h.col < cols) h0.x = grid0.x + cw * static_cast<float>(h.col), h1.x = h0.x + cw;
    list->AddRect(ImVec2(h0.x - 2, h0.y - 2), ImVec2(h1.x + 2, h1.y + 2), IM_COL32(255, 210, 64, 255), 0.0f, 0, 3.0f);
  }

  // Interaction: the grid is one invisible button.
  ImGui::SetCursorScreenPos(grid0);
  ImGui::InvisibleButton("cells", ImVec2(grid1.x - grid0.x, grid1.y - grid0.y));
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    hover.row = std::clamp(static_cast<int>((m.y - grid0.y) / cell), 0, rows - 1);
    hover.col = std::clamp(static_cast<int>((m.x - grid0.x) / cell), 0, cols - 1);
    const int i = hover.row, j = hover.col;
    ImGui::BeginTooltip();
    std::string q, k;
    ImGui::Text("%s %d: %s", a.row_axis, i, label_at(a.row_labels, i, q).c_str());
    ImGui::Text("%s %d: %s", a.col_axis, j, label_at(a.col_labels, j, k).c_str());
    ImGui::Separator();
    if (a.S && a.S->rows() == rows && a.S->cols() == cols) {
      ImGui::Text("score  S = q·k        %s", fmt((*a.S)(i, j)).c_str());
      if (a.S_scaled) ImGui::Text("scaled S/√d_k        %s", fmt((*a.S_scaled)(i, j)).c_str());
      if (a.S_masked) {
        const bool masked = std::isinf((*a.S_masked)(i, j)) && (*a.S_masked)(i, j) < 0;
        ImGui::Text("mask                 %s", masked ? "−∞ (masked)" : "0 (allowed)");
      }
      if (a.P) ImGui::Text("probability P        %s", fmt((*a.P)(i, j)).c_str());
    } else {
      ImGui::Text("value  %s", fmt(M(i, j)).c_str());
    }
    if (a.pinned_row) ImGui::TextDisabled("click to %s row %d as a bar chart", *a.pinned_row == i ? "unpin" : "pin", i);
    ImGui::TextDisabled("right-click to save this matrix as PNG or CSV");
    ImGui::EndTooltip();
    if (a.pinned_row && ImGui::IsItemClicked()) *a.pinned_row = *a.pinned_row == i ? -1 : i;
  }
  // Right click: save this matrix (what it holds, not the screen) as PNG or CSV in the current folder.
  if (ImGui::BeginPopupContextItem("export")) {
    std::string file = a.key;
    for (char& c : file)
      if (c == ':' || c == '/') c = '_';
    if (ImGui::MenuItem(("Save as " + file + ".png").c_str())) {
      const auto e = write_heatmap_png(file + ".png", M, a.signed_scale);
      s.message = e ? "Not saved: " + e->message() : "Saved " + file + ".png";
    }
    if (ImGui::MenuItem(("Save as " + file + ".csv (with token labels)").c_str())) {
      const auto e = write_file_atomically(file + ".csv", tensor_csv(M, a.row_labels, a.col_labels));
      s.message = e ? "Not saved: " + e->message() : "Saved " + file + ".csv";
    }
    ImGui::EndPopup();
  }
  // Leave the cursor below the whole widget.
  ImGui::SetCursorScreenPos(ImVec2(origin.x, std::max(grid1.y, grid0.y + 60.0f) + ImGui::GetStyle().ItemSpacing.y));
  ImGui::Dummy(ImVec2(label_w + cell * cols + legend_w, 0.0f));
  ImGui::PopID();
  return hover;
}

void DrawRowBars(const char* id, const RowVec& values, const std::vector<std::string>& labels, float width) {
  ImGui::PushID(id);
  ImDrawList* list = ImGui::GetWindowDrawList();
  const float row_h = ImGui::GetFontSize() + 4.0f;
  float label_w = 0.0f;
  for (const std::string& l : labels) label_w = std::min(std::max(label_w, ImGui::CalcTextSize(l.c_str()).x), 120.0f);
  const float bar_w = std::max(40.0f, width - label_w - 70.0f);
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
