// QKV Lab app — the Mask lab: none / causal / padding / custom cells (click S_masked) and their combinations;
// the scores with −∞ beside the renormalised rows; one query row inspected, including a fully masked one.
//
// [SECTION] Mask controls
// [SECTION] The two heatmaps
// [SECTION] One row, the row-sum check
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/paths.h"
#include "core/ops.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

const ImVec4 kRed(1.0f, 0.45f, 0.4f, 1.0f);
const ImVec4 kGreen(0.4f, 0.85f, 0.5f, 1.0f);

// The mask the selected block uses: the decoder's self-attention has its own; the encoder's also lends its
// padding bit to cross-attention.
MaskFlags& block_mask(Session& session, const BlockRef& b) { return b.decoder && !b.cross ? session.decoder_mask : session.encoder_mask; }

bool is_custom(const Session& session, int i, int j) {
  return std::find(session.custom_cells.begin(), session.custom_cells.end(), Cell{i, j}) != session.custom_cells.end();
}

// [SECTION] Mask controls

bool mask_bit(const char* label, MaskFlags& flags, MaskFlags bit, const char* tip) {
  bool on = (flags & bit) != 0;
  const bool changed = ImGui::Checkbox(label, &on);
  if (changed) flags = on ? (flags | bit) : (flags & ~bit);
  hover_tip(tip);
  return changed;
}

void draw_mask_controls(AppState& s) {
  const BlockRef& b = s.sel.block;
  MaskFlags& flags = block_mask(s.session, b);
  ImGui::AlignTextToFramePadding();
  if (b.cross) {
    ImGui::TextUnformatted(tr("mask.cross_title"));
    same_line_if_fits(ImGui::GetFrameHeight(), tr_id("mask.padding_encoder"));
    if (mask_bit(tr_id("mask.padding_encoder"), flags, kMaskPadding, tr("mask.padding_encoder_tip"))) s.dirty = true;
    dim_text("%s", tr("mask.cross_note"));
    return;
  }
  ImGui::TextUnformatted(tr(b.decoder ? "mask.decoder_title" : "mask.encoder_title"));
  same_line_if_fits(ImGui::GetFrameHeight(), tr_id("mask.causal"));
  bool changed = mask_bit(tr_id("mask.causal"), flags, kMaskCausal, tr("mask.causal_tip"));
  same_line_if_fits(ImGui::GetFrameHeight(), tr_id("mask.padding"));
  changed |= mask_bit(tr_id("mask.padding"), flags, kMaskPadding, tr("mask.padding_tip"));
  same_line_if_fits(ImGui::GetFrameHeight(), tr_id("mask.custom"));
  changed |= mask_bit(tr_id("mask.custom"), flags, kMaskCustom, tr("mask.custom_tip"));
  const std::string named = "= \"" + mask_name(flags) + "\"";
  same_line_if_fits(0.0f, named.c_str());
  dim_text("%s", named.c_str());
  if (changed) s.dirty = true;
}

// [SECTION] The two heatmaps

void toggle_cell(AppState& s, int i, int j) {
  std::vector<Cell>& cells = s.session.custom_cells;
  if (const auto it = std::find(cells.begin(), cells.end(), Cell{i, j}); it != cells.end()) cells.erase(it);
  else cells.push_back({i, j});
  block_mask(s.session, s.sel.block) |= kMaskCustom;
  s.dirty = true;
}

