// QKV Lab app — the Gradients lab: the loss; ∂L/∂P and ∂L/∂S of the selected head (masked cells get exactly 0);
// the softmax Jacobian diag(p) − ppᵀ of a pinned row; ‖∂L/∂W_Q‖, ‖∂L/∂W_K‖, ‖∂L/∂W_V‖, ‖∂L/∂W_O‖ per head and
// layer; "why √d_k" measured with the model at d_k = 4 … 256; and the per-layer gradient norms with Pre- vs
// Post-Norm and residuals on or off.
//
// The gradients of the live model come with the trace (AppState::gradients_wanted → core::add_gradients). The two
// sweeps run copies of the session; their results are caches keyed by the session's JSON.
//
// [SECTION] Helpers
// [SECTION] The loss
// [SECTION] ∂L/∂P and ∂L/∂S of the selected head
// [SECTION] The softmax Jacobian of the pinned row
// [SECTION] Weight-gradient norms per head and layer
// [SECTION] The gradient into the embedding table
// [SECTION] The gradient reaching a layer's input (what the residual path carries back)
// [SECTION] Why √d_k (a sweep of d_k)
// [SECTION] Pre- vs Post-Norm, residual on/off
#include "app/jobs.h"
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/plot.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/scaling.h"
#include "core/network.h"

#include <imgui.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

// [SECTION] Helpers

double frobenius(const Mat& M) { return M.cast<double>().norm(); }

void wrapped_disabled(const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

void wrapped_colored(const ImVec4& color, const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, color);
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

std::string sci(double v) {
  if (!std::isfinite(v)) return fmt(static_cast<float>(v));
  char buf[32];
  if (v != 0.0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e4)) std::snprintf(buf, sizeof buf, "%.2e", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// The factor the softmax's input applies to S (Z = S·scale + B + M), read off the trace itself: S_scaled = S·scale.
// The session may hold edits that are not applied yet, so its d_k and τ are only the fallback.
double score_scale_of(const Trace& t, const std::string& head, const ModelConfig& c) {
  const Mat* S = t.tensors.find(head + ".S");
  const Mat* S_scaled = t.tensors.find(head + ".S_scaled");
  if (S && S_scaled && S->size() == S_scaled->size() && S->size() > 0) {
    Eigen::Index best = 0;
    for (Eigen::Index k = 0; k < S->size(); ++k)
      if (std::fabs(S->data()[k]) > std::fabs(S->data()[best])) best = k;
    if (std::fabs(S->data()[best]) > 1e-20f) return static_cast<double>(S_scaled->data()[best]) / S->data()[best];
  }
  const double sqrt_dk = c.score_scale == ScoreScale::InvSqrtDk ? std::sqrt(static_cast<double>(std::max(1, c.head_dk()))) : 1.0;
  return 1.0 / (sqrt_dk * c.temperature);
}

std::string first_self_attention_head(Arch arch) {
  return std::string(arch == Arch::DecoderOnly ? "decoder" : "encoder") + ".0.self_attn.head.0";
}

// The first stack of the forward pass: its layer inputs are where the per-layer gradient norms are read.
const char* first_stack(Arch arch) { return arch == Arch::DecoderOnly ? "decoder" : "encoder"; }

// All derived from AppState (keyed by the session's JSON or the trace's generation), so these file-local
// instances are caches, not app data.
struct LossInfo {
  std::string key;
  int rows = 0;  // cross-entropy: the output rows with a target; pattern: the rows of the head's P
};
LossInfo loss_info;

// [SECTION] The loss

const char* loss_title(LossKind resolved) {
  switch (resolved) {
    case LossKind::NextToken:
      return "next-token cross-entropy";
    case LossKind::TargetSequence:
      return "target-sequence cross-entropy";
    case LossKind::Reconstruct:
      return "reconstruct-the-input cross-entropy";
    case LossKind::Pattern:
      return "attention-pattern squared error";
    default:
      return "";
  }
}

const char* loss_tip(LossKind k) {
  switch (k) {
    case LossKind::Auto:
      return "The model's natural loss: next token (decoder-only), target sequence (encoder–decoder), reconstruct the input "
             "(encoder-only).";
    case LossKind::NextToken:
      return "Each position predicts the token after it (a language model). Needs a decoder: an encoder sees the next token.";
    case LossKind::TargetSequence:
      return "The decoder predicts the target text one token ahead, then [EOS] (translation-style). Encoder–decoder only.";
    case LossKind::Reconstruct:
      return "Each position predicts its own input token (a trivial task, but gradients flow through every layer).";
    case LossKind::Pattern:
      return "L = ½·Σ(P − P*)²/n: make the first self-attention head's weights P match a fixed pattern P*. A direct demo of "
             "gradients flowing into W_Q and W_K through the softmax.";
    default:
      return "";
  }
}

const char* pattern_tip(Pattern p) {
  switch (p) {
    case Pattern::Diagonal:
      return "Every query attends to itself (P* = identity)";
    case Pattern::Previous:
      return "Every query attends to the token before it (the first to itself)";
    case Pattern::AntiDiagonal:
      return "Query i attends to key m−1−i (reversal)";
    case Pattern::First:
      return "Every query attends to the first token";
    default:
      return "";
  }
}

bool loss_allowed(LossKind k, Arch arch) {
  if (k == LossKind::NextToken) return arch != Arch::EncoderOnly;
  if (k == LossKind::TargetSequence) return arch == Arch::EncoderDecoder;
  return true;
}

void update_loss_info(const Session& session, const std::string& key, const Trace& t) {
  if (loss_info.key == key) return;
  loss_info.key = key;
  loss_info.rows = 0;
  if (validate(session)) return;
  const LossKind kind = resolve(session.loss, session.model.arch);
  if (kind == LossKind::Pattern) {
    if (const Mat* P = t.tensors.find(first_self_attention_head(session.model.arch) + ".P")) loss_info.rows = static_cast<int>(P->rows());
    return;
  }
  for (int y : output_targets(kind, session.model.arch, token_batch(session))) loss_info.rows += y >= 0 ? 1 : 0;
}

void draw_loss_controls(AppState& s, const std::string& key) {
  Session& session = s.session;
  const Arch arch = session.model.arch;
  const LossKind resolved = resolve(session.loss, arch);
  std::string preview = name(session.loss);
  if (session.loss == LossKind::Auto) preview += std::string(" (") + name(resolved) + ")";
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 11);
  if (ImGui::BeginCombo("loss", preview.c_str())) {
    for (int i = 0; i < static_cast<int>(LossKind::Count); ++i) {
      const LossKind k = static_cast<LossKind>(i);
      if (!loss_allowed(k, arch) && k != session.loss) continue;
      std::string label = name(k);
      if (k == LossKind::Auto) label += std::string(" (") + name(resolve(k, arch)) + ")";
      if (ImGui::Selectable(label.c_str(), k == session.loss) && k != session.loss) {
        session.loss = k;
        s.dirty = true;
      }
      hover_tip(loss_tip(k));
    }
    ImGui::EndCombo();
  }
  hover_tip("The loss L whose gradients this tab shows. It is computed on the live model, on the teacher-forced pass.");
  if (resolved == LossKind::Pattern) {
    ImGui::SameLine(0, 16);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::BeginCombo("pattern P*", name(session.loss_pattern))) {
      for (int i = 0; i < static_cast<int>(Pattern::Count); ++i) {
        const Pattern p = static_cast<Pattern>(i);
        if (ImGui::Selectable(name(p), p == session.loss_pattern) && p != session.loss_pattern) {
          session.loss_pattern = p;
          s.dirty = true;
        }
        hover_tip(pattern_tip(p));
      }
      ImGui::EndCombo();
    }
    hover_tip(pattern_tip(session.loss_pattern));
    ImGui::SameLine(0, 16);
    const std::string target = first_self_attention_head(arch);
    ImGui::TextDisabled("targets %s", target.c_str());
    hover_tip("The pattern loss acts on the first self-attention head only; every other head gets gradient only through it.");
    ImGui::SameLine();
    if (ImGui::SmallButton("show it")) {
      s.sel.block = BlockRef{arch == Arch::DecoderOnly, false, 0};
      s.sel.head = 0;
      s.sel.pinned_row = -1;
    }
    hover_tip("Select that head below");
  } else {
    ImGui::SameLine(0, 16);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::SliderFloat("label smoothing ε", &session.label_smoothing, 0.0f, 0.3f, "%.2f", ImGuiSliderFlags_AlwaysClamp)) s.dirty = true;
    hover_tip("The target distribution becomes (1 − ε)·one-hot + ε/V: the model is never pushed to full certainty, so the "
              "gradient never vanishes even when the right token already wins. The Transformer used ε = 0.1.");
  }

  const Trace& t = *s.trace;
  update_loss_info(session, key, t);
  const float L = t.tensors.at("loss")(0, 0);
  char rows[64] = "";
  if (loss_info.rows > 0) std::snprintf(rows, sizeof rows, ", %d row%s", loss_info.rows, loss_info.rows == 1 ? "" : "s");
  char line[192];
  std::snprintf(line, sizeof line, "L = %s  (%s%s)", fmt(L).c_str(), loss_title(resolved), rows);
  ImGui::SameLine(0, 24);
  if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(line).x) ImGui::NewLine();  // on its own line when it does not fit
  ImGui::TextUnformatted(line);
  if (resolved == LossKind::Pattern)
    hover_tip("½·Σ(P − P*)² / n over the n query rows of the head's P: 0 when the head attends exactly as the pattern says");
  else
    hover_tip("Mean over the rows that have a target of −Σ_v q_v·log softmax(logits)_v; log V is what a uniform guess scores");
  if (!std::isfinite(L))
    error_text("The loss is not finite: some score overflowed (a tiny temperature τ or huge weights), so every gradient below is "
               "meaningless. Raise τ or turn √d_k scaling back on.");
  if (s.error)
    error_text("Not applied: %s. Everything below still shows the last valid model.", s.error->message().c_str());
}

