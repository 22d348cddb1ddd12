// QKV Lab app — draws a FloatTexture into an ImGui draw list through the heatmap shader (shaders/heatmap.*).
// ImGui's OpenGL3 backend draws everything with its own program; a draw callback switches to ours for one
// image and a ResetRenderState callback switches back.
#pragma once

#include "app/gl/gl.h"
#include "app/gl/texture.h"

#include <imgui.h>

#include <deque>
#include <string>

namespace qkv::app {

struct HeatmapLook {
  bool signed_scale = false;  // diverging colormap on [−range, range]; else sequential on [0, 1]
  float range = 1.0f;
  int highlight_row = -1;
  int highlight_col = -1;
  GLuint mask = 0;  // a texture of the same shape whose −∞ cells are hatched over their colour (0: none)
};

class HeatmapRenderer {
 public:
  bool init(std::string* error);  // compiles and links the shaders; false with a message if GL refuses
  ~HeatmapRenderer();
  void new_frame() { draws_.clear(); }
  // uv0, uv1: the part of the matrix shown (a zoomed view), as fractions of its columns and rows.
  void draw(ImDrawList* list, const FloatTexture& texture, ImVec2 p0, ImVec2 p1, const HeatmapLook& look, ImVec2 uv0 = ImVec2(0, 0),
            ImVec2 uv1 = ImVec2(1, 1));

 private:
  struct Draw {
    HeatmapRenderer* self;
    GLuint texture;
    float cols, rows;
    HeatmapLook look;
  };
  static void bind_program(const ImDrawList*, const ImDrawCmd* cmd);
  GLuint program_ = 0;
  GLuint lut_ = 0;  // 256×2 RGB: the sequential and diverging colormaps
  GLint loc_lut_ = -1;
  GLint loc_proj_ = -1, loc_values_ = -1, loc_cells_ = -1, loc_signed_ = -1, loc_range_ = -1, loc_row_ = -1, loc_col_ = -1;
  GLint loc_mask_ = -1, loc_has_mask_ = -1;
  std::deque<Draw> draws_;  // stable addresses until the frame is rendered
};

}  // namespace qkv::app