// max_height: the two heatmaps with their captions fit it (0: any height).
void draw_heatmaps(AppState& s, const std::string& head, int inspected_row, float max_height) {
  const Trace& t = *s.trace;
  const BlockRef& b = s.sel.block;
  HeatmapArgs a;
  a.row_labels = &query_tokens(s, b);
  a.col_labels = &key_tokens(s, b);
  a.S = t.tensors.find(head + ".S");
  a.S_scaled = t.tensors.find(head + ".S_scaled");
  a.S_masked = t.tensors.find(head + ".S_masked");
  a.P = t.tensors.find(head + ".P");
  a.highlight_row = inspected_row;
  const float half = ImGui::GetContentRegionAvail().x * 0.5f - ImGui::GetStyle().ItemSpacing.x;
  a.max_width = half;
  // The equations are the heatmaps' titles; the key to the hatch follows the left one (up to two wrapped lines).
  const float line = ImGui::GetTextLineHeightWithSpacing();
  if (max_height > 0) a.max_height = std::max(max_height - 2.0f * line, 6.0f * line);

  ImGui::BeginGroup();
  HeatmapArgs left = a;
  left.key = head + ".S_masked";
  left.M = a.S_masked;
  left.name = "S_masked = S/√d_k + M";
  left.signed_scale = true;
  const HeatmapHover hover = DrawHeatmap(s, left);
  if (!b.cross && hover.row >= 0) {
    if (hover.clicked) toggle_cell(s, hover.row, hover.col);
    dim_text("%s", trf(is_custom(s.session, hover.row, hover.col) ? "mask.click_remove" : "mask.click_add", arg("i", hover.row),
                       arg("j", hover.col)).c_str());
  } else {
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    if (b.cross) text_wrapped_unformatted(tr("mask.hatch"));
    else text_wrapped_unformatted(trf("mask.hatch_click", arg("n", s.session.custom_cells.size())));
    ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
  }
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  HeatmapArgs right = a;
  right.key = head + ".P";
  right.M = a.P;
  right.name = "P = softmax(S_masked)";
  right.signed_scale = false;
  right.mask = a.S_masked;
  DrawHeatmap(s, right);
  ImGui::EndGroup();
}

// What each mask is for, below the heatmaps so the matrices stay above the fold (presentation at 1280×720).
void draw_mask_notes(const BlockRef& b) {
  if (b.cross) return;
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  for (const char* key : {"mask.note.none", "mask.note.causal", "mask.note.padding", "mask.note.custom", "mask.note.inf"}) {
    ImGui::Bullet();
    text_wrapped_unformatted(tr(key));
  }
  ImGui::PopStyleColor();
}

// [SECTION] One row, the row-sum check

// Every row of P must sum to 1, or to exactly 0 when the core found every key masked.
void draw_row_sums(const AppState& s, const std::string& head) {
  const Mat* P = s.trace->tensors.find(head + ".P");
  const HeadStats* st = s.trace->head(head);
  if (!P || !st) return;
  float worst = 0.0f;
  int ones = 0, zeros = 0, bad = 0;
  for (Eigen::Index i = 0; i < P->rows(); ++i) {
    const float sum = P->row(i).sum();
    const bool fully_masked = std::find(st->fully_masked_rows.begin(), st->fully_masked_rows.end(), static_cast<int>(i)) != st->fully_masked_rows.end();
    if (fully_masked && sum == 0.0f) ++zeros;
    else if (!fully_masked && std::isfinite(sum) && std::fabs(sum - 1.0f) < 1e-4f) ++ones, worst = std::max(worst, std::fabs(sum - 1.0f));
    else ++bad;
  }
  ImGui::TextColored(bad == 0 ? kGreen : kRed, "%s", tr(bad == 0 ? "mask.sums_ok" : "mask.sums_wrong"));
  ImGui::SameLine();
  const char* sums_key = zeros == 0 ? "mask.sums" : zeros == 1 ? "mask.sums_one_zero" : "mask.sums_zeros";
  text_wrapped_unformatted(trf(sums_key, arg("ones", ones), arg("rows", static_cast<int>(P->rows())), arg("worst", worst), arg("zeros", zeros)));
  hover_tip(tr("mask.sums_tip"));
  if (bad) colored_text(kRed, "%s", trf("mask.sums_bad", arg("n", bad)).c_str());
}

