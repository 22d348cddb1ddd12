// QKV Lab app — the Scaling & softmax lab: √d_k, d_k and τ; the selected head's score histogram and row
// statistics; entropy, max weight and Var(q·k) against d_k (a sweep of 1-layer runs); softmax([0.8, 0.1, 0.1])
// against the same scores ÷√3.
//
// [SECTION] The d_k sweep (cached runs)
// [SECTION] Controls
// [SECTION] The selected head
// [SECTION] The sweep plots
// [SECTION] The worked example
#include "app/jobs.h"
#include "app/panels/panels.h"
#include "app/widgets/common.h"
#include "app/widgets/heatmap.h"
#include "app/widgets/plot.h"
#include "app/widgets/selectors.h"
#include "app/widgets/text_wrap.h"
#include "core/labs/scaling.h"
#include "core/labs/softmax.h"
#include "core/paths.h"

#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace qkv::app {
namespace {

// [SECTION] The d_k sweep (cached runs)

// The sweep itself is core::labs::scaling_sweep (seeded 1-layer copies at d_k = 2 … 256, about half a second). It
// runs on a worker thread (app/jobs.h) and is fully derived from AppState (keyed by the session's JSON), so this
// file-local instance is a cache, not app data. Its Job cancels and joins at exit: the app never waits for a sweep.
using labs::BlockSummary;
using labs::SweepRun;
constexpr const int* kSweepDk = labs::kScalingDk;
constexpr int kSweepCount = labs::kScalingCount;

struct SweepCache {
  std::string key;  // the session `result` is for; empty: no result yet
  labs::ScalingSweep result;
  Job<labs::ScalingSweep> job;
};
SweepCache sweep_cache;

// Picks up a finished sweep and starts one for the session when it changed (cancelling an outdated one). True while
// the result on screen is not the session's.
bool update_sweep(AppState& s) {
  if (auto done = sweep_cache.job.take()) {
    sweep_cache.key = std::move(done->key);
    sweep_cache.result = std::move(done->value);
    // Internal runs never show a raw error on screen; stderr keeps it for tests and bug reports.
    if (!sweep_cache.result.error.empty()) std::fprintf(stderr, "scaling sweep: %s\n", sweep_cache.result.error.c_str());
  } else if (sweep_cache.job.failed()) {  // it threw: not started again for this session
    sweep_cache.key = sweep_cache.job.failed()->key;
    std::fprintf(stderr, "scaling sweep: %s\n", sweep_cache.job.failed()->what.c_str());
    sweep_cache.job.clear_failed();
  }
  const std::string key = to_json(s.session);
  if (key == sweep_cache.key) {
    sweep_cache.job.cancel();  // an edit was undone: the running job is for a session no longer wanted
  } else if (sweep_cache.job.key() != key) {
    const Session session = s.session;
    sweep_cache.job.start(key, [session](JobControl& c) { return labs::scaling_sweep(session, c.progress()); });
  }
  if (sweep_cache.job.running()) {
    s.animating = true;  // the progress moves, and the result must show when it arrives
    ++s.jobs_running;
  }
  return sweep_cache.key != key;
}

void wrapped_disabled(const std::string& text);

// "k of N runs" and a bar for the running sweep.
void sweep_progress(const char* what) {
  const int done = sweep_cache.job.done(), total = sweep_cache.job.total();
  const std::string overlay = trf("scaling.runs", arg("done", done), arg("total", total));
  wrapped_disabled(what);
  ImGui::ProgressBar(total > 0 ? static_cast<float>(done) / static_cast<float>(total) : 0.0f,
                     ImVec2(std::min(ImGui::GetFontSize() * 16, ImGui::GetContentRegionAvail().x), 0), overlay.c_str());
}

float top_of(const std::vector<Series>& series) {
  float top = 1e-3f;
  for (const Series& s : series)
    for (float y : s.y)
      if (std::isfinite(y)) top = std::max(top, y);
  return top;
}

float lookup(const SweepRun& run, const std::string& block, float BlockSummary::*field) {
  const auto it = run.find(block);
  return it == run.end() ? NAN : it->second.*field;
}

void wrapped_disabled(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  text_wrapped_unformatted(text);
  ImGui::PopStyleColor();
}

// What the entropy curves did, from their first and last measured points (never a claim the data may contradict).
std::string entropy_caption(const Series& on, const Series& off) {
  const auto ends = [](const Series& s, float& first, float& last, int& k0, int& k1) {
    k0 = k1 = -1;
    for (int k = 0; k < static_cast<int>(s.y.size()); ++k)
      if (std::isfinite(s.y[k])) (k0 < 0 ? k0 : k1) = k, k1 = k;
    if (k0 >= 0) first = s.y[k0], last = s.y[k1];
    return k0 >= 0 && k1 > k0;
  };
  float a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  int i0, i1, j0, j1;
  if (!ends(on, a0, a1, i0, i1) || !ends(off, b0, b1, j0, j1)) return tr("scaling.too_few");
  // One sentence pair per outcome: the measured numbers, then what they mean.
  return trf(b1 < 0.5f * a1 ? "scaling.caption_saturates" : "scaling.caption_flat", arg("from", on.x[i0]), arg("to", on.x[i1]),
             arg("s0", a0), arg("s1", a1), arg("u0", b0), arg("u1", b1));
}

// [SECTION] Controls

void draw_controls(AppState& s) {
  ModelConfig& c = s.session.model;
  bool scaled = c.score_scale == ScoreScale::InvSqrtDk;
  if (ImGui::Checkbox(tr_id("scaling.divide"), &scaled)) {
    c.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
    s.dirty = true;
  }
  hover_tip(tr("scaling.divide_tip"));
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  // d_k = 0 means "derived": show what it derives to.
  char format[64];
  if (c.d_k == 0) std::snprintf(format, sizeof format, "0: d_model/h = %d", c.heads > 0 ? c.d_model / c.heads : 0);
  else std::snprintf(format, sizeof format, "%%d");
  if (ImGui::SliderInt("d_k", &c.d_k, 0, 256, format, ImGuiSliderFlags_AlwaysClamp)) s.dirty = true;
  hover_tip(tr("scaling.dk_tip"));
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 11);
  if (ImGui::SliderFloat(tr_id("scaling.temperature"), &c.temperature, 0.05f, 5.0f, "%.2f",
                         ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp))
    s.dirty = true;
  hover_tip(tr("scaling.temperature_tip"));