// [SECTION] ∂L/∂P and ∂L/∂S of the selected head

void draw_head_gradients(AppState& s, const std::string& head, double scale) {
  const Trace& t = *s.trace;
  const BlockRef& b = s.sel.block;
  const Mat* P = t.tensors.find(head + ".P");
  const Mat* S_masked = t.tensors.find(head + ".S_masked");
  const Mat* dP = t.tensors.find("dL/d" + head + ".P");
  const Mat* dS = t.tensors.find("dL/d" + head + ".S");
  // Each heatmap reserves the width of its own legend (wider for a signed range such as −0.0015).
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  // Three side by side when each still gets readable cells and room for its token labels (about 10 px per cell
  // plus labels and legend); otherwise P and ∂L/∂P on one row and ∂L/∂S below, or one per row.
  const float avail = ImGui::GetContentRegionAvail().x;
  const float font = ImGui::GetFontSize();
  const float needed = static_cast<float>(P ? P->cols() : 1) * 10.0f + font * 9.0f;
  const int per_row = std::clamp(static_cast<int>((avail + gap) / (needed + gap)), 1, 3);
  const float row_w = avail - static_cast<float>(per_row - 1) * gap;
  const float p_width = per_row == 3 ? row_w * 0.3f : row_w / per_row;
  const float grad_width = per_row == 3 ? row_w * 0.35f : row_w / per_row;  // signed legends are wider than P's 0–1

  ImGui::BeginGroup();
  ImGui::TextUnformatted("attention weights (forward)");
  hover_tip("P = softmax(S·scale + mask), row by row. Click a row to pin it for the Jacobian below.");
  HeatmapArgs a;
  a.key = head + ".P";
  a.M = P;
  a.name = "P";
  a.row_labels = &query_tokens(s, b);
  a.col_labels = &key_tokens(s, b);
  a.max_width = p_width;
  a.S = t.tensors.find(head + ".S");
  a.S_scaled = t.tensors.find(head + ".S_scaled");
  a.S_masked = S_masked;
  a.P = P;
  a.pinned_row = &s.sel.pinned_row;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  if (per_row > 1) ImGui::SameLine(0, gap);
  ImGui::BeginGroup();
  ImGui::TextUnformatted("gradient into the attention weights");
  hover_tip("∂L/∂P: how the loss changes as each weight changes. It comes back from O = P·V: ∂L/∂P = ∂L/∂O · Vᵀ, so it is "
            "usually NOT zero at masked cells — the mask acts one step earlier.");
  HeatmapArgs g;
  g.key = "dL/d" + head + ".P";
  g.M = dP;
  g.name = "∂L/∂P";
  g.row_labels = a.row_labels;
  g.col_labels = a.col_labels;
  g.signed_scale = true;
  g.max_width = grad_width;
  g.pinned_row = &s.sel.pinned_row;
  DrawHeatmap(s, g);
  ImGui::EndGroup();

  if (per_row > 2) ImGui::SameLine(0, gap);
  ImGui::BeginGroup();
  ImGui::TextUnformatted("gradient into the raw scores S = QKᵀ");
  hover_tip("∂L/∂S, row by row: scale · J·(∂L/∂P row), J = diag(p) − ppᵀ the softmax Jacobian. This is what reaches Q and K "
            "(and so W_Q, W_K): ∂L/∂Q = ∂L/∂S · K.");
  HeatmapArgs d = g;
  d.key = "dL/d" + head + ".S";
  d.M = dS;
  d.name = "∂L/∂S";
  DrawHeatmap(s, d);
  ImGui::EndGroup();

  if (!P || !dP || !dS || !S_masked || dS->rows() != S_masked->rows() || dS->cols() != S_masked->cols()) {
    ImGui::TextDisabled("This head has no score gradients in this configuration.");
    return;
  }
  // Masked cells: −∞ in S_masked, so p = 0 there and the Jacobian's row and column vanish: ∂L/∂S = 0 exactly.
  int masked = 0, leaked = 0;
  float worst = 0.0f;
  for (Eigen::Index i = 0; i < S_masked->rows(); ++i)
    for (Eigen::Index j = 0; j < S_masked->cols(); ++j) {
      const float v = (*S_masked)(i, j);
      if (!(std::isinf(v) && v < 0)) continue;
      ++masked;
      if ((*dS)(i, j) != 0.0f) ++leaked, worst = std::max(worst, std::fabs((*dS)(i, j)));
    }
  const long cells = static_cast<long>(S_masked->size());
  if (masked == 0) {
    ImGui::TextDisabled("masked cells: none of %ld in this block (turn on a causal mask or mark padding to see them get zero gradient)", cells);
  } else if (leaked == 0) {
    check_mark(true, "Checked cell by cell: ∂L/∂S == 0.0f at every −∞ cell");
    ImGui::SameLine();
    ImGui::Text("masked cells: %d of %ld — every one has ∂L/∂S = 0 exactly", masked, cells);
    hover_tip("p = 0 at a masked cell, so its row and column of diag(p) − ppᵀ are zero: no gradient reaches that score, "
              "whatever ∂L/∂P is there. The mask blocks learning from the future (causal) and from padding.");
  } else {
    check_mark(false, "A masked cell received gradient: that would be a bug");
    ImGui::SameLine();
    error_text("masked cells: %d of %ld — %d have ∂L/∂S ≠ 0 (largest |∂L/∂S| %s): this is a bug", masked, cells, leaked,
                       sci(worst).c_str());
  }
  const double nP = frobenius(*dP), nS = frobenius(*dS), nZ = nS / scale;
  ImGui::Text("‖∂L/∂P‖_F = %s   ‖∂L/∂S‖_F = %s   ‖∂L/∂Z‖_F = ‖∂L/∂S‖_F ÷ scale = %s   ‖∂L/∂Z‖/‖∂L/∂P‖ = %s", sci(nP).c_str(),
              sci(nS).c_str(), sci(nZ).c_str(), nP > 0 ? sci(nZ / nP).c_str() : "— (∂L/∂P = 0)");
  char tip[360];
  std::snprintf(tip, sizeof tip,
                "Z = S·scale + mask is the softmax's input; scale = %.4g here (1/(√d_k·τ), or 1/τ without √d_k).\n"
                "‖∂L/∂Z‖/‖∂L/∂P‖ is how much gradient the softmax lets through per unit arriving from above: near 0 when\n"
                "its rows are saturated (one weight ≈ 1). The \"why √d_k\" plot below measures it against d_k.",
                scale);
  hover_tip(tip);
}

