// QKV Lab app — small UI helpers every panel uses.
#pragma once

#include <string>

namespace qkv::app {

void heading(const char* text);               // a dim title over a separator (ImGui 1.86 has no SeparatorText)
void hover_tip(const char* text);             // tooltip for the last item
void check_mark(bool ok, const char* tooltip);  // a drawn ✓ (the font has none) or a red ≠
std::string fmt(float v, const char* format = "%.4f");  // −∞, +∞ and NaN spelled out
std::string dims(long rows, long cols);       // "[12×8]"

}  // namespace qkv::app