  const int dk = c.head_dk();
  if (c.score_scale == ScoreScale::InvSqrtDk)
    ImGui::Text("S_scaled = S / (√d_k · τ) = S / (√%d · %.2f) = S × %.4f", dk, c.temperature, labs::score_scale(c));
  else
    ImGui::TextUnformatted(trf("scaling.off", arg("scale", labs::score_scale(c)), arg("dk", dk)).c_str());
  if (s.trace) {
    const std::string head = paths::head(s.sel.block.path(), s.sel.head);
    const labs::VarianceBreakdown v = labs::variance_breakdown(*s.trace, head);
    if (v.ok) wrapped_disabled(labs::variance_caption(v, labs::scale_includes_sqrt_dk(v.scale, v.d_k, c.temperature)));
  }
  if (s.error) error_text("%s", trf("scaling.not_applied", arg("error", s.error->message())).c_str());
}

// [SECTION] The selected head

void draw_histogram(const AppState& s, const std::string& head, float width) {
  const Trace& t = *s.trace;
  const HeadStats* st = t.head(head);
  const labs::ScoreHistogram h = labs::score_histogram(t, head);
  if (!h.found || !st) {
    ImGui::TextDisabled("%s", trf("scaling.no_scores", arg("head", head)).c_str());
    return;
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  text_wrapped_unformatted(trf("scaling.hist_caption", arg("rows", h.rows), arg("cols", h.cols), arg("n", h.values),
                               arg("mean", st->score_mean), arg("var", st->score_variance)));
  ImGui::PopTextWrapPos();
  hover_tip(tr("scaling.hist_tip"));
  if (h.values == 0) {
    ImGui::TextDisabled("%s", tr("scaling.all_masked"));
    return;
  }
  DrawHistogram("scores", h.counts, h.lo, h.hi, tr("scaling.hist_axis"), ImVec2(width, 230));
}

void draw_row_table(const AppState& s, const std::string& head, float width) {
  const Trace& t = *s.trace;
  const labs::HeadRows rows = labs::head_rows(t, head);
  const HeadStats* st = rows.stats;
  if (!st || !t.tensors.contains(paths::join(head, "S_masked"))) return;
  const std::vector<std::string>& queries = query_tokens(s, s.sel.block);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  text_wrapped_unformatted(trf("scaling.rows_caption", arg("h", std::max(0.0f, st->mean_entropy)), arg("w", st->mean_max_weight)));
  ImGui::PopTextWrapPos();
  hover_tip(tr("scaling.rows_tip"));
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("rows", 4, flags, ImVec2(width, 230))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn(tr("scaling.col.query"), ImGuiTableColumnFlags_WidthStretch, 1.2f);
  ImGui::TableSetupColumn(tr("scaling.col.entropy"), ImGuiTableColumnFlags_WidthStretch, 0.8f);
  ImGui::TableSetupColumn(tr("scaling.col.uniform"), ImGuiTableColumnFlags_WidthStretch, 0.8f);
  ImGui::TableSetupColumn(tr("scaling.col.max_weight"), ImGuiTableColumnFlags_WidthStretch, 1.4f);
  ImGui::TableHeadersRow();
  for (int i = 0; i < static_cast<int>(rows.rows.size()); ++i) {
    const labs::RowStat& row = rows.rows[i];
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::Text("%d %s", i, i < static_cast<int>(queries.size()) ? queries[i].c_str() : "");
    ImGui::TableNextColumn();
    if (row.allowed == 0) {
      ImGui::TextDisabled("%s", tr("scaling.masked"));
      ImGui::TableNextColumn();
      ImGui::TableNextColumn();
      ImGui::TextDisabled("%s", tr("scaling.all_zero"));
      continue;
    }
    ImGui::Text("%.3f", row.entropy);
    ImGui::TableNextColumn();
    ImGui::TextDisabled("%.3f", row.uniform);
    ImGui::TableNextColumn();
    char label[16];
    std::snprintf(label, sizeof label, "%.3f", row.max_weight);
    ImGui::ProgressBar(row.max_weight, ImVec2(-1, 0), label);
  }
  ImGui::EndTable();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("scaling.uniform_tip"));
}

