// QKV Lab app — the layer stepper: one attention block and its layer's FFN, step by step, in the order the
// config wires them (core::layer_steps: Pre- or Post-Norm, with or without residuals, the final norm of a
// Pre-Norm stack), each step's tensor as a heatmap with its formula, and the residual stream across layers.
#include "app/panels/panels.h"
#include "app/widgets/text_wrap.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"
#include "core/paths.h"
#include "core/labs/softmax.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qkv::app {
namespace {

std::vector<LayerStepView> current_steps(const AppState& s) { return layer_steps(s.session.model, s.sel.block.path(), s.sel.head); }


// The formula of a step, with the live dimensions.
std::string formula(const AppState& s, const LayerStepView& v) {
  const ModelConfig& c = s.session.model;
  const BlockRef& b = s.sel.block;
  const long n = static_cast<long>(query_tokens(s, b).size()), m = static_cast<long>(key_tokens(s, b).size());
  const long d = c.d_model, dk = c.head_dk(), dv = c.head_dv(), h = c.heads, ff = c.d_ff;
  const bool pre = c.norm_placement == NormPlacement::Pre;
  const std::string nk = name(c.norm);
  std::string scale;
  if (c.score_scale == ScoreScale::InvSqrtDk) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "S_scaled = S / (√d_k·τ) = S / (√%ld · %.2f) = S × %.4f", dk, c.temperature, labs::score_scale(c));
    scale = buf;
  } else {
    scale = trf("stepper.formula.scale_off", arg("tau", c.temperature), arg("dk", dk));
  }
  const std::string sub = b.cross ? "CrossAttention" : "Attention";  // i18n: name (the sublayer in a formula)
  switch (v.step) {
    case Step::Embed: return std::string("E_x = E[token]") + (c.scale_embeddings ? " · √d_model" : "") + "   " + dims(n, d);
    case Step::AddPE:
      if (c.pe == PosEncoding::RoPE || c.pe == PosEncoding::ALiBi || c.pe == PosEncoding::None)
        return trf("stepper.formula.no_pe", arg("dims", dims(n, d)), arg("pe", name(c.pe)));
      return "X = E_x + PE   " + dims(n, d) + " + " + dims(n, d);
    case Step::Input:
      return b.layer == 0 ? trf("stepper.formula.input_first", arg("layer", b.layer), arg("dims", dims(n, d)))
                          : trf("stepper.formula.input", arg("layer", b.layer), arg("dims", dims(n, d)), arg("prev", b.layer - 1));
    case Step::SelfSublayer: return trf("stepper.formula.self_sublayer", arg("dims", dims(n, d)));
    case Step::CrossSublayer: return trf("stepper.formula.cross_sublayer", arg("dims", dims(n, d)));
    case Step::NormIn: return trf("stepper.formula.norm_in", arg("norm", nk), arg("dims", dims(n, d)));
    case Step::Project:
      return trf("stepper.formula.project", arg("x", dims(n, d)), arg("w", dims(d, dk)), arg("q", dims(n, dk)), arg("k", dims(m, dk)),
                 arg("v", dims(m, dv)));
    case Step::Scores: return "S = Q·Kᵀ   " + dims(n, dk) + "·" + dims(dk, m) + " = " + dims(n, m);
    case Step::Scale: return scale;
    case Step::Mask: return trf("stepper.formula.mask", arg("dims", dims(n, m)));
    case Step::Softmax: return trf("stepper.formula.softmax", arg("dims", dims(n, m)));
    case Step::WeightedSum: return "O = P·V   " + dims(n, m) + "·" + dims(m, dv) + " = " + dims(n, dv);
    case Step::ConcatWO: return "concat(O_1 … O_h)·W_O   " + dims(n, h * dv) + "·" + dims(h * dv, d) + " = " + dims(n, d);
    case Step::Residual: return (pre ? "x + " + sub + "(" + nk + "(x))   " : "x + " + sub + "(x)   ") + dims(n, d);
    case Step::NormOut: return trf("stepper.formula.norm_out", arg("norm", nk), arg("sub", sub), arg("dims", dims(n, d)));
    case Step::FFNNormIn: return trf("stepper.formula.ffn_norm_in", arg("norm", nk), arg("dims", dims(n, d)));
    case Step::FFNHidden: return trf("stepper.formula.ffn_hidden", arg("x", dims(n, d)), arg("w", dims(d, ff)), arg("h", dims(n, ff)));
    case Step::FFNAct:
      return trf(c.activation == Activation::ReLU       ? "stepper.formula.relu"
                 : c.activation == Activation::GELUTanh ? "stepper.formula.gelu_tanh"
                                                        : "stepper.formula.gelu",
                 arg("dims", dims(n, ff)));
    case Step::FFNOut: return "FFN(x) = act(x·W_1 + b_1)·W_2 + b_2   " + dims(n, ff) + "·" + dims(ff, d) + " = " + dims(n, d);
    case Step::FFNResidual: return (pre ? "x + FFN(" + nk + "(x))   " : "x + FFN(x)   ") + dims(n, d);
    case Step::FFNNormOut: return trf("stepper.formula.ffn_norm_out", arg("norm", nk), arg("dims", dims(n, d)));
    case Step::FinalNorm: return trf("stepper.formula.final_norm", arg("norm", nk), arg("dims", dims(n, d)));
    case Step::Count: break;
  }
  return {};
}

