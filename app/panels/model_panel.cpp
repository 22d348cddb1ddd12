#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/text_wrap.h"

#include <imgui.h>

#include "core/memory.h"
#include "core/model.h"

#include <algorithm>
#include <filesystem>

namespace qkv::app {
namespace {

// A combo over every value of an enum, labelled by its core name.
template <typename E>
bool enum_combo(const char* label, E& value, const char* tooltip) {
  bool changed = false;
  if (ImGui::BeginCombo(label, name(value))) {
    for (int i = 0; i < static_cast<int>(E::Count); ++i) {
      const E option = static_cast<E>(i);
      if (ImGui::Selectable(name(option), option == value)) {
        value = option;
        changed = true;
      }
    }
    ImGui::EndCombo();
  }
  if (tooltip && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tooltip);
  return changed;
}

// An edit that the core refuses is explained right under the field that made it (the last one edited), in red;
// the last valid model stays on screen.
bool field(AppState& s, const char* label, bool changed) {
  if (*label) s.drawn_widgets.push_back({label, ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x, ImGui::GetItemRectMax().y});
  if (changed) s.last_edited_field = label;
  if (s.error && s.last_edited_field == label) {
    ImGui::BeginGroup();
    error_text("Not applied: %s", s.error->what.c_str());
    if (!s.error->hint.empty()) text_wrapped("Hint: %s", s.error->hint.c_str());
    ImGui::EndGroup();
    s.drawn_widgets.push_back({std::string("error: ") + label, ImGui::GetItemRectMin().x, ImGui::GetItemRectMin().y, ImGui::GetItemRectMax().x,
                               ImGui::GetItemRectMax().y});
  }
  return changed;
}

// A number typed or stepped with − +: a click puts the cursor in the field (a drag field would start dragging).
bool int_input(AppState& s, const char* label, int& value, int lo, int hi, const char* tooltip) {
  int typed = value;
  const bool edited = ImGui::InputInt(label, &typed, 1, 8);
  if (tooltip && ImGui::IsItemHovered()) ImGui::SetTooltip("%s (%d … %d)", tooltip, lo, hi);
  const bool changed = edited && std::clamp(typed, lo, hi) != value;
  if (changed) value = std::clamp(typed, lo, hi);
  return field(s, label, changed);
}

bool mask_checkboxes(const char* id, MaskFlags& flags) {
  ImGui::PushID(id);
  bool changed = false;
  for (auto [bit, label] : {std::pair{kMaskCausal, "causal"}, std::pair{kMaskPadding, "padding"}, std::pair{kMaskCustom, "custom"}}) {
    bool on = flags & bit;
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
  const char* title;
  void (*apply)(Session&);
};

const StartingPoint kStartingPoints[] = {
    {"Trained: reverse letters (shipped weights)", [](Session& s) { s = default_session(); }},
    {"Teaching encoder (2 layers, d_model 32, 4 heads)", [](Session& s) { s.model = ModelConfig{}; s.encoder_mask = kMaskPadding; }},
    {"Decoder-only language model (causal)",
     [](Session& s) {
       s.model = ModelConfig{};
       s.model.arch = Arch::DecoderOnly;
       s.model.norm_placement = NormPlacement::Pre;
       s.model.activation = Activation::GELU;
       s.decoder_mask = kMaskCausal | kMaskPadding;
     }},
    {"Encoder–decoder translation",
     [](Session& s) {
       s.model = ModelConfig{};
       s.model.arch = Arch::EncoderDecoder;
       if (s.input.target.empty()) s.input.target = "L'animal n'a pas traversé la rue";
     }},
    {"One wide head (d_k = 256): see why √d_k matters",
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
  const std::string key = to_json(s.session, -1) + (s.gradients_wanted ? "+gradients" : "");
  if (key != estimated_for) {
    estimated_for = key;
    need = estimate_memory(s.session, {}, s.gradients_wanted);
  }
  heading("Memory");
  const double limit = static_cast<double>(memory_limit());
  const float share = static_cast<float>(std::clamp(need.total() / limit, 0.0, 1.0));
  const std::string overlay = human_bytes(need.total()) + " of " + human_bytes(limit);
  const bool over = need.total() > limit;
  if (over) ImGui::PushStyleColor(ImGuiCol_PlotHistogram, ImVec4(0.85f, 0.25f, 0.25f, 1.0f));
  ImGui::ProgressBar(std::max(share, 0.01f), ImVec2(-1.0f, 0.0f), overlay.c_str());
  if (over) ImGui::PopStyleColor();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Estimated from the shapes before a run allocates anything; a run over the limit is refused and the last\n"
        "model stays on screen. The limit is %d%% of this machine's %s unless --memory-limit or QKVLAB_MEMORY_LIMIT\n"
        "sets it. Weights grow with L·d_model² and L·d_model·d_ff; the trace with L·h·n² (n tokens), until it is\n"
        "large enough to be kept lean: then only each layer's input and output are kept, the rest recomputed on demand.",
        static_cast<int>(kDefaultMemoryShare * 100), human_bytes(static_cast<double>(machine_memory_bytes())).c_str());
  dim_text("weights %s · %strace %s · working %s%s", human_bytes(need.weights).c_str(), need.lean ? "lean " : "", human_bytes(need.trace).c_str(),
           human_bytes(need.working).c_str(), need.gradients > 0 ? (" · gradients " + human_bytes(need.gradients)).c_str() : "");
  if (over) error_text("Over the memory limit: this model is not run. Make it or the text smaller, or start with --memory-limit.");
}

}  // namespace

void DrawModelPanel(AppState& s) {
  ModelConfig& c = s.session.model;
  bool changed = false;
  if (!s.error) s.last_edited_field.clear();
  if (s.error && s.last_edited_field.empty()) field(s, "", false);
  if (ImGui::BeginCombo("Start from", "choose a model…")) {
    for (const StartingPoint& p : kStartingPoints)
      if (ImGui::Selectable(p.title)) {
        s.session.weights.clear();  // a new shape: seeded weights unless the starting point brings its own
        p.apply(s.session);
        changed = true;
      }
    ImGui::EndCombo();
  }
  ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.55f);
  changed |= field(s, "architecture", enum_combo("architecture", c.arch, "encoder-only (BERT), decoder-only (GPT: causal), encoder–decoder (translation: cross-attention)"));
  changed |= int_input(s, "layers L", c.layers, 1, 24, "Blocks per stack");
  changed |= int_input(s, "d_model", c.d_model, 1, 1024, "Width of every token vector (the residual stream)");
  changed |= int_input(s, "heads h", c.heads, 1, 64, "Attention heads; with d_k = d_model/h the parameter count does not change with h");
  changed |= int_input(s, "d_k (0 = d_model/h)", c.d_k, 0, 1024, "Query/key width per head: scores have variance ≈ d_k before scaling");
  changed |= int_input(s, "d_v (0 = d_model/h)", c.d_v, 0, 1024, "Value width per head; concat is h·d_v wide");
  changed |= int_input(s, "d_ff", c.d_ff, 1, 8192, "FFN hidden width (the paper: 4·d_model)");
  changed |= field(s, "FFN activation", enum_combo("FFN activation", c.activation, nullptr));
  heading("Attention");
  bool scaled = c.score_scale == ScoreScale::InvSqrtDk;
  if (ImGui::Checkbox("divide scores by √d_k", &scaled)) {
    c.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
    changed = true;
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Without it q·k has variance d_k, the softmax saturates and gradients vanish (S key)");
  changed |= field(s, "temperature τ", ImGui::SliderFloat("temperature τ", &c.temperature, 0.05f, 5.0f, "%.2f", ImGuiSliderFlags_Logarithmic));
  changed |= field(s, "scoring", enum_combo("scoring", c.scoring, "dot: q·k;  additive: w_aᵀ tanh(q + k) (Bahdanau)"));
  changed |= field(s, "projections", enum_combo("projections", c.projection, "learned W_Q, W_K, W_V; tied-qk: W_K = W_Q (S becomes symmetric); identity: Q = K = V = X"));
  changed |= field(s, "biases", ImGui::Checkbox("biases", &c.bias));
  if (c.arch != Arch::DecoderOnly) {
    text_wrapped("%s", c.arch == Arch::EncoderDecoder ? "encoder mask (its padding also masks cross-attention)" : "self-attention mask");
    changed |= field(s, "encoder_mask", mask_checkboxes("encoder_mask", s.session.encoder_mask));
  }
  if (c.arch != Arch::EncoderOnly) {
    text_wrapped_unformatted(c.arch == Arch::EncoderDecoder ? "decoder self-attention mask" : "self-attention mask");
    changed |= field(s, "decoder_mask", mask_checkboxes("decoder_mask", s.session.decoder_mask));
  }
  heading("Positions and embeddings");
  changed |= field(s, "positional encoding", enum_combo("positional encoding", c.pe, "sinusoidal (fixed), learned (a table), RoPE (rotates q, k), ALiBi (bias on distance), none"));
  if (c.pe == PosEncoding::Sinusoidal || c.pe == PosEncoding::RoPE) {
    float base = static_cast<float>(c.pe_base);
    if (ImGui::SliderFloat("base", &base, 2.0f, 100000.0f, "%.0f", ImGuiSliderFlags_Logarithmic)) {
      c.pe_base = base;
      changed = true;
    }
  }
  changed |= field(s, "embeddings × √d_model", ImGui::Checkbox("embeddings × √d_model", &c.scale_embeddings));
  heading("Block");
  changed |= field(s, "residual connections", ImGui::Checkbox("residual connections", &c.residual));
  changed |= field(s, "norm", enum_combo("norm", c.norm, "LayerNorm: per token over features; BatchNorm: per feature over the batch"));
  changed |= field(s, "placement", enum_combo("placement", c.norm_placement, "post: Norm(x + F(x)) (2017 paper); pre: x + F(Norm(x)) (GPT-2)"));
  int mode = static_cast<int>(s.session.mode);
  if (ImGui::Combo("mode", &mode, "eval (no dropout)\0train (seeded dropout)\0")) {
    s.session.mode = static_cast<Mode>(mode);
    changed = true;
    s.last_edited_field = "mode";
  }
  field(s, "mode", false);
  if (s.session.mode == Mode::Train) changed |= field(s, "dropout p", ImGui::SliderFloat("dropout p", &c.dropout, 0.0f, 0.9f, "%.2f"));
  heading("Weights");
  if (s.session.weights.empty()) {
    text_wrapped("random, drawn from the seed (untrained)");
  } else {
    text_wrapped("trained: %s", std::filesystem::path(s.session.weights).filename().string().c_str());
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s\nTensors whose shape fits this model are the trained ones; the rest are seeded (the status bar says which)",
                        s.session.weights.c_str());
    if (ImGui::SmallButton("use untrained weights")) {
      s.session.weights.clear();
      changed = true;
    }
  }
  int seed = static_cast<int>(s.session.seed);
  if (ImGui::InputInt("seed", &seed)) {
    s.session.seed = static_cast<uint64_t>(std::max(0, seed));
    changed = true;
  }
  ImGui::PopItemWidth();
  draw_memory_estimate(s);
  if (changed) s.dirty = true;
}

}  // namespace qkv::app
