#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/text_wrap.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>

#include "app/real_model.h"
#include "core/trainer.h"

namespace qkv::app {
namespace {

// Tokens as clickable chips; a padded position is drawn muted. Clicking a source chip marks it as padding.
void token_chips(AppState& s, const std::vector<std::string>& tokens, bool editable_padding, const char* id) {
  ImGui::PushID(id);
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  for (int i = 0; i < static_cast<int>(tokens.size()); ++i) {
    auto& pads = s.session.padding_positions;
    const bool marked = std::find(pads.begin(), pads.end(), i) != pads.end();
    const bool is_pad = marked || tokens[i] == "[PAD]";
    const std::string label = (tokens[i] == " " ? std::string("␣") : tokens[i]) + "##" + std::to_string(i);
    const float w = ImGui::CalcTextSize(label.c_str(), nullptr, true).x + ImGui::GetStyle().FramePadding.x * 2;
    if (i > 0) {
      ImGui::SameLine();
      if (ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + w > right) ImGui::NewLine();
    }
    if (is_pad) ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.35f, 0.35f, 0.35f, 0.6f));
    if (ImGui::SmallButton(label.c_str()) && editable_padding) {
      if (marked) std::erase(pads, i);
      else pads.push_back(i);
      s.dirty = true;
    }
    if (is_pad) ImGui::PopStyleColor();
    if (ImGui::IsItemHovered()) {
      // The token line, then (one line below) what a click does.
      std::string tip = trf(is_pad ? "input.chip_padding" : "input.chip", arg("i", i), arg("token", tokens[i]));
      if (editable_padding) tip += std::string("\n") + tr(marked ? "input.chip_unmark" : "input.chip_mark");
      ImGui::SetTooltip("%s", tip.c_str());
    }
  }
  ImGui::PopID();
}

// A real model's tokens as learners read them (app/real_model.h token_chips_of): "␣the" for GPT-2's "Ġthe", "<E4 BD>"
// for a byte piece, BERT's "##ing" drawn against the chip before it (no gap, "##" hidden), special tokens in their own
// colour. The tooltip gives the id and the raw vocabulary piece. A click marks the position as padding, as for toy models.
void real_token_chips(AppState& s, const PretrainedTokenizer& tokenizer, const std::vector<int>& ids) {
  ImGui::PushID("real");
  const std::vector<TokenChip> chips = token_chips_of(tokenizer, ids);
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const ImVec4 special_color(0.55f, 0.35f, 0.75f, 0.85f), pad_color(0.35f, 0.35f, 0.35f, 0.6f);
  auto& pads = s.session.padding_positions;
  for (int i = 0; i < static_cast<int>(chips.size()); ++i) {
    const TokenChip& chip = chips[static_cast<size_t>(i)];
    const bool marked = std::find(pads.begin(), pads.end(), i) != pads.end();
    const std::string label = (chip.text.empty() ? std::string("∅") : chip.text) + "##" + std::to_string(i);
    const float w = ImGui::CalcTextSize(label.c_str(), nullptr, true).x + ImGui::GetStyle().FramePadding.x * 2;
    if (i > 0) {
      // A continuation sticks to its word (it wraps with the word's last chip if it must).
      const float gap = chip.joined ? 0.0f : ImGui::GetStyle().ItemSpacing.x;
      ImGui::SameLine(0.0f, gap);
      if (ImGui::GetItemRectMax().x + gap + w > right) ImGui::NewLine();
    }
    const bool colored = marked || chip.special;
    if (colored) ImGui::PushStyleColor(ImGuiCol_Button, marked ? pad_color : special_color);
    if (chip.joined) ImGui::PushStyleVar(ImGuiStyleVar_FrameRounding, 0.0f);
    if (ImGui::SmallButton(label.c_str())) {
      if (marked) std::erase(pads, i);
      else pads.push_back(i);
      s.dirty = true;
    }
    if (chip.joined) ImGui::PopStyleVar();
    if (colored) ImGui::PopStyleColor();
    if (ImGui::IsItemHovered()) {
      std::string tip = trf(chip.special ? "app_pretrained.chip_special" : "app_pretrained.chip", arg("i", i), arg("id", chip.id), arg("raw", chip.raw));
      if (chip.joined) tip += std::string("\n") + tr("app_pretrained.chip_joined");
      tip += std::string("\n") + tr(marked ? "input.chip_unmark" : "input.chip_mark");
      ImGui::SetTooltip("%s", tip.c_str());
    }
  }
  ImGui::PopID();
}