bool per_head(Step s) { return s >= Step::Project && s <= Step::WeightedSum; }

// Steps that show one head's n×m matrix set the Attention panel's stage too.
void select_step(AppState& s, Step step) {
  s.sel.step = step;
  switch (step) {
    case Step::Scores: s.sel.stage = Stage::S; break;
    case Step::Scale: s.sel.stage = Stage::S_scaled; break;
    case Step::Mask: s.sel.stage = Stage::S_masked; break;
    case Step::Softmax: s.sel.stage = Stage::P; break;
    case Step::WeightedSum: s.sel.stage = Stage::O; break;
    default: break;
  }
}

// The selected step's index in the list; a step this wiring lacks snaps to the next one that exists.
int step_index(const std::vector<LayerStepView>& steps, Step step) {
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].step >= step) return static_cast<int>(i);
  return static_cast<int>(steps.size()) - 1;
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

// SmallButtons that wrap to the next line instead of running off the panel.
bool wrapped_chip(const std::string& label, bool selected, bool first, const char* arrow = nullptr) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const float w = ImGui::CalcTextSize(label.c_str(), nullptr, true).x + ImGui::GetStyle().FramePadding.x * 2 +
                  (arrow ? ImGui::CalcTextSize(arrow).x + 4.0f : 0.0f);
  if (!first) {
    ImGui::SameLine(0, 2);
    if (ImGui::GetCursorScreenPos().x + w > right) ImGui::NewLine();
  }
  if (arrow && !first) {
    ImGui::TextDisabled("%s", arrow);
    ImGui::SameLine(0, 2);
  }
  if (selected) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
  const bool clicked = ImGui::SmallButton(label.c_str());
  if (selected) ImGui::PopStyleColor();
  return clicked;
}

