#include "app/png_export.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/colormap.h"
#include "core/files.h"

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
  if (M.size() == 0) return Error{"the matrix is empty", ""};
  const int pixels = std::clamp(512 / static_cast<int>(std::max(M.rows(), M.cols())), 1, 32);
  const std::vector<uint8_t> rgb = heatmap_rgb(M, signed_values, pixels);
  const int w = static_cast<int>(M.cols()) * pixels, h = static_cast<int>(M.rows()) * pixels;
  std::string png;
  if (!stbi_write_png_to_func(append_png, &png, w, h, 3, rgb.data(), w * 3)) return Error{"could not encode the PNG", ""};
  return write_file_atomically(path, png);
}

Result<int> export_png(const Trace& t, const std::string& dir, int cell_pixels) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{"cannot create folder " + dir + ": " + ec.message(), "check the path and permissions"};
  int written = 0;
  for (const HeadStats& head : t.heads) {
    const bool cross = head.path.find("cross_attn") != std::string::npos;
    const bool decoder = head.path.rfind("decoder", 0) == 0;
    const auto& q_tokens = decoder && !t.target_tokens.empty() ? t.target_tokens : t.source_tokens;
    std::string tokens;
    for (const std::string& tok : q_tokens) {
      if (!tokens.empty()) tokens += '_';
      tokens += file_safe(tok);
    }
    if (cross) tokens += "__x__" + std::to_string(t.source_tokens.size()) + "_source_tokens";
    if (tokens.size() > 160) tokens = tokens.substr(0, 160) + "_etc";
    for (const char* stage : {"S", "S_scaled", "S_masked", "P"}) {
      const Mat& M = t.tensors.at(head.path + "." + stage);
      const int pixels =
          std::max(1, std::min(cell_pixels, 2048 / static_cast<int>(std::max<Eigen::Index>(1, std::max(M.rows(), M.cols())))));
      const std::vector<uint8_t> rgb = heatmap_rgb(M, std::string(stage) != "P", pixels);
      std::string png;
      const int w = static_cast<int>(M.cols()) * pixels, h = static_cast<int>(M.rows()) * pixels;
      if (!stbi_write_png_to_func(append_png, &png, w, h, 3, rgb.data(), w * 3))
        return Error{"could not encode " + head.path + "." + stage + " as PNG", ""};
      if (auto err = write_file_atomically(dir + "/" + head.path + "." + stage + "__" + tokens + ".png", png)) return *err;
      ++written;
    }
  }
  return written;
}

}  // namespace qkv
