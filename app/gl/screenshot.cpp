#include "app/gl/screenshot.h"

#include "app/gl/gl.h"
#include "core/files.h"
#include "core/i18n.h"

#include <stb_image_write.h>

#include <vector>

namespace qkv::app {

std::optional<Error> write_screenshot(const std::string& path, int width, int height) {
  std::vector<unsigned char> pixels(static_cast<size_t>(width) * height * 3);
  glFinish();
  glReadBuffer(GL_BACK);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
  if (const GLenum err = glGetError(); err != GL_NO_ERROR) return Error{i18n::trf("file.screenshot.read_failed", i18n::arg("code", static_cast<unsigned>(err))), ""};
  // GL's first row is the bottom of the window; PNG's is the top.
  std::vector<unsigned char> flipped(pixels.size());
  const size_t stride = static_cast<size_t>(width) * 3;
  for (int y = 0; y < height; ++y) std::copy_n(&pixels[static_cast<size_t>(height - 1 - y) * stride], stride, &flipped[static_cast<size_t>(y) * stride]);
  std::string png;
  const auto append = [](void* context, void* data, int size) { static_cast<std::string*>(context)->append(static_cast<const char*>(data), size); };
  if (!stbi_write_png_to_func(append, &png, width, height, 3, flipped.data(), static_cast<int>(stride)))
    return Error{i18n::tr("file.screenshot.encode_failed"), ""};
  return write_file_atomically(path, png);
}

}  // namespace qkv::app
