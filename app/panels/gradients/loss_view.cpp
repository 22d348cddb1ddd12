// QKV Lab app — Gradients tab, the loss view: which loss L the gradients are of, its controls and its value.
#include "app/panels/gradients/gradients_views.h"
#include "app/widgets/common.h"
#include "app/widgets/text_wrap.h"
#include "core/network.h"
#include "core/paths.h"

#include <imgui.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace qkv::app::gradients {
namespace {

// Derived from AppState (keyed by the session's JSON), so this file-local instance is a cache, not app data.
struct LossInfo {
  std::string key;
  int rows = 0;  // cross-entropy: the output rows with a target; pattern: the rows of the head's P
};
LossInfo loss_info;

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
    if (const Mat* P = t.tensors.find(paths::join(first_self_attention_head(session.model.arch), "P"))) loss_info.rows = static_cast<int>(P->rows());
    return;
  }
  for (int y : output_targets(kind, session.model.arch, token_batch(session))) loss_info.rows += y >= 0 ? 1 : 0;
}

}  // namespace

void DrawLossView(AppState& s, const std::string& key) {
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
    ImGui::SameLine(0, kSectionGap);
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
    ImGui::SameLine(0, kSectionGap);
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
    ImGui::SameLine(0, kSectionGap);
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

}  // namespace qkv::app::gradients
