#include "app/png_export.h"

#include <stb_image_write.h>
#include <stb_truetype.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/colormap.h"
#include "core/files.h"
#include "core/i18n.h"

namespace qkv {
namespace {

// Letters, digits and a few safe marks survive; everything else becomes '_' (UTF-8 bytes are kept).
std::string file_safe(const std::string& token) {
  std::string out;
  for (unsigned char ch : token) out += (std::isalnum(ch) || ch >= 0x80 || ch == '-' || ch == '\'') ? static_cast<char>(ch) : '_';
  return out.empty() ? "_" : out;
}

void append_png(void* context, void* data, int size) { static_cast<std::string*>(context)->append(static_cast<const char*>(data), size); }

}  // namespace

std::vector<uint8_t> heatmap_rgb(const Mat& M, bool signed_values, int cell_pixels) {
  const int w = static_cast<int>(M.cols()) * cell_pixels, h = static_cast<int>(M.rows()) * cell_pixels;
  float max_abs = 0.0f;
  for (Eigen::Index k = 0; k < M.size(); ++k)
    if (std::isfinite(M.data()[k])) max_abs = std::max(max_abs, std::fabs(M.data()[k]));
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float v = M(y / cell_pixels, x / cell_pixels);
      Rgb8 c;
      if (!std::isfinite(v))
        c = masked_color(x, y);
      else if (signed_values)
        c = diverging_color(max_abs > 0.0f ? v / max_abs : 0.0f);
      else
        c = sequential_color(v);
      std::copy(c.begin(), c.end(), rgb.begin() + (static_cast<size_t>(y) * w + x) * 3);
    }
  return rgb;
}

std::optional<Error> write_heatmap_png(const std::string& path, const Mat& M, bool signed_values) {
  if (M.size() == 0) return Error{i18n::tr("file.png.empty"), ""};
  const int pixels = std::clamp(512 / static_cast<int>(std::max(M.rows(), M.cols())), 1, 32);
  const std::vector<uint8_t> rgb = heatmap_rgb(M, signed_values, pixels);
  const int w = static_cast<int>(M.cols()) * pixels, h = static_cast<int>(M.rows()) * pixels;
  std::string png;
  if (!stbi_write_png_to_func(append_png, &png, w, h, 3, rgb.data(), w * 3)) return Error{i18n::tr("file.png.encode_failed"), ""};
  return write_file_atomically(path, png);
}

// [SECTION] Text without a GUI: stb_truetype with DejaVu Sans, WenQuanYi Micro Hei for what DejaVu lacks (CJK).

