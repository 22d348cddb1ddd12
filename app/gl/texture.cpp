#include "app/gl/texture.h"

namespace qkv::app {

void bind_texture_2d(GLuint texture, GLint filter) {
  glBindTexture(GL_TEXTURE_2D, texture);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

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
  bind_texture_2d(id_, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  // Mat is row-major, so row i of M is texel row i: the top row of the image is query 0.
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, static_cast<GLsizei>(M.cols()), static_cast<GLsizei>(M.rows()), 0, GL_RED, GL_FLOAT,
               M.data());
  rows_ = static_cast<int>(M.rows());
  cols_ = static_cast<int>(M.cols());
}

namespace {

// FNV-1a over the matrix's bytes: enough to tell whether a recompute changed it.
uint64_t content_hash(const Mat& M) {
  uint64_t h = 0xCBF29CE484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(M.data());
  for (size_t k = 0, n = static_cast<size_t>(M.size()) * sizeof(float); k < n; ++k) h = (h ^ bytes[k]) * 0x100000001B3ull;
  return h;
}

}  // namespace

const FloatTexture& TextureCache::get(const std::string& key, uint64_t generation, const Mat& M) {
  Entry& e = entries_[key];
  const bool same_shape = e.texture.rows() == M.rows() && e.texture.cols() == M.cols();
  if (e.texture.id() == 0 || !same_shape || e.generation != generation) {
    const uint64_t hash = content_hash(M);
    if (e.texture.id() == 0 || !same_shape || hash != e.hash) {
      e.texture.upload(M);
      ++uploads_;
    }
    e.generation = generation;
    e.hash = hash;
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