// [SECTION] The sweep plots

void draw_sweep(AppState& s) {
  const bool stale = update_sweep(s);
  if (sweep_cache.key.empty()) {  // the first sweep: nothing to show yet
    sweep_progress(tr("scaling.computing"));
    return;
  }
  const labs::ScalingSweep& r = sweep_cache.result;
  BlockRef b = s.sel.block;
  b.layer = 0;
  const std::string block = b.path();
  if (stale && sweep_cache.job.running()) sweep_progress(tr("scaling.recomputing"));
  // An outdated result stays on screen, greyed, until the new one arrives.
  ImGui::PushStyleVar(ImGuiStyleVar_Alpha, ImGui::GetStyle().Alpha * (stale ? 0.45f : 1.0f));
  text_wrapped_unformatted(trf("scaling.sweep_caption", arg("h", s.session.model.heads), arg("tau", s.session.model.temperature),
                               arg("block", block_title(b)), arg("ms", r.ms)));
  if (!r.seeded_note.empty()) wrapped_disabled(r.seeded_note);
  if (r.identity_replaced) wrapped_disabled(tr("scaling.identity"));
  if (!r.error.empty()) error_text("%s", trf("scaling.not_measured", arg("error", r.error)).c_str());
  Series ent_on{tr("scaling.legend.entropy_scaled"), {}, {}, palette(0)}, ent_off{tr("scaling.legend.entropy_unscaled"), {}, {}, palette(5)};
  Series max_on{tr("scaling.legend.max_scaled"), {}, {}, palette(2)}, max_off{tr("scaling.legend.max_unscaled"), {}, {}, palette(3)};
  Series var{tr("scaling.legend.var_measured"), {}, {}, palette(2)}, predicted{"d_k·E[q_i²]·E[k_i²]", {}, {}, palette(1)};
  ent_on.points = ent_off.points = max_on.points = max_off.points = var.points = true;
  float uniform = NAN, q_k = NAN;
  double cells = 0.0;
  bool any_masked = false;
  std::vector<float> ratios;
  for (int k = 0; k < kSweepCount; ++k) {
    const float x = static_cast<float>(kSweepDk[k]);
    for (Series* series : {&ent_on, &ent_off, &max_on, &max_off, &var, &predicted}) series->x.push_back(x);
    ent_on.y.push_back(lookup(r.scaled[k], block, &BlockSummary::entropy));
    ent_off.y.push_back(lookup(r.unscaled[k], block, &BlockSummary::entropy));
    max_on.y.push_back(lookup(r.scaled[k], block, &BlockSummary::max_weight));
    max_off.y.push_back(lookup(r.unscaled[k], block, &BlockSummary::max_weight));
    const auto it = r.scaled[k].find(block);  // S does not depend on the scaling: the scaled runs suffice
    const bool found = it != r.scaled[k].end();
    var.y.push_back(found ? it->second.var_S() : NAN);
    predicted.y.push_back(found ? it->second.predicted_var_S(kSweepDk[k]) : NAN);
    ratios.push_back(var.y.back() / x);
    if (found && std::isnan(uniform)) uniform = it->second.uniform, any_masked = it->second.any_masked;
    if (found && k == kSweepCount - 1) q_k = predicted.y.back() / x, cells = it->second.s_count;
  }
  // Reference lines get many points so that the plot's per-segment dashes show.
  const auto reference = [](std::string label, ImU32 color, auto y_of) {
    Series r{std::move(label), {}, {}, color};
    r.dashed = true;
    for (int k = 0; k <= 48; ++k) {
      const float x = 2.0f * std::pow(128.0f, k / 48.0f);
      r.x.push_back(x);
      r.y.push_back(y_of(x));
    }
    return r;
  };
  std::vector<Series> left{ent_on, ent_off, max_on, max_off};
  if (std::isfinite(uniform))
    left.push_back(reference(tr(any_masked ? "scaling.legend.uniform_masked" : "scaling.legend.uniform"), palette(7),
                             [&](float) { return uniform; }));
  // The current d_k as a vertical marker.
  const int dk = s.session.model.head_dk();
  if (dk >= 2 && dk <= 256)
    left.push_back(Series{tr("scaling.legend.this_dk"), {static_cast<float>(dk), static_cast<float>(dk)},
                          {0.0f, std::max(1.0f, std::isfinite(uniform) ? uniform : 1.0f)}, palette(4)});
  const float avail = ImGui::GetContentRegionAvail().x;
  const float w_left = avail * 0.56f, w_right = avail - w_left - ImGui::GetStyle().ItemSpacing.x;
  ImGui::BeginGroup();
  PlotArgs pa;
  pa.id = "sweep";
  pa.x_label = tr("scaling.axis.dk_log");
  pa.y_label = tr("scaling.axis.entropy");
  pa.size = ImVec2(w_left, 290);
  pa.log_x = true;
  pa.y_max = 1.35f * top_of(left);  // headroom for the legend, drawn top right
  pa.y_min = 0.0f;
  DrawLinePlot(pa, left);
  if (!stale) {  // where the finished sweep's plot is (--layout-json): tests check that it arrives
    const ImVec2 p0 = ImGui::GetItemRectMin(), p1 = ImGui::GetItemRectMax();
    s.drawn_heatmaps.push_back({"plot:scaling.dk-sweep", p0.x, p0.y, p1.x, p1.y, 0, 0});
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_left);
  wrapped_disabled(entropy_caption(ent_on, ent_off));
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  PlotArgs pv;
  pv.id = "variance";
  pv.x_label = tr("scaling.axis.dk_log");
  pv.y_label = tr("scaling.axis.variance");
  pv.size = ImVec2(w_right, 290);
  pv.log_x = true;
  const std::vector<Series> right{var, predicted, reference(tr("scaling.legend.unit"), palette(7), [](float x) { return x; })};
  pv.y_max = 1.45f * top_of(right);  // the curves rise to the right, where the legend is
  pv.y_min = 0.0f;
  DrawLinePlot(pv, right);
  char buf[64];
  std::string line = trf("scaling.ratio_line", arg("cells", cells));  // then the numbers, one per d_k
  for (int k = 0; k < kSweepCount; ++k) {
    if (std::isfinite(ratios[k])) std::snprintf(buf, sizeof buf, " %.2f", ratios[k]);
    else std::snprintf(buf, sizeof buf, " —");
    line += buf;
  }
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w_right);
  wrapped_disabled(line);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s", tr("scaling.ratio_tip"));
  if (s.session.model.scoring == Scoring::Additive) {
    wrapped_disabled(tr("scaling.additive"));
  } else if (!std::isfinite(q_k)) {
    wrapped_disabled(tr("scaling.var_grows"));
  } else {
    wrapped_disabled(trf("scaling.var_measured", arg("c", q_k)));
  }
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
  ImGui::PopStyleVar();
}

