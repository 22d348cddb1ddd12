#include "core/paths.h"
#include "app/panels/panels.h"
#include "app/real_model.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/layout_math.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace qkv::app {
namespace {

HeatmapArgs head_args(const AppState& s, const Trace& t, const std::string& head, Stage stage, const std::string& key_prefix) {
  const BlockRef& b = s.sel.block;
  HeatmapArgs a;
  a.M = t.tensors.find(head + "." + stage_name(stage));
  a.key = key_prefix + head + "." + stage_name(stage);
  a.row_labels = &query_tokens(s, b);
  a.col_labels = stage == Stage::O ? nullptr : &key_tokens(s, b);
  a.row_axis = tr("attention.axis_query");
  a.col_axis = stage == Stage::O ? "d_v" : tr("attention.axis_key");
  a.signed_scale = stage != Stage::P;
  if (t.tensors.lean()) {  // the hover tooltip derives the other stages when it needs them
    a.stages_from = &t.tensors;
    a.stages_head = head;
  } else {
    a.S = t.tensors.find(head + ".S");
    a.S_scaled = t.tensors.find(head + ".S_scaled");
    a.S_masked = t.tensors.find(head + ".S_masked");
    a.P = t.tensors.find(head + ".P");
  }
  // Masked cells are hatched in every stage (their raw score still shows through), O excepted: its columns are d_v.
  // The block's mask M has the −∞ cells of every head's S_masked (ALiBi's bias is finite).
  const paths::HeadAddress address = paths::parse_head(head).value_or(paths::HeadAddress{});
  if (stage != Stage::O) a.mask = t.tensors.find(paths::join(address.block, "M"));
  return a;
}

// [SECTION] Ablations: the selected head, or its whole layer, off (zero or mean) — any model
// The ablation that switches `head` of `block` off: its own, else its layer's.
std::optional<AblationKind> head_ablation(const Session& s, const std::string& block, int head) {
  if (auto own = ablation_of(s, head_target(block, head))) return own;
  return ablation_of(s, layer_of_target(head_target(block, head)));
}

// A checkbox that switches `target` off (with the kind chosen beside it) or back on; `label` is shown, `id` is its
// ImGui id and --click name in every language.
void ablation_checkbox(AppState& s, const std::string& label, const char* id, const std::string& target) {
  bool on = ablation_of(s.session, target).has_value();
  const std::string full = label + "###" + id;
  if (ImGui::Checkbox(full.c_str(), &on)) {
    if (set_ablation(s.session, target, on ? std::optional<AblationKind>(s.ablation_kind) : std::nullopt)) s.dirty = true;
    else s.message = phrase("app_pretrained.too_many_ablations", arg("max", kMaxAblations));
  }
  hover_tip(trf("app_pretrained.ablate_tip", arg("target", target)).c_str());
  s.drawn_widgets.push_back({id, ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x, ImGui::GetItemRectMax().y});
}

// "[ ] ablate head 2  [ ] ablate layer 0  as [zero ▾]" for the selected head and its layer. The kind applies to the
// next ablation and to those of this head and layer.
void ablation_controls(AppState& s, const std::string& block) {
  const std::string head = head_target(block, s.sel.head), layer = layer_of_target(head);
  const std::string head_label = trf("app_pretrained.ablate_head", arg("h", s.sel.head));
  const std::string layer_label = trf("app_pretrained.ablate_layer", arg("l", s.sel.block.layer));
  ablation_checkbox(s, head_label, "ablate head", head);  // i18n: name (an ImGui id and --click name)
  same_line_if_fits(ImGui::GetFrameHeight(), layer_label.c_str());
  ablation_checkbox(s, layer_label, "ablate layer", layer);  // i18n: name
  const char* as = tr_id("app_pretrained.ablate_as");
  same_line_if_fits(ImGui::GetFontSize() * 5.0f, as);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5.0f);
  if (ImGui::BeginCombo(as, value_label(s.ablation_kind))) {
    for (int i = 0; i < static_cast<int>(AblationKind::Count); ++i) {
      const AblationKind kind = static_cast<AblationKind>(i);
      if (ImGui::Selectable(value_label(kind), kind == s.ablation_kind)) {
        s.ablation_kind = kind;
        for (const std::string& target : {head, layer})
          if (ablation_of(s.session, target) && ablation_of(s.session, target) != kind) set_ablation(s.session, target, kind), s.dirty = true;
      }
    }
    ImGui::EndCombo();
  }
  hover_tip(tr("app_pretrained.ablate_as_tip"));
}

// Wrapped to the heatmap's width so a grid column never grows wider than its heatmap.
void head_stats_line(const Trace& t, const std::string& head, float width) {
  const HeadStats* st = t.head(head);
  if (!st) return;
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(trf("attention.stats", arg("entropy", st->mean_entropy), arg("max", st->mean_max_weight), arg("var", st->score_variance)));
  ImGui::PopStyleColor();
  ImGui::PopTextWrapPos();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s", tr("attention.stats_tip"));
}

