// QKV Lab app — line breaking (see text_wrap.h).
#include "app/widgets/text_wrap.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <cstdarg>
#include <cstdio>

namespace qkv::app {

std::string group_digits(int64_t n, std::string_view separator, std::string_view minus) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out(n < 0 ? minus : std::string_view{});
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += separator;
    out += digits[i];
  }
  return out;
}
namespace {

// The code point at text[i] and its length in bytes (a bad byte counts as one character).
char32_t decode(std::string_view text, size_t i, size_t* len) {
  const auto b = static_cast<unsigned char>(text[i]);
  const size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + n > text.size() || n == 1) {
    *len = 1;
    return b;
  }
  char32_t c = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) {
    const auto cont = static_cast<unsigned char>(text[i + k]);
    if ((cont >> 6) != 0x2) {
      *len = 1;
      return b;
    }
    c = (c << 6) | (cont & 0x3F);
  }
  *len = n;
  return c;
}

// Characters a line may break before and after: CJK ideographs, kana, hangul, fullwidth forms and CJK punctuation.
bool is_cjk(char32_t c) {
  return (c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
         (c >= 0xFF00 && c <= 0xFFEF) || (c >= 0x20000 && c <= 0x2FFFF);
}
// A line never starts with these (closing punctuation) …
bool no_break_before(char32_t c) {
  static constexpr char32_t kClosing[] = {U'，', U'。', U'、', U'；', U'：', U'？', U'！', U'）', U'》', U'」', U'』', U'】', U'”', U'’',
                                          U'…', U'·', U'％', U'〉', U'｝', U'］', U',', U'.', U';', U':', U'?', U'!', U')', U']', U'}', U'%'};
  for (char32_t k : kClosing)
    if (c == k) return true;
  return false;
}
// … nor ends with these (opening punctuation).
bool no_break_after(char32_t c) {
  static constexpr char32_t kOpening[] = {U'（', U'《', U'「', U'『', U'【', U'“', U'‘', U'〈', U'｛', U'［', U'(', U'[', U'{'};
  for (char32_t k : kOpening)
    if (c == k) return true;
  return false;
}

}  // namespace

std::string cut_with_ellipsis(std::string_view text, float width, const std::function<float(std::string_view)>& measure) {
  if (measure(text) <= width) return std::string(text);
  const std::string ellipsis = "…";
  const float tail = measure(ellipsis);
  size_t keep = text.size();
  while (keep > 0 && measure(text.substr(0, keep)) + tail > width) {
    while (keep > 0 && (static_cast<unsigned char>(text[keep - 1]) & 0xC0) == 0x80) --keep;  // the character's continuation bytes
    if (keep > 0) --keep;                                                                    // and its first byte
  }
  return std::string(text.substr(0, keep)) + ellipsis;
}

std::vector<std::string_view> wrap_lines(std::string_view text, float width, const std::function<float(std::string_view)>& measure) {
  std::vector<std::string_view> lines;
  size_t line_start = 0;
  // The last place the current line may end (exclusive) and where the next line would then start.
  size_t break_end = std::string_view::npos, break_next = 0;
  char32_t prev = 0;
  size_t i = 0;
  const auto emit = [&](size_t end, size_t next) {
    lines.push_back(text.substr(line_start, end - line_start));
    line_start = next;
    break_end = std::string_view::npos;
    prev = 0;
  };
  while (i < text.size()) {
    size_t len = 1;
    const char32_t c = decode(text, i, &len);
    if (c == '\n') {
      emit(i, i + 1);
      i += 1;
      continue;
    }
    if (c == ' ') {  // a break: the line may end before the space run, the next starts after it
      size_t j = i;
      while (j < text.size() && text[j] == ' ') ++j;
      if (i > line_start) break_end = i, break_next = j;
      else line_start = j;  // no line starts with spaces
      prev = ' ';
      i = j;
      continue;
    }
    // A break between prev and c where either is CJK and the punctuation rules allow it.
    if (i > line_start && prev != ' ' && prev != 0 && (is_cjk(prev) || is_cjk(c)) && !no_break_before(c) && !no_break_after(prev))
      break_end = i, break_next = i;
    if (measure(text.substr(line_start, i + len - line_start)) > width && i > line_start) {
      if (break_end != std::string_view::npos) {
        const size_t next = break_next;
        emit(break_end, next);
        i = next;  // measure again from the new line's start
        continue;
      }
      emit(i, i);  // one run wider than the line: break it where it overflows
      continue;
    }
    prev = c;
    i += len;
  }
  if (line_start < text.size() || lines.empty()) lines.push_back(text.substr(std::min(line_start, text.size())));
  return lines;
}

void text_wrapped_unformatted(std::string_view text) {
  ImGuiWindow* window = ImGui::GetCurrentWindow();
  if (window->SkipItems) return;
  const float wrap_pos = window->DC.TextWrapPos < 0.0f ? 0.0f : window->DC.TextWrapPos;
  const float width = std::max(1.0f, ImGui::CalcWrapWidthForPos(window->DC.CursorPos, wrap_pos));
  const ImFont* font = ImGui::GetFont();
  const float size = ImGui::GetFontSize();
  const auto measure = [&](std::string_view s) { return font->CalcTextSizeA(size, FLT_MAX, 0.0f, s.data(), s.data() + s.size()).x; };
  std::string joined;
  for (std::string_view line : wrap_lines(text, width, measure)) {
    if (!joined.empty()) joined += '\n';
    joined.append(line);
  }
  ImGui::PushTextWrapPos(-1.0f);  // the lines are already broken: ImGui must not break them again
  ImGui::TextUnformatted(joined.c_str(), joined.c_str() + joined.size());
  ImGui::PopTextWrapPos();
}

bool selectable_wrapped(const char* id, std::string_view text, bool selected) {
  const float width = std::max(1.0f, ImGui::GetContentRegionAvail().x);
  const ImFont* font = ImGui::GetFont();
  const float size = ImGui::GetFontSize();
  const auto measure = [&](std::string_view s) { return font->CalcTextSizeA(size, FLT_MAX, 0.0f, s.data(), s.data() + s.size()).x; };
  const std::vector<std::string_view> lines = wrap_lines(text, width, measure);
  const float line_h = ImGui::GetTextLineHeight();
  const ImVec2 pos = ImGui::GetCursorScreenPos();
  const bool clicked = ImGui::Selectable(id, selected, 0, ImVec2(width, line_h * static_cast<float>(lines.size())));
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 colour = ImGui::GetColorU32(ImGuiCol_Text);
  for (size_t k = 0; k < lines.size(); ++k)
    list->AddText(ImVec2(pos.x, pos.y + line_h * static_cast<float>(k)), colour, lines[k].data(), lines[k].data() + lines[k].size());
  return clicked;
}

void text_wrapped(const char* fmt, ...) {
  char stack[1024];
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(stack, sizeof stack, fmt, args);
  va_end(args);
  if (n < 0) {
    va_end(copy);
    return;
  }
  if (static_cast<size_t>(n) < sizeof stack) {
    va_end(copy);
    text_wrapped_unformatted(std::string_view(stack, static_cast<size_t>(n)));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(big.data(), big.size(), fmt, copy);
  va_end(copy);
  big.resize(static_cast<size_t>(n));
  text_wrapped_unformatted(big);
}

}  // namespace qkv::app