// The residual stream across layers: the mean token norm ‖x_i‖ entering each layer and leaving the stack,
// as bars; the selected layer's bar is highlighted, and clicking a bar selects that layer.
void residual_stream(AppState& s) {
  const Trace& t = *s.trace;
  const ModelConfig& c = s.session.model;
  const std::string stack = s.sel.block.decoder ? "decoder" : "encoder";  // the path's stack, a name
  std::vector<std::pair<std::string, float>> bars;
  const auto mean_norm = [](const Mat& X) { return X.rows() ? static_cast<float>(X.rowwise().norm().mean()) : 0.0f; };
  for (int l = 0; l < c.layers; ++l)
    if (const Mat* X = t.tensors.find(stack + "." + std::to_string(l) + ".input")) bars.push_back({trf("stepper.bar_in", arg("layer", l)), mean_norm(*X)});
  const Mat* out = t.tensors.find(stack + ".final_norm");
  if (!out) out = t.tensors.find(stack + "." + std::to_string(c.layers - 1) + ".output");
  if (out) bars.push_back({tr("stepper.bar_out"), mean_norm(*out)});
  if (bars.empty()) return;
  ImGui::TextDisabled("%s", trf("stepper.stream", arg("stack", stack_word(s.sel.block.decoder))).c_str());
  float top = 1e-6f;
  for (const auto& b : bars) top = std::max(top, b.second);
  const float bar_w = std::min(110.0f * ImGui::GetIO().FontGlobalScale, (ImGui::GetContentRegionAvail().x - 10.0f) / bars.size());
  const float h = ImGui::GetFontSize() * 2.2f;
  const ImVec2 o(ImGui::GetCursorScreenPos().x, ImGui::GetCursorScreenPos().y + ImGui::GetFontSize());  // room for the tallest value
  ImDrawList* list = ImGui::GetWindowDrawList();
  for (size_t i = 0; i < bars.size(); ++i) {
    const float x0 = o.x + i * bar_w, fill = h * bars[i].second / top;
    const bool selected = static_cast<int>(i) == s.sel.block.layer;
    list->AddRectFilled(ImVec2(x0 + 4, o.y + h - fill), ImVec2(x0 + bar_w - 4, o.y + h),
                        selected ? ImGui::GetColorU32(ImGuiCol_PlotHistogramHovered) : ImGui::GetColorU32(ImGuiCol_PlotHistogram));
    const std::string value = fmt(bars[i].second, "%.2f");
    list->AddText(ImVec2(x0 + 6, o.y + h - fill - ImGui::GetFontSize()), ImGui::GetColorU32(ImGuiCol_Text), value.c_str());
    list->AddText(ImVec2(x0 + 6, o.y + h + 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), bars[i].first.c_str());
    ImGui::SetCursorScreenPos(ImVec2(x0, o.y - ImGui::GetFontSize()));
    ImGui::PushID(static_cast<int>(i));
    if (ImGui::InvisibleButton("bar", ImVec2(bar_w, h + 2 * ImGui::GetFontSize() + 2)) && static_cast<int>(i) < c.layers) s.sel.block.layer = static_cast<int>(i);
    ImGui::PopID();
  }
  ImGui::SetCursorScreenPos(ImVec2(o.x, o.y + h + ImGui::GetFontSize() + 6));
  ImGui::Dummy(ImVec2(1, 1));
}

}  // namespace

