// QKV Lab app — what the desktop app adds around a real checkpoint (core/pretrained.h) that needs no window: the prompt
// a model opens on, the model card's numbers, the ablations the Attention and Model tabs edit, the token strip's chips
// and the rows the Output tab predicts from. Header-only, no ImGui (tests/app_test.cpp tests it).
#pragma once

#include "app/widgets/text_wrap.h"
#include "core/config.h"
#include "core/paths.h"
#include "core/pretrained.h"
#include "core/pretrained_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::app {

// [SECTION] The prompt a model opens on
// Model input, not a label: the checkpoints read English, whatever language the interface speaks.
inline constexpr const char* kGpt2Prompt = "The quick brown fox";                // i18n: name
inline constexpr const char* kBertPrompt = "The capital of France is [MASK].";   // i18n: name

inline const char* default_prompt(ModelFamily family) { return family == ModelFamily::BERT ? kBertPrompt : kGpt2Prompt; }

// The text a newly opened model starts on: the user's own text when it fits the model's positions, else the family's
// prompt. `starting_texts` are texts nobody typed (the toy model's default, another family's prompt): they give way too.
inline std::string prompt_for_model(const PretrainedModel& m, const std::string& current, const std::vector<std::string>& starting_texts) {
  const bool typed = !current.empty() && std::find(starting_texts.begin(), starting_texts.end(), current) == starting_texts.end() &&
                     current != kGpt2Prompt && current != kBertPrompt;
  if (!typed || !m.tokenizer) return default_prompt(m.card.family);
  const size_t n = m.tokenizer->encode_for_model(current).size();
  return n > 0 && static_cast<int64_t>(n) <= m.card.positions ? current : std::string(default_prompt(m.card.family));
}

// [SECTION] The model card
// 124439808 -> "124,439,808": a parameter count read at a glance (the separator is a comma in both languages).
inline std::string with_separators(int64_t n) { return group_digits(n, ","); }

// [SECTION] Ablations: a head ("decoder.3.self_attn.head.5") or a layer ("decoder.3"), off / zero / mean
inline std::string layer_target(bool decoder, int layer) { return paths::layer(decoder ? "decoder" : "encoder", layer); }
inline std::string head_target(const std::string& block_path, int head) { return paths::head(block_path, head); }

// The ablation of `target` in the session, if any.
inline std::optional<AblationKind> ablation_of(const Session& s, std::string_view target) {
  for (const Ablation& a : s.ablations)
    if (a.target == target) return a.kind;
  return std::nullopt;
}
// The layer `target` (a head's target, or a layer's) belongs to, as an ablation target: "decoder.3".
inline std::string layer_of_target(const std::string& target) {
  const std::optional<AblationTarget> t = parse_ablation_target(target);
  return t ? paths::layer(t->stack, t->layer) : std::string();
}
// Sets (kind) or removes (nullopt) the ablation of `target`. False, and nothing changed, when a new one would pass
// kMaxAblations (the core refuses more).
inline bool set_ablation(Session& s, const std::string& target, std::optional<AblationKind> kind) {
  auto it = std::find_if(s.ablations.begin(), s.ablations.end(), [&](const Ablation& a) { return a.target == target; });
  if (!kind) {
    if (it != s.ablations.end()) s.ablations.erase(it);
    return true;
  }
  if (it != s.ablations.end()) {
    it->kind = *kind;
    return true;
  }
  if (s.ablations.size() >= kMaxAblations) return false;
  s.ablations.push_back({target, *kind});
  return true;
}

// [SECTION] The token strip: each token a chip, as learners read it
struct TokenChip {
  int id = -1;
  std::string text;     // as shown (TokenPiece::display: "␣the", "ing" for BERT's "##ing", "<E4 BD>")
  std::string raw;      // the vocabulary's string ("Ġthe", "##ing"), for the tooltip
  bool joined = false;  // a BERT "##" continuation: drawn against the chip before it, without a gap
  bool special = false; // [CLS], [SEP], [MASK], <|endoftext|> … : styled apart
};
inline std::vector<TokenChip> token_chips_of(const PretrainedTokenizer& tokenizer, const std::vector<int>& ids) {
  std::vector<TokenChip> chips;
  chips.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= tokenizer.size()) {  // never from the tokenizer itself; shown rather than thrown on
      chips.push_back({ids[i], "?", "?", false, true});
      continue;
    }
    const TokenPiece piece = tokenizer.describe(ids[i]);
    chips.push_back({ids[i], piece.display, piece.raw, piece.continues_word && i > 0 && !chips.back().special, piece.special});
  }
  return chips;
}

// [SECTION] The Output tab's rows
// Above this many vocabulary entries the Output tab lists each position's top-k instead of drawing output.probs as an
// n × V heatmap (GPT-2's 50,257 columns are unreadable, and wider than a GL texture may be).
inline constexpr int kMaxHeatmapVocab = 300;
// The positions that hold [MASK] (BERT's fill-in questions), in order.
inline std::vector<int> mask_rows(const std::vector<int>& ids, int mask_id) {
  std::vector<int> rows;
  if (mask_id < 0) return rows;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == mask_id) rows.push_back(static_cast<int>(i));
  return rows;
}

}  // namespace qkv::app
