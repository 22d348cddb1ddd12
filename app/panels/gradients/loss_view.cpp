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
      return tr("gradients.loss.title.next_token");
    case LossKind::TargetSequence:
      return tr("gradients.loss.title.target_sequence");
    case LossKind::Reconstruct:
      return tr("gradients.loss.title.reconstruct");
    case LossKind::Pattern:
      return tr("gradients.loss.title.pattern");
    default:
      return "";
  }
}

// The loss as the learner reads it; name(LossKind) stays the spelling of session files and the CLI.
const char* loss_name(LossKind k) {
  switch (k) {
    case LossKind::Auto:
      return tr("gradients.loss.name.auto");
    case LossKind::NextToken:
      return tr("gradients.loss.name.next_token");
    case LossKind::TargetSequence:
      return tr("gradients.loss.name.target");
    case LossKind::Reconstruct:
      return tr("gradients.loss.name.reconstruct");
    case LossKind::Pattern:
      return tr("gradients.loss.name.pattern");
    default:
      return name(k);
  }
}

// "auto (next-token)": what Auto resolves to for this architecture.
std::string loss_label(LossKind k, Arch arch) {
  if (k != LossKind::Auto) return loss_name(k);
  return trf("gradients.loss.auto_resolved", arg("resolved", loss_name(resolve(k, arch))));
}

const char* loss_tip(LossKind k) {
  switch (k) {
    case LossKind::Auto:
      return tr("gradients.loss.tip.auto");
    case LossKind::NextToken:
      return tr("gradients.loss.tip.next_token");
    case LossKind::TargetSequence:
      return tr("gradients.loss.tip.target_sequence");
    case LossKind::Reconstruct:
      return tr("gradients.loss.tip.reconstruct");
    case LossKind::Pattern:
      return tr("gradients.loss.tip.pattern");
    default:
      return "";
  }
}

// The pattern as the learner reads it; name(Pattern) stays the spelling of session files and the CLI.
const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::Diagonal:
      return tr("gradients.pattern.name.diagonal");
    case Pattern::Previous:
      return tr("gradients.pattern.name.previous");
    case Pattern::AntiDiagonal:
      return tr("gradients.pattern.name.anti_diagonal");
    case Pattern::First:
      return tr("gradients.pattern.name.first");
    default:
      return name(p);
  }
}

const char* pattern_tip(Pattern p) {
  switch (p) {
    case Pattern::Diagonal:
      return tr("gradients.pattern.tip.diagonal");
    case Pattern::Previous:
      return tr("gradients.pattern.tip.previous");
    case Pattern::AntiDiagonal:
      return tr("gradients.pattern.tip.anti_diagonal");
    case Pattern::First:
      return tr("gradients.pattern.tip.first");
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
  const std::string preview = loss_label(session.loss, arch);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 11);
  if (ImGui::BeginCombo(tr_id("gradients.loss.label"), preview.c_str())) {
    for (int i = 0; i < static_cast<int>(LossKind::Count); ++i) {
      const LossKind k = static_cast<LossKind>(i);
      if (!loss_allowed(k, arch) && k != session.loss) continue;
      const std::string label = loss_label(k, arch);
      if (ImGui::Selectable(label.c_str(), k == session.loss) && k != session.loss) {
        session.loss = k;
        s.dirty = true;
      }
      hover_tip(loss_tip(k));
    }
    ImGui::EndCombo();
  }
  hover_tip(tr("gradients.loss.tip"));
  if (resolved == LossKind::Pattern) {
    ImGui::SameLine(0, kSectionGap);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::BeginCombo(tr_id("gradients.loss.pattern_label"), pattern_name(session.loss_pattern))) {
      for (int i = 0; i < static_cast<int>(Pattern::Count); ++i) {
        const Pattern p = static_cast<Pattern>(i);
        if (ImGui::Selectable(pattern_name(p), p == session.loss_pattern) && p != session.loss_pattern) {
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
    ImGui::TextDisabled("%s", trf("gradients.loss.targets", arg("head", target)).c_str());
    hover_tip(tr("gradients.loss.targets_tip"));
    ImGui::SameLine();
    if (ImGui::SmallButton(tr("gradients.loss.show_it"))) {
      s.sel.block = BlockRef{arch == Arch::DecoderOnly, false, 0};
      s.sel.head = 0;
      s.sel.pinned_row = -1;
    }
    hover_tip(tr("gradients.loss.show_it_tip"));
  } else {
    ImGui::SameLine(0, kSectionGap);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::SliderFloat(tr_id("gradients.loss.smoothing"), &session.label_smoothing, 0.0f, 0.3f, "%.2f", ImGuiSliderFlags_AlwaysClamp)) s.dirty = true;
    hover_tip(tr("gradients.loss.smoothing_tip"));
  }

  const Trace& t = *s.trace;
  update_loss_info(session, key, t);
  const float L = t.tensors.at("loss")(0, 0);
  const char* line_key = loss_info.rows <= 0   ? "gradients.loss.value"
                         : loss_info.rows == 1 ? "gradients.loss.value_row"
                                               : "gradients.loss.value_rows";
  const std::string line = trf(line_key, arg("L", fmt(L)), arg("title", loss_title(resolved)), arg("rows", loss_info.rows));
  ImGui::SameLine(0, 24);
  if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(line.c_str()).x) ImGui::NewLine();  // on its own line when it does not fit
  ImGui::TextUnformatted(line.c_str());
  if (resolved == LossKind::Pattern)
    hover_tip(tr("gradients.loss.pattern_value_tip"));
  else
    hover_tip(tr("gradients.loss.ce_value_tip"));
  if (!std::isfinite(L))
    error_text("%s", tr("gradients.loss.not_finite"));
  if (s.error)
    error_text("%s", trf("gradients.loss.not_applied", arg("why", s.error->message())).c_str());
}

}  // namespace qkv::app::gradients