// [SECTION] The softmax Jacobian of the pinned row

void draw_jacobian(AppState& s, const std::string& head, double scale) {
  const Trace& t = *s.trace;
  const Mat* P = t.tensors.find(head + ".P");
  const Mat* dP = t.tensors.find("dL/d" + head + ".P");
  const Mat* dS = t.tensors.find("dL/d" + head + ".S");
  const int r = s.sel.pinned_row;
  if (!P || !dP || !dS) return;
  if (r < 0 || r >= P->rows()) {
    ImGui::TextDisabled("Click a row of P above to pin it: its softmax Jacobian J = diag(p) − ppᵀ appears here.");
    return;
  }
  const std::vector<std::string>& keys = key_tokens(s, s.sel.block);
  const std::vector<std::string>& queries = query_tokens(s, s.sel.block);
  const int m = static_cast<int>(P->cols());
  const RowVec p = P->row(r);
  Mat J(m, m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) J(i, j) = (i == j ? p[i] : 0.0f) - p[i] * p[j];

  const float avail = ImGui::GetContentRegionAvail().x;
  const float left_w = std::min(avail * 0.45f, 520.0f);
  ImGui::BeginGroup();
  HeatmapArgs a;
  a.key = "jacobian/" + head + "/" + std::to_string(r);
  a.M = &J;
  a.name = "J = ∂p/∂z";
  a.row_labels = &keys;
  a.col_labels = &keys;
  a.row_axis = "key";
  a.col_axis = "key";
  a.signed_scale = true;
  a.max_width = left_w;
  DrawHeatmap(s, a);
  ImGui::EndGroup();

  ImGui::SameLine(0, 24);
  ImGui::BeginGroup();
  const float right_w = std::max(200.0f, ImGui::GetContentRegionAvail().x);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + right_w);
  ImGui::Text("query %d \"%s\": p = its row of P", r, r < static_cast<int>(queries.size()) ? queries[r].c_str() : "");
  {
    const float row_h = ImGui::GetFontSize() + 4.0f, bars_w = std::min(right_w, 420.0f);
    const float bars_h = std::min(static_cast<float>(m) * row_h, 12.0f * row_h) + 4.0f;  // long rows scroll
    ImGui::BeginChild("jacobian_p", ImVec2(bars_w + ImGui::GetStyle().ScrollbarSize, bars_h), false);
    DrawRowBars("jacobian_p", p, keys, bars_w);
    ImGui::EndChild();
  }
  double entropy = 0.0;
  for (int j = 0; j < m; ++j)
    if (p[j] > 0.0f) entropy -= static_cast<double>(p[j]) * std::log(static_cast<double>(p[j]));
  int allowed = 0;
  if (const Mat* S_masked = t.tensors.find(head + ".S_masked"))
    for (int j = 0; j < m && r < S_masked->rows(); ++j) allowed += std::isfinite((*S_masked)(r, j)) ? 1 : 0;
  const double jn = frobenius(J);
  if (p.sum() == 0.0f) {
    text_wrapped("Every key of this row is masked: p = 0, so J = 0 and no gradient reaches its scores.");
  } else {
    ImGui::Text("entropy %.3f nats (uniform over its %d keys: %.3f)   max p = %.4f   ‖J‖_F = %s", std::max(0.0, entropy), allowed,
                std::log(static_cast<double>(std::max(allowed, 1))), p.maxCoeff(), sci(jn).c_str());
    hover_tip("‖J‖_F is largest for a flat row and tends to 0 as the row approaches one-hot.");
    wrapped_disabled("J_ij = p_i(δ_ij − p_j). A saturated row (one p ≈ 1, the rest ≈ 0) has J ≈ 0: whatever ∂L/∂P says, almost no "
                     "gradient passes back to the scores, so W_Q and W_K stop learning. Large unscaled dot products cause exactly that. "
                     "A masked key has p = 0, so its row and column of J are 0: that is why ∂L/∂S is exactly 0 there.");
  }
  // The chain rule, checked: ∂L/∂z = J·∂L/∂p, and ∂L/∂S = scale·∂L/∂z.
  if (r < dP->rows() && r < dS->rows() && dP->cols() == m && dS->cols() == m) {
    const Eigen::VectorXd g = dP->row(r).transpose().cast<double>();
    const Eigen::VectorXd Jg = J.cast<double>() * g;
    double diff = 0.0, largest = 0.0;
    for (int j = 0; j < m; ++j) {
      const double z = static_cast<double>((*dS)(r, j)) / scale;
      diff = std::max(diff, std::fabs(Jg[j] - z));
      largest = std::max(largest, std::fabs(z));
    }
    const bool ok = std::isfinite(diff) && diff <= 1e-4 * largest + 1e-6;
    check_mark(ok, ok ? "Agrees to float rounding" : "J·∂L/∂p differs from ∂L/∂S ÷ scale by more than float rounding");
    ImGui::SameLine();
    ImGui::Text("check: max |J·(∂L/∂P row) − (∂L/∂S row) ÷ scale| = %s   (largest entry %s, scale %.4g)", sci(diff).c_str(),
                sci(largest).c_str(), scale);
    hover_tip("The tape's backward pass computed ∂L/∂S; here J is built from p and multiplied by ∂L/∂P's row by hand. They agree.");
  }
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