// "target = reverse of the source (the model's task) …": one sentence per task the app knows (input.<what>.<task>),
// the general one with the task's name otherwise.
std::string task_sentence(const char* what, const std::string& task) {
  const std::string key = std::string(what) + "." + task;
  return i18n::has(key.c_str()) ? std::string(tr(key.c_str())) : trf(what, arg("task", task));
}

// The task the session's trained weights were trained on (copy / reverse / sort …), or "" for seeded weights.
std::string trained_task(const AppState& s) {
  if (s.session.weights.empty() || s.session.model.arch != Arch::EncoderDecoder) return "";
  const std::shared_ptr<const TrainedWeights> trained = s.weights.trained();
  return trained ? trained->task : "";
}

}  // namespace

void DrawInputPanel(AppState& s) {
  Session& session = s.session;
  // A model trained on a task expects the task's target: while the target is the task applied to the source,
  // typing a new source updates it; a target the user typed differently stays until "use the task's target".
  const std::string task = trained_task(s);
  const std::string old_source = session.input.text;
  ImGui::TextUnformatted(tr("input.source_text"));
  if (ImGui::InputTextMultiline("##source", &session.input.text, ImVec2(-1, ImGui::GetTextLineHeight() * 3.2f))) {
    session.padding_positions.clear();  // positions refer to the old tokens
    if (!task.empty()) session.input.target = follow_task_target(task, old_source, session.input.text, session.input.target, session.tokenizer);
    s.dirty = true;
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("input.source_tip"));
  // The --click name of the field (tests/typing_test.sh), the same in every language.
  s.drawn_widgets.push_back({"source text", ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x, ImGui::GetItemRectMax().y});  // i18n: name
  if (session.model.arch == Arch::EncoderDecoder) {
    ImGui::TextUnformatted(tr("input.target_text"));
    if (ImGui::InputText("##target", &session.input.target)) s.dirty = true;
    if (!task.empty()) {
      const std::optional<std::string> now = task_target(task, session.input.text, session.tokenizer);
      if (now && *now == session.input.target) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
        text_wrapped_unformatted(task_sentence("input.target_is_task", task));
        ImGui::PopStyleColor();
      } else if (now) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.75f, 0.35f, 1.0f));
        text_wrapped_unformatted(task_sentence("input.target_edited", task));
        ImGui::PopStyleColor();
        if (ImGui::SmallButton(tr("input.use_task_target"))) {
          session.input.target = *now;
          s.dirty = true;
        }
      }
    }
  }
  const std::shared_ptr<const PretrainedModel> real = session_model(s);
  if (real) {
    // The checkpoint's own tokenizer: the toy models' choices (words, characters, [BOS]/[EOS]) do not apply.
    dim_text("%s", trf(real->tokenizer->family() == TokenizerFamily::WordPiece ? "app_pretrained.tokenizer_wordpiece" : "app_pretrained.tokenizer_bpe",
                       arg("n", with_separators(real->tokenizer->size()))).c_str());
    if (!s.trace) return;
    ImGui::TextUnformatted(trf(session.model.arch == Arch::DecoderOnly ? "input.decoder_input_n" : "input.source_n",
                               arg("n", s.trace->source_tokens.size())).c_str());
    // The trace on screen may still be the previous model's (the new one is computing): its ids are not this tokenizer's.
    if (s.trace_session.model_dir == session.model_dir) real_token_chips(s, *real->tokenizer, s.trace->source_ids);
    else token_chips(s, s.trace->source_tokens, false, "source");
    return;
  }
  int tokenizer = static_cast<int>(session.tokenizer);
  ImGui::TextUnformatted(tr("input.tokens"));
  ImGui::SameLine();
  if (ImGui::RadioButton(tr_id("input.words"), &tokenizer, 0)) s.dirty = true;
  ImGui::SameLine();
  if (ImGui::RadioButton(tr_id("input.characters"), &tokenizer, 1)) s.dirty = true;
  session.tokenizer = static_cast<TokenizerKind>(tokenizer);
  ImGui::SameLine();
  if (ImGui::Checkbox("[BOS]/[EOS]", &session.add_special_tokens)) s.dirty = true;
  if (!s.trace) return;
  const bool decoder_only = session.model.arch == Arch::DecoderOnly;
  ImGui::TextUnformatted(trf(decoder_only ? "input.decoder_input_n" : "input.source_n", arg("n", s.trace->source_tokens.size())).c_str());
  token_chips(s, s.trace->source_tokens, true, "source");
  if (!s.trace->target_tokens.empty()) {
    ImGui::TextUnformatted(trf("input.decoder_input_n", arg("n", s.trace->target_tokens.size())).c_str());
    token_chips(s, s.trace->target_tokens, false, "target");
  }
}

}  // namespace qkv::app
