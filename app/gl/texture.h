// QKV Lab app — matrices as GL_R32F textures (one texel per cell), cached by name and trace generation so a
// tensor is uploaded again only when a recompute changed it.
#pragma once

#include "app/gl/gl.h"
#include "core/tensor.h"

#include <cstdint>
#include <string>
#include <unordered_map>

namespace qkv::app {

// Binds `texture` to GL_TEXTURE_2D with the given min/mag filter and clamp-to-edge wrapping.
void bind_texture_2d(GLuint texture, GLint filter);

class FloatTexture {
 public:
  FloatTexture() = default;
  ~FloatTexture();
  FloatTexture(FloatTexture&& other) noexcept { *this = std::move(other); }
  FloatTexture& operator=(FloatTexture&& other) noexcept;
  FloatTexture(const FloatTexture&) = delete;
  FloatTexture& operator=(const FloatTexture&) = delete;

  void upload(const Mat& M);  // rows → texture height, columns → width; nearest filtering
  GLuint id() const { return id_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }

 private:
  GLuint id_ = 0;
  int rows_ = 0, cols_ = 0;
};

class TextureCache {
 public:
  // The texture of M under `key`. After a recompute (a new `generation`) the data is hashed and uploaded again
  // only if it changed: flipping √d_k re-uploads S_scaled and P, not Q, K, V or S.
  const FloatTexture& get(const std::string& key, uint64_t generation, const Mat& M);
  void end_frame();  // frees textures not used for a while
  int uploads_last_frame() const { return uploads_last_frame_; }

 private:
  struct Entry {
    FloatTexture texture;
    uint64_t generation = 0;
    uint64_t hash = 0;
    int64_t last_used = 0;
  };
  std::unordered_map<std::string, Entry> entries_;
  int64_t frame_ = 0;
  int uploads_ = 0, uploads_last_frame_ = 0;
};

}  // namespace qkv::app
