// QKV Lab app — Gradients tab, weight-gradient norms per head and block: four small bars (Q, K, V, O) per cell, the
// numbers from labs::weight_gradient_norms.
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/plot.h"
#include "app/widgets/selectors.h"
#include "core/labs/norms.h"

#include <imgui.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace qkv::app::gradients {
namespace {

using labs::GradCell;
using labs::kProjectionNames;
constexpr const char* kLetters[4] = {"Q", "K", "V", "O"};
constexpr int kMaxHeadColumns = 32;  // ImGui tables take at most 64 columns: many heads are shown 32 at a time

using NormCell = labs::HeadGradNorms;
struct NormRow {
  BlockRef block;
  std::vector<NormCell> heads;  // h heads, then the whole block ("all heads")
};
// Derived from the trace (keyed by its generation), so this file-local instance is a cache, not app data.
struct NormTable {
  uint64_t generation = std::numeric_limits<uint64_t>::max();
  int heads = 0;
  std::vector<NormRow> rows;
  float max_by_kind[4] = {0, 0, 0, 0};      // over the heads' cells
  float max_all_by_kind[4] = {0, 0, 0, 0};  // over the whole-matrix cells
};
NormTable norm_table;

void update_norm_table(const AppState& s) {
  if (norm_table.generation == s.generation) return;
  norm_table = NormTable{};
  norm_table.generation = s.generation;
  const std::vector<BlockRef> refs = attention_blocks(s.session.model);
  std::vector<std::string> paths;
  for (const BlockRef& b : refs) paths.push_back(b.path());
  labs::WeightGradNorms g = labs::weight_gradient_norms(*s.trace, paths);
  norm_table.heads = g.heads;
  std::copy(g.max_by_kind, g.max_by_kind + 4, norm_table.max_by_kind);
  std::copy(g.max_all_by_kind, g.max_all_by_kind + 4, norm_table.max_all_by_kind);
  for (labs::BlockGradNorms& b : g.blocks) {
    const auto ref = std::find(paths.begin(), paths.end(), b.block);
    norm_table.rows.push_back({refs[ref - paths.begin()], std::move(b.heads)});
  }
}

// Four small bars (Q, K, V, O) in one table cell; the exact values in the tooltip.
void draw_norm_cell(const char* id, const NormCell& c, const float scale_by_kind[4], float width, const std::string& what) {
  ImDrawList* list = ImGui::GetWindowDrawList();
  ImFont* font = ImGui::GetFont();
  const float small = ImGui::GetFontSize() * 0.8f, line_h = small + 2.0f;
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const float letter_w = font->CalcTextSizeA(small, FLT_MAX, 0.0f, "Q").x + 4.0f;
  const float value_w = font->CalcTextSizeA(small, FLT_MAX, 0.0f, "0.00e-00").x + 4.0f;
  const bool show_values = width - letter_w - value_w >= 24.0f;
  const float bar_w = std::max(8.0f, width - letter_w - (show_values ? value_w : 0.0f) - 2.0f);
  for (int k = 0; k < 4; ++k) {
    const float y = p.y + k * line_h;
    list->AddText(font, small, ImVec2(p.x, y), dim, kLetters[k]);
    const float x0 = p.x + letter_w;
    if (c.state[k] == GradCell::Value) {
      const float f = scale_by_kind[k] > 0.0f && std::isfinite(c.v[k]) ? std::clamp(c.v[k] / scale_by_kind[k], 0.0f, 1.0f) : 0.0f;
      list->AddRectFilled(ImVec2(x0, y + 2.0f), ImVec2(x0 + bar_w, y + line_h - 2.0f), (ImGui::GetColorU32(ImGuiCol_FrameBg)));
      list->AddRectFilled(ImVec2(x0, y + 2.0f), ImVec2(x0 + std::max(1.0f, bar_w * f), y + line_h - 2.0f), palette(k));
      if (show_values) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "%.2e", c.v[k]);
        list->AddText(font, small, ImVec2(x0 + bar_w + 4.0f, y), text, buf);
      }
    } else {
      list->AddText(font, small, ImVec2(x0, y), dim,
                    c.state[k] == GradCell::Tied    ? tr("gradients.table.tied")
                    : c.state[k] == GradCell::Fixed ? tr("gradients.table.fixed")
                                                    : "—");
    }
  }
  ImGui::InvisibleButton(id, ImVec2(width, 4 * line_h));
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(what.c_str());
    ImGui::Separator();
    for (int k = 0; k < 4; ++k) {
      if (c.state[k] == GradCell::Value) ImGui::Text("‖∂L/∂%s‖_F = %s", kProjectionNames[k], sci(c.v[k]).c_str());
      else if (c.state[k] == GradCell::Tied) ImGui::TextDisabled("%s", tr("gradients.table.tied_tip"));
      else if (c.state[k] == GradCell::Fixed) ImGui::TextDisabled("%s", trf("gradients.table.fixed_tip", arg("name", kProjectionNames[k])).c_str());
      else ImGui::TextDisabled("%s", trf("gradients.table.not_computed", arg("name", kProjectionNames[k])).c_str());
    }
    ImGui::EndTooltip();
  }
}

}  // namespace