namespace {

struct Font {
  std::string data;
  stbtt_fontinfo info{};
  bool ok = false;
};

const std::vector<Font>& fonts() {
  static const std::vector<Font> loaded = [] {
    std::vector<Font> out;
    out.reserve(2);  // stbtt_fontinfo points into each Font's data: no reallocation
    for (const char* path : {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"}) {
      Result<std::string> bytes = read_file(path);
      if (!bytes) continue;
      Font f;
      f.data = std::move(*bytes);
      const auto* raw = reinterpret_cast<const unsigned char*>(f.data.data());
      const int offset = stbtt_GetFontOffsetForIndex(raw, 0);
      out.push_back(std::move(f));
      Font& back = out.back();
      back.ok = offset >= 0 && stbtt_InitFont(&back.info, reinterpret_cast<const unsigned char*>(back.data.data()), offset);
      if (!back.ok) out.pop_back();
    }
    return out;
  }();
  return loaded;
}

std::vector<uint32_t> utf8_code_points(const std::string& text) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = text[i];
    const int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    uint32_t cp = len == 1 ? c : c & (0x3F >> (len - 1));
    for (int k = 1; k < len && i + k < text.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

// A line of text as an 8-bit coverage bitmap, `px` pixels tall (ascent + descent).
struct TextBitmap {
  int w = 0, h = 0;
  std::vector<uint8_t> alpha;
};

TextBitmap render_text(const std::string& text, float px) {
  TextBitmap out;
  const std::vector<Font>& fs = fonts();
  if (fs.empty() || text.empty()) return out;
  const Font& base = fs.front();
  const float base_scale = stbtt_ScaleForPixelHeight(&base.info, px);
  int ascent = 0, descent = 0, gap = 0;
  stbtt_GetFontVMetrics(&base.info, &ascent, &descent, &gap);
  const int baseline = static_cast<int>(std::ceil(ascent * base_scale));
  out.h = static_cast<int>(std::ceil((ascent - descent) * base_scale)) + 1;
  struct Placed {
    const Font* font;
    int glyph;
    float scale;
    float x;
  };
  std::vector<Placed> glyphs;
  float x = 0.0f;
  for (uint32_t cp : utf8_code_points(text)) {
    const Font* font = &base;
    int glyph = stbtt_FindGlyphIndex(&base.info, static_cast<int>(cp));
    for (size_t k = 1; glyph == 0 && k < fs.size(); ++k)
      if (int g = stbtt_FindGlyphIndex(&fs[k].info, static_cast<int>(cp))) font = &fs[k], glyph = g;
    const float scale = stbtt_ScaleForPixelHeight(&font->info, px);
    int advance = 0, lsb = 0;
    stbtt_GetGlyphHMetrics(&font->info, glyph, &advance, &lsb);
    glyphs.push_back({font, glyph, scale, x});
    x += advance * scale;
  }
  out.w = static_cast<int>(std::ceil(x)) + 2;
  out.alpha.assign(static_cast<size_t>(out.w) * out.h, 0);
  for (const Placed& g : glyphs) {
    int x0, y0, x1, y1;
    stbtt_GetGlyphBitmapBox(&g.font->info, g.glyph, g.scale, g.scale, &x0, &y0, &x1, &y1);
    const int gw = x1 - x0, gh = y1 - y0;
    if (gw <= 0 || gh <= 0) continue;
    std::vector<uint8_t> bitmap(static_cast<size_t>(gw) * gh);
    stbtt_MakeGlyphBitmap(&g.font->info, bitmap.data(), gw, gh, gw, g.scale, g.scale, g.glyph);
    const int ox = static_cast<int>(std::lround(g.x)) + x0, oy = baseline + y0;
    for (int yy = 0; yy < gh; ++yy)
      for (int xx = 0; xx < gw; ++xx) {
        const int X = ox + xx, Y = oy + yy;
        if (X < 0 || Y < 0 || X >= out.w || Y >= out.h) continue;
        uint8_t& a = out.alpha[static_cast<size_t>(Y) * out.w + X];
        a = std::max(a, bitmap[static_cast<size_t>(yy) * gw + xx]);
      }
  }
  return out;
}

struct Canvas {
  int w, h;
  std::vector<uint8_t> rgb;
  Canvas(int w_, int h_) : w(w_), h(h_), rgb(static_cast<size_t>(w_) * h_ * 3, 255) {}
  void set(int x, int y, const Rgb8& c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    std::copy(c.begin(), c.end(), rgb.begin() + (static_cast<size_t>(y) * w + x) * 3);
  }
  void blend(int x, int y, uint8_t alpha, const Rgb8& c) {
    if (x < 0 || y < 0 || x >= w || y >= h || alpha == 0) return;
    uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
    for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>((p[k] * (255 - alpha) + c[k] * alpha) / 255);
  }
  // Text with its top-left at (x, y); rotated: reads bottom to top, its bottom-left at (x, y).
  void text(const TextBitmap& t, int x, int y, bool rotated = false, Rgb8 color = {20, 20, 20}) {
    for (int yy = 0; yy < t.h; ++yy)
      for (int xx = 0; xx < t.w; ++xx) {
        const uint8_t a = t.alpha[static_cast<size_t>(yy) * t.w + xx];
        if (rotated) blend(x + yy, y - xx, a, color);
        else blend(x + xx, y + yy, a, color);
      }
  }
};

// A legend value: signed ranges carry their sign (+2.73 / −2.73), probabilities do not (1 / 0).
std::string tick(float v, bool signed_values) {
  char buf[32];
  if (v == 0.0f) return "0";
  if (std::fabs(v) < 1e-2f || std::fabs(v) >= 1e4f) std::snprintf(buf, sizeof buf, signed_values ? "%+.2e" : "%.2e", v);
  else std::snprintf(buf, sizeof buf, std::fabs(v) < 1.0f ? (signed_values ? "%+.3f" : "%.3f") : (signed_values ? "%+.3g" : "%.3g"), v);
  return buf;
}

}  // namespace

LabelledHeatmap render_labelled_heatmap(const Mat& M, bool signed_values, const std::vector<std::string>* row_labels,
                                        const std::vector<std::string>* col_labels, const std::string& title, int min_cell) {
  LabelledHeatmap out;
  const int rows = static_cast<int>(M.rows()), cols = static_cast<int>(M.cols());
  const int n = std::max(1, std::max(rows, cols));
  // Cells of at least min_cell px for slides, the grid about 800 px across; very long inputs shrink (≤ 2048 px).
  out.cell = std::clamp(800 / n, min_cell, 48);
  if (out.cell * n > 2048) out.cell = std::max(2, 2048 / n);
  const float font_px = 16.0f;
  const int label_step = std::max(1, static_cast<int>(std::ceil((font_px + 2.0f) / out.cell)));  // thin labels, never overlap
  const auto label_of = [](const std::vector<std::string>* labels, int i) {
    return labels && i < static_cast<int>(labels->size()) ? (*labels)[i] : std::to_string(i);
  };
  std::vector<TextBitmap> row_text(rows), col_text(cols);
  int row_w = 0, col_h = 0;
  for (int i = 0; i < rows; i += label_step) row_w = std::max(row_w, (row_text[i] = render_text(label_of(row_labels, i), font_px)).w);
  for (int j = 0; j < cols; j += label_step) col_h = std::max(col_h, (col_text[j] = render_text(label_of(col_labels, j), font_px)).w);
  row_w = std::min(row_w, 220), col_h = std::min(col_h, 220);
  float lo = 0.0f, hi = 1.0f, max_abs = 0.0f;
  for (Eigen::Index k = 0; k < M.size(); ++k)
    if (std::isfinite(M.data()[k])) max_abs = std::max(max_abs, std::fabs(M.data()[k]));
  if (signed_values) lo = -max_abs, hi = max_abs;
  const TextBitmap title_text = render_text(title, font_px + 2.0f);
  const TextBitmap hi_text = render_text(tick(hi, signed_values), font_px), lo_text = render_text(tick(lo, signed_values), font_px), zero_text = render_text("0", font_px);
  const int pad = 12, grid_w = cols * out.cell, grid_h = rows * out.cell;
  out.x0 = pad + row_w + 6;
  out.y0 = pad + title_text.h + 8 + col_h + 6;
  const int bar_x = out.x0 + grid_w + 16, bar_w = 20, bar_h = std::max(grid_h, 160);
  const int legend_w = bar_w + 8 + std::max({hi_text.w, lo_text.w, zero_text.w});
  const int width = std::max({bar_x + legend_w + pad, pad + title_text.w + pad, 800});
  const int height = out.y0 + std::max(grid_h, bar_h) + pad;
  Canvas c(width, height);
  c.text(title_text, pad, pad);
  for (int y = 0; y < grid_h; ++y)
    for (int x = 0; x < grid_w; ++x) {
      const float v = M(y / out.cell, x / out.cell);
      c.set(out.x0 + x, out.y0 + y,
            !std::isfinite(v) ? masked_color(x, y)
            : signed_values   ? diverging_color(max_abs > 0.0f ? v / max_abs : 0.0f)
                              : sequential_color(v));
    }
  for (int i = 0; i < rows; i += label_step) {
    const TextBitmap& t = row_text[i];
    c.text(t, out.x0 - 6 - std::min(t.w, row_w), out.y0 + i * out.cell + (out.cell - t.h) / 2);
  }
  for (int j = 0; j < cols; j += label_step) {
    const TextBitmap& t = col_text[j];
    c.text(t, out.x0 + j * out.cell + (out.cell - t.h) / 2, out.y0 - 6, true);
  }
  // The legend: the colormap from lo (bottom) to hi (top), with its range.
  for (int y = 0; y < bar_h; ++y) {
    const float f = 1.0f - static_cast<float>(y) / std::max(1, bar_h - 1);
    const Rgb8 color = signed_values ? diverging_color(2.0f * f - 1.0f) : sequential_color(f);
    for (int x = 0; x < bar_w; ++x) c.set(bar_x + x, out.y0 + y, color);
  }
  c.text(hi_text, bar_x + bar_w + 6, out.y0);
  c.text(lo_text, bar_x + bar_w + 6, out.y0 + bar_h - lo_text.h);
  if (signed_values) c.text(zero_text, bar_x + bar_w + 6, out.y0 + (bar_h - zero_text.h) / 2);
  out.width = width, out.height = height, out.rgb = std::move(c.rgb), out.lo = lo, out.hi = hi;
  return out;
}

Result<int> export_png(const Trace& t, const std::string& dir, int min_cell) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{i18n::trf("file.png.cannot_create", i18n::arg("dir", dir), i18n::arg("reason", ec.message())), i18n::tr("file.png.cannot_create_hint")};
  int written = 0;
  nlohmann::json index = nlohmann::json::array();
  for (const HeadStats& head : t.heads) {
    const bool cross = head.path.find("cross_attn") != std::string::npos;
    const bool decoder = head.path.rfind("decoder", 0) == 0;
    const auto& q_tokens = decoder && !t.target_tokens.empty() ? t.target_tokens : t.source_tokens;
    const auto& k_tokens = cross ? t.source_tokens : q_tokens;
    std::string tokens;
    for (const std::string& tok : q_tokens) {
      if (!tokens.empty()) tokens += '_';
      tokens += file_safe(tok);
    }
    if (cross) tokens += "__x__" + std::to_string(t.source_tokens.size()) + "_source_tokens";
    if (tokens.size() > 160) {  // cut between whole UTF-8 characters: a Chinese token must not leave half a character
      size_t keep = 160;
      while (keep > 0 && (static_cast<unsigned char>(tokens[keep]) & 0xC0) == 0x80) --keep;
      tokens = tokens.substr(0, keep) + "_etc";
    }
    for (const char* stage : {"S", "S_scaled", "S_masked", "P"}) {
      const std::string path = head.path + "." + stage;
      const Mat& M = t.tensors.at(path);
      const bool fits = static_cast<Eigen::Index>(q_tokens.size()) == M.rows() && static_cast<Eigen::Index>(k_tokens.size()) == M.cols();
      // The title: the tensor's path, then its shape ("  [n=9 query × m=9 key]").
      const std::string shape = i18n::trf("file.png.shape", i18n::arg("n", static_cast<long>(M.rows())), i18n::arg("m", static_cast<long>(M.cols())));
      const LabelledHeatmap h =
          render_labelled_heatmap(M, std::string(stage) != "P", fits ? &q_tokens : nullptr, fits ? &k_tokens : nullptr, path + "  " + shape, min_cell);
      std::string png;
      if (!stbi_write_png_to_func(append_png, &png, h.width, h.height, 3, h.rgb.data(), h.width * 3))
        return Error{i18n::trf("file.png.encode_path_failed", i18n::arg("path", path)), ""};
      const std::string file = path + "__" + tokens + ".png";
      if (auto err = write_file_atomically(dir + "/" + file, png)) return *err;
      index.push_back({{"file", file}, {"tensor", path}, {"x0", h.x0}, {"y0", h.y0}, {"cell", h.cell}, {"rows", M.rows()},
                       {"cols", M.cols()}, {"min", h.lo}, {"max", h.hi}});
      ++written;
    }
  }
  // Where each image's grid lies, for scripts that read the cells (tests/gui_check.py).
  if (auto err = write_file_atomically(dir + "/index.json", index.dump(1) + "\n")) return *err;
  return written;
}

}  // namespace qkv
