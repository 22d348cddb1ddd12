// QKV Lab app — Gradients tab, gradient matrices: ∂L/∂embed.E (rows labelled by vocabulary token) and the gradient
// reaching the selected layer's input (what the residual path carries back).
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <string>
#include <vector>

namespace qkv::app::gradients {

// [SECTION] The gradient into the embedding table

namespace {

// A gradient matrix [rows × features] as a signed heatmap, at most 18 px per cell, under its tensor path.
void draw_gradient_matrix(AppState& s, const std::string& path, const Mat& G, const std::string& name,
                          const std::vector<std::string>* row_labels, const char* row_axis, const char* col_axis) {
  HeatmapArgs a;
  a.key = path;
  a.M = &G;
  a.name = name;
  a.row_labels = row_labels;
  a.row_axis = row_axis;
  a.col_axis = col_axis;
  a.signed_scale = true;
  a.max_cell = kGradientCell;
  a.max_width = std::min(ImGui::GetContentRegionAvail().x, kGradientCell * static_cast<float>(G.cols()) + ImGui::GetFontSize() * 12.0f);
  DrawHeatmap(s, a);
}

}  // namespace

void DrawEmbeddingGradientView(AppState& s) {
  const Trace& t = *s.trace;
  const std::string path = paths::grad("embed.E");
  const Mat* dE = t.tensors.find(path);
  if (!dE) {
    ImGui::TextDisabled("%s", tr("gradients.embedding.none"));
    return;
  }
  const std::vector<std::string>& vocab = t.vocab.tokens();
  int used = 0;
  for (Eigen::Index i = 0; i < dE->rows(); ++i) used += dE->row(i).squaredNorm() > 0.0f ? 1 : 0;
  // Said from the numbers: the output layer shares this table (logits = x·Eᵀ), so with a cross-entropy loss every
  // row gets gradient; with the pattern loss only the rows of tokens in the input do.
  wrapped_disabled(used == dE->rows() ? tr("gradients.embedding.all_rows") : tr("gradients.embedding.some_rows"));
  draw_gradient_matrix(s, path, *dE, "∂L/∂embed.E", static_cast<Eigen::Index>(vocab.size()) == dE->rows() ? &vocab : nullptr,
                       tr("gradients.axis.vocab_token"), tr("gradients.axis.dimension"));
  ImGui::TextUnformatted(trf("gradients.embedding.rows", arg("used", used), arg("rows", static_cast<long>(dE->rows())),
                             arg("norm", sci(dE->cast<double>().norm())))
                             .c_str());
}

// [SECTION] The gradient reaching a layer's input (what the residual path carries back)

void DrawLayerInputGradientView(AppState& s) {
  const Trace& t = *s.trace;
  const std::string layer = paths::layer(s.sel.block.decoder ? "decoder" : "encoder", s.sel.block.layer);
  const std::string path = paths::grad(paths::join(layer, "input"));
  const Mat* dX = t.tensors.find(path);
  if (!dX) {
    ImGui::TextDisabled("%s", trf("gradients.layer_input.none", arg("layer", layer)).c_str());
    return;
  }
  wrapped_disabled(tr("gradients.layer_input.explain"));
  draw_gradient_matrix(s, path, *dX, "∂L/∂" + paths::join(layer, "input"), &query_tokens(s, s.sel.block), tr("gradients.axis.token"), "d_model");
  ImGui::Text("‖∂L/∂%s.input‖_F = %s", layer.c_str(), sci(dX->cast<double>().norm()).c_str());
}

}  // namespace qkv::app::gradients