void draw_row(AppState& s, const std::string& head, int& row) {
  const Trace& t = *s.trace;
  const BlockRef& b = s.sel.block;
  const Mat* P = t.tensors.find(head + ".P");
  const Mat* S_masked = t.tensors.find(head + ".S_masked");
  const HeadStats* st = t.head(head);
  if (!P || !S_masked || !st || P->rows() == 0) return;
  const std::vector<std::string>& queries = query_tokens(s, b);
  const std::vector<std::string>& keys = key_tokens(s, b);
  const int n = static_cast<int>(P->rows()), m = static_cast<int>(P->cols());

  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  ImGui::SliderInt(tr_id("mask.query_row"), &row, 0, n - 1, "%d", ImGuiSliderFlags_AlwaysClamp);
  hover_tip(tr("mask.query_row_tip"));
  if (!b.cross) {
    same_line_if_fits(button_width(tr_id("mask.mask_row")), nullptr);
    if (ImGui::Button(tr_id("mask.mask_row"))) {
      for (int j = 0; j < m; ++j)
        if (!is_custom(s.session, row, j)) s.session.custom_cells.push_back({row, j});
      block_mask(s.session, b) |= kMaskCustom;
      s.dirty = true;
    }
    hover_tip(tr("mask.mask_row_tip"));
    same_line_if_fits(button_width(tr_id("mask.unmask_row")), nullptr);
    if (ImGui::Button(tr_id("mask.unmask_row"))) {
      std::erase_if(s.session.custom_cells, [&](const Cell& c) { return c.i == row; });
      s.dirty = true;
    }
    hover_tip(tr("mask.unmask_row_tip"));
    same_line_if_fits(button_width(tr_id("mask.clear_custom")), nullptr);
    if (ImGui::Button(tr_id("mask.clear_custom"))) {
      s.session.custom_cells.clear();
      s.dirty = true;
    }
    hover_tip(tr("mask.clear_custom_tip"));
  }
  row = std::clamp(row, 0, n - 1);

  int allowed = 0;
  for (int j = 0; j < m; ++j) allowed += std::isfinite((*S_masked)(row, j)) ? 1 : 0;
  const bool fully_masked = std::find(st->fully_masked_rows.begin(), st->fully_masked_rows.end(), row) != st->fully_masked_rows.end();

  // The same row if the mask were the large finite −1e9 instead of −∞: S_masked with −∞ replaced (ALiBi's bias kept).
  Mat finite_row(1, m);
  const Mat* S_scaled = t.tensors.find(head + ".S_scaled");
  const Mat* B = t.tensors.find(head + ".B");
  for (int j = 0; j < m; ++j) {
    const float v = (*S_masked)(row, j);
    finite_row(0, j) = std::isfinite(v) ? v : (S_scaled ? (*S_scaled)(row, j) : 0.0f) + (B ? (*B)(row, j) : 0.0f) - 1e9f;
  }
  const Mat P_finite = softmax_rows(finite_row, 1.0f, nullptr);

  const float half = ImGui::GetContentRegionAvail().x * 0.5f - 16.0f;
  const std::string query = row < static_cast<int>(queries.size()) ? queries[row] : std::to_string(row);
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::min(half, 460.0f));
  text_wrapped_unformatted(trf("mask.row_caption", arg("row", row), arg("token", query), arg("allowed", allowed), arg("m", m)));
  ImGui::PopTextWrapPos();
  DrawRowBars("row", P->row(row), keys, std::min(half, 460.0f));
  ImGui::EndGroup();
  if (fully_masked) {
    ImGui::SameLine(0, 32);
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::min(half, 460.0f));
    text_wrapped_unformatted(tr("mask.finite_caption"));
    ImGui::PopTextWrapPos();
    DrawRowBars("row_finite", P_finite.row(0), keys, std::min(half, 460.0f));
    ImGui::EndGroup();
  } else {
    const float diff = (P->row(row) - P_finite.row(0)).cwiseAbs().maxCoeff();
    dim_text("%s", trf("mask.finite_same", arg("diff", diff)).c_str());
  }

  if (fully_masked) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.8f, 0.3f, 1.0f));
    text_wrapped_unformatted(trf("mask.fully_masked", arg("row", row)));
    ImGui::PopStyleColor();
    for (const std::string& w : t.warnings)
      if (w.rfind(head + ":", 0) == 0) {
        ImGui::Bullet();
        text_wrapped("%s", w.c_str());
      }
    text_wrapped_unformatted(trf("mask.finite_uniform", arg("m", m)));
  } else if (!st->fully_masked_rows.empty()) {
    dim_text("%s", tr("mask.fully_masked_rows"));
    for (int r : st->fully_masked_rows) {
      const std::string label = trf("mask.row_button", arg("row", r));
      same_line_if_fits(ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().FramePadding.x * 2.0f, nullptr);
      if (ImGui::SmallButton(label.c_str())) row = r;
    }
    hover_tip(tr("mask.inspect_tip"));
  } else {
    dim_text("%s", tr(b.cross ? "mask.none_cross" : "mask.none_self"));
  }
}