void DrawStepperPanel(AppState& s) {
  if (!s.trace) return;
  const std::vector<LayerStepView> steps = current_steps(s);
  int index = step_index(steps, s.sel.step);
  // Keys: ←/→ sub-steps, ↑/↓ attention blocks (layers), unless the user is typing.
  // In presentation mode the arrows step through the lesson instead (app/lessons_ui.cpp).
  if (!ImGui::GetIO().WantTextInput && !s.lessons.presentation) {
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow)) && index + 1 < static_cast<int>(steps.size())) ++index, select_step(s, steps[index].step);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow)) && index > 0) --index, select_step(s, steps[index].step);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_DownArrow))) move_layer(s, +1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_UpArrow))) move_layer(s, -1);
  }
  BlockSelector(s);
  ImGui::SameLine();
  HeadSelector(s);
  ImGui::SameLine();
  if (ImGui::ArrowButton("prev", ImGuiDir_Left) && index > 0) --index, select_step(s, steps[index].step);
  ImGui::SameLine();
  if (ImGui::ArrowButton("next", ImGuiDir_Right) && index + 1 < static_cast<int>(steps.size())) ++index, select_step(s, steps[index].step);
  ImGui::SameLine();
  ImGui::TextDisabled("%s", tr("stepper.keys"));

  // The layer's sublayers as the config wires them; clicking one selects it.
  const ModelConfig& c = s.session.model;
  {
    BlockRef& b = s.sel.block;
    const bool pre = c.norm != NormKind::None && c.norm_placement == NormPlacement::Pre;
    const char* norm = c.norm == NormKind::None ? tr("stepper.no_norm") : pre ? "Pre-Norm" : "Post-Norm";
    ImGui::TextDisabled("%s", trf(c.residual ? "stepper.layer" : "stepper.layer_no_residual", arg("stack", stack_word(b.decoder)),
                                  arg("layer", b.layer), arg("norm", norm))
                                  .c_str());
    const bool ffn_step = s.sel.step >= Step::CrossSublayer && s.sel.step != Step::FinalNorm;
    ImGui::SameLine();
    if (wrapped_chip(tr_label(b.decoder && c.arch != Arch::EncoderOnly ? "stepper.sub.masked_self" : "stepper.sub.self", ""), !b.cross && !ffn_step,
                     true)) {
      b.cross = false;
      if (ffn_step) select_step(s, Step::Softmax);
    }
    if (b.decoder && c.arch == Arch::EncoderDecoder &&
        wrapped_chip(tr_label("stepper.sub.cross", ""), b.cross && !ffn_step, false, "→")) {
      b.cross = true;
      if (ffn_step) select_step(s, Step::Softmax);
    }
    if (wrapped_chip("FFN##sub", ffn_step, false, "→")) select_step(s, pre ? Step::FFNNormIn : Step::FFNHidden);
    if (pre && b.layer == c.layers - 1 && wrapped_chip(tr_label("stepper.sub.final_norm", ""), s.sel.step == Step::FinalNorm, false, "→")) select_step(s, Step::FinalNorm);
  }

  // Every sub-step of the block as a chip, the selected one highlighted.
  for (int i = 0; i < static_cast<int>(steps.size()); ++i)
    if (wrapped_chip(steps[i].label + "###step" + std::to_string(i), i == index, i == 0, "→")) {
      index = i;
      select_step(s, steps[i].step);
    }
  const LayerStepView& view = steps[index];
  ImGui::Spacing();
  text_wrapped("%s", formula(s, view).c_str());
  if (view.step == Step::Input) residual_stream(s);
  const Mat* M = s.trace->tensors.find(view.tensor);
  if (!M) {
    ImGui::TextDisabled("%s", trf("stepper.not_in_trace", arg("path", view.tensor)).c_str());
    return;
  }
  const BlockRef& b = s.sel.block;
  // The FFN's steps and the stack's last norm are per layer; the attention rows follow the selected block.
  const bool attention_matrix = per_head(view.step) && view.step != Step::WeightedSum && view.step != Step::Project &&
                                M->cols() == static_cast<long>(key_tokens(s, b).size());
  HeatmapArgs a;
  a.key = view.tensor;
  a.M = M;
  a.name = view.tensor;
  a.row_labels = &query_tokens(s, b);
  a.row_axis = tr("stepper.axis_tokens");
  a.col_axis = tr("stepper.axis_features");
  if (attention_matrix) {
    a.col_labels = &key_tokens(s, b);
    a.row_axis = tr("stepper.axis_query");
    a.col_axis = tr("stepper.axis_key");
    const std::string head = paths::head(b.path(), s.sel.head) + ".";
    a.S = s.trace->tensors.find(head + "S");
    a.S_scaled = s.trace->tensors.find(head + "S_scaled");
    a.S_masked = s.trace->tensors.find(head + "S_masked");
    a.P = s.trace->tensors.find(head + "P");
    a.pinned_row = &s.sel.pinned_row;
  }
  a.signed_scale = view.step != Step::Softmax;
  // Companions drawn beside or below the step's tensor: the same rows through the KV cache (decode.*, when the
  // session decodes), or the PE that +PE adds.
  const Mat* decoded = view.step == Step::Softmax ? s.trace->tensors.find("decode." + view.tensor) : nullptr;
  const Mat* pe = view.step == Step::AddPE ? s.trace->tensors.find((b.decoder ? "decoder" : "encoder") + std::string(".embed.PE")) : nullptr;
  // Cells as large as the height left allows (so the tensor is on screen at 1280×720 in presentation mode too).
  const float reserve = ImGui::GetFontSize() * (attention_matrix ? 4.5f : 2.5f);
  const float height = ImGui::GetContentRegionAvail().y * (pe ? 0.5f : 1.0f) - ImGui::GetFontSize() * (pe ? 3.0f : 2.0f);
  a.max_cell = std::clamp((height - reserve) / static_cast<float>(std::max<Eigen::Index>(1, M->rows())), 3.0f, 28.0f);
  if (decoded) a.max_width = ImGui::GetContentRegionAvail().x * 0.5f - 8.0f;
  if (decoded) ImGui::BeginGroup();
  DrawHeatmap(s, a);
  if (decoded) {
    ImGui::EndGroup();
    ImGui::SameLine(0, 16);
    ImGui::BeginGroup();
    HeatmapArgs d = a;
    d.key = "decode." + view.tensor;
    d.M = decoded;
    d.name = d.key;
    d.S = d.S_scaled = d.S_masked = d.P = nullptr;
    d.pinned_row = nullptr;
    d.row_labels = &query_tokens(s, b);  // the fed tokens: the parallel pass runs over the same ones
    DrawHeatmap(s, d);
    ImGui::TextDisabled("%s", tr("stepper.decode_note"));
    ImGui::EndGroup();
  }
  if (pe) {
    ImGui::TextDisabled("%s", tr("stepper.pe_added"));
    HeatmapArgs pa = a;
    pa.key = pa.name = (b.decoder ? "decoder" : "encoder") + std::string(".embed.PE");
    pa.M = pe;
    DrawHeatmap(s, pa);
  }
  // BatchNorm's statistics span the batch: one mean and one variance per feature.
  if (c.norm == NormKind::BatchNorm && (view.step == Step::NormIn || view.step == Step::NormOut || view.step == Step::FFNNormIn ||
                                        view.step == Step::FFNNormOut || view.step == Step::FinalNorm))
    for (const char* stat : {".batch_mean", ".batch_var"}) {
      const std::string path = view.tensor + stat;
      if (const Mat* B = s.trace->tensors.find(path)) {
        const std::vector<std::string> batch_row{tr("stepper.batch")};
        HeatmapArgs bs;
        bs.key = path;
        bs.M = B;
        bs.name = trf("stepper.batch_stat", arg("path", path));
        bs.row_labels = &batch_row;
        bs.row_axis = "";
        bs.col_axis = tr("stepper.axis_features");
        bs.signed_scale = true;
        bs.max_cell = 28.0f;
        DrawHeatmap(s, bs);
      }
    }
  // A pinned query row of P as bars: where that token looks.
  const Mat* P = attention_matrix ? a.P : nullptr;
  if (P && s.sel.pinned_row >= 0 && s.sel.pinned_row < P->rows()) {
    ImGui::TextUnformatted(trf("stepper.pinned", arg("row", s.sel.pinned_row), arg("token", query_tokens(s, b)[s.sel.pinned_row])).c_str());
    DrawRowBars("stepper-pinned", P->row(s.sel.pinned_row), key_tokens(s, b), ImGui::GetContentRegionAvail().x * 0.6f);
  } else if (attention_matrix) {
    ImGui::TextDisabled("%s", tr("stepper.click_row"));
  }
}

}  // namespace qkv::app