// [SECTION] Weight-gradient norms per head and layer

enum CellState { kValue, kTied, kFixed, kMissing };
constexpr const char* kMatrixNames[4] = {"W_Q", "W_K", "W_V", "W_O"};
constexpr const char* kLetters[4] = {"Q", "K", "V", "O"};

struct NormCell {
  float v[4] = {0, 0, 0, 0};
  CellState state[4] = {kMissing, kMissing, kMissing, kMissing};
};
struct NormRow {
  BlockRef block;
  std::vector<NormCell> heads;  // h heads, then the whole block ("all heads")
};
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
  const Trace& t = *s.trace;
  for (const BlockRef& b : attention_blocks(s.session.model)) {
    const std::string block = b.path();
    if (!t.tensors.contains(block + ".head.0.P")) continue;  // the session holds edits not applied yet
    int h = 0;
    while (t.tensors.contains(block + ".head." + std::to_string(h) + ".P")) ++h;
    const Mat* Q0 = t.tensors.find(block + ".head.0.Q");
    const Mat* V0 = t.tensors.find(block + ".head.0.V");
    const int dk = Q0 ? static_cast<int>(Q0->cols()) : 0, dv = V0 ? static_cast<int>(V0->cols()) : 0;
    const Mat* grads[4];
    for (int k = 0; k < 4; ++k) grads[k] = t.tensors.find("dL/d" + block + "." + kMatrixNames[k]);
    NormRow row;
    row.block = b;
    row.heads.resize(h + 1);
    for (int k = 0; k < 4; ++k) {
      const Mat* G = grads[k];
      CellState missing = kMissing;
      if (!G) missing = k == 1 && grads[0] ? kTied : (k < 3 ? kFixed : kMissing);
      for (int i = 0; i <= h; ++i) {
        NormCell& c = row.heads[i];
        if (!G) {
          c.state[k] = missing;
          continue;
        }
        const int width = k == 3 ? dv : (k == 2 ? dv : dk);
        double n = NAN;
        if (i == h) n = frobenius(*G);
        else if (k == 3 && (i + 1) * width <= G->rows()) n = G->middleRows(i * width, width).cast<double>().norm();
        else if (k < 3 && (i + 1) * width <= G->cols()) n = G->middleCols(i * width, width).cast<double>().norm();
        if (std::isnan(n)) continue;
        c.v[k] = static_cast<float>(n);
        c.state[k] = kValue;
        if (!std::isfinite(c.v[k])) continue;
        float& top = i < h ? norm_table.max_by_kind[k] : norm_table.max_all_by_kind[k];
        top = std::max(top, c.v[k]);
      }
    }
    norm_table.heads = std::max(norm_table.heads, h);
    norm_table.rows.push_back(std::move(row));
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
    if (c.state[k] == kValue) {
      const float f = scale_by_kind[k] > 0.0f && std::isfinite(c.v[k]) ? std::clamp(c.v[k] / scale_by_kind[k], 0.0f, 1.0f) : 0.0f;
      list->AddRectFilled(ImVec2(x0, y + 2.0f), ImVec2(x0 + bar_w, y + line_h - 2.0f), (ImGui::GetColorU32(ImGuiCol_FrameBg)));
      list->AddRectFilled(ImVec2(x0, y + 2.0f), ImVec2(x0 + std::max(1.0f, bar_w * f), y + line_h - 2.0f), palette(k));
      if (show_values) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "%.2e", c.v[k]);
        list->AddText(font, small, ImVec2(x0 + bar_w + 4.0f, y), text, buf);
      }
    } else {
      list->AddText(font, small, ImVec2(x0, y), dim, c.state[k] == kTied ? "tied to W_Q" : c.state[k] == kFixed ? "fixed (identity)" : "—");
    }
  }
  ImGui::InvisibleButton(id, ImVec2(width, 4 * line_h));
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(what.c_str());
    ImGui::Separator();
    for (int k = 0; k < 4; ++k) {
      if (c.state[k] == kValue) ImGui::Text("‖∂L/∂%s‖_F = %s", kMatrixNames[k], sci(c.v[k]).c_str());
      else if (c.state[k] == kTied) ImGui::TextDisabled("∂L/∂W_K: tied W_K = W_Q, its gradient is added into ∂L/∂W_Q");
      else if (c.state[k] == kFixed) ImGui::TextDisabled("∂L/∂%s: identity projection, not trainable", kMatrixNames[k]);
      else ImGui::TextDisabled("∂L/∂%s: not computed", kMatrixNames[k]);
    }
    ImGui::EndTooltip();
  }
}

