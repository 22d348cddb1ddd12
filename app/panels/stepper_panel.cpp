#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"

#include <imgui.h>

#include <cmath>
#include <cstdio>

namespace qkv::app {
namespace {

struct StepView {
  std::string path;     // the tensor this step produces
  std::string formula;  // with its dimensions
  bool signed_scale = true;
  bool per_head = false;
};

StepView describe(const AppState& s, Step step) {
  const ModelConfig& c = s.session.model;
  const BlockRef& b = s.sel.block;
  const std::string stack = b.decoder ? "decoder" : "encoder";
  const std::string block = b.path();
  const std::string layer = stack + "." + std::to_string(b.layer);
  const std::string head = block + ".head." + std::to_string(s.sel.head) + ".";
  const long n = static_cast<long>(query_tokens(s, b).size()), m = static_cast<long>(key_tokens(s, b).size());
  const long d = c.d_model, dk = c.head_dk(), dv = c.head_dv(), h = c.heads;
  char scale[96];
  if (c.score_scale == ScoreScale::InvSqrtDk)
    std::snprintf(scale, sizeof scale, "S_scaled = S / (√d_k·τ) = S / (√%ld · %.2f) = S × %.4f", dk, c.temperature,
                  1.0 / (std::sqrt(static_cast<double>(dk)) * c.temperature));
  else
    std::snprintf(scale, sizeof scale, "scaling is off: S_scaled = S / τ = S / %.2f (variance ≈ d_k = %ld)", c.temperature, dk);
  switch (step) {
    case Step::Embed:
      return {stack + ".embed.E_x", std::string("E_x = E[token]") + (c.scale_embeddings ? " · √d_model" : "") + "   " + dims(n, d)};
    case Step::AddPE:
      if (c.pe == PosEncoding::RoPE || c.pe == PosEncoding::ALiBi || c.pe == PosEncoding::None)
        return {stack + ".embed.X", std::string("X = E_x   ") + dims(n, d) + "   (" + name(c.pe) + ": nothing is added to the embeddings)"};
      return {stack + ".embed.X", "X = E_x + PE   " + dims(n, d) + " + " + dims(n, d)};
    case Step::Project:
      return {head + "Q", "Q = X·W_Q   " + dims(n, d) + "·" + dims(d, dk) + " = " + dims(n, dk) + "   (K, V alike: " + dims(m, dk) + ", " + dims(m, dv) + ")", true, true};
    case Step::Scores: return {head + "S", "S = Q·Kᵀ   " + dims(n, dk) + "·" + dims(dk, m) + " = " + dims(n, m), true, true};
    case Step::Scale: return {head + "S_scaled", scale, true, true};
    case Step::Mask: return {head + "S_masked", "S_masked = S_scaled + M   (M = 0 where allowed, −∞ where masked)   " + dims(n, m), true, true};
    case Step::Softmax: return {head + "P", "P = softmax(S_masked), row by row: every row sums to 1   " + dims(n, m), false, true};
    case Step::WeightedSum: return {head + "O", "O = P·V   " + dims(n, m) + "·" + dims(m, dv) + " = " + dims(n, dv), true, true};
    case Step::ConcatWO:
      return {block + ".out", "concat(O_1 … O_h)·W_O   " + dims(n, h * dv) + "·" + dims(h * dv, d) + " = " + dims(n, d)};
    case Step::Residual1:
      return {block + ".residual", c.residual ? "x + Attention(x)   " + dims(n, d) : "residual off: Attention(x) alone   " + dims(n, d)};
    case Step::Norm1:
      return {block + ".norm", std::string(name(c.norm)) + (c.norm_placement == NormPlacement::Pre ? " of the block input (Pre-Norm)" : " of the residual sum (Post-Norm)")};
    case Step::FFN:
      return {layer + ".ffn.out", std::string("FFN(x) = ") + name(c.activation) + "(x·W_1 + b_1)·W_2 + b_2   " + dims(n, d) + " → " + dims(n, c.d_ff) + " → " + dims(n, d)};
    case Step::Residual2: return {layer + ".ffn.residual", c.residual ? "x + FFN(x)   " + dims(n, d) : "residual off: FFN(x) alone"};
    case Step::Norm2: return {layer + ".ffn.norm", std::string(name(c.norm)) + " after the FFN"};
    case Step::Count: break;
  }
  return {};
}

// Steps that show one head's n×m matrix set the Attention panel's stage too.
void follow_step(AppState& s) {
  switch (s.sel.step) {
    case Step::Scores: s.sel.stage = Stage::S; break;
    case Step::Scale: s.sel.stage = Stage::S_scaled; break;
    case Step::Mask: s.sel.stage = Stage::S_masked; break;
    case Step::Softmax: s.sel.stage = Stage::P; break;
    case Step::WeightedSum: s.sel.stage = Stage::O; break;
    default: break;
  }
}

void move_layer(AppState& s, int delta) {
  const std::vector<BlockRef> blocks = attention_blocks(s.session.model);
  for (size_t i = 0; i < blocks.size(); ++i)
    if (blocks[i].path() == s.sel.block.path()) {
      const int j = static_cast<int>(i) + delta;
      if (j >= 0 && j < static_cast<int>(blocks.size())) s.sel.block = blocks[j];
      return;
    }
}

}  // namespace

void DrawStepperPanel(AppState& s) {
  if (!s.trace) return;
  // Keys: ←/→ sub-steps, ↑/↓ attention blocks (layers), unless the user is typing.
  // In presentation mode the arrows step through the lesson instead (app/lessons_ui.cpp).
  if (!ImGui::GetIO().WantTextInput && !s.lessons.presentation) {
    const int step = static_cast<int>(s.sel.step), last = static_cast<int>(Step::Count) - 1;
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow)) && step < last) s.sel.step = static_cast<Step>(step + 1), follow_step(s);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow)) && step > 0) s.sel.step = static_cast<Step>(step - 1), follow_step(s);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_DownArrow))) move_layer(s, +1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_UpArrow))) move_layer(s, -1);
  }
  BlockSelector(s);
  ImGui::SameLine();
  HeadSelector(s);
  ImGui::SameLine();
  if (ImGui::ArrowButton("prev", ImGuiDir_Left) && s.sel.step != Step::Embed) s.sel.step = static_cast<Step>(static_cast<int>(s.sel.step) - 1), follow_step(s);
  ImGui::SameLine();
  if (ImGui::ArrowButton("next", ImGuiDir_Right) && s.sel.step != Step::Norm2) s.sel.step = static_cast<Step>(static_cast<int>(s.sel.step) + 1), follow_step(s);
  ImGui::SameLine();
  ImGui::TextDisabled("(← → steps, ↑ ↓ layers)");

  // The layer's sublayers (self-attention, cross-attention in an encoder–decoder's decoder, FFN) as a diagram;
  // clicking one selects it.
  {
    const ModelConfig& c = s.session.model;
    BlockRef& b = s.sel.block;
    ImGui::TextDisabled("%s layer %d:", b.decoder ? "decoder" : "encoder", b.layer);
    const auto chip = [&](const char* label, bool selected, auto on_click) {
      ImGui::SameLine();
      if (selected) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
      if (ImGui::SmallButton(label)) on_click();
      if (selected) ImGui::PopStyleColor();
    };
    const bool ffn_step = s.sel.step >= Step::FFN;
    chip(b.decoder && c.arch != Arch::EncoderOnly ? "masked self-attention##sub" : "self-attention##sub", !b.cross && !ffn_step, [&] {
      b.cross = false;
      if (s.sel.step >= Step::FFN) s.sel.step = Step::Softmax, follow_step(s);
    });
    if (b.decoder && c.arch == Arch::EncoderDecoder) {
      ImGui::SameLine(0, 2);
      ImGui::TextDisabled("→");
      chip("cross-attention (Q: decoder, K/V: encoder)##sub", b.cross && !ffn_step, [&] {
        b.cross = true;
        if (s.sel.step >= Step::FFN) s.sel.step = Step::Softmax, follow_step(s);
      });
    }
    ImGui::SameLine(0, 2);
    ImGui::TextDisabled("→");
    chip("FFN##sub", ffn_step, [&] { s.sel.step = Step::FFN; });
  }

  // The diagram: every sub-step of the block as a chip, the selected one highlighted.
  for (int i = 0; i < static_cast<int>(Step::Count); ++i) {
    const Step step = static_cast<Step>(i);
    if (i > 0) {
      ImGui::SameLine(0, 2);
      ImGui::TextDisabled("→");
      ImGui::SameLine(0, 2);
    }
    const bool selected = step == s.sel.step;
    if (selected) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
    if (ImGui::SmallButton((std::string(step_title(step)) + "##step" + std::to_string(i)).c_str())) {
      s.sel.step = step;
      follow_step(s);
    }
    if (selected) ImGui::PopStyleColor();
  }
  const StepView view = describe(s, s.sel.step);
  ImGui::Spacing();
  ImGui::TextUnformatted(view.formula.c_str());
  const Mat* M = s.trace->tensors.find(view.path);
  if (!M) {
    ImGui::TextDisabled("%s is not part of this model (for example no norm, or not this stack)", view.path.c_str());
    return;
  }
  const BlockRef& b = s.sel.block;
  const bool attention_matrix = view.per_head && M->cols() == static_cast<long>(key_tokens(s, b).size()) && s.sel.step != Step::WeightedSum &&
                                s.sel.step != Step::Project;
  HeatmapArgs a;
  a.key = view.path;
  a.M = M;
  a.name = view.path;
  a.row_labels = &query_tokens(s, b);
  a.row_axis = "tokens";
  a.col_axis = "features";
  if (attention_matrix) {
    a.col_labels = &key_tokens(s, b);
    a.row_axis = "query";
    a.col_axis = "key";
    const std::string head = b.path() + ".head." + std::to_string(s.sel.head) + ".";
    a.S = s.trace->tensors.find(head + "S");
    a.S_scaled = s.trace->tensors.find(head + "S_scaled");
    a.S_masked = s.trace->tensors.find(head + "S_masked");
    a.P = s.trace->tensors.find(head + "P");
    a.pinned_row = &s.sel.pinned_row;
  }
  a.signed_scale = view.signed_scale;
  a.max_cell = 28.0f;
  DrawHeatmap(s, a);
  // A pinned query row of P as bars: where that token looks.
  const Mat* P = attention_matrix ? a.P : nullptr;
  if (P && s.sel.pinned_row >= 0 && s.sel.pinned_row < P->rows()) {
    ImGui::Text("query %d \"%s\": its weights P over the keys (sum = 1)", s.sel.pinned_row, query_tokens(s, b)[s.sel.pinned_row].c_str());
    DrawRowBars("stepper-pinned", P->row(s.sel.pinned_row), key_tokens(s, b), ImGui::GetContentRegionAvail().x * 0.6f);
  } else if (attention_matrix) {
    ImGui::TextDisabled("Click a row to see it as a bar chart.");
  }
}

}  // namespace qkv::app
