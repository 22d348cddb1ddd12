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
    ImGui::TextUnformatted("cross-attention mask:");
    same_line_if_fits(ImGui::GetFrameHeight(), "padding (of the encoder mask)");
    if (mask_bit("padding (of the encoder mask)", flags, kMaskPadding,
                 "Cross-attention's keys are the source tokens: only their padding can be masked"))
      s.dirty = true;
    dim_text("Cross-attention uses only the padding bit of the encoder mask: every decoder query may look at every real source "
             "token (there is no future in the source), and causal and custom cells do not apply here.");
    return;
  }
  ImGui::Text("%s mask:", b.decoder ? "decoder self-attention" : "encoder self-attention");
  same_line_if_fits(ImGui::GetFrameHeight(), "causal");
  bool changed = mask_bit("causal", flags, kMaskCausal, "Query i may only see keys j ≤ i");
  same_line_if_fits(ImGui::GetFrameHeight(), "padding");
  changed |= mask_bit("padding", flags, kMaskPadding, "No query may look at a [PAD] key (or a position marked as padding in the input)");
  same_line_if_fits(ImGui::GetFrameHeight(), "custom");
  changed |= mask_bit("custom", flags, kMaskCustom, "The cells you clicked below (shared by the self-attention of both stacks where custom is on)");
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
    dim_text("click: %s custom cell (%d, %d)", is_custom(s.session, hover.row, hover.col) ? "remove" : "add", hover.row, hover.col);
  } else {
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    if (b.cross) text_wrapped("Grey hatch: masked (−∞ here, exactly 0 in P).");
    else text_wrapped("Grey hatch: masked (−∞ here, exactly 0 in P). Click a cell to mask it by hand (%zu custom cells).", s.session.custom_cells.size());
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
  for (const char* line : {"none: every query sees every key (an encoder like BERT reads the whole sentence).",
                           "causal: no peeking at future tokens — in training a decoder predicts token i+1 from tokens ≤ i, so it must not see it.",
                           "padding: [PAD] tokens only fill a short sequence up to the batch's length; they carry no content. Add a longer "
                           "sentence to the batch, or click a token in the input to mark it as padding.",
                           "custom: click any cell of S_masked above to mask or unmask it by hand.",
                           "−∞, not −1e9: exp(−∞) = 0 exactly, so a masked key gets exactly zero weight and the others renormalise to sum 1."}) {
    ImGui::Bullet();
    text_wrapped("%s", line);
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
  ImGui::TextColored(bad == 0 ? kGreen : kRed, "%s", bad == 0 ? "row sums OK:" : "row sums WRONG:");
  ImGui::SameLine();
  text_wrapped("%d of %d rows of P sum to 1 (largest |Σ − 1| = %.1e)%s", ones, static_cast<int>(P->rows()), worst,
              zeros ? (", " + std::to_string(zeros) + " fully masked row" + (zeros > 1 ? "s sum" : " sums") + " to 0").c_str() : "");
  hover_tip("Computed from the trace's P: every row sums to 1, or to 0 when its query has every key masked");
  if (bad) colored_text(kRed, "%d rows sum to neither 1 nor 0", bad);
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
  ImGui::SliderInt("query row", &row, 0, n - 1, "%d", ImGuiSliderFlags_AlwaysClamp);
  hover_tip("The query row to inspect below (highlighted in both heatmaps)");
  if (!b.cross) {
    same_line_if_fits(button_width("mask a whole row"), nullptr);
    if (ImGui::Button("mask a whole row")) {
      for (int j = 0; j < m; ++j)
        if (!is_custom(s.session, row, j)) s.session.custom_cells.push_back({row, j});
      block_mask(s.session, b) |= kMaskCustom;
      s.dirty = true;
    }
    hover_tip("Masks every key of this query: softmax over nothing. See below what the core does with it.");
    same_line_if_fits(button_width("unmask the row"), nullptr);
    if (ImGui::Button("unmask the row")) {
      std::erase_if(s.session.custom_cells, [&](const Cell& c) { return c.i == row; });
      s.dirty = true;
    }
    hover_tip("Removes this row's custom cells (causal and padding stay)");
    same_line_if_fits(button_width("clear custom cells"), nullptr);
    if (ImGui::Button("clear custom cells")) {
      s.session.custom_cells.clear();
      s.dirty = true;
    }
    hover_tip("Removes every custom cell of the session");
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
  text_wrapped("P row %d \"%s\" with −∞: %d of %d keys allowed", row, query.c_str(), allowed, m);
  ImGui::PopTextWrapPos();
  DrawRowBars("row", P->row(row), keys, std::min(half, 460.0f));
  ImGui::EndGroup();
  if (fully_masked) {
    ImGui::SameLine(0, 32);
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::min(half, 460.0f));
    text_wrapped_unformatted("the same row if masked cells were −1e9 instead");
    ImGui::PopTextWrapPos();
    DrawRowBars("row_finite", P_finite.row(0), keys, std::min(half, 460.0f));
    ImGui::EndGroup();
  } else {
    const float diff = (P->row(row) - P_finite.row(0)).cwiseAbs().maxCoeff();
    dim_text("With −1e9 instead of −∞ this row would differ by at most %.1e: exp(−1e9) underflows to 0 too. "
             "The two differ when a row is fully masked.", diff);
  }

  if (fully_masked) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.8f, 0.3f, 1.0f));
    text_wrapped("Query %d has every key masked: softmax would divide 0 by 0 (NaN). The core gives the row all zeros — the token "
                       "attends to nothing, its output P·V is 0 — and warns:",
                       row);
    ImGui::PopStyleColor();
    for (const std::string& w : t.warnings)
      if (w.rfind(head + ":", 0) == 0) {
        ImGui::Bullet();
        text_wrapped("%s", w.c_str());
      }
    text_wrapped("With −1e9 the row would not be empty: all its keys tie at −1e9, so the weights become uniform (1/%d each) — "
                       "the token attends to keys it was told to ignore.",
                       m);
  } else if (!st->fully_masked_rows.empty()) {
    dim_text("Fully masked rows of this head:");
    for (int r : st->fully_masked_rows) {
      const std::string label = "row " + std::to_string(r);
      same_line_if_fits(ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().FramePadding.x * 2.0f, nullptr);
      if (ImGui::SmallButton(label.c_str())) row = r;
    }
    hover_tip("Inspect this row");
  } else {
    dim_text("%s", b.cross ? "No fully masked row here: a row is empty only when every source token is padding."
                                : "No row is fully masked. Press \"mask a whole row\" to see what softmax over nothing does.");
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
  const ImGuiID seen_id = ImGui::GetID("last frame drawn"), moved_id = ImGui::GetID("moved from cross");
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
    dim_text("decoder.%d.cross_attn masks nothing (no padding in the source): showing %s.", moved - 1, s.sel.block.path().c_str());
    hover_tip("Cross-attention masks only the source's padding. Pick it in the block list to see it anyway.");
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
  if (s.error) colored_text(kRed, "Not applied: %s. The matrices show the last valid model.", s.error->message().c_str());

  const std::string head = paths::head(s.sel.block.path(), s.sel.head);
  // The inspected row is this lab's own UI state, kept in ImGui's per-window storage (not app data).
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID row_id = ImGui::GetID("inspected row");
  int row = storage->GetInt(row_id, 0);
  const Mat* P = s.trace->tensors.find(head + ".P");
  if (P && P->rows() > 0) row = std::clamp(row, 0, static_cast<int>(P->rows()) - 1);

  heading("Scores with −∞ and the renormalised rows (selected head)");
  // The heatmaps take the height left above the row-sum line, so they are never pushed below the fold.
  const float below = ImGui::GetTextLineHeightWithSpacing() * 2.0f + ImGui::GetStyle().ItemSpacing.y;
  draw_heatmaps(s, head, row, std::max(ImGui::GetContentRegionAvail().y - below, 0.0f));
  draw_row_sums(s, head);
  draw_mask_notes(s.sel.block);

  heading("One query row: what the mask does to it");
  draw_row(s, head, row);
  storage->SetInt(row_id, row);
}

}  // namespace qkv::app
