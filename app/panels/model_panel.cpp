#include "app/panels/panels.h"
#include "app/real_model.h"
#include "app/widgets/common.h"
#include "app/widgets/text_wrap.h"

#include <imgui.h>

#include "core/memory.h"
#include "core/model.h"

#include <algorithm>
#include <filesystem>

namespace qkv::app {
namespace {

// A combo over every value of an enum, labelled by the catalog key `key` (its text; the key is the ImGui id).
template <typename E>
bool enum_combo(const char* key, E& value, const char* tooltip_key) {
  bool changed = false;
  if (ImGui::BeginCombo(tr_id(key), value_label(value))) {
    for (int i = 0; i < static_cast<int>(E::Count); ++i) {
      const E option = static_cast<E>(i);
      ImGui::PushID(i);
      if (ImGui::Selectable(value_label(option), option == value)) {
        value = option;
        changed = true;
      }
      ImGui::PopID();
    }
    ImGui::EndCombo();
  }
  if (tooltip_key && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr(tooltip_key));
  return changed;
}

// The name of the field whose catalog key is `key`, as --click and the state JSON know it: its English text, the
// same in every language (tests/app_shell_test.sh clicks "d_model" and reads "error: d_model").
const char* field_name(const char* key) { return i18n::tr_in(Lang::En, key); }

// An edit that the core refuses is explained right under the field that made it (the last one edited), in red;
// the last valid model stays on screen. `name`: the field's name (field_name), "" for none.
bool field(AppState& s, const char* name, bool changed) {
  if (*name) s.drawn_widgets.push_back({name, ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x, ImGui::GetItemRectMax().y});
  if (changed) s.last_edited_field = name;
  if (s.error && s.last_edited_field == name) {
    ImGui::BeginGroup();
    error_text("%s", trf("model.not_applied", arg("what", s.error->what)).c_str());
    if (!s.error->hint.empty()) text_wrapped_unformatted(trf("model.hint", arg("hint", s.error->hint)));
    ImGui::EndGroup();
    s.drawn_widgets.push_back({std::string("error: ") + name, ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x,
                               ImGui::GetItemRectMax().y});
  }
  return changed;
}

// A field labelled by the catalog key `key`, with the field's name for field().
bool keyed_field(AppState& s, const char* key, bool changed) { return field(s, field_name(key), changed); }

// A number typed or stepped with − +: a click puts the cursor in the field (a drag field would start dragging).
bool int_input(AppState& s, const char* key, int& value, int lo, int hi, const char* tooltip_key) {
  int typed = value;
  const bool edited = ImGui::InputInt(tr_id(key), &typed, 1, 8);
  if (tooltip_key && ImGui::IsItemHovered())
    ImGui::SetTooltip("%s", trf("model.range", arg("tip", tr(tooltip_key)), arg("lo", lo), arg("hi", hi)).c_str());
  const bool changed = edited && std::clamp(typed, lo, hi) != value;
  if (changed) value = std::clamp(typed, lo, hi);
  return keyed_field(s, key, changed);
}

bool mask_checkboxes(const char* id, MaskFlags& flags) {
  ImGui::PushID(id);
  bool changed = false;
  for (auto [bit, key] : {std::pair{kMaskCausal, "model.mask_causal"}, std::pair{kMaskPadding, "model.mask_padding"}, std::pair{kMaskCustom, "model.mask_custom"}}) {
    bool on = flags & bit;
    const char* label = tr_id(key);
    if (bit != kMaskCausal) same_line_if_fits(ImGui::GetFrameHeight(), label);
    if (ImGui::Checkbox(label, &on)) {
      flags = on ? (flags | bit) : (flags & ~bit);
      changed = true;
    }
  }
  ImGui::PopID();
  return changed;
}

struct StartingPoint {
  const char* title;  // a catalog key
  void (*apply)(Session&);
};

const StartingPoint kStartingPoints[] = {
    {"model.start.trained", [](Session& s) { s = default_session(); }},
    {"model.start.encoder", [](Session& s) { s.model = ModelConfig{}; s.encoder_mask = kMaskPadding; }},
    {"model.start.decoder",
     [](Session& s) {
       s.model = ModelConfig{};
       s.model.arch = Arch::DecoderOnly;
       s.model.norm_placement = NormPlacement::Pre;
       s.model.activation = Activation::GELU;
       s.decoder_mask = kMaskCausal | kMaskPadding;
     }},
    {"model.start.translation",
     [](Session& s) {
       s.model = ModelConfig{};
       s.model.arch = Arch::EncoderDecoder;
       // The French target of the default English sentence: text typed into the model, not a label.
       if (s.input.target.empty()) s.input.target = "L'animal n'a pas traversé la rue";  // i18n: name
     }},
    {"model.start.wide_head",
     [](Session& s) {
       s.model = ModelConfig{};
       s.model.layers = 1;
       s.model.d_model = 256;
       s.model.heads = 1;
     }},
};

// What a run of the session being edited takes (core/model.h estimate_memory), against the limit it is held to: a bar,
// the parts, and in red when the edit is refused for it. Estimated again only when the session changes.
void draw_memory_estimate(AppState& s) {
  static std::string estimated_for;
  static MemoryEstimate need;
  // A real model is estimated once it is open: reading it here would block the window for the whole load (the worker
  // reads it, with progress).
  if (!s.session.model_dir.empty() && !session_model(s)) {
    heading(tr("model.memory"));
    dim_text("%s", tr("app_pretrained.estimate_after_load"));
    return;
  }
  const std::string key = to_json(s.session, -1) + (s.gradients_wanted ? "+gradients" : "");
  if (key != estimated_for) {
    estimated_for = key;
    need = estimate_memory(s.session, {}, s.gradients_wanted);
  }
  heading(tr("model.memory"));
  const double limit = static_cast<double>(memory_limit());
  const float share = static_cast<float>(std::clamp(need.total() / limit, 0.0, 1.0));
  const std::string overlay = trf("model.memory_of", arg("need", human_bytes(need.total())), arg("limit", human_bytes(limit)));
  const bool over = need.total() > limit;
  if (over) ImGui::PushStyleColor(ImGuiCol_PlotHistogram, ImVec4(0.85f, 0.25f, 0.25f, 1.0f));
  ImGui::ProgressBar(std::max(share, 0.01f), ImVec2(-1.0f, 0.0f), overlay.c_str());
  if (over) ImGui::PopStyleColor();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s", trf("model.memory_tip", arg("share", static_cast<int>(kDefaultMemoryShare * 100)),
                                arg("memory", human_bytes(static_cast<double>(machine_memory_bytes())))).c_str());
  // The parts, as a list: "weights 1.2 MB · trace 3.4 MB · working 0.5 MB".
  std::string parts = trf("model.memory_weights", arg("bytes", human_bytes(need.weights)));
  parts += " · " + trf(need.lean ? "model.memory_trace_lean" : "model.memory_trace", arg("bytes", human_bytes(need.trace)));
  parts += " · " + trf("model.memory_working", arg("bytes", human_bytes(need.working)));
  if (need.gradients > 0) parts += " · " + trf("model.memory_gradients", arg("bytes", human_bytes(need.gradients)));
  dim_text("%s", parts.c_str());
  if (over) error_text("%s", tr("model.memory_over"));
}