bool has_masked_cell(const Trace& t, const std::string& block, int heads) {
  for (int h = 0; h < heads; ++h)
    if (const Mat* S_masked = t.tensors.find(paths::head_tensor(block, h, "S_masked")))
      for (Eigen::Index k = 0; k < S_masked->size(); ++k)
        if (std::isinf(S_masked->data()[k]) && S_masked->data()[k] < 0) return true;
  return false;
}

// Opening the tab on a cross-attention block that masks nothing (no padding in the source) would show no mask
// at all: open on the decoder self-attention of the same layer instead, if its mask hides something, and say so.
void open_on_visible_mask(AppState& s) {
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID seen_id = ImGui::GetID("last frame drawn"), moved_id = ImGui::GetID("moved from cross");  // i18n: name
  const bool just_opened = ImGui::GetFrameCount() - storage->GetInt(seen_id, -10) > 1;
  storage->SetInt(seen_id, ImGui::GetFrameCount());
  const int heads = s.session.model.heads;
  if (just_opened && s.sel.block.cross && !has_masked_cell(*s.trace, s.sel.block.path(), heads)) {
    const BlockRef self{true, false, s.sel.block.layer};
    if (has_masked_cell(*s.trace, self.path(), heads)) {
      storage->SetInt(moved_id, s.sel.block.layer + 1);
      s.sel.block = self;
    }
  }
  const int moved = storage->GetInt(moved_id, 0);
  if (moved && s.sel.block.decoder && !s.sel.block.cross && s.sel.block.layer == moved - 1) {
    dim_text("%s", trf("mask.moved", arg("layer", moved - 1), arg("path", s.sel.block.path())).c_str());
    hover_tip(tr("mask.moved_tip"));
  } else if (moved) {
    storage->SetInt(moved_id, 0);
  }
}

}  // namespace

void DrawMaskPanel(AppState& s) {
  if (!s.trace) return;
  open_on_visible_mask(s);
  BlockSelector(s);
  same_line_if_fits(HeadSelectorWidth(), nullptr);
  HeadSelector(s);
  draw_mask_controls(s);
  if (s.error) colored_text(kRed, "%s", trf("mask.not_applied", arg("error", s.error->message())).c_str());

  const std::string head = paths::head(s.sel.block.path(), s.sel.head);
  // The inspected row is this lab's own UI state, kept in ImGui's per-window storage (not app data).
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID row_id = ImGui::GetID("inspected row");  // i18n: name
  int row = storage->GetInt(row_id, 0);
  const Mat* P = s.trace->tensors.find(head + ".P");
  if (P && P->rows() > 0) row = std::clamp(row, 0, static_cast<int>(P->rows()) - 1);

  heading(tr("mask.h.heatmaps"));
  // The heatmaps take the height left above the row-sum line, so they are never pushed below the fold.
  const float below = ImGui::GetTextLineHeightWithSpacing() * 2.0f + ImGui::GetStyle().ItemSpacing.y;
  draw_heatmaps(s, head, row, std::max(ImGui::GetContentRegionAvail().y - below, 0.0f));
  draw_row_sums(s, head);
  draw_mask_notes(s.sel.block);

  heading(tr("mask.h.row"));
  draw_row(s, head, row);
  storage->SetInt(row_id, row);
}

}  // namespace qkv::app