// [SECTION] The worked example

// The three scores and the divisor's d are this lab's own inputs, kept in ImGui's per-window storage (like a tree
// node's open state) rather than in AppState or a static.
void draw_example() {
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID ids[3] = {ImGui::GetID("example.s1"), ImGui::GetID("example.s2"), ImGui::GetID("example.s3")};
  const ImGuiID d_id = ImGui::GetID("example.d");
  const float defaults[3] = {0.8f, 0.1f, 0.1f};
  float scores[3];
  for (int j = 0; j < 3; ++j) scores[j] = storage->GetFloat(ids[j], defaults[j]);
  float d = storage->GetFloat(d_id, 3.0f);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  ImGui::InputFloat3(tr_id("scaling.scores"), scores, "%.2f");
  hover_tip(tr("scaling.scores_tip"));
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  ImGui::InputFloat(tr_id("scaling.d"), &d, 1.0f, 10.0f, "%g");
  hover_tip(tr("scaling.d_tip"));
  for (int j = 0; j < 3; ++j) storage->SetFloat(ids[j], scores[j] = std::isfinite(scores[j]) ? std::clamp(scores[j], -1e4f, 1e4f) : 0.0f);
  storage->SetFloat(d_id, d = std::isfinite(d) ? std::clamp(d, 1.0f, 1e6f) : 3.0f);
  RowVec S(3);
  for (int j = 0; j < 3; ++j) S[j] = scores[j];
  const labs::SoftmaxExample ex = labs::softmax_example(S, d);
  std::vector<std::string> labels(3);
  for (int j = 0; j < 3; ++j) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "s%d = %.2f", j + 1, S[j]);
    labels[j] = buf;
  }
  const float half = ImGui::GetContentRegionAvail().x * 0.5f - 8.0f;
  ImGui::BeginGroup();
  ImGui::TextUnformatted(trf("scaling.plain", arg("h", ex.entropy_plain)).c_str());
  DrawRowBars("plain", ex.plain, labels, std::min(half, 420.0f));
  ImGui::EndGroup();
  ImGui::SameLine(0, 30);
  ImGui::BeginGroup();
  ImGui::TextUnformatted(trf("scaling.scaled", arg("d", d), arg("scale", ex.scale), arg("h", ex.entropy_scaled)).c_str());
  DrawRowBars("scaled", ex.scaled, labels, std::min(half, 420.0f));
  ImGui::EndGroup();
  ImGui::TextUnformatted(trf("scaling.compare", arg("w0", ex.plain.maxCoeff()), arg("w1", ex.scaled.maxCoeff()), arg("h0", ex.entropy_plain),
                             arg("h1", ex.entropy_scaled)).c_str());
  text_wrapped_unformatted(tr("scaling.example_note"));
}

}  // namespace

void DrawScalingPanel(AppState& s) {
  if (!s.trace) return;
  draw_controls(s);

  heading(tr("scaling.h.head"));
  BlockSelector(s);
  ImGui::SameLine();
  HeadSelector(s);
  const std::string head = paths::head(s.sel.block.path(), s.sel.head);
  const float avail = ImGui::GetContentRegionAvail().x;
  const float half = (avail - ImGui::GetStyle().ItemSpacing.x) * 0.5f;
  ImGui::BeginGroup();
  draw_histogram(s, head, half);
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  draw_row_table(s, head, half);
  ImGui::EndGroup();

  heading(tr("scaling.h.sweep"));
  draw_sweep(s);

  heading(tr("scaling.h.example"));
  draw_example();
}

}  // namespace qkv::app