void DrawNormTableView(AppState& s) {
  update_norm_table(s);
  if (norm_table.rows.empty()) {
    ImGui::TextDisabled("%s", tr("gradients.table.none"));
    return;
  }
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID shared_id = ImGui::GetID("norms.shared_scale");
  bool shared = storage->GetBool(shared_id, false);
  wrapped_disabled(tr("gradients.table.explain"));
  if (ImGui::Checkbox(tr_id("gradients.table.shared"), &shared)) storage->SetBool(shared_id, shared);
  hover_tip(tr("gradients.table.shared_tip"));
  float scale_by_kind[4], scale_all_by_kind[4];
  const float global = *std::max_element(norm_table.max_by_kind, norm_table.max_by_kind + 4);
  const float global_all = *std::max_element(norm_table.max_all_by_kind, norm_table.max_all_by_kind + 4);
  for (int k = 0; k < 4; ++k) {
    scale_by_kind[k] = shared ? global : norm_table.max_by_kind[k];
    scale_all_by_kind[k] = shared ? global_all : norm_table.max_all_by_kind[k];
  }

  const int h = norm_table.heads;
  int first = 0;
  if (h > kMaxHeadColumns) {
    const ImGuiID first_id = ImGui::GetID("norms.first_head");
    first = std::clamp(storage->GetInt(first_id, 0), 0, h - kMaxHeadColumns);
    ImGui::SameLine(0, 24);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
    if (ImGui::SliderInt(tr_id("gradients.table.first_head"), &first, 0, h - kMaxHeadColumns, "%d", ImGuiSliderFlags_AlwaysClamp)) storage->SetInt(first_id, first);
    hover_tip(tr("gradients.table.first_head_tip"));
  }
  const int shown = std::min(h, kMaxHeadColumns);
  const float font = ImGui::GetFontSize();
  const ImGuiStyle& style = ImGui::GetStyle();
  const float avail = ImGui::GetContentRegionAvail().x;
  // The widest block title there can be, or a longer one of this model's (the titles follow the language).
  float block_text_w = ImGui::CalcTextSize(tr("gradients.table.block_width_sample")).x;
  for (const NormRow& row : norm_table.rows) block_text_w = std::max(block_text_w, ImGui::CalcTextSize(block_title(row.block).c_str()).x);
  const float block_w = block_text_w + 8.0f;
  const float col_w = std::max(font * 7.5f, (avail - block_w - (shown + 2) * style.CellPadding.x * 2.0f - 16.0f) / (shown + 1));
  const float row_h = 4 * (font * 0.8f + 2.0f) + style.CellPadding.y * 2.0f;
  const float content_w = block_w + (shown + 1) * col_w + (shown + 2) * style.CellPadding.x * 2.0f;
  const float full_h = font + style.CellPadding.y * 2.0f + row_h * static_cast<float>(norm_table.rows.size()) + 2.0f +
                       (content_w > avail ? style.ScrollbarSize : 0.0f);
  const float height = std::min(full_h, font * 26.0f);  // taller: the table scrolls, its header and block column stay
  const ImGuiTableFlags flags = ImGuiTableFlags_BordersInner | ImGuiTableFlags_BordersOuter | ImGuiTableFlags_RowBg |
                                ImGuiTableFlags_ScrollX | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("norms", shown + 2, flags, ImVec2(avail, height))) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  ImGui::TableSetupColumn(tr("gradients.table.col.block"), ImGuiTableColumnFlags_WidthFixed, block_w);
  for (int i = first; i < first + shown; ++i)
    ImGui::TableSetupColumn(trf("gradients.table.col.head", arg("i", i)).c_str(), ImGuiTableColumnFlags_WidthFixed, col_w);
  ImGui::TableSetupColumn(tr("gradients.table.col.all"), ImGuiTableColumnFlags_WidthFixed, col_w);
  ImGui::TableHeadersRow();
  for (const NormRow& row : norm_table.rows) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    const bool selected = row.block.path() == s.sel.block.path();
    if (ImGui::Selectable(block_title(row.block).c_str(), selected, 0, ImVec2(0, row_h - style.CellPadding.y * 2.0f))) {
      s.sel.block = row.block;
      s.sel.pinned_row = -1;
    }
    hover_tip(tr("gradients.table.select_tip"));
    ImGui::PushID(row.block.path().c_str());
    const int heads = static_cast<int>(row.heads.size()) - 1;  // then the whole block
    for (int i = first; i <= std::min(heads, first + shown); ++i) {
      const bool all = i == heads;
      if (!all && i >= first + shown) continue;
      ImGui::TableSetColumnIndex(all ? shown + 1 : i - first + 1);
      const std::string what = all ? trf("gradients.table.cell_all", arg("block", block_title(row.block)))
                                   : trf("gradients.table.cell_head", arg("block", block_title(row.block)), arg("i", i));
      ImGui::PushID(i);
      draw_norm_cell("cell", row.heads[i], all ? scale_all_by_kind : scale_by_kind, col_w, what);
      ImGui::PopID();
    }
    if (heads > first + shown) {  // the whole-block cell lies beyond the window of heads
      ImGui::TableSetColumnIndex(shown + 1);
      ImGui::PushID(heads);
      draw_norm_cell("cell", row.heads[heads], scale_all_by_kind, col_w, trf("gradients.table.cell_all", arg("block", block_title(row.block))));
      ImGui::PopID();
    }
    ImGui::PopID();
  }
  ImGui::EndTable();
}

}  // namespace qkv::app::gradients
