// QKV Lab app — line breaking for text that mixes English, numbers, formulas and Chinese.
//
// ImGui 1.86 wraps at spaces and after '.' and ',' — so "0.960" could break as "0.↵960" — and a run of Chinese,
// which has no spaces, only where it overflows. Here a line breaks at a space, or between two CJK characters
// (never before closing punctuation such as ，。）, never after opening punctuation such as （《), and never
// inside a run of other characters (a number, a formula, a word) unless that run alone is wider than a line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::app {

// The lines of text at most `width` wide as `measure` reports widths (spaces at a break are dropped; '\n'
// always breaks). Each line is a view into text.
std::vector<std::string_view> wrap_lines(std::string_view text, float width, const std::function<float(std::string_view)>& measure);

// `text` cut to at most `width` with "…" after what is kept, between whole UTF-8 characters (a Chinese character is
// three bytes: cutting bytes would draw "��"); the text itself when it fits.
std::string cut_with_ellipsis(std::string_view text, float width, const std::function<float(std::string_view)>& measure);

// 124439808 -> "124" sep "439" sep "808": a long whole number read at a glance; `minus` leads a negative one.
std::string group_digits(int64_t n, std::string_view separator, std::string_view minus = "-");

// ImGui::TextWrapped with these line breaks (printf-style; wraps at the wrap position pushed with
// ImGui::PushTextWrapPos, else at the window's right edge).
void text_wrapped(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void text_wrapped_unformatted(std::string_view text);
// A full-width Selectable whose label wraps onto as many lines as it needs (a list of long titles never cuts
// one off). id: the ImGui id ("##lesson-5").
bool selectable_wrapped(const char* id, std::string_view text, bool selected);

}  // namespace qkv::app