// One heatmap per head (and their mean when there are several), in the grid that gives the largest cells
// inside the panel's width and height (app/widgets/layout_math.h); "one head large" gives one head all of it.
void draw_head_grid(AppState& s, const Trace& t, const std::string& block, int h) {
  ImGuiStorage* storage = ImGui::GetStateStorage();  // a view toggle of this tab, not app data
  const ImGuiID large_id = ImGui::GetID("one_head_large");
  bool large = storage->GetBool(large_id, false);
  same_line_if_fits(ImGui::GetFrameHeight(), tr_id("attention.one_large"));
  if (ImGui::Checkbox(tr_id("attention.one_large"), &large)) storage->SetBool(large_id, large);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("attention.one_large_tip"));
  if (large) {
    same_line_if_fits(HeadSelectorWidth(), nullptr);
    HeadSelector(s);
  }

  const HeatmapArgs probe = head_args(s, t, paths::head(block, std::clamp(s.sel.head, 0, std::max(0, h - 1))), s.sel.stage, "");
  if (!probe.M) {
    dim_text("%s", trf("attention.not_computed", arg("stage", stage_name(s.sel.stage))).c_str());
    return;
  }
  const bool with_mean = h > 1 && !large;  // the mean of one head is that head: not shown
  const int items = large ? 1 : h + (with_mean ? 1 : 0);
  const ImGuiStyle& style = ImGui::GetStyle();
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  HeatmapArgs sized = probe;
  sized.name = stage_name(s.sel.stage);
  const HeatmapChrome chrome = heatmap_chrome(sized);
  GridSpec spec;
  spec.items = items;
  spec.rows = static_cast<int>(probe.M->rows());
  spec.cols = static_cast<int>(probe.M->cols());
  spec.gap_x = style.ItemSpacing.x * 2.0f;
  spec.gap_y = style.ItemSpacing.y;
  spec.avail_w = avail.x - 2.0f;
  spec.avail_h = avail.y - line;  // the "click a row to pin" line stays on screen
  spec.chrome_w = chrome.left + chrome.right;
  // Per head: the heatmap's own chrome (its title names the head) and the stats line (wrapped to the head's width).
  const float stats_w = ImGui::CalcTextSize(trf("attention.stats", arg("entropy", 0.0f), arg("max", 0.0f), arg("var", 10.0f)).c_str()).x;
  const GridLayout first = [&] {
    GridSpec guess = spec;
    guess.chrome_h = chrome.top + chrome.bottom + 2.0f * line;
    return grid_layout(guess);
  }();
  const float stats_lines = std::ceil(stats_w / std::max(1.0f, first.item_w));
  spec.chrome_h = chrome.top + chrome.bottom + stats_lines * ImGui::GetTextLineHeight() + style.ItemSpacing.y * 2.0f;
  spec.max_cell = items == 1 ? 64.0f : 40.0f;  // one heatmap alone may grow larger (a class sees it from the back)
  spec.max_columns = 4;
  const GridLayout grid = grid_layout(spec);
  const float item_w = grid.item_w;
  const float heatmap_h = grid.item_h - stats_lines * ImGui::GetTextLineHeight() - style.ItemSpacing.y * 2.0f;

  // The mean of the heads, made once per trace, block and stage (at n = 1,000 it is millions of additions a frame).
  struct MeanCache {
    std::string key;
    uint64_t generation = 0;
    const Trace* trace = nullptr;
    Mat mean;  // [n, m], the heads' average
  };
  static MeanCache mean_cache;  // a pure function of the trace on screen: a cache, not app data
  const std::string mean_key = block + "/" + stage_name(s.sel.stage);
  const bool mean_fresh = mean_cache.key == mean_key && mean_cache.generation == s.generation && mean_cache.trace == &t;
  Mat average;
  int drawn = 0;
  for (int i = 0; i < h; ++i) {
    const std::string head = paths::head(block, i);
    HeatmapArgs a = head_args(s, t, head, s.sel.stage, "");
    if (!a.M) continue;
    if (with_mean && !mean_fresh) average = i == 0 ? *a.M : Mat(average + *a.M);
    if (large && i != s.sel.head) continue;
    if (drawn % grid.columns != 0) ImGui::SameLine(0.0f, spec.gap_x);
    ++drawn;
    ImGui::BeginGroup();
    // The title names the head; clicking a cell selects the head (for the stepper and the other labs) and pins the row.
    a.name = trf(s.sel.head == i && h > 1 && !large ? "attention.head_selected" : "attention.head", arg("i", i), arg("stage", stage_name(s.sel.stage)));
    const std::optional<AblationKind> ablated = head_ablation(s.session, block, i);
    if (ablated) a.name = trf("app_pretrained.head_ablated", arg("title", a.name), arg("kind", value_label(*ablated)));
    a.max_width = item_w;
    a.max_height = heatmap_h;
    a.max_cell = spec.max_cell;
    a.pinned_row = &s.sel.pinned_row;
    if (DrawHeatmap(s, a).clicked) s.sel.head = i;
    head_stats_line(t, head, item_w);
    ImGui::EndGroup();
    // An ablated head is framed in amber: its P is still computed, but its output O never reaches the model.
    if (ablated) ImGui::GetWindowDrawList()->AddRect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), ImGui::GetColorU32(kWarningColor), 0.0f, 0, 2.0f);
  }
  if (with_mean && !mean_fresh && average.size()) mean_cache = MeanCache{mean_key, s.generation, &t, average / static_cast<float>(h)};
  if (with_mean && mean_cache.key == mean_key && mean_cache.mean.size()) {
    HeatmapArgs a = head_args(s, t, paths::head(block, 0), s.sel.stage, "");
    a.M = &mean_cache.mean;
    a.key = "average:" + block + stage_name(s.sel.stage);
    a.S = a.S_scaled = a.S_masked = a.P = nullptr;
    a.mask = nullptr;
    a.max_width = item_w;
    a.max_height = heatmap_h;
    if (drawn % grid.columns != 0) ImGui::SameLine(0.0f, spec.gap_x);
    a.name = trf("attention.mean", arg("h", h), arg("stage", stage_name(s.sel.stage)));
    ImGui::BeginGroup();
    DrawHeatmap(s, a);
    ImGui::EndGroup();
  }
}

}  // namespace

