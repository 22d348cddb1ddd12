#include "app/gl/heatmap_renderer.h"

#include "core/colormap.h"
#include "qkvlab_shaders.h"

#include <cstddef>

namespace qkv::app {
namespace {

GLuint compile(GLenum kind, const char* source, std::string* error) {
  const GLuint shader = glCreateShader(kind);
  glShaderSource(shader, 1, &source, nullptr);
  glCompileShader(shader);
  GLint ok = 0;
  glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[2048];
    glGetShaderInfoLog(shader, sizeof log, nullptr, log);
    *error = std::string("heatmap shader did not compile: ") + log;  // i18n: name — stderr only (main prints it)
    glDeleteShader(shader);
    return 0;
  }
  return shader;
}

}  // namespace

bool HeatmapRenderer::init(std::string* error) {
  const GLuint vs = compile(GL_VERTEX_SHADER, kShader_heatmap_vert, error);
  const GLuint fs = vs ? compile(GL_FRAGMENT_SHADER, kShader_heatmap_frag, error) : 0;
  if (!vs || !fs) return false;
  program_ = glCreateProgram();
  glAttachShader(program_, vs);
  glAttachShader(program_, fs);
  glLinkProgram(program_);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(program_, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[2048];
    glGetProgramInfoLog(program_, sizeof log, nullptr, log);
    *error = std::string("heatmap shader did not link: ") + log;  // i18n: name — stderr only
    return false;
  }
  // i18n: names begin (GLSL uniforms)
  loc_proj_ = glGetUniformLocation(program_, "ProjMtx");
  loc_values_ = glGetUniformLocation(program_, "Values");
  loc_cells_ = glGetUniformLocation(program_, "Cells");
  loc_signed_ = glGetUniformLocation(program_, "Signed");
  loc_range_ = glGetUniformLocation(program_, "Range");
  loc_row_ = glGetUniformLocation(program_, "HighlightRow");
  loc_col_ = glGetUniformLocation(program_, "HighlightCol");
  loc_lut_ = glGetUniformLocation(program_, "Lut");
  loc_mask_ = glGetUniformLocation(program_, "Mask");
  loc_has_mask_ = glGetUniformLocation(program_, "HasMask");
  // i18n: names end
  // The colormaps as a 256×2 lookup table from core/colormap.cpp, linearly interpolated between entries.
  unsigned char lut[2][256][3];
  for (int k = 0; k < 256; ++k) {
    const Rgb8 seq = sequential_color(k / 255.0f), div = diverging_color(2.0f * k / 255.0f - 1.0f);
    for (int c = 0; c < 3; ++c) lut[0][k][c] = seq[c], lut[1][k][c] = div[c];
  }
  glGenTextures(1, &lut_);
  bind_texture_2d(lut_, GL_LINEAR);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB8, 256, 2, 0, GL_RGB, GL_UNSIGNED_BYTE, lut);
  return true;
}

HeatmapRenderer::~HeatmapRenderer() {
  if (program_) glDeleteProgram(program_);
  if (lut_) glDeleteTextures(1, &lut_);
}

void HeatmapRenderer::draw(ImDrawList* list, const FloatTexture& texture, ImVec2 p0, ImVec2 p1, const HeatmapLook& look, ImVec2 uv0,
                           ImVec2 uv1) {
  draws_.push_back({this, texture.id(), static_cast<float>(texture.cols()), static_cast<float>(texture.rows()), look});
  list->AddCallback(&HeatmapRenderer::bind_program, &draws_.back());
  list->AddImage(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture.id())), p0, p1, uv0, uv1);
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

// Runs inside ImGui_ImplOpenGL3_RenderDrawData with the backend's VAO and vertex buffer bound.
void HeatmapRenderer::bind_program(const ImDrawList*, const ImDrawCmd* cmd) {
  const Draw& d = *static_cast<const Draw*>(cmd->UserCallbackData);
  const HeatmapRenderer& r = *d.self;
  const ImDrawData* data = ImGui::GetDrawData();
  const float L = data->DisplayPos.x, R = data->DisplayPos.x + data->DisplaySize.x;
  const float T = data->DisplayPos.y, B = data->DisplayPos.y + data->DisplaySize.y;
  const float ortho[4][4] = {{2.0f / (R - L), 0, 0, 0}, {0, 2.0f / (T - B), 0, 0}, {0, 0, -1, 0}, {(R + L) / (L - R), (T + B) / (B - T), 0, 1}};
  glUseProgram(r.program_);
  glUniformMatrix4fv(r.loc_proj_, 1, GL_FALSE, &ortho[0][0]);
  glUniform1i(r.loc_values_, 0);
  glUniform1i(r.loc_lut_, 1);
  glUniform1i(r.loc_mask_, 2);
  glUniform1i(r.loc_has_mask_, d.look.mask ? 1 : 0);
  glActiveTexture(GL_TEXTURE2);
  glBindTexture(GL_TEXTURE_2D, d.look.mask);
  glActiveTexture(GL_TEXTURE1);
  glBindTexture(GL_TEXTURE_2D, r.lut_);
  glActiveTexture(GL_TEXTURE0);
  glUniform2f(r.loc_cells_, d.cols, d.rows);
  glUniform1i(r.loc_signed_, d.look.signed_scale ? 1 : 0);
  glUniform1f(r.loc_range_, d.look.range);
  glUniform1i(r.loc_row_, d.look.highlight_row);
  glUniform1i(r.loc_col_, d.look.highlight_col);
  // Our attribute locations (0, 1, 2) need not be the backend's, so point them at ImDrawVert ourselves.
  glEnableVertexAttribArray(0);
  glEnableVertexAttribArray(1);
  glEnableVertexAttribArray(2);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, sizeof(ImDrawVert), reinterpret_cast<void*>(offsetof(ImDrawVert, pos)));
  glVertexAttribPointer(1, 2, GL_FLOAT, GL_FALSE, sizeof(ImDrawVert), reinterpret_cast<void*>(offsetof(ImDrawVert, uv)));
  glVertexAttribPointer(2, 4, GL_UNSIGNED_BYTE, GL_TRUE, sizeof(ImDrawVert), reinterpret_cast<void*>(offsetof(ImDrawVert, col)));
}

}  // namespace qkv::app
