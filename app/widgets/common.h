// QKV Lab app — small UI helpers every panel uses.
#pragma once

#include <imgui.h>

#include <string>
#include <string_view>

#include "core/i18n.h"

namespace qkv::app {

// Every text a user reads comes from assets/i18n/ (core/i18n.h): tr("key"), trf("key", arg("n", 3)), and
// tr_id("key") for a window, tab or tree label whose ImGui id must not change with the language.
using i18n::arg;
using i18n::tr;
using i18n::tr_id;
using i18n::phrase;
using i18n::Phrase;
using i18n::trf;
using i18n::trf_in;
// The text of `key` with the ImGui id "###<key><suffix>": two widgets of the same text in one window ("Reset" of two
// sections) stay apart, and keep their state when the language changes.
std::string tr_label(const char* key, const char* suffix);
// An enum value as the learner reads it: the catalog's "model.value.<name(value)>" (name() is the spelling sessions and
// the CLI parse; it never changes with the language): value_label(PosEncoding::Sinusoidal) -> "sinusoidal" / "正弦".
template <typename E>
const char* value_label(E value) {
  const std::string key = std::string("model.value.") + name(value);
  return tr(key.c_str());
}
// "encoder" / "decoder" as a word of a sentence (the tensor paths keep the names).
const char* stack_word(bool decoder);
// A translated text made safe as a printf format (an ImGui slider's): its '%' doubled, so it is shown, never read as a
// conversion.
std::string printf_escaped(std::string_view text);

inline const ImVec4 kErrorColor{1.0f, 0.45f, 0.4f, 1.0f};    // a refusal: what was not applied and why
inline const ImVec4 kWarningColor{1.0f, 0.8f, 0.3f, 1.0f};   // applied, but worth knowing
inline const ImVec4 kAsTrainedColor{0.4f, 0.85f, 0.45f, 1.0f};  // a real model running exactly as it was trained
// ImGui::SameLine() when the next widget (item_width wide, with its label) still fits on this line, else
// nothing: the widget starts a new line instead of being cut off at the window's edge.
void same_line_if_fits(float item_width, const char* label);
float button_width(const char* label);  // an ImGui::Button's width for this label, for same_line_if_fits
void error_text(const char* fmt, ...) __attribute__((format(printf, 1, 2)));  // red, wrapped (never cut off)
// ImGui::TextDisabled / TextColored, wrapped as text_wrapped does: for notes and captions that can be wider
// than their panel (presentation fonts, Chinese, long numbers).
void dim_text(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void colored_text(const ImVec4& color, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// One line that must stay one line (a status bar): cut with "…" where it would pass max_width, the whole
// text in a tooltip when cut. Returns whether it was cut.
bool text_ellipsis(std::string_view text, float max_width);

void heading(const char* text);               // a dim title over a separator (ImGui 1.86 has no SeparatorText)
void hover_tip(const char* text);             // tooltip for the last item
void check_mark(bool ok, const char* tooltip);  // a drawn ✓ (the font has none) or a red ≠
std::string fmt(float v, const char* format = "%.4f");  // −∞, +∞ and NaN spelled out
std::string dims(long rows, long cols);       // "[12×8]"

}  // namespace qkv::app