void DrawAttentionPanel(AppState& s) {
  if (!s.trace) return;
  const Trace& t = *s.trace;
  BlockSelector(s);
  int stage = static_cast<int>(s.sel.stage);
  for (int i = 0; i < static_cast<int>(Stage::Count); ++i) {
    same_line_if_fits(ImGui::GetFrameHeight(), stage_title(static_cast<Stage>(i)));
    ImGui::RadioButton(stage_title(static_cast<Stage>(i)), &stage, i);
  }
  s.sel.stage = static_cast<Stage>(stage);
  if (ImGui::Checkbox(tr_id("attention.compare"), &s.side_by_side)) s.dirty = true;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("attention.compare_tip"));
  same_line_if_fits(ImGui::GetFontSize() * 14.0f, nullptr);
  ablation_controls(s, s.sel.block.path());

  const std::string block = s.sel.block.path();
  const int h = s.session.model.heads;
  if (s.side_by_side) {
    HeadSelector(s);
    const std::string head = paths::head(block, s.sel.head);
    const bool scaled_now = s.session.model.score_scale == ScoreScale::InvSqrtDk;
    const float half = ImGui::GetContentRegionAvail().x * 0.5f - 8.0f;
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
    text_wrapped_unformatted(tr(scaled_now ? "attention.scaled_current" : "attention.unscaled_current"));
    ImGui::PopTextWrapPos();
    HeatmapArgs a = head_args(s, t, head, Stage::P, "");
    a.name = "P";
    a.max_width = half;
    a.pinned_row = &s.sel.pinned_row;
    DrawHeatmap(s, a);
    head_stats_line(t, head, half);
    ImGui::EndGroup();
    if (s.trace_other_scale) {
      ImGui::SameLine();
      ImGui::BeginGroup();
      ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + half);
      text_wrapped_unformatted(tr(scaled_now ? "attention.unscaled" : "attention.scaled"));
      ImGui::PopTextWrapPos();
      HeatmapArgs b = head_args(s, *s.trace_other_scale, head, Stage::P, "other:");
      b.name = "P";
      b.max_width = half;
      b.pinned_row = &s.sel.pinned_row;
      DrawHeatmap(s, b);
      head_stats_line(*s.trace_other_scale, head, half);
      ImGui::EndGroup();
    }
  } else {
    draw_head_grid(s, t, block, h);
  }
  // The pinned query row as bars: where this token looks.
  const std::string head = paths::head(block, s.sel.head);
  const Mat* P = t.tensors.find(head + ".P");
  if (P && s.sel.pinned_row >= 0 && s.sel.pinned_row < P->rows()) {
    ImGui::Separator();
    text_wrapped_unformatted(trf("attention.pinned", arg("head", s.sel.head), arg("query", s.sel.pinned_row),
                                 arg("token", query_tokens(s, s.sel.block)[s.sel.pinned_row])));
    DrawRowBars("pinned", P->row(s.sel.pinned_row), key_tokens(s, s.sel.block), ImGui::GetContentRegionAvail().x * 0.6f);
  } else {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    text_wrapped_unformatted(tr("attention.hint"));
    ImGui::PopStyleColor();
  }
}

}  // namespace qkv::app