// [SECTION] A real checkpoint: its card, the as-trained badge, the ablations
// A badge: a small filled label in `color` (not a button: it does nothing when clicked).
void badge(const char* text, const ImVec4& color) {
  const ImVec2 pad = ImGui::GetStyle().FramePadding;
  const ImVec2 size = ImGui::CalcTextSize(text);
  const ImVec2 a = ImGui::GetCursorScreenPos(), b(a.x + size.x + pad.x * 2.0f, a.y + size.y + pad.y * 2.0f);
  ImDrawList* list = ImGui::GetWindowDrawList();
  list->AddRectFilled(a, b, ImGui::GetColorU32(ImVec4(color.x, color.y, color.z, 0.25f)), ImGui::GetStyle().FrameRounding);
  list->AddRect(a, b, ImGui::GetColorU32(color), ImGui::GetStyle().FrameRounding);
  list->AddText(ImVec2(a.x + pad.x, a.y + pad.y), ImGui::GetColorU32(color), text);
  ImGui::Dummy(ImVec2(b.x - a.x, b.y - a.y));
}

// The model card (core/pretrained.h ModelCard): what was loaded, how large, how fast; whether it runs as trained.
void draw_model_card(AppState& s, const PretrainedModel& m) {
  const ModelCard& card = m.card;
  heading(trf("app_pretrained.card_heading", arg("title", card.title)).c_str());
  if (ImGui::BeginTable("model_card", 2, ImGuiTableFlags_SizingFixedFit)) {
    const auto row = [](const char* key, const std::string& value) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextDisabled("%s", tr(key));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(value.c_str());
    };
    row("app_pretrained.card_family", name(card.family));
    row("app_pretrained.card_architecture", card.architecture);
    row("app_pretrained.card_shape", trf("app_pretrained.card_shape_value", arg("layers", card.layers), arg("heads", card.heads)));
    row("app_pretrained.card_widths", trf("app_pretrained.card_widths_value", arg("d_model", card.d_model), arg("d_ff", card.d_ff)));
    row("app_pretrained.card_vocab", trf("app_pretrained.card_vocab_value", arg("vocab", with_separators(card.vocab)),
                                         arg("positions", with_separators(card.positions))));
    row("app_pretrained.card_parameters", with_separators(card.parameters));
    row("app_pretrained.card_file", trf("app_pretrained.card_file_value", arg("bytes", human_bytes(static_cast<double>(card.file_bytes))),
                                        arg("dtype", card.dtype)));
    row("app_pretrained.card_memory", trf("app_pretrained.card_memory_value", arg("bytes", human_bytes(static_cast<double>(m.weight_bytes())))));
    row("app_pretrained.card_load", trf("app_pretrained.card_load_value", arg("ms", card.load_ms)));
    ImGui::EndTable();
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", trf("app_pretrained.card_tip", arg("dir", card.folder)).c_str());
  const int changes = changes_from_trained(s.session, m);
  if (loaded_as_trained(s.session, m)) {
    badge(tr("app_pretrained.as_trained"), kAsTrainedColor);
    hover_tip(tr("app_pretrained.as_trained_tip"));
  } else {
    badge(trf(changes == 1 ? "app_pretrained.toggled_one" : "app_pretrained.toggled", arg("n", changes)).c_str(), kWarningColor);
    hover_tip(tr("app_pretrained.toggled_tip"));
    same_line_if_fits(button_width(tr("app_pretrained.reset")), nullptr);
    if (ImGui::Button(tr_id("app_pretrained.reset"))) {
      s.session = reset_to_trained(s.session, m);
      s.dirty = true;
    }
    s.drawn_widgets.push_back({"reset to trained", ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x,  // i18n: name
                               ImGui::GetItemRectMax().y});
  }
}

