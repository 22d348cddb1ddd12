#include "app/widgets/selectors.h"

#include <imgui.h>

namespace qkv::app {

std::string block_title(const BlockRef& b) {
  return std::string(b.decoder ? "decoder" : "encoder") + " · layer " + std::to_string(b.layer) + (b.cross ? " · cross-attention" : " · self-attention");
}

float BlockSelectorWidth() { return ImGui::GetFontSize() * 17; }

float HeadSelectorWidth() { return ImGui::GetFontSize() * 8 + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize("head").x; }

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
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Which attention block to look at (Up/Down keys move between layers)");
}

void HeadSelector(AppState& s) {
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  ImGui::SliderInt("head", &s.sel.head, 0, std::max(0, s.session.model.heads - 1));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Heads are independent attentions in different d_k-dimensional subspaces");
}

}  // namespace qkv::app
