// QKV Lab app — the Output tab: what the model predicts. output.probs with token labels (next token for a
// decoder, each position's token for an encoder), the chosen row's top-k as bars, the sampling distribution after
// temperature / top-k / top-p, and Generate: tokens appended one per frame through the KV cache (core::Generator),
// with the new token's attention row over every cached key.
#include "app/panels/panels.h"
#include "app/widgets/text_wrap.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/selectors.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <numeric>

namespace qkv::app {
namespace {


// The k largest entries of a row: (id, value), by decreasing value (core's top_tokens: a partial sort, so GPT-2's 50,257
// entries cost little per frame).
std::vector<std::pair<int, float>> top(const RowVec& row, int k) { return top_tokens(row, k); }

void bars(const char* id, const std::vector<std::pair<int, float>>& entries, const Vocab& vocab, float width) {
  RowVec values(static_cast<Eigen::Index>(entries.size()));
  std::vector<std::string> labels;
  for (size_t i = 0; i < entries.size(); ++i) {
    values(static_cast<Eigen::Index>(i)) = entries[i].second;
    labels.push_back(vocab.token(entries[i].first) == " " ? "␣" : vocab.token(entries[i].first));
  }
  DrawRowBars(id, values, labels, width);
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
  if (id == Vocab::kEosId) {
    o.running = false;
    o.note = phrase("output.stopped_eos");
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
  for (size_t i = 0; i < g.ids().size(); ++i) {
    const std::string& t = g.vocab().token(g.ids()[i]);
    const std::string sep = s.session.tokenizer == TokenizerKind::Words && i ? " " : "";
    (static_cast<int>(i) < g.prompt_length() ? prompt : added) += sep + t;
  }
  ImGui::TextDisabled("%s", prompt.c_str());
  ImGui::SameLine(0, 0);
  ImGui::TextColored(ImVec4(1.0f, 0.82f, 0.25f, 1.0f), "%s", added.c_str());
  ImGui::TextUnformatted(trf("output.cache", arg("n", g.ids().size()), arg("generated", o.generated.size())).c_str());
  // The last fed token's attention row over every cached key, for the selected decoder self-attention head.
  const int layer = s.sel.block.decoder ? s.sel.block.layer : 0;
  const std::string path = paths::head_tensor(paths::block("decoder", layer, false), s.sel.head, "P");
  auto it = g.last_rows().find(path);
  if (it != g.last_rows().end()) {
    std::vector<std::string> keys;
    for (int id : g.ids()) keys.push_back(g.vocab().token(id));
    ImGui::TextUnformatted(trf("output.newest_row", arg("n", keys.size()), arg("path", path)).c_str());
    const size_t first = keys.size() > 12 ? keys.size() - 12 : 0;  // the last 12 keys; the rest are in the tooltip of P
    DrawRowBars("gen-row", it->second.tail(static_cast<Eigen::Index>(keys.size() - first)),
                std::vector<std::string>(keys.begin() + static_cast<long>(first), keys.end()), ImGui::GetContentRegionAvail().x * 0.5f);
    if (first > 0) ImGui::TextDisabled("%s", trf("output.earlier_keys", arg("n", first)).c_str());
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
  const bool decoder = c.arch != Arch::EncoderOnly;
  const std::vector<std::string>& rows = c.arch == Arch::EncoderDecoder ? t.target_tokens : t.source_tokens;
  const int n = static_cast<int>(probs->rows());
  // The row is the selection's pinned token (shared with the attention views: the same positions), else the last.
  int row = s.sel.pinned_row < 0 || s.sel.pinned_row >= n ? (decoder ? n - 1 : 0) : s.sel.pinned_row;

  // Controls: the row, then the sampling settings.
  text_wrapped("%s", tr(decoder ? "output.decoder_intro" : "output.encoder_intro"));
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::SliderInt(tr("output.row"), &row, 0, std::max(0, n - 1))) s.sel.pinned_row = row;
  ImGui::SameLine();
  ImGui::TextDisabled("%s", trf("output.after", arg("token", row < static_cast<int>(rows.size()) ? rows[static_cast<size_t>(row)] : std::string("?"))).c_str());
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

  // output.probs, every column labelled with its token, on the left; the chosen row's bars on the right, so the
  // matrix can use the whole height (its labels stay readable in presentation mode).
  const float avail_w = ImGui::GetContentRegionAvail().x;
  const float bars_w = std::min(avail_w * 0.42f, ImGui::GetFontSize() * 24.0f);
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
  ImGui::BeginGroup();
  const HeatmapHover hover = DrawHeatmap(s, a);
  if (hover.row >= 0 && ImGui::IsMouseClicked(ImGuiMouseButton_Left)) s.sel.pinned_row = hover.row;
  ImGui::EndGroup();

  // The chosen row: the model's top tokens, and what sampling would draw from.
  const RowVec p = probs->row(row);
  const RowVec q = sampling_distribution(logits->row(row), o.sampling);
  const int k = std::min(5, t.vocab.size());
  ImGui::SameLine(0, 16);
  ImGui::BeginGroup();
  ImGui::TextUnformatted(trf("output.top", arg("k", k), arg("row", row)).c_str());
  bars("model-top", top(p, k), t.vocab, bars_w);
  const auto kept = top(q, t.vocab.size());
  const long survivors = std::count_if(kept.begin(), kept.end(), [](const auto& e) { return e.second > 0.0f; });
  ImGui::TextUnformatted(trf(survivors == 1 ? "output.kept_one" : "output.kept", arg("n", survivors)).c_str());
  bars("sample-top", top(q, std::min<int>(k, static_cast<int>(survivors))), t.vocab, bars_w);
  ImGui::EndGroup();

  generation(s);
}

}  // namespace qkv::app