void draw_norms(AppState& s) {
  update_norm_table(s);
  if (norm_table.rows.empty()) {
    ImGui::TextDisabled("No attention blocks with weight gradients in this trace.");
    return;
  }
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID shared_id = ImGui::GetID("norms.shared_scale");
  bool shared = storage->GetBool(shared_id, false);
  wrapped_disabled("Frobenius norm of each head's slice of the weight gradients: W_Q, W_K (columns i·d_k … (i+1)·d_k), W_V (columns "
                   "i·d_v …) and W_O (rows i·d_v …). The last column is the whole matrix. Hover a cell for the numbers.");
  if (ImGui::Checkbox("one bar scale for all four matrices", &shared)) storage->SetBool(shared_id, shared);
  hover_tip("Off: each matrix's bars are relative to its own largest head (compare layers and heads). On: one scale, so you see "
            "that W_Q and W_K usually get far less gradient than W_V and W_O — theirs has to pass through the softmax.");
  float scale_by_kind[4], scale_all_by_kind[4];
  const float global = *std::max_element(norm_table.max_by_kind, norm_table.max_by_kind + 4);
  const float global_all = *std::max_element(norm_table.max_all_by_kind, norm_table.max_all_by_kind + 4);
  for (int k = 0; k < 4; ++k) {
    scale_by_kind[k] = shared ? global : norm_table.max_by_kind[k];
    scale_all_by_kind[k] = shared ? global_all : norm_table.max_all_by_kind[k];
  }

  // ImGui tables take at most 64 columns: many heads are shown 32 at a time.
  constexpr int kMaxHeadColumns = 32;
  const int h = norm_table.heads;
  int first = 0;
  if (h > kMaxHeadColumns) {
    const ImGuiID first_id = ImGui::GetID("norms.first_head");
    first = std::clamp(storage->GetInt(first_id, 0), 0, h - kMaxHeadColumns);
    ImGui::SameLine(0, 24);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
    if (ImGui::SliderInt("first head shown", &first, 0, h - kMaxHeadColumns, "%d", ImGuiSliderFlags_AlwaysClamp)) storage->SetInt(first_id, first);
    hover_tip("This model has more heads than fit in one table: pick which 32 to show");
  }
  const int shown = std::min(h, kMaxHeadColumns);
  const float font = ImGui::GetFontSize();
  const ImGuiStyle& style = ImGui::GetStyle();
  const float avail = ImGui::GetContentRegionAvail().x;
  const float block_w = ImGui::CalcTextSize("decoder · layer 00 · cross-attention").x + 8.0f;
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
  ImGui::TableSetupColumn("attention block", ImGuiTableColumnFlags_WidthFixed, block_w);
  for (int i = first; i < first + shown; ++i)
    ImGui::TableSetupColumn(("head " + std::to_string(i)).c_str(), ImGuiTableColumnFlags_WidthFixed, col_w);
  ImGui::TableSetupColumn("all heads", ImGuiTableColumnFlags_WidthFixed, col_w);
  ImGui::TableHeadersRow();
  for (const NormRow& row : norm_table.rows) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    const bool selected = row.block.path() == s.sel.block.path();
    if (ImGui::Selectable(block_title(row.block).c_str(), selected, 0, ImVec2(0, row_h - style.CellPadding.y * 2.0f))) {
      s.sel.block = row.block;
      s.sel.pinned_row = -1;
    }
    hover_tip("Select this block for the heatmaps above");
    ImGui::PushID(row.block.path().c_str());
    const int heads = static_cast<int>(row.heads.size()) - 1;  // then the whole block
    for (int i = first; i <= std::min(heads, first + shown); ++i) {
      const bool all = i == heads;
      if (!all && i >= first + shown) continue;
      ImGui::TableSetColumnIndex(all ? shown + 1 : i - first + 1);
      const std::string what = block_title(row.block) + (all ? " · all heads (whole matrices)" : " · head " + std::to_string(i));
      ImGui::PushID(i);
      draw_norm_cell("cell", row.heads[i], all ? scale_all_by_kind : scale_by_kind, col_w, what);
      ImGui::PopID();
    }
    if (heads > first + shown) {  // the whole-block cell lies beyond the window of heads
      ImGui::TableSetColumnIndex(shown + 1);
      ImGui::PushID(heads);
      draw_norm_cell("cell", row.heads[heads], scale_all_by_kind, col_w, block_title(row.block) + " · all heads (whole matrices)");
      ImGui::PopID();
    }
    ImGui::PopID();
  }
  ImGui::EndTable();
}

// [SECTION] The gradient into the embedding table

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
  a.max_cell = 18.0f;
  a.max_width = std::min(ImGui::GetContentRegionAvail().x, 18.0f * static_cast<float>(G.cols()) + ImGui::GetFontSize() * 12.0f);
  DrawHeatmap(s, a);
}

void draw_embedding_gradient(AppState& s) {
  const Trace& t = *s.trace;
  const Mat* dE = t.tensors.find("dL/dembed.E");
  if (!dE) {
    ImGui::TextDisabled("No gradient into the embedding table in this trace.");
    return;
  }
  const std::vector<std::string>& vocab = t.vocab.tokens();
  int used = 0;
  for (Eigen::Index i = 0; i < dE->rows(); ++i) used += dE->row(i).squaredNorm() > 0.0f ? 1 : 0;
  // Said from the numbers: the output layer shares this table (logits = x·Eᵀ), so with a cross-entropy loss every
  // row gets gradient; with the pattern loss only the rows of tokens in the input do.
  wrapped_disabled(used == dE->rows()
                       ? "One row per vocabulary token, one column per embedding dimension. Every row gets gradient: the tokens of the "
                         "input through the embedding lookup, and every token through the output layer, which shares this table "
                         "(logits = x·Eᵀ) and pushes down the tokens it should not predict."
                       : "One row per vocabulary token, one column per embedding dimension. Rows that are exactly 0 got no gradient: "
                         "their token is neither in the input nor reached through the output layer by this loss.");
  draw_gradient_matrix(s, "dL/dembed.E", *dE, "∂L/∂embed.E", static_cast<Eigen::Index>(vocab.size()) == dE->rows() ? &vocab : nullptr,
                       "vocabulary token", "dimension");
  ImGui::Text("%d of %lld rows are non-zero   ‖∂L/∂embed.E‖_F = %s", used, static_cast<long long>(dE->rows()), sci(frobenius(*dE)).c_str());
}

// [SECTION] The gradient reaching a layer's input (what the residual path carries back)

void draw_layer_input_gradient(AppState& s) {
  const Trace& t = *s.trace;
  const std::string layer = std::string(s.sel.block.decoder ? "decoder." : "encoder.") + std::to_string(s.sel.block.layer);
  const std::string path = "dL/d" + layer + ".input";
  const Mat* dX = t.tensors.find(path);
  if (!dX) {
    ImGui::TextDisabled("No gradient for %s.input in this trace.", layer.c_str());
    return;
  }
  wrapped_disabled("One row per token, one column per feature of the residual stream entering this layer. With residual "
                   "connections the gradient of the layer's output passes to its input unchanged (∂(x + F(x))/∂x = I + ∂F/∂x), "
                   "so it stays large however deep the stack; turn residuals off in the sidebar and compare its norm.");
  draw_gradient_matrix(s, path, *dX, "∂L/∂" + layer + ".input", &query_tokens(s, s.sel.block), "token", "d_model");
  ImGui::Text("‖∂L/∂%s.input‖_F = %s", layer.c_str(), sci(frobenius(*dX)).c_str());
}

// [SECTION] Why √d_k (a sweep of d_k)

