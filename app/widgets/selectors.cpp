#include "app/widgets/selectors.h"

#include "app/widgets/common.h"

#include <imgui.h>

namespace qkv::app {

std::string block_title(const BlockRef& b) {
  const char* key = b.decoder ? (b.cross ? "widgets.block.decoder_cross" : "widgets.block.decoder_self")
                              : (b.cross ? "widgets.block.encoder_cross" : "widgets.block.encoder_self");
  return trf(key, arg("layer", b.layer));
}

float BlockSelectorWidth() { return ImGui::GetFontSize() * 17; }

float HeadSelectorWidth() { return ImGui::GetFontSize() * 8 + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize(tr("widgets.head")).x; }

void BlockSelector(AppState& s) {
  ImGui::SetNextItemWidth(BlockSelectorWidth());
  if (ImGui::BeginCombo("##block", block_title(s.sel.block).c_str())) {
    for (const BlockRef& b : attention_blocks(s.session.model)) {
      const bool selected = b.path() == s.sel.block.path();
      if (ImGui::Selectable(block_title(b).c_str(), selected)) {
        s.sel.block = b;
        s.sel.pinned_row = -1;
      }
    }
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("widgets.block.tip"));
}

void HeadSelector(AppState& s) {
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  ImGui::SliderInt(tr_id("widgets.head"), &s.sel.head, 0, std::max(0, s.session.model.heads - 1));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("widgets.head_tip"));
}

}  // namespace qkv::app
