// QKV Lab core — labs: gradient norms.
//   norm_sweep:             the session run with Post- and Pre-Norm, residuals on and off, each with its gradients:
//                           ‖∂L/∂x_l‖_F at the input x_l of every layer of the first stack, and at its last output.
//   weight_gradient_norms:  ‖∂L/∂W_Q‖, ‖∂L/∂W_K‖, ‖∂L/∂W_V‖, ‖∂L/∂W_O‖ per head (its slice) and per block of a trace.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "core/trace.h"

namespace qkv::labs {

// [SECTION] Pre- vs Post-Norm, residual on/off

struct NormVariant {
  NormPlacement placement = NormPlacement::Post;
  bool residual = true;
  std::vector<float> norms;  // ‖∂L/∂(input of layer l)‖_F for l = 0 … L−1, then the last layer's output (NAN: absent)
  std::string error;         // the run or its gradients failed
  std::string label(bool norms_on) const;  // "Pre-Norm, residual", "no norm, no residual", … (current language)
};
struct NormSweep {
  std::vector<NormVariant> variants;  // Post+res, Post−res, Pre+res, Pre−res (Pre only when the model has norms)
  // The session it measured.
  bool norms = true;
  NormPlacement placement = NormPlacement::Post;
  bool residual = true;
  int layers = 0;
  Arch arch = Arch::EncoderOnly;
  std::string stack;     // "encoder" or "decoder": the first stack of the forward pass
  bool pattern = false;  // the loss is the first head's pattern: the layers above it get no gradient
  bool cancelled = false;
  double ms = 0.0;
  bool is_current(const NormVariant& v) const { return v.residual == residual && (!norms || v.placement == placement); }
};
// The session's own weights (trained or seeded; `search_dirs` finds a named weights file) with each placement and
// residual setting; decoding off. `progress` is called before each run and at the end (runs done, runs in all).
NormSweep norm_sweep(const Session&, const std::vector<std::string>& search_dirs = {}, const Progress& progress = {});

// [SECTION] Weight-gradient norms per head and block

enum class GradCell { Value, Tied, Fixed, Missing, Count };  // Tied: W_K = W_Q; Fixed: identity projection
inline constexpr const char* kProjectionNames[4] = {"W_Q", "W_K", "W_V", "W_O"};

struct HeadGradNorms {
  float v[4] = {0, 0, 0, 0};  // W_Q, W_K, W_V, W_O
  GradCell state[4] = {GradCell::Missing, GradCell::Missing, GradCell::Missing, GradCell::Missing};
};
struct BlockGradNorms {
  std::string block;                // e.g. "encoder.0.self_attn"
  std::vector<HeadGradNorms> heads; // h heads, then the whole matrices ("all heads")
};
struct WeightGradNorms {
  int heads = 0;  // the most heads of any block
  std::vector<BlockGradNorms> blocks;
  float max_by_kind[4] = {0, 0, 0, 0};      // over the heads' cells
  float max_all_by_kind[4] = {0, 0, 0, 0};  // over the whole-matrix cells
};
// Columns i·d_k … of ∂L/∂W_Q and ∂L/∂W_K, i·d_v … of ∂L/∂W_V, rows i·d_v … of ∂L/∂W_O are head i's slice.
// `blocks`: the attention blocks to read, in order (blocks without P in the trace are left out).
WeightGradNorms weight_gradient_norms(const Trace&, const std::vector<std::string>& blocks);

}  // namespace qkv::labs