// The sweeps run copies of the session on a worker thread (app/jobs.h; core::run is pure), keyed by the session's
// JSON: no frame waits for them. Until the first result arrives the section shows its progress; later, the previous
// result stays on screen, greyed, while the new one is computed, and a newer edit cancels an outdated job. The
// jobs cancel and join when the app exits, so closing it mid-sweep waits for one run at most.
template <typename R>
void update_sweep(AppState& s, KeyedResult<R>& sweep, const std::string& key, bool session_valid, std::function<R(JobControl&)> compute) {
  sweep.update(key, session_valid, std::move(compute));
  if (sweep.job.running()) {
    s.animating = true;  // the progress moves, and the result must show when it arrives
    ++s.jobs_running;
  }
}

// "k of N runs" with a bar, while a job runs.
template <typename R>
void job_progress(const KeyedResult<R>& sweep, const char* what) {
  if (!sweep.job.running()) return;
  const int done = sweep.job.done(), total = sweep.job.total();
  char overlay[64];
  if (total > 0) std::snprintf(overlay, sizeof overlay, "%d of %d runs", done, total);
  else std::snprintf(overlay, sizeof overlay, "starting");
  wrapped_disabled(what);
  ImGui::ProgressBar(total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f,
                     ImVec2(std::min(ImGui::GetFontSize() * 16, ImGui::GetContentRegionAvail().x), 0), overlay);
}

// The measurement itself is core::labs::dk_gradient_sweep: seeded weights, d_k = 4 … 256, several seeds.
constexpr const int* kSweepDk = labs::kGradDk;
constexpr int kSweepCount = labs::kGradCount;
constexpr int kSweepSeeds = 4;
KeyedResult<labs::DkGradientSweep> dk_sweep;

float top_of(const std::vector<Series>& series) {
  float top = 1e-6f;
  for (const Series& s : series)
    for (float y : s.y)
      if (std::isfinite(y)) top = std::max(top, y);
  return top;
}

// What a sweep's result stands for when it is not the current session's; true: draw it greyed.
template <typename R>
bool stale_note(const KeyedResult<R>& sweep, const std::string& key, bool session_valid) {
  if (!sweep.stale(key)) return false;
  if (sweep.job.running()) job_progress(sweep, "Recomputing for the new settings (showing the previous result meanwhile)…");
  else if (!session_valid) ImGui::TextDisabled("The session has edits that are not valid: showing the last valid one's measurement.");
  return true;
}

void draw_dk_result(AppState& s);

void draw_dk_sweep(AppState& s, const std::string& key, bool session_valid) {
  const Session session = s.session;
  update_sweep<labs::DkGradientSweep>(s, dk_sweep, key, session_valid, [session](JobControl& c) {
    return labs::dk_gradient_sweep(session, kSweepSeeds, c.progress());
  });
  if (!dk_sweep.has()) {
    if (dk_sweep.job.running()) job_progress(dk_sweep, "Measuring on a worker thread…");
    else ImGui::TextDisabled("The session is not valid: the sweep runs once it is.");
    return;
  }
  const bool stale = stale_note(dk_sweep, key, session_valid);
  ImGui::PushStyleVar(ImGuiStyleVar_Alpha, ImGui::GetStyle().Alpha * (stale ? 0.45f : 1.0f));
  draw_dk_result(s);
  ImGui::PopStyleVar();
}

void draw_dk_result(AppState& s) {
  const labs::DkGradientSweep& r = dk_sweep.value;
  if (r.skipped) {
    ImGui::TextDisabled("Skipped for speed: this input has more than %d tokens (%d runs of the model with gradients).", labs::kGradMaxTokens,
                        2 * kSweepCount * kSweepSeeds);
    return;
  }
  text_wrapped("The live model (same text, loss, d_model, layers, h = %d, τ = %.2f, masks) with d_k = 4 … 256, with and without "
               "÷√d_k, each run with its gradients; measured at %s per query row, averaged over its heads and rows and over %d "
               "seeds (the band: smallest to largest seed). %.0f ms, on a worker thread, again only when the session changes.",
               r.heads, r.temperature, r.block.c_str(), r.seeds, r.ms);
  if (!r.seeded_note.empty()) wrapped_disabled(r.seeded_note.c_str());
  if (r.identity_replaced) wrapped_disabled("Identity projections fix d_k = d_model/h, so these runs learn W_Q, W_K instead.");
  if (!r.error.empty()) error_text("Not measured for every d_k (%s); those points are left out.", r.error.c_str());
  if (r.additive)
    wrapped_disabled("Additive scoring: S = w_aᵀ tanh(q + k) is not a dot product of two d_k-vectors, so its spread need not grow "
                     "like √d_k, and the two curves may stay close.");
  if (!r.too_big.empty()) {
    std::string list;
    for (int dk : r.too_big) list += (list.empty() ? "" : ", ") + std::to_string(dk);
    char buf[160];
    std::snprintf(buf, sizeof buf, "Not run for speed: d_k = %s (with h = %d and these layers, over %.0f million weights per run).", list.c_str(),
                  r.heads, labs::kGradMaxParams / 1e6);
    wrapped_disabled(buf);
  }
  Series on{"÷√d_k (scaled)", {}, {}, palette(0)}, off{"not scaled", {}, {}, palette(5)};
  Series on_lo{"", {}, {}, palette(0)}, on_hi{"", {}, {}, palette(0)}, off_lo{"", {}, {}, palette(5)}, off_hi{"", {}, {}, palette(5)};
  Series max_on{"÷√d_k (scaled)", {}, {}, palette(0)}, max_off{"not scaled", {}, {}, palette(5)};
  on.points = off.points = max_on.points = max_off.points = true;
  on_lo.dashed = on_hi.dashed = off_lo.dashed = off_hi.dashed = true;
  for (int k = 0; k < kSweepCount; ++k) {
    const float x = static_cast<float>(kSweepDk[k]);
    for (Series* series : {&on, &off, &max_on, &max_off, &on_lo, &on_hi, &off_lo, &off_hi}) series->x.push_back(x);
    on.y.push_back(r.scaled[k].mean);
    off.y.push_back(r.unscaled[k].mean);
    on_lo.y.push_back(r.scaled[k].lo);
    on_hi.y.push_back(r.scaled[k].hi);
    off_lo.y.push_back(r.unscaled[k].lo);
    off_hi.y.push_back(r.unscaled[k].hi);
    max_on.y.push_back(r.scaled[k].max_weight);
    max_off.y.push_back(r.unscaled[k].max_weight);
  }
  std::vector<Series> left{on, off, on_lo, on_hi, off_lo, off_hi};
  const float top = top_of(left);
  if (r.model_dk >= kSweepDk[0] && r.model_dk <= kSweepDk[kSweepCount - 1]) {
    Series marker{"this model's d_k", {static_cast<float>(r.model_dk), static_cast<float>(r.model_dk)}, {0.0f, top}, palette(4)};
    marker.dashed = true;
    left.push_back(marker);
  }
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_left = avail * 0.6f, w_right = avail - w_left - ImGui::GetStyle().ItemSpacing.x;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "dk_ratio";
  pa.x_label = "d_k (log scale)";
  pa.y_label = "‖∂L/∂Z_r‖ / ‖∂L/∂P_r‖ (passed on)";
  pa.size = ImVec2(w_left, 260);
  pa.log_x = true;
  pa.y_min = 0.0f;
  pa.y_max = 1.35f * top;  // headroom for the legend, top right
  DrawLinePlot(pa, left);
  {
    // Where the plot was drawn (--layout-json), so a test can check that lesson 5's step shows it.
    const ImVec2 p0 = ImGui::GetItemRectMin(), p1 = ImGui::GetItemRectMax();
    s.drawn_heatmaps.push_back({"plot:gradients.why-sqrt-dk", p0.x, p0.y, p1.x, p1.y, 0, 0});
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_left);
  wrapped_disabled(labs::dk_gradient_caption(r).c_str());
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Z = S·scale + mask is the softmax's input; a row r passes on ‖∂L/∂Z_r‖ per unit ‖∂L/∂P_r‖ arriving from above.\n"
                      "Dashed: the smallest and largest of the %d seeds' means.", r.seeds);
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  PlotArgs pm;
  pm.id = "dk_saturation";
  pm.x_label = "d_k (log scale)";
  pm.y_label = "mean max weight per row";
  pm.size = ImVec2(w_right, 260);
  pm.log_x = true;
  pm.y_min = 0.0f;
  pm.y_max = 1.3f;
  DrawLinePlot(pm, {max_on, max_off});
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_right);
  wrapped_disabled("1 = every row one-hot (saturated softmax). Saturation and a vanishing ratio on the left go together.");
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