// The heads and layers switched off (any model): each with a button that puts it back, and "clear all".
void draw_ablations(AppState& s) {
  heading(tr("app_pretrained.ablations_heading"));
  std::vector<Ablation>& list = s.session.ablations;
  if (list.empty()) {
    dim_text("%s", tr("app_pretrained.ablations_none"));
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    ImGui::PushID(static_cast<int>(i));
    const bool remove = ImGui::SmallButton("x");  // i18n: name (a close mark)
    hover_tip(tr("app_pretrained.ablation_remove_tip"));
    ImGui::SameLine();
    ImGui::TextUnformatted(trf("app_pretrained.ablation_item", arg("target", list[i].target), arg("kind", value_label(list[i].kind))).c_str());
    ImGui::PopID();
    if (remove) {
      list.erase(list.begin() + static_cast<long>(i));
      s.dirty = true;
      break;
    }
  }
  if (ImGui::SmallButton(tr_id("app_pretrained.ablations_clear"))) {
    list.clear();
    s.dirty = true;
  }
}

// Shown over a field the checkpoint fixes (disabled while a real model is loaded).
void fixed_by_checkpoint_tip(bool fixed) {
  if (fixed && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("%s", tr("app_pretrained.fixed_tip"));
}

// While a folder is read: which, and how far.
void draw_model_loading(const AppState& s) {
  const ModelLoadState& L = s.model_load;
  dim_text("%s", trf("app_pretrained.loading", arg("dir", L.job.key())).c_str());
  const int done = L.job.done(), total = L.job.total();
  const std::string overlay = trf("app_pretrained.loading_progress", arg("done", done), arg("total", total));
  ImGui::ProgressBar(total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f, ImVec2(-1.0f, 0.0f), overlay.c_str());
}

}  // namespace

