#include "core/labs/norms.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/i18n.h"
#include "core/model.h"
#include "core/network.h"
#include "core/paths.h"

namespace qkv::labs {

// [SECTION] Pre- vs Post-Norm, residual on/off

std::string NormVariant::label(bool norms_on) const {
  if (!norms_on) return i18n::tr(residual ? "core.labs.norm_variant.none_residual" : "core.labs.norm_variant.none_no_residual");
  if (placement == NormPlacement::Pre)
    return i18n::tr(residual ? "core.labs.norm_variant.pre_residual" : "core.labs.norm_variant.pre_no_residual");
  return i18n::tr(residual ? "core.labs.norm_variant.post_residual" : "core.labs.norm_variant.post_no_residual");
}

NormSweep norm_sweep(const Session& session, const std::vector<std::string>& search_dirs, const Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  NormSweep out;
  out.norms = session.model.norm != NormKind::None;
  out.placement = session.model.norm_placement;
  out.residual = session.model.residual;
  out.layers = session.model.layers;
  out.arch = session.model.arch;
  out.stack = session.model.arch == Arch::DecoderOnly ? "decoder" : "encoder";
  out.pattern = resolve(session.loss, session.model.arch) == LossKind::Pattern;
  const int total = out.norms ? 4 : 2;
  WeightCache weights;  // the session's own weights: every variant has the same shapes
  weights.search_dirs = search_dirs;
  for (const NormPlacement placement : {NormPlacement::Post, NormPlacement::Pre}) {
    if (!out.norms && placement == NormPlacement::Pre) continue;
    for (const bool residual : {true, false}) {
      if (progress && !progress(static_cast<int>(out.variants.size()), total)) {
        out.cancelled = true;
        return out;
      }
      NormVariant v;
      v.placement = placement;
      v.residual = residual;
      Session copy = session;
      copy.model.norm_placement = placement;
      copy.model.residual = residual;
      copy.decode_steps = 0;  // gradients need the teacher-forced pass
      Result<Trace> t = run(copy, &weights);
      if (!t) {
        v.error = t.error().message();
      } else if (auto e = add_gradients(copy, *t)) {
        v.error = e->message();
      } else {
        const int L = copy.model.layers;
        for (int l = 0; l <= L; ++l) {
          const std::string path = l < L ? paths::join(paths::layer(out.stack, l), "input") : paths::join(paths::layer(out.stack, L - 1), "output");
          const Mat* g = t->tensors.find(paths::grad(path));
          v.norms.push_back(g ? static_cast<float>(g->cast<double>().norm()) : NAN);
        }
      }
      out.variants.push_back(std::move(v));
    }
  }
  if (progress) progress(total, total);
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

// [SECTION] Weight-gradient norms per head and block

WeightGradNorms weight_gradient_norms(const Trace& t, const std::vector<std::string>& blocks) {
  WeightGradNorms out;
  for (const std::string& block : blocks) {
    if (!t.tensors.contains(paths::head_tensor(block, 0, "P"))) continue;  // e.g. a session edit not applied yet
    int h = 0;
    while (t.tensors.contains(paths::head_tensor(block, h, "P"))) ++h;
    const Mat* Q0 = t.tensors.find(paths::head_tensor(block, 0, "Q"));
    const Mat* V0 = t.tensors.find(paths::head_tensor(block, 0, "V"));
    const int dk = Q0 ? static_cast<int>(Q0->cols()) : 0, dv = V0 ? static_cast<int>(V0->cols()) : 0;
    const Mat* grads[4];
    for (int k = 0; k < 4; ++k) grads[k] = t.tensors.find(paths::grad(paths::join(block, kProjectionNames[k])));
    BlockGradNorms row;
    row.block = block;
    row.heads.resize(h + 1);
    for (int k = 0; k < 4; ++k) {
      const Mat* G = grads[k];
      GradCell missing = GradCell::Missing;
      if (!G) missing = k == 1 && grads[0] ? GradCell::Tied : (k < 3 ? GradCell::Fixed : GradCell::Missing);
      for (int i = 0; i <= h; ++i) {
        HeadGradNorms& c = row.heads[i];
        if (!G) {
          c.state[k] = missing;
          continue;
        }
        const int width = k >= 2 ? dv : dk;
        double n = NAN;
        if (i == h) n = G->cast<double>().norm();
        else if (k == 3 && (i + 1) * width <= G->rows()) n = G->middleRows(i * width, width).cast<double>().norm();
        else if (k < 3 && (i + 1) * width <= G->cols()) n = G->middleCols(i * width, width).cast<double>().norm();
        if (std::isnan(n)) continue;
        c.v[k] = static_cast<float>(n);
        c.state[k] = GradCell::Value;
        if (!std::isfinite(c.v[k])) continue;
        float& top = i < h ? out.max_by_kind[k] : out.max_all_by_kind[k];
        top = std::max(top, c.v[k]);
      }
    }
    out.heads = std::max(out.heads, h);
    out.blocks.push_back(std::move(row));
  }
  return out;
}

}  // namespace qkv::labs