// [SECTION] Pre- vs Post-Norm, residual on/off

struct NormVariant {
  NormPlacement placement = NormPlacement::Post;
  bool residual = true;
  std::vector<float> norms;  // ‖∂L/∂(input of layer l)‖_F for l = 0 … L−1, then the last layer's output
  std::string error;
};
struct NormSweep {
  std::vector<NormVariant> variants;
  // The session it measured.
  bool norms = true;
  NormPlacement placement = NormPlacement::Post;
  bool residual = true;
  int layers = 0;
  Arch arch = Arch::EncoderOnly;
  bool pattern = false;  // the loss is the first head's pattern: the layers above it get no gradient
  double ms = 0.0;
};
KeyedResult<NormSweep> norm_sweep;

NormSweep compute_norm_sweep(const Session& session, const std::vector<std::string>& search_dirs, JobControl& control) {
  const auto start = std::chrono::steady_clock::now();
  NormSweep out;
  out.norms = session.model.norm != NormKind::None;
  out.placement = session.model.norm_placement;
  out.residual = session.model.residual;
  out.layers = session.model.layers;
  out.arch = session.model.arch;
  out.pattern = resolve(session.loss, session.model.arch) == LossKind::Pattern;
  WeightCache weights;  // the session's own weights (trained or seeded): every variant has the same shapes
  weights.search_dirs = search_dirs;
  const std::string stack = first_stack(session.model.arch);
  for (const NormPlacement placement : {NormPlacement::Post, NormPlacement::Pre}) {
    if (!out.norms && placement == NormPlacement::Pre) continue;
    for (const bool residual : {true, false}) {
      control.report(static_cast<int>(out.variants.size()), out.norms ? 4 : 2);
      if (control.cancelled()) return out;
      NormVariant v;
      v.placement = placement;
      v.residual = residual;
      Session copy = session;
      copy.model.norm_placement = placement;
      copy.model.residual = residual;
      copy.decode_steps = 0;
      Result<Trace> t = run(copy, &weights);
      if (!t) {
        v.error = t.error().message();
      } else if (auto e = add_gradients(copy, *t)) {
        v.error = e->message();
      } else {
        const int L = copy.model.layers;
        for (int l = 0; l <= L; ++l) {
          const std::string path = l < L ? stack + "." + std::to_string(l) + ".input" : stack + "." + std::to_string(L - 1) + ".output";
          const Mat* g = t->tensors.find("dL/d" + path);
          v.norms.push_back(g ? static_cast<float>(frobenius(*g)) : NAN);
        }
      }
      out.variants.push_back(std::move(v));
    }
  }
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string variant_label(const NormVariant& v, bool norms) {
  std::string label = norms ? std::string(v.placement == NormPlacement::Pre ? "Pre-Norm" : "Post-Norm") : "no norm";
  return label + (v.residual ? ", residual" : ", no residual");
}

void draw_norm_result();

void draw_norm_sweep(AppState& s, const std::string& key, bool session_valid) {
  const Session session = s.session;
  const std::vector<std::string> dirs = s.weights.search_dirs;
  update_sweep<NormSweep>(s, norm_sweep, key, session_valid, [session, dirs](JobControl& c) { return compute_norm_sweep(session, dirs, c); });
  if (!norm_sweep.has()) {
    if (norm_sweep.job.running()) job_progress(norm_sweep, "Measuring on a worker thread…");
    else ImGui::TextDisabled("The session is not valid: the comparison runs once it is.");
    return;
  }
  const bool stale = stale_note(norm_sweep, key, session_valid);
  ImGui::PushStyleVar(ImGuiStyleVar_Alpha, ImGui::GetStyle().Alpha * (stale ? 0.45f : 1.0f));
  draw_norm_result();
  ImGui::PopStyleVar();
}

void draw_norm_result() {
  const NormSweep& r = norm_sweep.value;
  const int L = r.layers;
  const std::string stack = first_stack(r.arch);
  text_wrapped("The live model (its weights, text and loss) run %s, each with its gradients: ‖∂L/∂x_l‖_F where x_l is the input "
               "of %s layer l, and at %d the output of its last layer.%s %.0f ms on a worker thread, again only when the session changes.",
               r.norms ? "with Post-Norm and Pre-Norm, residuals on and off" : "with residuals on and off", stack.c_str(), L,
               r.arch == Arch::EncoderDecoder ? " Encoder–decoder: the encoder stack (its gradient arrives through cross-attention)." : "",
               r.ms);
  if (!r.norms) ImGui::TextDisabled("Norms are off (norm = none): Pre and Post are the same model, so only residual on/off is compared.");
  if (r.pattern)
    wrapped_colored(ImVec4(1.0f, 0.8f, 0.3f, 1.0f), "The pattern loss acts on the first attention head only, so every layer above it gets "
                                                     "zero gradient (not drawn on the log scale): choose a cross-entropy loss for this comparison.");
  std::vector<Series> series;
  std::string errors;
  // log₁₀ of the norms: they differ by orders of magnitude between the variants, and a constant factor per layer
  // (vanishing or exploding) is a straight line. Zero norms (no gradient) are left out.
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < r.variants.size(); ++i) {
    const NormVariant& v = r.variants[i];
    if (!v.error.empty()) {
      errors += variant_label(v, r.norms) + ": " + v.error + "  ";
      continue;
    }
    const bool current = v.residual == r.residual && (!r.norms || v.placement == r.placement);
    Series line{variant_label(v, r.norms) + (current ? " (this model)" : ""), {}, {}, palette(static_cast<int>(i))};
    line.dashed = !current;
    line.points = true;
    for (int l = 0; l < static_cast<int>(v.norms.size()); ++l) {
      const float y = v.norms[l] > 0.0f ? std::log10(v.norms[l]) : NAN;
      line.x.push_back(static_cast<float>(l));
      line.y.push_back(y);
      if (std::isfinite(y)) lo = std::min(lo, y), hi = std::max(hi, y);
    }
    series.push_back(std::move(line));
  }
  if (!errors.empty()) error_text("Not run: %s", errors.c_str());
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_plot = avail * 0.6f;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "layer_norms";
  pa.x_label = stack + " layer l (input of l; " + std::to_string(L) + " = output of the last)";
  pa.integer_x = true;
  pa.y_label = "log₁₀ ‖∂L/∂x_l‖_F   (0 = 1, −1 = 0.1, −2 = 0.01)";
  pa.size = ImVec2(w_plot, 300);
  if (lo <= hi) {
    const float span = std::max(hi - lo, 0.5f);
    pa.y_min = lo - 0.1f * span;
    pa.y_max = hi + span * (0.1f + 0.16f * static_cast<float>(series.size()));  // headroom for the legend, top right
    if (pa.y_min == 0.0f && pa.y_max == 0.0f) pa.y_max = 1.0f;
  }
  DrawLinePlot(pa, series);
  ImGui::EndGroup();
  ImGui::SameLine(0, 16);
  ImGui::BeginGroup();
  const float w_text = std::max(160.0f, ImGui::GetContentRegionAvail().x);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_text);
  // The numbers, and input/output ratios: < 1 means the gradient shrinks on its way down to the input.
  if (ImGui::BeginTable("layer_norm_numbers", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp, ImVec2(w_text, 0))) {
    ImGui::TableSetupColumn("variant", ImGuiTableColumnFlags_WidthStretch, 1.6f);
    ImGui::TableSetupColumn("at the input", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("input ÷ output", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableHeadersRow();
    for (const NormVariant& v : r.variants) {
      if (!v.error.empty() || v.norms.empty()) continue;
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(variant_label(v, r.norms).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(sci(v.norms.front()).c_str());
      ImGui::TableNextColumn();
      const float out = v.norms.back();
      ImGui::TextUnformatted(out > 0.0f ? sci(v.norms.front() / out).c_str() : "—");
    }
    ImGui::EndTable();
  }
  hover_tip("input ÷ output: the gradient norm at the stack's input over the one at its last layer's output. Below 1 the gradient "
            "shrinks on its way down through the layers; above 1 it grows.");
  ImGui::Spacing();
  wrapped_disabled("Reading aid: with a residual, x_l + F(x_l) passes ∂L/∂x straight through (the identity path), so every layer gets "
                   "gradient. Post-Norm without residuals: the gradient shrinks layer by layer toward the input. Pre-Norm keeps the "
                   "residual path free of norms, which is why deep Transformers train more easily with it.");
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

}  // namespace

void DrawGradientsPanel(AppState& s) {
  s.gradients_wanted = true;
  if (!s.trace) return;
  const Trace& t = *s.trace;
  if (!t.tensors.contains("loss")) {
    if (!s.gradient_error.empty()) {
      error_text("No gradients: %s.", s.gradient_error.c_str());
      if (s.session.decode_steps > 0) {
        if (ImGui::Button("Turn decoding off (decode steps = 0)")) {
          s.session.decode_steps = 0;
          s.dirty = true;
        }
        hover_tip("Gradients need the teacher-forced pass; greedy decoding generates tokens that have no target");
      }
    } else if (s.error) {
      error_text("Not applied: %s. Gradients are computed once the session is valid.", s.error->message().c_str());
    } else {
      ImGui::TextDisabled("Computing gradients…");
    }
    return;
  }
  const std::string key = to_json(s.session);
  const bool session_valid = !validate(s.session);

  // The tab scrolls inside its own child window, so the lesson strip and the tab bar above stay in view when a
  // lesson step scrolls a plot below the fold to the top.
  ImGui::BeginChild("gradients_tab", ImVec2(0, 0), false);
  draw_loss_controls(s, key);

  heading("The selected head: the gradient through the softmax");
  BlockSelector(s);
  ImGui::SameLine();
  HeadSelector(s);
  const std::string head = s.sel.block.path() + ".head." + std::to_string(s.sel.head);
  const double scale = score_scale_of(t, head, s.session.model);
  ImGui::SameLine(0, 20);
  ImGui::TextDisabled("%s", head.c_str());
  draw_head_gradients(s, head, scale);

  heading("Softmax Jacobian of the pinned row: J = diag(p) − ppᵀ, so ∂L/∂z = J·∂L/∂p and ∂L/∂S = scale·∂L/∂z");
  draw_jacobian(s, head, scale);

  heading("Weight-gradient norms per head and layer: ‖∂L/∂W_Q‖, ‖∂L/∂W_K‖, ‖∂L/∂W_V‖, ‖∂L/∂W_O‖");
  draw_norms(s);

  heading("Gradient into the embedding table: ∂L/∂embed.E [V × d_model], rows labelled by token");
  draw_embedding_gradient(s);

  ImGui::Spacing();
  // A lesson step that points at a plot below the fold scrolls it to the top of the tab, once.
  // While the section's sweep is still computing, the tab is shorter than it will be and the scroll is clamped: the
  // request stays until the result is drawn.
  const auto scroll_here_if_requested = [&s](const char* section, bool pending) {
    if (s.request_section != section) return;
    ImGui::SetScrollHereY(0.0f);
    ImGui::SetNextItemOpen(true);
    if (!pending) s.request_section.clear();
  };
  scroll_here_if_requested("layer-input", false);
  heading("Gradient reaching the selected layer's input: ∂L/∂<layer>.input [n × d_model]");
  draw_layer_input_gradient(s);
  scroll_here_if_requested("why-sqrt-dk", !dk_sweep.has() || dk_sweep.job.running());
  if (ImGui::CollapsingHeader("Why √d_k: the gradient through the softmax against d_k (measured)", ImGuiTreeNodeFlags_DefaultOpen))
    draw_dk_sweep(s, key, session_valid);
  scroll_here_if_requested("layer-norms", !norm_sweep.has() || norm_sweep.job.running());
  if (ImGui::CollapsingHeader("Pre- vs Post-Norm, residual on/off: the gradient norm layer by layer", ImGuiTreeNodeFlags_DefaultOpen))
    draw_norm_sweep(s, key, session_valid);
  ImGui::EndChild();
}

}  // namespace qkv::app
