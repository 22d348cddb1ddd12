#version 330 core
// A matrix as a heatmap: one R32F texel per cell (Values), coloured through a lookup table (Lut, 256×2 RGB:
// row 0 the sequential colormap for probabilities in [0, 1], row 1 the diverging one for signed values in
// [−Range, Range]). The table is made on the CPU by core/colormap.cpp, so the screen and the exported PNGs
// use one definition of each colormap. Masked (−∞) and NaN cells get a grey hatch that no value maps to. With a
// Mask texture (S_masked beside S or P), a cell that is −∞ there keeps its colour under dark grey stripes, so a
// masked cell of P never looks like a tiny weight.
in vec2 Frag_UV;
out vec4 Out_Color;
uniform sampler2D Values;
uniform sampler2D Lut;
uniform vec2 Cells;        // (columns, rows)
uniform int Signed;        // 0: sequential on [0, 1]; 1: diverging on [−Range, Range]
uniform float Range;
uniform int HighlightRow;  // a row drawn with a white outline, or −1
uniform int HighlightCol;  // a column drawn with a white outline, or −1
uniform sampler2D Mask;    // same shape as Values, read when HasMask == 1
uniform int HasMask;

void main() {
  vec2 cell_f = min(floor(Frag_UV * Cells), Cells - 1.0);
  float v = texelFetch(Values, ivec2(cell_f), 0).r;
  vec3 rgb;
  if (isinf(v) || isnan(v)) {
    float stripe = mod(floor((gl_FragCoord.x + gl_FragCoord.y) / 3.0), 2.0);
    rgb = mix(vec3(96.0), vec3(150.0), stripe) / 255.0;
  } else {
    float t = Signed == 1 ? (Range > 0.0 ? 0.5 + 0.5 * v / Range : 0.5) : v;
    // Texel centres: entry k of 256 sits at (k + 0.5) / 256, so t = 0 and t = 1 hit the ends exactly.
    float u = (clamp(t, 0.0, 1.0) * 255.0 + 0.5) / 256.0;
    rgb = texture(Lut, vec2(u, Signed == 1 ? 0.75 : 0.25)).rgb;
    if (HasMask == 1) {
      float m = texelFetch(Mask, ivec2(cell_f), 0).r;
      if (isinf(m) && m < 0.0) {
        float stripe = mod(floor((gl_FragCoord.x - gl_FragCoord.y) / 3.0), 2.0);
        rgb = mix(rgb, vec3(120.0 / 255.0), stripe);
      }
    }
  }
  // Outline the highlighted row / column: the 8% of the cell nearest its border.
  vec2 in_cell = fract(Frag_UV * Cells);
  bool border = any(lessThan(in_cell, vec2(0.08))) || any(greaterThan(in_cell, vec2(0.92)));
  // The outline contrasts with the cell: black on light colours, white on dark ones.
  if (border && (int(cell_f.y) == HighlightRow || int(cell_f.x) == HighlightCol))
    rgb = dot(rgb, vec3(0.299, 0.587, 0.114)) > 0.6 ? vec3(0.0) : vec3(1.0);
  Out_Color = vec4(rgb, 1.0);
}