void DrawModelPanel(AppState& s) {
  ModelConfig& c = s.session.model;
  bool changed = false;
  if (!s.error) s.last_edited_field.clear();
  if (s.error && s.last_edited_field.empty()) field(s, "", false);
  const std::shared_ptr<const PretrainedModel> real = session_model(s);
  const bool fixed = !s.session.model_dir.empty();  // the checkpoint fixes the shape (even while it is being read)
  if (s.model_load.loading()) draw_model_loading(s);
  if (real) draw_model_card(s, *real);
  ImGui::BeginGroup();
  ImGui::BeginDisabled(fixed);
  if (ImGui::BeginCombo(tr_id("model.start_from"), tr("model.choose"))) {
    for (const StartingPoint& p : kStartingPoints)
      if (ImGui::Selectable(tr_id(p.title))) {
        s.session.weights.clear();  // a new shape: seeded weights unless the starting point brings its own
        p.apply(s.session);
        changed = true;
      }
    ImGui::EndCombo();
  }
  ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.55f);
  changed |= keyed_field(s, "model.architecture", enum_combo("model.architecture", c.arch, "model.architecture_tip"));
  changed |= int_input(s, "model.layers", c.layers, 1, 24, "model.layers_tip");
  changed |= int_input(s, "model.d_model", c.d_model, 1, 1024, "model.d_model_tip");
  changed |= int_input(s, "model.heads", c.heads, 1, 64, "model.heads_tip");
  changed |= int_input(s, "model.d_k", c.d_k, 0, 1024, "model.d_k_tip");
  changed |= int_input(s, "model.d_v", c.d_v, 0, 1024, "model.d_v_tip");
  changed |= int_input(s, "model.d_ff", c.d_ff, 1, 8192, "model.d_ff_tip");
  ImGui::EndDisabled();
  ImGui::EndGroup();
  fixed_by_checkpoint_tip(fixed);
  changed |= keyed_field(s, "model.activation", enum_combo("model.activation", c.activation, nullptr));
  heading(tr("model.h_attention"));
  bool scaled = c.score_scale == ScoreScale::InvSqrtDk;
  if (keyed_field(s, "model.divide", ImGui::Checkbox(tr_id("model.divide"), &scaled))) {
    c.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
    changed = true;
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("model.divide_tip"));
  changed |= keyed_field(s, "model.temperature",
                         ImGui::SliderFloat(tr_id("model.temperature"), &c.temperature, 0.05f, 5.0f, "%.2f", ImGuiSliderFlags_Logarithmic));
  changed |= keyed_field(s, "model.scoring", enum_combo("model.scoring", c.scoring, "model.scoring_tip"));
  changed |= keyed_field(s, "model.projections", enum_combo("model.projections", c.projection, "model.projections_tip"));
  ImGui::BeginDisabled(fixed);
  changed |= keyed_field(s, "model.biases", ImGui::Checkbox(tr_id("model.biases"), &c.bias));
  ImGui::EndDisabled();
  fixed_by_checkpoint_tip(fixed);
  if (c.arch != Arch::DecoderOnly) {
    text_wrapped_unformatted(tr(c.arch == Arch::EncoderDecoder ? "model.encoder_mask" : "model.self_mask"));
    changed |= field(s, "encoder_mask", mask_checkboxes("encoder_mask", s.session.encoder_mask));
  }
  if (c.arch != Arch::EncoderOnly) {
    text_wrapped_unformatted(tr(c.arch == Arch::EncoderDecoder ? "model.decoder_mask" : "model.self_mask"));
    changed |= field(s, "decoder_mask", mask_checkboxes("decoder_mask", s.session.decoder_mask));
  }
  heading(tr("model.h_positions"));
  changed |= keyed_field(s, "model.pe", enum_combo("model.pe", c.pe, "model.pe_tip"));
  if (c.pe == PosEncoding::Sinusoidal || c.pe == PosEncoding::RoPE) {
    float base = static_cast<float>(c.pe_base);
    if (ImGui::SliderFloat(tr_id("model.base"), &base, 2.0f, 100000.0f, "%.0f", ImGuiSliderFlags_Logarithmic)) {
      c.pe_base = base;
      changed = true;
    }
  }
  changed |= keyed_field(s, "model.scale_embeddings", ImGui::Checkbox(tr_id("model.scale_embeddings"), &c.scale_embeddings));
  heading(tr("model.h_block"));
  changed |= keyed_field(s, "model.residual", ImGui::Checkbox(tr_id("model.residual"), &c.residual));
  changed |= keyed_field(s, "model.norm", enum_combo("model.norm", c.norm, "model.norm_tip"));
  changed |= keyed_field(s, "model.placement", enum_combo("model.placement", c.norm_placement, "model.placement_tip"));
  int mode = static_cast<int>(s.session.mode);
  const char* modes[] = {tr("model.mode_eval"), tr("model.mode_train")};  // Mode::Eval, Mode::Train
  if (ImGui::Combo(tr_id("model.mode"), &mode, modes, IM_ARRAYSIZE(modes))) {
    s.session.mode = static_cast<Mode>(mode);
    changed = true;
    s.last_edited_field = field_name("model.mode");
  }
  keyed_field(s, "model.mode", false);
  if (s.session.mode == Mode::Train)
    changed |= keyed_field(s, "model.dropout", ImGui::SliderFloat(tr_id("model.dropout"), &c.dropout, 0.0f, 0.9f, "%.2f"));
  heading(tr("model.h_weights"));
  ImGui::BeginGroup();
  ImGui::BeginDisabled(fixed);
  if (fixed) {
    text_wrapped_unformatted(trf("app_pretrained.weights_from", arg("dir", s.session.model_dir)));
  } else if (s.session.weights.empty()) {
    text_wrapped_unformatted(tr("model.weights_random"));
  } else {
    text_wrapped_unformatted(trf("model.weights_trained", arg("file", std::filesystem::path(s.session.weights).filename().string())));
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", trf("model.weights_trained_tip", arg("path", s.session.weights)).c_str());
    if (ImGui::SmallButton(tr_id("model.use_untrained"))) {
      s.session.weights.clear();
      changed = true;
    }
  }
  int seed = static_cast<int>(s.session.seed);
  if (ImGui::InputInt(tr_id("model.seed"), &seed)) {
    s.session.seed = static_cast<uint64_t>(std::max(0, seed));
    changed = true;
  }
  ImGui::EndDisabled();
  ImGui::EndGroup();
  fixed_by_checkpoint_tip(fixed);
  ImGui::PopItemWidth();
  draw_ablations(s);
  draw_memory_estimate(s);
  if (changed) s.dirty = true;
}

}  // namespace qkv::app
