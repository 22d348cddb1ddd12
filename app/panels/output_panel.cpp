// QKV Lab app — the Output tab: what the model predicts. output.probs with token labels (next token for a
// decoder, each position's token for an encoder), the chosen row's top-k as bars, the sampling distribution after
// temperature / top-k / top-p, and Generate: tokens appended one per frame through the KV cache (core::Generator),
// with the new token's attention row over every cached key.
// A real checkpoint (core/pretrained.h): above kMaxHeatmapVocab vocabulary entries, a table of every position's top-k
// replaces the n × V heatmap; BERT's [MASK] positions get their fill-in candidates; GPT-2 stops at <|endoftext|> and its
// text is the tokenizer's decode().
#include "app/panels/panels.h"
#include "app/real_model.h"
#include "app/widgets/text_wrap.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <map>
#include <numeric>

namespace qkv::app {
namespace {


// The k largest entries of a row: (id, value), by decreasing value (core's top_tokens: a partial sort, so GPT-2's 50,257
// entries cost little per frame).
std::vector<std::pair<int, float>> top(const RowVec& row, int k) { return top_tokens(row, k); }

// A token as a label: the vocabulary's display form (a real model's "␣the", "##ing"; a toy model's " " as "␣").
std::string token_label(const Vocab& vocab, int id) {
  if (id < 0 || id >= vocab.size()) return "?";
  const std::string& shown = vocab.display(id);
  return shown == " " ? "␣" : shown;
}

void bars(const char* id, const std::vector<std::pair<int, float>>& entries, const Vocab& vocab, float width) {
  RowVec values(static_cast<Eigen::Index>(entries.size()));
  std::vector<std::string> labels;
  for (size_t i = 0; i < entries.size(); ++i) {
    values(static_cast<Eigen::Index>(i)) = entries[i].second;
    labels.push_back(token_label(vocab, entries[i].first));
  }
  DrawRowBars(id, values, labels, width);
}

// The id that ends generation: a real model's own (GPT-2's <|endoftext|>), else the toy vocabulary's [EOS].
int end_of_text_id(const AppState& s) {
  const std::shared_ptr<const PretrainedModel> real = session_model(s);
  return real ? real->tokenizer->eos_id : Vocab::kEosId;
}

// SameLine when the next control (about `width` pixels) still fits on this line, else a new line.
void next_to(float width) {
  ImGui::SameLine(0, 16);
  if (ImGui::GetContentRegionAvail().x < width) ImGui::NewLine();
}

void reset_generation(OutputState& o, Phrase note = {}) {
  o.starting.cancel();
  o.step_when_ready = false;
  o.generator.reset();
  o.generated.clear();
  o.running = false;
  o.note = std::move(note);
}

// One token: sample from the last position's distribution, append it, run it through the cache.
void generate_one(AppState& s) {
  OutputState& o = s.output;
  if (!start_generator(s)) return;
  Generator& g = *o.generator;
  if (static_cast<int>(o.generated.size()) >= o.max_new) {
    o.running = false;
    o.note = phrase("output.stopped_limit", arg("n", o.max_new));
    return;
  }
  const int id = sample_token(sampling_distribution(g.logits(), o.sampling), o.rng);
  if (!g.feed(id)) {
    o.running = false;
    o.note = phrase("output.stopped_max_len", arg("n", s.session.model.max_len));
    return;
  }
  o.generated.push_back(id);
  if (id == end_of_text_id(s)) {
    o.running = false;
    const std::shared_ptr<const PretrainedModel> real = session_model(s);
    o.note = real ? phrase("app_pretrained.stopped_eos", arg("token", real->tokenizer->piece(id))) : phrase("output.stopped_eos");
  }
}

void generation(AppState& s) {
  OutputState& o = s.output;
  const ModelConfig& c = s.session.model;
  heading(tr("output.generate_heading"));
  if (c.arch == Arch::EncoderOnly) {
    ImGui::TextDisabled("%s", tr("output.encoder_no_generate"));
    return;
  }
  if (o.generator && o.started_generation != s.generation) reset_generation(o, phrase("output.session_changed"));
  if (poll_generator(s)) reset_generation(o, o.note);
  if (o.step_when_ready && o.generator) {
    o.step_when_ready = false;
    generate_one(s);
  }
  if (o.running) generate_one(s);
  if (ImGui::Button(tr(o.running ? "output.stop" : "output.generate"))) {
    o.running = !o.running;
    if (o.running && o.generator && static_cast<int>(o.generated.size()) >= o.max_new) reset_generation(o), o.running = true;
  }
  s.drawn_widgets.push_back({"generate", ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x, ImGui::GetItemRectMax().y});  // i18n: name
  ImGui::SameLine();
  if (ImGui::Button(tr("output.step"))) {
    o.running = false;
    if (o.generator) generate_one(s);
    else o.step_when_ready = !start_generator(s);
  }
  ImGui::SameLine();
  if (ImGui::Button(tr("output.reset"))) reset_generation(o);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  ImGui::SliderInt(tr("output.max_new"), &o.max_new, 1, 64);
  if (!o.note.empty()) text_wrapped_unformatted(o.note.str());
  if (!o.generator) {
    ImGui::TextDisabled("%s", tr("output.generate_help"));
    return;
  }
  const Generator& g = *o.generator;
  // The sequence: the prompt dim, the generated tokens bright.
  std::string prompt, added;
  if (const std::shared_ptr<const PretrainedModel> real = session_model(s)) {
    // The tokenizer's own decode: GPT-2's bytes exactly, BERT's words joined (never pieces joined by spaces).
    const std::vector<int>& ids = g.ids();
    const auto cut = ids.begin() + std::min<long>(g.prompt_length(), static_cast<long>(ids.size()));
    prompt = real->tokenizer->decode(std::vector<int>(ids.begin(), cut));
    added = real->tokenizer->decode(std::vector<int>(cut, ids.end()));
  } else {
    for (size_t i = 0; i < g.ids().size(); ++i) {
      const std::string& t = g.vocab().token(g.ids()[i]);
      const std::string sep = s.session.tokenizer == TokenizerKind::Words && i ? " " : "";
      (static_cast<int>(i) < g.prompt_length() ? prompt : added) += sep + t;
    }
  }
  // One wrapped paragraph, the generated part in colour: a long prompt wraps instead of running off the panel.
  dim_text("%s", prompt.c_str());
  if (!added.empty()) colored_text(ImVec4(1.0f, 0.82f, 0.25f, 1.0f), "%s", added.c_str());
  ImGui::TextUnformatted(trf("output.cache", arg("n", g.ids().size()), arg("generated", o.generated.size())).c_str());
  // The last fed token's attention row over every cached key, for the selected decoder self-attention head.
  const int layer = s.sel.block.decoder ? s.sel.block.layer : 0;
  const std::string path = paths::head_tensor(paths::block("decoder", layer, false), s.sel.head, "P");
  auto it = g.last_rows().find(path);
  if (it != g.last_rows().end()) {
    std::vector<std::string> keys;
    for (int id : g.ids()) keys.push_back(token_label(g.vocab(), id));
    ImGui::TextUnformatted(trf("output.newest_row", arg("n", keys.size()), arg("path", path)).c_str());
    const size_t first = keys.size() > 12 ? keys.size() - 12 : 0;  // the last 12 keys; the rest are in the tooltip of P
    DrawRowBars("gen-row", it->second.tail(static_cast<Eigen::Index>(keys.size() - first)),
                std::vector<std::string>(keys.begin() + static_cast<long>(first), keys.end()), ImGui::GetContentRegionAvail().x * 0.5f);
    if (first > 0) ImGui::TextDisabled("%s", trf("output.earlier_keys", arg("n", first)).c_str());
  }
}

}  // namespace

namespace {

// Each position's top-k of a large vocabulary, made once per trace and k for the rows on screen (a partial sort of
// 50,257 entries per row; the table draws only the rows the clipper shows).
struct TopKCache {
  const Trace* trace = nullptr;
  uint64_t generation = 0;
  int k = 0;
  std::map<int, std::vector<std::pair<int, float>>> rows;
};
const std::vector<std::pair<int, float>>& cached_top(const AppState& s, const Trace& t, const Mat& probs, int row, int k) {
  static TopKCache cache;  // a pure function of the trace on screen: a cache, not app data
  if (cache.trace != &t || cache.generation != s.generation || cache.k != k) cache = TopKCache{&t, s.generation, k, {}};
  auto it = cache.rows.find(row);
  if (it == cache.rows.end()) it = cache.rows.emplace(row, top(probs.row(row), k)).first;
  return it->second;
}

// output.probs of a large vocabulary as a table: position · token · its top-k, every position (a clipper draws the
// rows on screen). Clicking a row selects it (the bars beside, the pinned row of the other tabs).
void prediction_table(AppState& s, const Trace& t, const Mat& probs, const std::vector<std::string>& rows, bool decoder, int k, int selected,
                      ImVec2 size) {
  const int n = static_cast<int>(probs.rows());
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("predictions", 3, flags, size)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn(tr("output.axis_position"), ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn(tr("output.axis_token"), ImGuiTableColumnFlags_WidthFixed, ImGui::GetFontSize() * 7.0f);
  ImGui::TableSetupColumn(trf(decoder ? "app_pretrained.table_next" : "app_pretrained.table_here", arg("k", k)).c_str(), ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableHeadersRow();
  ImGuiListClipper clipper;
  clipper.Begin(n);
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::PushID(i);
      if (ImGui::Selectable(std::to_string(i).c_str(), i == selected, ImGuiSelectableFlags_SpanAllColumns)) s.sel.pinned_row = i;
      ImGui::PopID();
      ImGui::TableNextColumn();
      const std::string token = i < static_cast<int>(rows.size()) ? rows[static_cast<size_t>(i)] : std::string("?");
      text_ellipsis(token, ImGui::GetContentRegionAvail().x);
      ImGui::TableNextColumn();
      std::string candidates;
      for (const auto& [id, p] : cached_top(s, t, probs, i, k))
        candidates += (candidates.empty() ? "" : "   ") + token_label(t.vocab, id) + " " + fmt(p, "%.3f");
      text_ellipsis(candidates, ImGui::GetContentRegionAvail().x);
    }
  }
  ImGui::EndTable();
}

// BERT's fill-in: for every [MASK] the text holds, the candidates of the masked-language-model head, as bars.
void fill_in_candidates(AppState& s, const Trace& t, const Mat& probs, const PretrainedModel& m, int k, float width) {
  heading(tr("app_pretrained.fill_in_heading"));
  const std::vector<int> masks = mask_rows(t.source_ids, m.tokenizer->mask_id);
  if (masks.empty()) {
    colored_text(kWarningColor, "%s", trf("app_pretrained.fill_in_hint", arg("mask", m.tokenizer->mask_id >= 0 ? m.tokenizer->piece(m.tokenizer->mask_id) : "[MASK]")).c_str());
    return;
  }
  const float column = std::max(ImGui::GetFontSize() * 14.0f, width);
  for (size_t i = 0; i < masks.size(); ++i) {
    const int row = masks[i];
    if (i > 0) same_line_if_fits(column, nullptr);
    ImGui::BeginGroup();
    ImGui::PushID(row);
    ImGui::TextUnformatted(trf("app_pretrained.fill_in_at", arg("i", row)).c_str());
    bars("fill-in", cached_top(s, t, probs, row, k), t.vocab, column);
    ImGui::PopID();
    ImGui::EndGroup();
  }
}

}  // namespace

void DrawOutputPanel(AppState& s) {
  if (!s.trace) return;
  const Trace& t = *s.trace;
  OutputState& o = s.output;
  const ModelConfig& c = s.session.model;
  const Mat* probs = t.tensors.find("output.probs");
  const Mat* logits = t.tensors.find("output.logits");
  if (!probs || !logits) {
    ImGui::TextDisabled("%s", tr("output.no_output"));
    return;
  }
  const std::shared_ptr<const PretrainedModel> real = session_model(s);
  const bool fill_in = real && c.arch == Arch::EncoderOnly && c.mlm_head;
  const bool decoder = c.arch != Arch::EncoderOnly;
  const bool table = t.vocab.size() > kMaxHeatmapVocab;  // GPT-2's 50,257 columns: a table of each row's top-k instead
  const std::vector<std::string>& rows = c.arch == Arch::EncoderDecoder ? t.target_tokens : t.source_tokens;
  const int n = static_cast<int>(probs->rows());
  // The row is the selection's pinned token (shared with the attention views: the same positions), else the last (a
  // decoder's next token), else BERT's first [MASK].
  int first_row = decoder ? n - 1 : 0;
  if (fill_in)
    if (const std::vector<int> masks = mask_rows(t.source_ids, real->tokenizer->mask_id); !masks.empty()) first_row = masks.front();
  int row = s.sel.pinned_row < 0 || s.sel.pinned_row >= n ? first_row : s.sel.pinned_row;

  // Controls: the row, then the sampling settings.
  text_wrapped("%s", tr(fill_in ? "app_pretrained.bert_intro" : decoder ? "output.decoder_intro" : "output.encoder_intro"));
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::SliderInt(tr("output.row"), &row, 0, std::max(0, n - 1))) s.sel.pinned_row = row;
  ImGui::SameLine();
  ImGui::TextDisabled("%s", trf(decoder ? "output.after" : "output.at", arg("token", row < static_cast<int>(rows.size()) ? rows[static_cast<size_t>(row)] : std::string("?"))).c_str());
  if (table) {
    next_to(ImGui::GetFontSize() * 11);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
    ImGui::SliderInt(tr("app_pretrained.shown_k"), &o.shown_k, 1, kMaxShownK);
    hover_tip(tr("app_pretrained.shown_k_tip"));
  }
  next_to(ImGui::GetFontSize() * 13);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  ImGui::SliderFloat(tr("output.temperature"), &o.sampling.temperature, 0.0f, 3.0f, "%.2f");
  hover_tip(tr("output.temperature_tip"));
  next_to(ImGui::GetFontSize() * 10);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  const std::string off = printf_escaped(tr("output.off"));
  ImGui::SliderInt("top-k", &o.sampling.top_k, 0, std::min(50, t.vocab.size()), o.sampling.top_k == 0 ? off.c_str() : "%d");
  next_to(ImGui::GetFontSize() * 10);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderFloat("top-p", &o.sampling.top_p, 0.05f, 1.0f, o.sampling.top_p >= 1.0f ? off.c_str() : "%.2f");
  hover_tip(tr("output.top_p_tip"));
  next_to(ImGui::GetFontSize() * 9);
  int seed = static_cast<int>(o.seed);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt(tr("output.seed"), &seed, 0)) o.seed = static_cast<uint64_t>(std::max(0, seed));
  if (auto e = validate(o.sampling)) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s (%s)", e->what.c_str(), e->hint.c_str());
    return;
  }

  const int k = std::min(table ? o.shown_k : 5, t.vocab.size());
  const float avail_w = ImGui::GetContentRegionAvail().x;
  const float bars_w = std::min(avail_w * 0.42f, ImGui::GetFontSize() * 24.0f);
  if (fill_in) fill_in_candidates(s, t, *probs, *real, k, bars_w);

  // On the left: output.probs, every column labelled with its token (a small vocabulary), or the table of each row's
  // top-k (a large one). On the right the chosen row's bars, so the matrix can use the whole height.
  ImGui::BeginGroup();
  if (table) {
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const float room = ImGui::GetContentRegionAvail().y - ImGui::GetFontSize() * (decoder ? 10.0f : 1.0f);
    const float height = std::clamp(line * static_cast<float>(n + 2), line * 4.0f, std::max(line * 4.0f, room));
    // The bars' value labels sit right of their width: room is left for them at the window's edge.
    prediction_table(s, t, *probs, rows, decoder, k, row, ImVec2(avail_w - bars_w - 16.0f - ImGui::GetFontSize() * 3.0f, height));
  } else {
    HeatmapArgs a;
    a.key = "output.probs";
    a.M = probs;
    a.name = "output.probs";
    a.row_labels = &rows;
    a.col_labels = &t.vocab.tokens();
    a.row_axis = tr("output.axis_position");
    a.col_axis = tr("output.axis_token");
    a.max_width = avail_w - bars_w - 16.0f;
    const float height = ImGui::GetContentRegionAvail().y - ImGui::GetFontSize() * 8.0f;
    a.max_cell = std::clamp(height / static_cast<float>(std::max<Eigen::Index>(1, probs->rows())), 3.0f, 24.0f);
    a.highlight_row = row;
    const HeatmapHover hover = DrawHeatmap(s, a);
    if (hover.row >= 0 && ImGui::IsMouseClicked(ImGuiMouseButton_Left)) s.sel.pinned_row = hover.row;
  }
  ImGui::EndGroup();

  // The chosen row: the model's top tokens, and what sampling would draw from.
  const RowVec p = probs->row(row);
  const RowVec q = sampling_distribution(logits->row(row), o.sampling);
  ImGui::SameLine(0, 16);
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + bars_w);
  text_wrapped_unformatted(trf("output.top", arg("k", k), arg("row", row)));
  bars("model-top", top(p, k), t.vocab, bars_w);
  const long survivors = (q.array() > 0.0f).count();  // no sort of the whole vocabulary each frame
  text_wrapped_unformatted(trf(survivors == 1 ? "output.kept_one" : "output.kept", arg("n", survivors)));
  ImGui::PopTextWrapPos();
  bars("sample-top", top(q, std::min<int>(k, static_cast<int>(survivors))), t.vocab, bars_w);
  ImGui::EndGroup();

  generation(s);
}

}  // namespace qkv::app
