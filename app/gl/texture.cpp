#include "app/gl/texture.h"

namespace qkv::app {

FloatTexture::~FloatTexture() {
  if (id_) glDeleteTextures(1, &id_);
}

FloatTexture& FloatTexture::operator=(FloatTexture&& other) noexcept {
  if (this != &other) {
    if (id_) glDeleteTextures(1, &id_);
    id_ = other.id_;
    rows_ = other.rows_;
    cols_ = other.cols_;
    other.id_ = 0;
  }
  return *this;
}

void FloatTexture::upload(const Mat& M) {
  if (!id_) glGenTextures(1, &id_);
  glBindTexture(GL_TEXTURE_2D, id_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  // Mat is row-major, so row i of M is texel row i: the top row of the image is query 0.
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, static_cast<GLsizei>(M.cols()), static_cast<GLsizei>(M.rows()), 0, GL_RED, GL_FLOAT,
               M.data());
  rows_ = static_cast<int>(M.rows());
  cols_ = static_cast<int>(M.cols());
}

const FloatTexture& TextureCache::get(const std::string& key, uint64_t generation, const Mat& M) {
  Entry& e = entries_[key];
  if (e.texture.id() == 0 || e.generation != generation || e.texture.rows() != M.rows() || e.texture.cols() != M.cols()) {
    e.texture.upload(M);
    e.generation = generation;
    ++uploads_;
  }
  e.last_used = frame_;
  return e.texture;
}

void TextureCache::end_frame() {
  ++frame_;
  uploads_last_frame_ = uploads_;
  uploads_ = 0;
  std::erase_if(entries_, [&](const auto& kv) { return frame_ - kv.second.last_used > 600; });
}

}  // namespace qkv::app
