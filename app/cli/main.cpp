// qkvlab-cli — the core from the command line: parameter tables, runs with summaries, .npy/PNG exports.
//   qkvlab-cli params --preset gpt2-small [--json]
//   qkvlab-cli run --text "The cat sat" --heads 2 --mask causal --export out/ --export-png png/
//   qkvlab-cli demo
//   qkvlab-cli lab jacobian --head encoder.0.self_attn.head.1 --row 2 [--json]   (qkvlab-cli lab --list)
// What it prints for a person to read comes from assets/i18n/cli.json in English or 简体中文 (--lang, QKVLAB_LANG);
// what scripts read (--json, exports, the session file), error messages on stderr and --help stay English.
#include <chrono>
#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/png_export.h"
#include "core/counters.h"
#include "core/export.h"
#include "core/files.h"
#include "core/i18n.h"
#include "core/labs/norms.h"
#include "core/labs/positions.h"
#include "core/labs/scaling.h"
#include "core/labs/softmax.h"
#include "core/lessons.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/network.h"
#include "core/paths.h"
#include "core/pretrained.h"
#include "core/trainer.h"

namespace {

using namespace qkv;

// A whole number from 0 to 2⁶⁴ − 1, digits only: "-1" is refused, not wrapped to 18446744073709551615.
const CLI::Validator kUnsigned64(
    [](std::string& text) -> std::string {
      uint64_t value = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return "must be a whole number from 0 to 18446744073709551615, got \"" + text + "\"";  // i18n: name (stderr)
      return {};
    },
    "0…2^64−1");

// [SECTION] Session flags: every option of the Session, each overriding the session file.
struct SessionFlags {
  std::string session_file;
  std::optional<std::string> text, target, tokenizer, arch, pe, scoring, projection, norm, placement, activation, mask, encoder_mask,
      decoder_mask, mode, weights, loss;
  std::optional<double> label_smoothing;
  std::optional<int> layers, d_model, heads, d_k, d_v, d_ff, max_len, decode;
  std::optional<double> pe_base, temperature, dropout;
  std::optional<uint64_t> seed;
  bool no_scale = false, no_bias = false, no_embed_scale = false, no_residual = false, tied_qk = false, special_tokens = false,
       train = false;
  std::vector<int> pads;
  std::vector<std::string> cells, batch, ablate;
  std::optional<std::string> model_dir;

  void add_to(CLI::App& app) {
    app.add_option("--session", session_file, "Session JSON file (flags below override it)")->check(CLI::ExistingFile);
    app.add_option("--model", model_dir, "GPT-2 or BERT folder: config.json, model.safetensors, tokenizer files; toggles apply to it");
    app.add_option("--ablate", ablate, "Switch off a head or a layer: TARGET[=zero|mean], e.g. decoder.3.self_attn.head.5 or decoder.3 (repeatable)");
    app.add_option("--text", text, "Source text (decoder-only: the prompt)");
    app.add_option("--target", target, "Target text for an encoder-decoder model");
    app.add_option("--batch", batch, "Another sequence of the batch (repeatable; BatchNorm spans the batch)");
    app.add_option("--tokenizer", tokenizer, "words | chars");
    app.add_flag("--special-tokens", special_tokens, "Add [BOS]/[EOS]");
    app.add_option("--arch", arch, "encoder-only | decoder-only | encoder-decoder");
    app.add_option("--layers", layers, "L, layers per stack");
    app.add_option("--d-model", d_model, "d_model");
    app.add_option("--heads", heads, "h, attention heads");
    app.add_option("--d-k", d_k, "d_k per head (0: d_model/h)");
    app.add_option("--d-v", d_v, "d_v per head (0: d_model/h)");
    app.add_option("--d-ff", d_ff, "FFN hidden width");
    app.add_option("--max-len", max_len, "Rows of the positional table");
    app.add_flag("--no-bias", no_bias, "No biases in projections and FFN");
    app.add_flag("--no-embed-scale", no_embed_scale, "Do not multiply embeddings by sqrt(d_model)");
    app.add_option("--pe", pe, "sinusoidal | learned | rope | alibi | none");
    app.add_option("--pe-base", pe_base, "Base of sinusoidal / RoPE frequencies (10000)");
    app.add_option("--scoring", scoring, "dot | additive");
    app.add_flag("--no-scale", no_scale, "Do not divide scores by sqrt(d_k)");
    app.add_option("--temperature", temperature, "Softmax temperature tau");
    app.add_option("--projection", projection, "learned | tied-qk | identity");
    app.add_flag("--tied-qk", tied_qk, "Tie W_K = W_Q (same as --projection tied-qk)");
    app.add_flag("--no-residual", no_residual, "Drop the residual connections");
    app.add_option("--norm", norm, "layernorm | batchnorm | rmsnorm | none");
    app.add_option("--placement", placement, "post | pre (norm placement)");
    app.add_option("--activation", activation, "relu | gelu | gelu-tanh");
    app.add_option("--dropout", dropout, "Dropout probability (train mode only)");
    app.add_flag("--train", train, "Train mode: apply seeded dropout");
    app.add_option("--mask", mask, "Mask of the model's own self-attention: none|causal|padding|custom joined by +");
    app.add_option("--encoder-mask", encoder_mask, "Encoder self-attention mask");
    app.add_option("--decoder-mask", decoder_mask, "Decoder self-attention mask");
    app.add_option("--pad", pads, "Mark source position as padding (repeatable)");
    app.add_option("--cell", cells, "Mask cell i,j by hand (repeatable; enables the custom mask)");
    app.add_option("--decode", decode, "Greedy-decode N tokens with a KV cache");
    app.add_option("--seed", seed, "Seed of every weight")->check(kUnsigned64);
    app.add_option("--weights", weights, "Trained weights (safetensors from qkvlab-cli train); a name is looked up in assets/weights/");
    app.add_option("--loss", loss, "Loss of the gradients: auto | next-token | target | reconstruct | pattern");
    app.add_option("--label-smoothing-loss", label_smoothing, "Label smoothing of the gradients' cross-entropy");
  }

  // --weights NAME: a file path, or the name of a shipped file in assets/weights/ with or without ".safetensors".
  static std::optional<Error> resolve_weights(std::string& name) {
    namespace fs = std::filesystem;
    const std::string shipped = QKVLAB_ASSETS_DIR "/weights/";
    if (fs::is_regular_file(name) || fs::is_regular_file(shipped + name)) return std::nullopt;
    if (fs::path(name).extension() != ".safetensors" && fs::is_regular_file(shipped + name + ".safetensors")) {
      name += ".safetensors";
      return std::nullopt;
    }
    std::string names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(shipped, ec))
      if (entry.path().extension() == ".safetensors") names += (names.empty() ? "" : ", ") + entry.path().stem().string();
    return Error{"--weights " + name + ": no such file, and no shipped weights of that name",  // i18n: name (stderr)
                 "give a .safetensors file (qkvlab-cli train --out) or a shipped name: " + (names.empty() ? "none found" : names)};  // i18n: name (stderr)
  }

  template <typename E>
  static std::optional<Error> set_enum(const std::optional<std::string>& text, E& out, const char* flag) {
    if (text && !parse(*text, out)) return Error{std::string(flag) + " " + *text + " is not known", "one of: " + all_names<E>()};  // i18n: name (stderr)
    return std::nullopt;
  }
  static std::optional<Error> set_mask(const std::optional<std::string>& text, MaskFlags& out, const char* flag) {
    if (text && !parse_mask(*text, out))
      return Error{std::string(flag) + " " + *text + " is not a mask", "use none, causal, padding, custom joined by +"};  // i18n: name (stderr)
    return std::nullopt;
  }

  Result<Session> build() const {
    Session s;
    if (!session_file.empty()) {
      Result<Session> loaded = load_session(session_file);
      if (!loaded) return loaded.error();
      s = *loaded;
    }
    if (model_dir) {  // the checkpoint's architecture and trained toggles first, the flags below on top
      Result<std::shared_ptr<const PretrainedModel>> m = open_pretrained(*model_dir);
      if (!m) return Error{"--model " + *model_dir + ": " + m.error().what, m.error().hint};  // i18n: name (stderr)
      s = pretrained_session(**m, *model_dir, s);
    }
    ModelConfig& c = s.model;
    if (text) s.input.text = *text;
    if (target) s.input.target = *target;
    for (const std::string& b : batch) s.extra_batch.push_back({b, ""});
    if (special_tokens) s.add_special_tokens = true;
    if (auto e = set_enum(tokenizer, s.tokenizer, "--tokenizer")) return *e;
    if (auto e = set_enum(arch, c.arch, "--arch")) return *e;
    if (arch && !mask && !decoder_mask && c.arch == Arch::DecoderOnly) s.decoder_mask = kMaskCausal | kMaskPadding;
    if (layers) c.layers = *layers;
    if (d_model) c.d_model = *d_model;
    if (heads) c.heads = *heads;
    if (d_k) c.d_k = *d_k;
    if (d_v) c.d_v = *d_v;
    if (d_ff) c.d_ff = *d_ff;
    if (max_len) c.max_len = *max_len;
    if (no_bias) c.bias = false;
    if (no_embed_scale) c.scale_embeddings = false;
    if (auto e = set_enum(pe, c.pe, "--pe")) return *e;
    if (pe_base) c.pe_base = *pe_base;
    if (auto e = set_enum(scoring, c.scoring, "--scoring")) return *e;
    if (no_scale) c.score_scale = ScoreScale::None;
    if (temperature) c.temperature = static_cast<float>(*temperature);
    if (auto e = set_enum(projection, c.projection, "--projection")) return *e;
    if (tied_qk) c.projection = Projection::TiedQK;
    if (no_residual) c.residual = false;
    if (auto e = set_enum(norm, c.norm, "--norm")) return *e;
    if (auto e = set_enum(placement, c.norm_placement, "--placement")) return *e;
    if (auto e = set_enum(activation, c.activation, "--activation")) return *e;
    if (dropout) c.dropout = static_cast<float>(*dropout);
    if (train) s.mode = Mode::Train;
    // --mask names the model's own self-attention: the decoder's in a decoder-only model, else the encoder's.
    if (auto e = set_mask(mask, c.arch == Arch::DecoderOnly ? s.decoder_mask : s.encoder_mask, "--mask")) return *e;
    if (auto e = set_mask(encoder_mask, s.encoder_mask, "--encoder-mask")) return *e;
    if (auto e = set_mask(decoder_mask, s.decoder_mask, "--decoder-mask")) return *e;
    for (int p : pads) s.padding_positions.push_back(p);
    for (const std::string& cell : cells) {
      int i = 0, j = 0;
      char comma = 0;
      if (std::sscanf(cell.c_str(), "%d %c %d", &i, &comma, &j) != 3 || comma != ',')
        return Error{"--cell " + cell + " is not i,j", "e.g. --cell 2,0 masks query 2 looking at key 0"};  // i18n: name (stderr)
      s.custom_cells.push_back({i, j});
      s.encoder_mask |= kMaskCustom;
      s.decoder_mask |= kMaskCustom;
    }
    if (decode) s.decode_steps = *decode;
    if (seed) s.seed = *seed;
    if (weights) {
      s.weights = *weights;
      if (auto e = resolve_weights(s.weights)) return *e;
    }
    if (auto e = set_enum(loss, s.loss, "--loss")) return *e;
    if (label_smoothing) s.label_smoothing = static_cast<float>(*label_smoothing);
    for (const std::string& a : ablate) {
      const size_t eq = a.find('=');
      Ablation ablation{a.substr(0, eq), AblationKind::Zero};
      if (eq != std::string::npos && !parse(a.substr(eq + 1), ablation.kind))
        return Error{"--ablate " + a + ": unknown kind", "one of: " + all_names<AblationKind>()};  // i18n: name (stderr)
      s.ablations.push_back(ablation);
    }
    if (auto e = validate(s)) return *e;
    return s;
  }
};

int fail(const Error& e) {
  std::fprintf(stderr, "qkvlab-cli: %s\n", e.message().c_str());
  return 2;
}

// `text` quoted and padded to `width` characters (not bytes: "␣the" is 6 bytes but 4 columns), for aligned tables.
std::string quoted_column(const std::string& text, int width) {
  std::string out = "\"" + text + "\"";
  int columns = 0;
  for (const char c : out) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (columns < width) out.append(static_cast<size_t>(width - columns), ' ');
  return out;
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

// [SECTION] Printed text: the words from assets/i18n/cli.json, laid out in terminal columns.
using i18n::arg;
using i18n::tr;
using i18n::trf;

void say(const std::string& line) { std::printf("%s\n", line.c_str()); }

// Terminal columns of a UTF-8 text: East Asian wide characters (CJK, kana, hangul, full-width forms and punctuation)
// take two, every other code point one.
size_t display_width(std::string_view text) {
  size_t columns = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = text[i];
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    char32_t cp = len == 1 ? c : c & (0x3F >> (len - 1));
    for (size_t k = 1; k < len && i + k < text.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) || (cp >= 0x3041 && cp <= 0x33FF) ||
                      (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
                      (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
    columns += wide ? 2 : 1;
    i += len;
  }
  return columns;
}

// `text` padded with spaces to `width` terminal columns: printf's "%*s" (width > 0, right-aligned) and "%-*s"
// (width < 0, left-aligned), counting columns rather than bytes, so a Chinese header stays above its column. For
// ASCII it is exactly what printf writes.
std::string col(std::string_view text, int width) {
  const size_t want = static_cast<size_t>(width < 0 ? -width : width), have = display_width(text);
  const std::string fill(want > have ? want - have : 0, ' ');
  return width < 0 ? std::string(text) + fill : fill + std::string(text);
}

// [SECTION] params
void print_table(const CountTable& table, int64_t n) {
  std::printf("%s %s %s\n", col(tr("cli.col.component"), -28).c_str(), col(tr("cli.col.parameters"), 16).c_str(),
              col(trf("cli.col.flops", arg("n", n)), 20).c_str());
  for (const ComponentCount& row : table.rows)
    std::printf("%-28s %16s %20s\n", row.component.c_str(), with_commas(row.params).c_str(), with_commas(row.flops).c_str());
  std::printf("%s %16s %20s\n", col(tr("cli.col.total"), -28).c_str(), with_commas(table.total_params).c_str(),
              with_commas(table.total_flops).c_str());
}

int cmd_params(const std::string& preset_name, const SessionFlags& flags, bool json, int64_t n) {
  CountSpec spec;
  std::string title, source;
  const char* shown_title = nullptr;  // the printed title, when it is not the preset's name
  int64_t published = -1;
  if (!preset_name.empty()) {
    const Preset* preset = find_preset(preset_name);
    if (!preset) {
      std::string names;
      for (const Preset& p : presets()) names += (names.empty() ? "" : ", ") + p.name;
      return fail({"unknown preset " + preset_name, "one of: " + names});  // i18n: name (stderr)
    }
    spec = preset->spec;
    title = preset->title;
    source = preset->source;
    published = preset->published_total;
  } else {
    Result<Session> s = flags.build();
    if (!s) return fail(s.error());
    spec = count_spec_for(s->model, tokenize_batch(*s).vocab.size());
    title = "this session's model";  // i18n: name (the "model" value of --json, read by scripts)
    shown_title = tr("cli.params.session_model");
  }
  const CountTable table = count_model(spec, n);
  if (json) {
    nlohmann::json components = nlohmann::json::array();
    for (const ComponentCount& row : table.rows)
      components.push_back({{"component", row.component}, {"params", row.params}, {"flops", row.flops}});
    nlohmann::json out{
        {"model", title}, {"n", n}, {"total", table.total_params}, {"total_flops", table.total_flops}, {"components", components}};
    if (published >= 0) out["published_total"] = published, out["source"] = source;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s\n\n", shown_title ? shown_title : title.c_str());
  print_table(table, n);
  if (published >= 0)
    std::printf("\n%s\n", trf("cli.params.published", arg("total", with_commas(published)), arg("source", source_text(*find_preset(preset_name)))).c_str());
  std::printf("\n%s\n", tr("cli.params.attention_memory"));
  for (int64_t len : {64, 128, 256, 512, 1024, 2048, 4096})
    std::printf("  n = %5lld  %12s\n", static_cast<long long>(len),
                human_bytes(static_cast<double>(attention_matrix_bytes(spec.model, len, len))).c_str());
  return 0;
}

// [SECTION] run
std::string join(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& t : tokens) out += (out.empty() ? "" : " ") + ("⟨" + t + "⟩");
  return out;
}

// The tokens along a tensor's axes, when they are tokens: rows of activations are the positions of their stack,
// attention matrices have query rows and key columns, the output's columns and embed.E's rows are the vocabulary.
struct AxisLabels {
  const std::vector<std::string>* rows = nullptr;
  const std::vector<std::string>* cols = nullptr;
};
AxisLabels labels_for(const Trace& t, const std::string& full_path, const Mat& M) {
  std::string path = full_path;
  for (const char* prefix : {"dL/d", "decode."})
    if (path.rfind(prefix, 0) == 0) path = path.substr(std::string(prefix).size());
  const bool decoder = path.rfind("decoder", 0) == 0 || path.rfind("output.", 0) == 0;
  const std::vector<std::string>& own = decoder && !t.target_tokens.empty() ? t.target_tokens : t.source_tokens;
  const bool cross = path.find(".cross_attn.") != std::string::npos;
  const std::vector<std::string>& keys = cross ? t.source_tokens : own;
  const std::string suffix = path.substr(path.rfind('.') + 1);
  const bool attention = path.find("_attn.") != std::string::npos;
  const bool key_rows = attention && (suffix == "K" || suffix == "V");
  const bool key_cols = attention && (suffix == "S" || suffix == "B" || suffix == "S_scaled" || suffix == "S_masked" || suffix == "P" || suffix == "M");
  const auto fits = [](const std::vector<std::string>& v, Eigen::Index n) { return static_cast<Eigen::Index>(v.size()) == n ? &v : nullptr; };
  AxisLabels a;
  if (path == "embed.E") {
    a.rows = fits(t.vocab.tokens(), M.rows());
  } else if (path.rfind("output.", 0) == 0) {
    a.rows = fits(own, M.rows());
    a.cols = fits(t.vocab.tokens(), M.cols());
  } else if (path.rfind("encoder.", 0) == 0 || path.rfind("decoder.", 0) == 0) {
    if (path.find(".W_") != std::string::npos || path.find(".b_") != std::string::npos || path.find("norm.") != std::string::npos) return a;
    a.rows = fits(key_rows ? keys : own, M.rows());
    if (key_cols) a.cols = fits(keys, M.cols());
  }
  return a;
}

std::string fit_label(const std::string& text, size_t width) {
  // Cut at a code point, never inside a UTF-8 sequence; count code points as columns.
  std::string out;
  size_t columns = 0;
  for (size_t i = 0; i < text.size() && columns < width;) {
    size_t len = 1;
    const unsigned char c = text[i];
    if (c >= 0xF0) len = 4;
    else if (c >= 0xE0) len = 3;
    else if (c >= 0xC0) len = 2;
    out += text.substr(i, len);
    i += len;
    ++columns;
  }
  return std::string(width - columns, ' ') + out;
}

void print_matrix(const std::string& path, const Mat& M, const AxisLabels& labels = {}) {
  std::printf("%s  [%lld × %lld]\n", path.c_str(), static_cast<long long>(M.rows()), static_cast<long long>(M.cols()));
  size_t row_w = 0;
  if (labels.rows)
    for (const std::string& l : *labels.rows) row_w = std::max(row_w, std::min<size_t>(12, l.size()));
  if (labels.cols) {
    std::printf("%s", std::string(row_w + (labels.rows ? 1 : 0), ' ').c_str());
    for (const std::string& l : *labels.cols) std::printf(" %s", fit_label(l, 9).c_str());
    std::printf("\n");
  }
  for (Eigen::Index i = 0; i < M.rows(); ++i) {
    if (labels.rows) std::printf("%s ", fit_label((*labels.rows)[i], row_w).c_str());
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      if (std::isinf(M(i, j)))
        std::printf(" %9s", M(i, j) < 0 ? "-inf" : "inf");
      else
        std::printf(" %9.4f", M(i, j));
    }
    std::printf("\n");
  }
}

// A real checkpoint's predictions: GPT-2's next token after the text, BERT's candidates for each [MASK].
void print_predictions(const Session& s, const Trace& t, int k = 5) {
  const std::shared_ptr<const PretrainedModel> m = s.model_dir.empty() ? nullptr : cached_pretrained(s.model_dir);
  const Mat* logits = t.tensors.find("output.logits");
  if (!m || !logits || t.source_ids.empty()) return;
  std::vector<int> rows;
  if (m->config.arch == Arch::DecoderOnly) rows.push_back(static_cast<int>(t.source_ids.size()) - 1);
  for (size_t i = 0; i < t.source_ids.size() && m->config.arch == Arch::EncoderOnly; ++i)
    if (t.source_ids[i] == m->tokenizer->mask_id) rows.push_back(static_cast<int>(i));
  if (rows.empty() && m->config.arch == Arch::EncoderOnly) say(std::string("\n") + tr("cli.predict.no_mask"));
  for (int row : rows) {
    const RowVec p = sampling_distribution(logits->row(row), SamplingOptions{});
    say("\n" + trf(m->config.arch == Arch::DecoderOnly ? "cli.predict.next" : "cli.predict.mask", arg("row", row),
                    arg("token", t.source_tokens[static_cast<size_t>(row)])));
    for (const auto& [id, prob] : top_tokens(p, k))
      std::printf("  %6d  %s %8.4f\n", id, quoted_column(t.vocab.display(id), 24).c_str(), static_cast<double>(prob));
  }
}

void print_summary(const Session& s, const Trace& t) {
  const ModelConfig& c = s.model;
  if (const std::shared_ptr<const PretrainedModel> m = s.model_dir.empty() ? nullptr : cached_pretrained(s.model_dir)) {
    const ModelCard& card = m->card;
    say(trf("cli.run.model_card", arg("title", card.title), arg("architecture", card.architecture), arg("params", with_commas(card.parameters)),
            arg("file", human_bytes(static_cast<double>(card.file_bytes))), arg("dtype", card.dtype),
            arg("memory", human_bytes(static_cast<double>(m->weight_bytes()))), arg("ms", card.load_ms)));
    say(tr(loaded_as_trained(s, *m) ? "cli.run.as_trained" : "cli.run.toggled"));
  }
  say(trf("cli.run.header", arg("arch", name(c.arch)), arg("layers", c.layers), arg("d_model", c.d_model), arg("heads", c.heads),
          arg("d_k", c.head_dk()), arg("d_v", c.head_dv()), arg("d_ff", c.d_ff)));
  say(trf("cli.run.config", arg("pe", name(c.pe)), arg("scoring", name(c.scoring)), arg("scale", name(c.score_scale)),
          arg("tau", c.temperature), arg("projection", name(c.projection)), arg("norm", name(c.norm)), arg("placement", name(c.norm_placement)),
          arg("residual", tr(c.residual ? "cli.on" : "cli.off")), arg("activation", name(c.activation)), arg("mode", name(s.mode)),
          arg("seed", static_cast<unsigned long long>(s.seed))));
  say(trf("cli.run.masks", arg("encoder", mask_name(s.encoder_mask)), arg("decoder", mask_name(s.decoder_mask))));
  say(trf("cli.run.tokens", arg("n", t.source_tokens.size()), arg("tokens", join(t.source_tokens))));
  if (!t.target_tokens.empty()) say(trf("cli.run.decoder_input", arg("n", t.target_tokens.size()), arg("tokens", join(t.target_tokens))));
  if (!t.decoded_tokens.empty()) say(trf("cli.run.decoded", arg("tokens", join(t.decoded_tokens))));
  const CountTable table = count_model(count_spec_for(c, t.vocab.size()), static_cast<int64_t>(t.source_tokens.size()));
  say(trf(t.tensors.lean() ? "cli.run.stats_lean" : "cli.run.stats", arg("params", with_commas(table.total_params)),
          arg("tensors", t.tensors.size()), arg("bytes", human_bytes(static_cast<double>(t.tensors.bytes()))), arg("ms", t.elapsed_ms)) +
      "\n");
  const MemoryEstimate need = estimate_memory(s, {}, t.tensors.contains("loss"));
  const char* memory_key = need.gradients > 0 ? (need.lean ? "cli.run.memory_lean_gradients" : "cli.run.memory_gradients")
                                              : (need.lean ? "cli.run.memory_lean" : "cli.run.memory");
  say(trf(memory_key, arg("total", human_bytes(need.total())), arg("weights", human_bytes(need.weights)), arg("trace", human_bytes(need.trace)),
          arg("working", human_bytes(need.working)), arg("gradients", human_bytes(need.gradients)),
          arg("limit", human_bytes(static_cast<double>(memory_limit())))) +
      "\n");
  std::printf("%s %s %s %s %s\n", col(tr("cli.col.head"), -34).c_str(), col(tr("cli.col.entropy"), 12).c_str(),
              col(tr("cli.col.max_weight"), 12).c_str(), col(tr("cli.col.score_mean"), 12).c_str(), col(tr("cli.col.score_var"), 12).c_str());
  for (const HeadStats& h : t.heads)
    std::printf("%-34s %12.4f %12.4f %12.4f %12.4f\n", h.path.c_str(), h.mean_entropy, h.mean_max_weight, h.score_mean, h.score_variance);
  print_predictions(s, t);
  for (const std::string& w : t.warnings) say(trf("cli.warning", arg("text", w)));
}

int cmd_run(const SessionFlags& flags, const std::vector<std::string>& show, const std::string& export_dir, const std::string& png_dir,
            const std::string& csv_dir, const std::string& save_path, bool list, bool gradients) {
  Result<Session> s = flags.build();
  if (!s) return fail(s.error());
  WeightCache cache;
  cache.search_dirs = {QKVLAB_ASSETS_DIR "/weights"};
  Result<Trace> t = run(*s, &cache);
  if (!t) return fail(t.error());
  // A hand-masked cell must fall inside some attention matrix, as a padding position must fall inside the input.
  for (const Cell& cell : s->custom_cells) {
    Eigen::Index rows = 0, cols = 0;
    bool inside = false;
    for (const char* block : {"encoder.0.self_attn", "decoder.0.self_attn"}) {  // every layer's masks have layer 0's shape
      const Mat* M = t->tensors.find(std::string(block) + ".M");
      if (!M) continue;
      rows = std::max(rows, M->rows()), cols = std::max(cols, M->cols());
      inside = inside || (cell.i < M->rows() && cell.j < M->cols());
    }
    if (!inside)
      return fail({"--cell " + std::to_string(cell.i) + "," + std::to_string(cell.j) + " is outside every attention matrix (the largest is " +  // i18n: name (stderr)
                       std::to_string(rows) + " × " + std::to_string(cols) + ")",
                   "cells are query row, key column from 0"});  // i18n: name (stderr)
  }
  if (gradients)
    if (auto e = add_gradients(*s, *t)) return fail(*e);
  print_summary(*s, *t);
  if (gradients) say(trf("cli.run.loss", arg("kind", name(resolve(s->loss, s->model.arch))), arg("loss", t->tensors.at("loss")(0, 0))));
  if (list) {
    std::printf("\n%s\n", tr("cli.run.tensors"));
    const auto line = [](const std::string& path, const Mat& value) {
      std::printf("  %-48s [%lld × %lld]\n", path.c_str(), static_cast<long long>(value.rows()), static_cast<long long>(value.cols()));
    };
    for (const auto& e : t->weights->entries()) line(e.path, e.value);
    t->tensors.for_each(line);
  }
  for (const std::string& path : show) {
    const Mat* M = t->tensors.find(path);
    if (!M) M = t->weights->find(path);
    if (!M) return fail({"no tensor named " + path, "list the names with --list"});  // i18n: name (stderr)
    std::printf("\n");
    print_matrix(path, *M, labels_for(*t, path, *M));
  }
  if (!export_dir.empty()) {
    size_t written = 0;
    if (auto e = export_npy(*t, *s, export_dir, &written)) return fail(*e);
    std::printf("\n%s\n", trf("cli.run.wrote_npy", arg("n", written), arg("dir", export_dir)).c_str());
  }
  if (!csv_dir.empty()) {
    size_t written = 0;
    if (auto e = export_csv(*t, csv_dir, &written)) return fail(*e);
    say(trf("cli.run.wrote_csv", arg("n", written), arg("dir", csv_dir)));
  }
  if (!png_dir.empty()) {
    Result<int> written = export_png(*t, png_dir);
    if (!written) return fail(written.error());
    say(trf("cli.run.wrote_png", arg("n", *written), arg("dir", png_dir)));
  }
  if (!save_path.empty()) {
    if (auto e = save_session(*s, save_path)) return fail(*e);
    say(trf("cli.run.saved_session", arg("path", save_path)));
  }
  return 0;
}

// [SECTION] demo: what the README's first command shows until the desktop app lands.

// Code points of a UTF-8 token, one per entry (for labels written one character per line).
std::vector<std::string> code_points(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = text[i];
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    out.push_back(text.substr(i, len));
    i += len;
  }
  return out;
}

// P as shades on ONE scale for every row (the weight itself, 0 … 1), key tokens written down the columns.
void print_shaded(const Mat& P, const std::vector<std::string>& queries, const std::vector<std::string>& keys) {
  const char* shades[] = {" ", "░", "▒", "▓", "█"};
  constexpr int kLabelRows = 6;  // letters of each key token written downwards; longer tokens are cut
  for (int line = 0; line < kLabelRows; ++line) {
    std::string text(14, ' ');  // under "  %10.10s │"
    bool any = false;
    for (const std::string& key : keys) {
      const std::vector<std::string> cps = code_points(key);
      const bool has = line < static_cast<int>(cps.size());
      text += (has ? cps[line] : " ") + std::string(" ");
      any = any || has;
    }
    if (any) std::printf("%s\n", text.c_str());
  }
  for (Eigen::Index i = 0; i < P.rows(); ++i) {
    std::printf("  %10.10s │", i < static_cast<Eigen::Index>(queries.size()) ? queries[i].c_str() : "");
    for (Eigen::Index j = 0; j < P.cols(); ++j) {
      const int level = std::clamp(static_cast<int>(std::lround(P(i, j) * 4.0f)), 0, 4);
      std::printf("%s%s", shades[level], shades[level]);
    }
    std::printf("│\n");
  }
}

// [SECTION] tokenize and generate
int cmd_tokenize(const SessionFlags& flags, bool json_out) {
  Result<Session> s = flags.build();
  if (!s) return fail(s.error());
  const TokenizedBatch tb = tokenize_batch(*s);
  const std::shared_ptr<const PretrainedModel> m = s->model_dir.empty() ? nullptr : cached_pretrained(s->model_dir);
  const std::vector<int> ids = tb.source_ids.empty() ? std::vector<int>{} : tb.source_ids[0];
  nlohmann::json out{{"ids", ids}, {"pieces", nlohmann::json::array()}, {"display", nlohmann::json::array()}};
  for (int id : ids) {
    out["pieces"].push_back(tb.vocab.token(id));
    out["display"].push_back(tb.vocab.display(id));
  }
  if (m) out["decoded"] = m->tokenizer->decode(m->tokenizer->encode(s->input.text));  // the text's own ids, without [CLS]/[SEP]
  if (json_out) {
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  say(trf("cli.tokenize.header", arg("n", ids.size()), arg("vocab", tb.vocab.size())));
  std::printf("%s %s %s\n", col(tr("cli.col.position"), 8).c_str(), col(tr("cli.col.id"), 8).c_str(), tr("cli.col.piece"));
  for (size_t i = 0; i < ids.size(); ++i)
    std::printf("%8zu %8d  %s %s\n", i, ids[i], quoted_column(tb.vocab.token(ids[i]), 24).c_str(), tb.vocab.display(ids[i]).c_str());
  return 0;
}

struct GenerateFlags {
  int tokens = 20;
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
  bool json = false;
  void add_to(CLI::App& app) {
    app.add_option("--tokens", tokens, "New tokens to generate")->check(CLI::Range(1, 4096));
    app.add_option("--sample-temperature", temperature, "Sampling temperature T of the next-token distribution (0: greedy)");
    app.add_option("--top-k", top_k, "Keep the k most likely tokens (0: off)")->check(CLI::Range(0, 1 << 20));
    app.add_option("--top-p", top_p, "Keep the smallest set of tokens whose probability reaches p (1: off)");
    app.add_option("--sample-seed", seed, "Seed of the sampling")->check(kUnsigned64);
    app.add_flag("--json", json, "Print one JSON object");
  }
};

int cmd_generate(const SessionFlags& flags, const GenerateFlags& g) {
  Result<Session> s = flags.build();
  if (!s) return fail(s.error());
  SamplingOptions sampling{static_cast<float>(g.temperature), g.top_k, static_cast<float>(g.top_p)};
  if (auto e = validate(sampling)) return fail(*e);
  WeightCache cache;
  cache.search_dirs = {QKVLAB_ASSETS_DIR "/weights"};
  Result<std::unique_ptr<Generator>> started = Generator::start(*s, &cache);
  if (!started) return fail(started.error());
  Generator& gen = **started;
  const std::shared_ptr<const PretrainedModel> m = s->model_dir.empty() ? nullptr : cached_pretrained(s->model_dir);
  const int eos = m ? m->tokenizer->eos_id : Vocab::kEosId;
  Rng rng(g.seed);
  std::vector<int> generated;
  std::vector<float> probabilities;
  const auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < g.tokens; ++k) {
    const RowVec p = sampling_distribution(gen.logits(), sampling);
    const int id = sample_token(p, rng);
    generated.push_back(id);
    probabilities.push_back(p[id]);
    if (id == eos || !gen.feed(id)) break;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::string continuation;
  if (m) {
    continuation = m->tokenizer->decode(generated);
  } else {
    for (int id : generated) continuation += (continuation.empty() ? "" : " ") + gen.vocab().display(id);
  }
  if (g.json) {
    nlohmann::json out{{"prompt_ids", std::vector<int>(gen.ids().begin(), gen.ids().begin() + gen.prompt_length())},
                       {"ids", generated},
                       {"probabilities", probabilities},
                       {"text", continuation},
                       {"ms", ms}};
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  say(trf("cli.generate.header", arg("n", generated.size()), arg("prompt", gen.prompt_length()), arg("ms", ms)));
  for (size_t i = 0; i < generated.size(); ++i)
    std::printf("  %6d  %s %8.4f\n", generated[i], quoted_column(gen.vocab().display(generated[i]), 24).c_str(),
                static_cast<double>(probabilities[i]));
  say("\n" + s->input.text + continuation);
  return 0;
}

int cmd_demo() {
  // One wide head (d_model = 256, h = 1, so d_k = 256), where the saturation that √d_k prevents is plain to see.
  Session s;
  s.model.layers = 1;
  s.model.heads = 1;
  s.model.d_model = 256;
  Result<Trace> t = run(s);
  if (!t) return fail(t.error());
  print_summary(s, *t);
  std::printf("\n%s\n", tr("cli.demo.shades"));
  for (int scaled = 1; scaled >= 0; --scaled) {
    Session variant = s;
    variant.model.score_scale = scaled ? ScoreScale::InvSqrtDk : ScoreScale::None;
    Result<Trace> vt = run(variant);
    if (!vt) return fail(vt.error());
    const HeadStats& head = vt->heads.front();
    std::printf("\n%s\n", trf(scaled ? "cli.demo.scaled" : "cli.demo.unscaled", arg("d_k", variant.model.head_dk()),
                              arg("entropy", head.mean_entropy), arg("max_weight", head.mean_max_weight))
                              .c_str());
    print_shaded(vt->tensors.at("encoder.0.self_attn.head.0.P"), vt->source_tokens, vt->source_tokens);
  }
  std::printf("\n%s\n", tr("cli.demo.why"));
  say(tr("cli.demo.try"));
  return 0;
}

// [SECTION] train: the trainer without a window (and how assets/weights/ are made).
struct TrainFlags {
  std::string task = "reverse", out;
  int steps = 3000, log_every = 250;
  double seconds = 0.0, target_accuracy = 0.0;
  TrainConfig config;
  void add_to(CLI::App& app) {
    app.add_option("--task", task, "copy | reverse | sort | next-token");
    app.add_option("--steps", steps, "Stop after this many steps")->check(CLI::Range(1, 10000000));
    app.add_option("--seconds", seconds, "Stop after this many seconds (0: no limit)");
    app.add_option("--target-accuracy", target_accuracy, "Stop when the evaluation accuracy reaches this (0-1)");
    app.add_option("--batch-size", config.batch, "Sequences per step");
    app.add_option("--min-len", config.min_len, "Shortest sequence");
    app.add_option("--max-len-train", config.max_len, "Longest sequence");
    app.add_option("--alphabet", config.alphabet, "Letters used by copy/reverse/sort (2-26)");
    app.add_option("--warmup", config.warmup, "Warm-up steps of the learning-rate schedule");
    app.add_option("--lr-factor", config.lr_factor, "Multiplies d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)");
    app.add_option("--clip", config.clip_norm, "Global gradient-norm clip (0: off)");
    app.add_option("--label-smoothing", config.label_smoothing, "Label smoothing epsilon");
    app.add_flag("--freeze-embeddings", config.freeze_embeddings, "Keep embed.E (and pos.learned) fixed: gradients flow, no updates");
    app.add_option("--log-every", log_every, "Print a line every N steps");
    app.add_option("--out", out, "Save the trained weights (safetensors) here");
  }
};

int cmd_train(const SessionFlags& flags, TrainFlags tf) {
  Result<Session> s = flags.build();
  if (!s) return fail(s.error());
  if (!parse(tf.task, tf.config.task)) return fail({"--task " + tf.task + " is not known", "one of: copy, reverse, sort, next-token"});  // i18n: name (stderr)
  tf.config.seed = s->seed;
  if (flags.encoder_mask) tf.config.encoder_mask = s->encoder_mask;
  if (flags.decoder_mask) tf.config.decoder_mask = s->decoder_mask;
  if (auto e = validate(tf.config, s->model)) return fail(*e);
  Trainer trainer(s->model, tf.config);
  const ModelConfig& c = trainer.model();
  say(trf("cli.train.header", arg("task", name(tf.config.task)), arg("arch", name(c.arch)), arg("layers", c.layers), arg("d_model", c.d_model),
          arg("heads", c.heads), arg("d_ff", c.d_ff), arg("norm", name(c.norm)), arg("placement", name(c.norm_placement)),
          arg("scale", name(c.score_scale)), arg("dropout", c.dropout), arg("batch", tf.config.batch), arg("min_len", tf.config.min_len),
          arg("max_len", tf.config.max_len), arg("seed", static_cast<unsigned long long>(tf.config.seed))));
  const MemoryEstimate need = estimate_training_memory(tf.config, s->model);
  say(trf("cli.train.memory", arg("total", human_bytes(need.total())), arg("weights", human_bytes(need.weights)),
          arg("tape", human_bytes(need.gradients + need.working)), arg("limit", human_bytes(static_cast<double>(memory_limit())))));
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  float accuracy = 0.0f;
  for (int k = 1; k <= tf.steps; ++k) {
    const StepStats st = trainer.step();
    const bool last = k == tf.steps || (tf.seconds > 0 && elapsed() >= tf.seconds);
    if (k % tf.log_every == 0 || last) {
      const auto [acc, eval_loss] = trainer.evaluate();
      accuracy = acc;
      say(trf("cli.train.step", arg("step", st.step), arg("seconds", elapsed()), arg("loss", st.loss), arg("eval_loss", eval_loss),
              arg("accuracy", 100.0 * acc), arg("lr", st.lr), arg("grad_norm", st.grad_norm), arg("rate", st.step / elapsed())));
      std::fflush(stdout);
      if (tf.target_accuracy > 0 && acc >= tf.target_accuracy) {
        say(trf("cli.train.reached", arg("accuracy", 100.0 * acc), arg("steps", st.step), arg("seconds", elapsed())));
        break;
      }
    }
    if (last) break;
  }
  if (!tf.out.empty()) {
    if (auto e = trainer.save(tf.out)) return fail(*e);
    say(trf("cli.train.saved", arg("steps", trainer.steps()), arg("task", name(tf.config.task)), arg("path", tf.out),
            arg("accuracy", 100.0 * accuracy)));
  }
  return 0;
}

// [SECTION] lesson: check a lesson file and print it with its live figures.
int cmd_lesson(const std::vector<std::string>& targets) {
  const std::string dir = QKVLAB_ASSETS_DIR "/lessons", weights = QKVLAB_ASSETS_DIR "/weights";
  const Lang lang = i18n::language();  // the lesson's text in the language of the labels around it
  std::vector<std::string> errors;
  std::vector<Lesson> all = load_lessons(dir, &errors);
  std::vector<Lesson> chosen;
  for (const std::string& target : targets) {
    if (std::filesystem::exists(target) && !std::filesystem::is_directory(target)) {
      Result<std::string> text = read_file(target);
      if (!text) return fail(text.error());
      Result<Lesson> l = parse_lesson(*text, target);
      if (!l) return fail(l.error());
      chosen.push_back(std::move(*l));
      continue;
    }
    auto it = std::find_if(all.begin(), all.end(), [&](const Lesson& l) { return l.id == target || std::to_string(l.number) == target; });
    if (it == all.end()) return fail({"no lesson " + target, "give a lesson file, an id or a number; list them with: qkvlab-cli lesson --list"});  // i18n: name (stderr)
    chosen.push_back(*it);
  }
  if (targets.empty()) {
    for (const std::string& e : errors) say(trf("cli.error", arg("text", e)));
    for (const Lesson& l : all) std::printf("%2d  %-28s %s\n", l.number, l.id.c_str(), l.title.in(lang).c_str());
    return errors.empty() ? 0 : 2;
  }
  int problems = 0;
  for (const Lesson& l : chosen) {
    Result<Session> s = lesson_session(l);
    const Session base = s ? *s : Session{};
    const auto show = [&](const char* label_key, const Text& t) {
      std::printf("%s\n%s\n\n", tr(label_key), render_text(t.in(lang), l, base, weights).c_str());
    };
    std::printf("== %d. %s  [%s]\n\n", l.number, l.title.in(lang).c_str(), l.id.c_str());
    show("cli.lesson.question", l.question);
    show("cli.lesson.short_answer", l.short_answer);
    show("cli.lesson.explanation", l.explanation);
    for (size_t k = 0; k < l.steps.size(); ++k)
      say(trf("cli.lesson.try", arg("n", k + 1), arg("text", render_text(l.steps[k].text.in(lang), l, base, weights))));
    for (const std::string& p : check_lesson(l, weights)) {
      say(trf("cli.lesson.problem", arg("text", p)));
      ++problems;
    }
    std::printf("\n");
  }
  return problems ? 2 : 0;
}

// [SECTION] lab: the experiments of the Scaling, Gradients and Positions tabs (core/labs), as tables or JSON.
struct LabFlags {
  std::string name;
  bool list = false, json = false;
  std::string head;      // jacobian, head-stats: a head's path (default: the first self-attention head)
  int row = 0;           // jacobian: the query row
  int seeds = 4;         // why-sqrt-dk
  int positions = 64;    // pe-similarity
  void add_to(CLI::App& app) {
    app.add_option("name", name, "The lab to run (see --list)");
    app.add_flag("--list", list, "List the labs, one line each");
    app.add_flag("--json", json, "Print one JSON object instead of a table");
    app.add_option("--head", head, "jacobian, head-stats: a head, e.g. encoder.0.self_attn.head.1");
    app.add_option("--row", row, "jacobian: the query row r of P (from 0)");
    app.add_option("--seeds", seeds, "why-sqrt-dk: seeds averaged per d_k")->check(CLI::Range(1, 64));
    app.add_option("--positions", positions, "pe-similarity: rows of the sinusoidal table")->check(CLI::Range(2, 4096));
  }
};

using Json = nlohmann::json;
using LabFn = int (*)(const Session&, const LabFlags&);

// NAN and ±∞ are not JSON numbers: they become null.
Json num(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }
Json nums(const std::vector<float>& v) {
  Json out = Json::array();
  for (float x : v) out.push_back(num(x));
  return out;
}
void print_json(const Json& j) { std::printf("%s\n", j.dump(2).c_str()); }
std::string cell(double v, const char* fmt = "%10.4f") {
  if (!std::isfinite(v)) return "         —";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}
std::string first_self_attention_block(const ModelConfig& c) {
  return paths::block(c.arch == Arch::DecoderOnly ? "decoder" : "encoder", 0, paths::kSelf);
}
// The session run once (the cache finds shipped weights), for the labs that read one trace.
Result<Trace> lab_trace(const Session& s, bool gradients) {
  WeightCache cache;
  cache.search_dirs = {QKVLAB_ASSETS_DIR "/weights"};
  Result<Trace> t = run(s, &cache);
  if (t && gradients)
    if (auto e = add_gradients(s, *t)) return *e;
  return t;
}

int lab_scaling(const Session& s, const LabFlags& f) {
  const labs::ScalingSweep r = labs::scaling_sweep(s);
  const std::string block = first_self_attention_block(s.model);
  const auto point = [&](const labs::SweepRun& run, int dk) {
    const auto it = run.find(block);
    if (it == run.end()) return Json(nullptr);
    const labs::BlockSummary& b = it->second;
    return Json{{"entropy", num(b.entropy)}, {"max_weight", num(b.max_weight)}, {"var_S", num(b.var_S())},
                {"predicted_var_S", num(b.predicted_var_S(dk))}, {"uniform_entropy", num(b.uniform)}};
  };
  if (f.json) {
    Json rows = Json::array();
    for (int k = 0; k < labs::kScalingCount; ++k)
      rows.push_back({{"d_k", labs::kScalingDk[k]}, {"scaled", point(r.scaled[k], labs::kScalingDk[k])},
                      {"unscaled", point(r.unscaled[k], labs::kScalingDk[k])}});
    print_json({{"lab", "scaling"}, {"block", block}, {"points", rows}, {"error", r.error}, {"seeded_note", r.seeded_note}, {"ms", r.ms}});
    return r.error.empty() ? 0 : 2;
  }
  say(trf("cli.lab.scaling.title", arg("heads", s.model.heads), arg("tau", s.model.temperature), arg("block", block), arg("ms", r.ms)));
  if (!r.seeded_note.empty()) std::printf("%s\n", r.seeded_note.c_str());
  std::printf("%6s %s %s %s %s %12s %12s\n", "d_k", col(tr("cli.col.h_scaled"), 10).c_str(), col(tr("cli.col.h_plain"), 10).c_str(),
              col(tr("cli.col.max_scaled"), 10).c_str(), col(tr("cli.col.max_plain"), 10).c_str(), "Var(q·k)", "d_k·E[q²]E[k²]");
  for (int k = 0; k < labs::kScalingCount; ++k) {
    const auto on = r.scaled[k].find(block), off = r.unscaled[k].find(block);
    const bool a = on != r.scaled[k].end(), b = off != r.unscaled[k].end();
    std::printf("%6d %s %s %s %s %s %s\n", labs::kScalingDk[k], cell(a ? on->second.entropy : NAN).c_str(), cell(b ? off->second.entropy : NAN).c_str(),
                cell(a ? on->second.max_weight : NAN).c_str(), cell(b ? off->second.max_weight : NAN).c_str(),
                cell(a ? on->second.var_S() : NAN, "%12.3f").c_str(), cell(a ? on->second.predicted_var_S(labs::kScalingDk[k]) : NAN, "%12.3f").c_str());
  }
  if (!r.error.empty()) return fail({"some runs failed: " + r.error, "the table leaves them out"});  // i18n: name (stderr)
  return 0;
}

int lab_why_sqrt_dk(const Session& s, const LabFlags& f) {
  const labs::DkGradientSweep r = labs::dk_gradient_sweep(s, f.seeds);
  const auto point = [](const labs::DkGradPoint& p) {
    return Json{{"mean", num(p.mean)}, {"sd", num(p.sd)}, {"lo", num(p.lo)}, {"hi", num(p.hi)}, {"max_weight", num(p.max_weight)}, {"seeds", p.seeds},
                {"rows", p.rows}};
  };
  if (f.json) {
    Json rows = Json::array();
    for (int k = 0; k < labs::kGradCount; ++k)
      rows.push_back({{"d_k", labs::kGradDk[k]}, {"scaled", point(r.scaled[k])}, {"unscaled", point(r.unscaled[k])}});
    print_json({{"lab", "why-sqrt-dk"}, {"block", r.block}, {"seeds", r.seeds}, {"skipped", r.skipped}, {"too_big", r.too_big}, {"points", rows},
                {"caption", labs::dk_gradient_caption(r)}, {"error", r.error}, {"ms", r.ms}});
    return r.error.empty() ? 0 : 2;
  }
  if (r.skipped) return fail({"why-sqrt-dk: the input has more than " + std::to_string(labs::kGradMaxTokens) + " tokens", "give a shorter --text"});  // i18n: name (stderr)
  say(trf("cli.lab.why.title", arg("block", r.block), arg("seeds", r.seeds), arg("ms", r.ms)));
  std::printf("%6s %s %s %s %s %s %s\n", "d_k", col(tr("cli.col.scaled"), 10).c_str(), col(tr("cli.col.sd"), 10).c_str(),
              col(tr("cli.col.plain"), 10).c_str(), col(tr("cli.col.sd"), 10).c_str(), col(tr("cli.col.max_w_scaled"), 12).c_str(),
              col(tr("cli.col.max_w_plain"), 12).c_str());
  for (int k = 0; k < labs::kGradCount; ++k)
    std::printf("%6d %s %s %s %s %s %s\n", labs::kGradDk[k], cell(r.scaled[k].mean).c_str(), cell(r.scaled[k].sd).c_str(),
                cell(r.unscaled[k].mean).c_str(), cell(r.unscaled[k].sd).c_str(), cell(r.scaled[k].max_weight, "%12.4f").c_str(),
                cell(r.unscaled[k].max_weight, "%12.4f").c_str());
  std::printf("%s\n", labs::dk_gradient_caption(r).c_str());
  if (!r.error.empty()) return fail({"some runs failed: " + r.error, "the table leaves them out"});  // i18n: name (stderr)
  return 0;
}

int lab_norm_sweep(const Session& s, const LabFlags& f) {
  const labs::NormSweep r = labs::norm_sweep(s, {QKVLAB_ASSETS_DIR "/weights"});
  int failed = 0;
  for (const labs::NormVariant& v : r.variants) failed += v.error.empty() ? 0 : 1;
  if (f.json) {
    Json variants = Json::array();
    for (const labs::NormVariant& v : r.variants)
      variants.push_back({{"label", v.label(r.norms)}, {"placement", name(v.placement)}, {"residual", v.residual}, {"current", r.is_current(v)},
                          {"norms", nums(v.norms)}, {"error", v.error}});
    print_json({{"lab", "norm-sweep"}, {"stack", r.stack}, {"layers", r.layers}, {"pattern_loss", r.pattern}, {"variants", variants}, {"ms", r.ms}});
    return failed ? 2 : 0;
  }
  say(trf("cli.lab.norm.title", arg("stack", r.stack), arg("layers", r.layers), arg("ms", r.ms)));
  std::printf("%s", col(tr("cli.col.variant"), -28).c_str());
  for (int l = 0; l <= r.layers; ++l)
    std::printf(" %s", col(l < r.layers ? trf("cli.col.layer_in", arg("l", l)) : trf("cli.col.layer_out", arg("l", l - 1)), 10).c_str());
  std::printf("\n");
  for (const labs::NormVariant& v : r.variants) {
    std::printf("%-28s", (v.label(r.norms) + (r.is_current(v) ? " *" : "")).c_str());
    if (!v.error.empty()) std::printf(" %s", trf("cli.lab.norm.not_run", arg("error", v.error)).c_str());
    for (float n : v.norms) std::printf(" %s", cell(n, "%10.3e").c_str());
    std::printf("\n");
  }
  say(tr("cli.lab.norm.current"));
  return failed ? 2 : 0;
}

int lab_jacobian(const Session& s, const LabFlags& f) {
  Result<Trace> t = lab_trace(s, true);
  if (!t) return fail(t.error());
  const std::string head = f.head.empty() ? paths::head(first_self_attention_block(s.model), 0) : f.head;
  const labs::RowJacobian r = labs::row_jacobian(*t, head, f.row);
  if (!r.ok()) return fail({r.error, "list the heads with qkvlab-cli lab head-stats"});  // i18n: name (stderr)
  if (f.json) {
    Json J = Json::array();
    for (int i = 0; i < r.m; ++i) {
      std::vector<float> row(r.J.row(i).data(), r.J.row(i).data() + r.m);
      J.push_back(nums(row));
    }
    print_json({{"lab", "jacobian"}, {"head", head}, {"row", r.row}, {"p", nums(std::vector<float>(r.p.data(), r.p.data() + r.m))}, {"J", J},
                {"scale", num(r.scale)}, {"entropy", num(r.entropy)}, {"allowed", r.allowed}, {"uniform_entropy", num(r.uniform_entropy)},
                {"max_p", num(r.max_p)}, {"frobenius", num(r.frobenius)}, {"checked", r.checked}, {"agrees", r.agrees},
                {"check_max_diff", num(r.check_max_diff)}});
    return 0;
  }
  say(trf("cli.lab.jacobian.title", arg("head", head), arg("row", r.row), arg("scale", r.scale)));
  print_matrix("p", r.p);
  print_matrix("J", r.J);
  say(trf("cli.lab.jacobian.stats", arg("entropy", r.entropy), arg("keys", r.allowed), arg("uniform", r.uniform_entropy), arg("max_p", r.max_p),
          arg("frobenius", r.frobenius)));
  if (r.checked)
    say(trf(r.agrees ? "cli.lab.jacobian.agrees" : "cli.lab.jacobian.differs", arg("diff", r.check_max_diff), arg("largest", r.check_largest)));
  return r.checked && !r.agrees ? 2 : 0;
}

int lab_head_stats(const Session& s, const LabFlags& f) {
  Result<Trace> t = lab_trace(s, false);
  if (!t) return fail(t.error());
  if (!f.head.empty()) {
    const labs::HeadRows rows = labs::head_rows(*t, f.head);
    if (!rows.stats) return fail({"no head " + f.head + " in this trace", "list the heads with qkvlab-cli lab head-stats"});  // i18n: name (stderr)
    if (f.json) {
      Json out = Json::array();
      for (const labs::RowStat& r : rows.rows)
        out.push_back({{"allowed", r.allowed}, {"entropy", num(r.entropy)}, {"uniform", num(r.uniform)}, {"max_weight", num(r.max_weight)}});
      print_json({{"lab", "head-stats"}, {"head", f.head}, {"scale", num(rows.stats->scale)}, {"rows", out}});
      return 0;
    }
    say(trf("cli.lab.head_rows.title", arg("head", f.head), arg("scale", rows.stats->scale)));
    std::printf("%s %s %s %s %s\n", col(tr("cli.col.row"), 6).c_str(), col(tr("cli.col.keys"), 8).c_str(), col(tr("cli.col.entropy"), 10).c_str(),
                col(tr("cli.col.uniform"), 10).c_str(), col(tr("cli.col.max_weight"), 10).c_str());
    for (size_t i = 0; i < rows.rows.size(); ++i)
      std::printf("%6zu %8d %s %s %s\n", i, rows.rows[i].allowed, cell(rows.rows[i].entropy).c_str(), cell(rows.rows[i].uniform).c_str(),
                  cell(rows.rows[i].max_weight).c_str());
    return 0;
  }
  if (f.json) {
    Json heads = Json::array();
    for (const HeadStats& h : t->heads)
      heads.push_back({{"head", h.path}, {"scale", num(h.scale)}, {"mean_entropy", num(h.mean_entropy)}, {"mean_max_weight", num(h.mean_max_weight)},
                       {"score_mean", num(h.score_mean)}, {"score_variance", num(h.score_variance)}, {"fully_masked_rows", h.fully_masked_rows}});
    print_json({{"lab", "head-stats"}, {"heads", heads}});
    return 0;
  }
  std::printf("%s %s %s %s %s %s\n", col(tr("cli.col.head"), -40).c_str(), col(tr("cli.col.scale"), 10).c_str(),
              col(tr("cli.col.entropy"), 10).c_str(), col(tr("cli.col.max_weight"), 10).c_str(), col(tr("cli.col.score_mean"), 10).c_str(),
              col(tr("cli.col.score_var"), 10).c_str());
  for (const HeadStats& h : t->heads)
    std::printf("%-40s %s %s %s %s %s\n", h.path.c_str(), cell(h.scale).c_str(), cell(h.mean_entropy).c_str(), cell(h.mean_max_weight).c_str(),
                cell(h.score_mean).c_str(), cell(h.score_variance).c_str());
  return 0;
}

int lab_pe_similarity(const Session& s, const LabFlags& f) {
  const labs::TableStats st = labs::pe_similarity(f.positions, s.model.d_model, s.model.pe_base);
  if (f.json) {
    print_json({{"lab", "pe-similarity"}, {"positions", f.positions}, {"d_model", s.model.d_model}, {"base", s.model.pe_base},
                {"offset", nums(st.curves.k)}, {"from_zero", nums(st.curves.from_zero)}, {"mean", nums(st.curves.mean)},
                {"max_deviation", num(st.curves.max_deviation)}});
    return 0;
  }
  say(trf("cli.lab.pe.title", arg("positions", f.positions), arg("d_model", s.model.d_model), arg("base", s.model.pe_base)));
  std::printf("%6s %12s %s\n", "k", "p_0·p_k", col(tr("cli.col.mean_over_m"), 12).c_str());
  for (size_t k = 0; k < st.curves.k.size(); k += k < 16 ? 1 : 8)
    std::printf("%6zu %12.4f %12.4f\n", k, st.curves.from_zero[k], st.curves.mean[k]);
  say(trf(s.model.d_model % 2 == 0 ? "cli.lab.pe.even" : "cli.lab.pe.odd", arg("deviation", st.curves.max_deviation)));
  return 0;
}

int lab_rope(const Session& s, const LabFlags& f) {
  const labs::RopeDemo d = labs::rope_demo(s.seed, s.model.head_dk(), s.model.pe_base);
  const int m0 = labs::kRopeQueryPositions[0], m1 = labs::kRopeQueryPositions[1];
  if (f.json) {
    print_json({{"lab", "rope"}, {"d", d.d}, {"query_positions", {m0, m1}}, {"offset", nums(d.offset)}, {"rope", {nums(d.rope[0]), nums(d.rope[1])}},
                {"added", {nums(d.added[0]), nums(d.added[1])}}, {"rope_max_gap", num(d.rope_max_gap)}});
    return 0;
  }
  say(trf("cli.lab.rope.title", arg("d", d.d), arg("m0", m0), arg("m1", m1)));
  std::printf("%8s %12s %12s %s %s\n", "m - n", ("RoPE m=" + std::to_string(m0)).c_str(), ("RoPE m=" + std::to_string(m1)).c_str(),
              col(trf("cli.col.added_m", arg("m", m0)), 14).c_str(), col(trf("cli.col.added_m", arg("m", m1)), 14).c_str());
  for (size_t r = 0; r < d.offset.size(); ++r)
    std::printf("%8.0f %12.4f %12.4f %14.4f %14.4f\n", d.offset[r], d.rope[0][r], d.rope[1][r], d.added[0][r], d.added[1][r]);
  say(trf("cli.lab.rope.summary", arg("gap", d.rope_max_gap)));
  return 0;
}

int lab_alibi(const Session& s, const LabFlags& f) {
  const labs::AlibiDemo d = labs::alibi_demo(s.model.heads);
  if (f.json) {
    Json curves = Json::array();
    for (const labs::AlibiCurve& c : d.curves) curves.push_back({{"head", c.head}, {"slope", num(c.slope)}, {"offset", nums(c.offset)}, {"bias", nums(c.bias)}});
    print_json({{"lab", "alibi"}, {"heads", s.model.heads}, {"slopes", nums(d.slopes)}, {"curves", curves}});
    return 0;
  }
  say(trf("cli.lab.alibi.title", arg("heads", s.model.heads)));
  std::printf("%s %s %s %s\n", col(tr("cli.col.head"), 6).c_str(), col(tr("cli.col.slope"), 12).c_str(), col(tr("cli.col.inv_slope"), 12).c_str(),
              col(trf("cli.col.bias_at", arg("offset", labs::kDemoOffset)), 12).c_str());
  for (size_t i = 0; i < d.slopes.size(); ++i)
    std::printf("%6zu %12.6g %12.6g %12.4f\n", i, d.slopes[i], 1.0 / d.slopes[i], -d.slopes[i] * labs::kDemoOffset);
  return 0;
}

struct Lab {
  const char* name;
  const char* what;  // the key of its one-line description
  LabFn fn;
};
constexpr Lab kLabs[] = {
    {"scaling", "cli.lab.list.scaling", lab_scaling},
    {"why-sqrt-dk", "cli.lab.list.why_sqrt_dk", lab_why_sqrt_dk},
    {"norm-sweep", "cli.lab.list.norm_sweep", lab_norm_sweep},
    {"jacobian", "cli.lab.list.jacobian", lab_jacobian},
    {"head-stats", "cli.lab.list.head_stats", lab_head_stats},
    {"pe-similarity", "cli.lab.list.pe_similarity", lab_pe_similarity},
    {"rope", "cli.lab.list.rope", lab_rope},
    {"alibi", "cli.lab.list.alibi", lab_alibi},
};

int cmd_lab(const SessionFlags& flags, const LabFlags& f) {
  if (f.list || f.name.empty()) {
    if (!f.list) return fail({"lab needs a name", "list them with: qkvlab-cli lab --list"});  // i18n: name (stderr)
    for (const Lab& lab : kLabs) std::printf("%-14s %s\n", lab.name, tr(lab.what));
    return 0;
  }
  const Lab* lab = nullptr;
  for (const Lab& l : kLabs)
    if (f.name == l.name) lab = &l;
  if (!lab) return fail({"no lab named " + f.name, "list them with: qkvlab-cli lab --list"});  // i18n: name (stderr)
  Result<Session> s = flags.build();
  if (!s) return fail(s.error());
  return lab->fn(*s, f);
}

}  // namespace

// The command line; main() around it turns what it throws into a message.
int cli_main(int argc, char** argv) {
  qkv::retain_freed_memory(argv);  // training reuses each step's tape memory instead of faulting it in again
  CLI::App app{"qkvlab-cli — the QKV Lab core from the command line"};  // i18n: name (--help text, English)
  app.require_subcommand(1);
  app.fallthrough();  // --memory-limit and --lang may come after the subcommand too
  // --lang of the command line and of `lesson` (as before): one language for the labels and the lessons' text.
  std::string lang_text;  // "" (not given): QKVLAB_LANG, else English
  const auto add_lang = [&lang_text](CLI::App& to) {
    to.add_option("--lang", lang_text,
                  "Language of the printed labels and lessons: en | zh (default: QKVLAB_LANG, else en). --json, exports, errors and "
                  "--help stay English")
        ->check(CLI::IsMember({"en", "zh"}));
  };
  add_lang(app);
  std::string memory_limit_text;
  app.add_option("--memory-limit", memory_limit_text,
                 "Refuse runs estimated above this much memory, e.g. 4G or 512M, or off (default: " +
                     std::to_string(static_cast<int>(qkv::kDefaultMemoryShare * 100)) + "% of this machine's memory; also QKVLAB_MEMORY_LIMIT)")
      ->check([](const std::string& text) {
        qkv::Result<int64_t> bytes = qkv::parse_byte_size(text);
        return bytes ? std::string() : bytes.error().message();
      });

  std::string preset;
  bool json = false;
  int64_t n = 128;
  SessionFlags params_flags;
  CLI::App* params = app.add_subcommand("params", "Parameter and FLOP table of a preset or of a session's model");
  params->add_option("--preset", preset, "transformer-base | bert-base | gpt2-small | vit-b16 | vit-l16 | vit-h14");
  params->add_flag("--json", json, "Print one JSON object with a \"total\" field");
  params->add_option("--n", n, "Tokens for the FLOP count")->check(CLI::Range(1, 1 << 20));
  params_flags.add_to(*params);

  SessionFlags run_flags;
  std::vector<std::string> show;
  std::string export_dir, png_dir, csv_dir, save_path;
  bool list = false, gradients = false;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a session and print a summary; export tensors");
  run_flags.add_to(*run_cmd);
  run_cmd->add_option("--show", show, "Print a tensor by path (repeatable), e.g. encoder.0.self_attn.head.0.P");
  run_cmd->add_flag("--list", list, "List every tensor's path and shape");
  run_cmd->add_option("--export", export_dir, "Write every weight and trace tensor as .npy plus manifest.json");
  run_cmd->add_option("--export-png", png_dir, "Write one PNG heatmap per head and stage");
  run_cmd->add_option("--export-csv", csv_dir, "Write every weight and trace tensor as CSV");
  run_cmd->add_flag("--gradients", gradients, "Also backpropagate the loss: dL/d<path> tensors (see --loss)");
  run_cmd->add_option("--save-session", save_path, "Save the effective session as JSON");

  CLI::App* demo = app.add_subcommand("demo", "A first look: one sentence, attention with and without 1/sqrt(d_k)");

  SessionFlags tokenize_flags;
  bool tokenize_json = false;
  CLI::App* tokenize_cmd = app.add_subcommand("tokenize", "Print a text's tokens and ids (with --model: the checkpoint's own tokenizer)");
  tokenize_flags.add_to(*tokenize_cmd);
  tokenize_cmd->add_flag("--json", tokenize_json, "Print one JSON object: ids, pieces, display, decoded");

  SessionFlags generate_flags;
  GenerateFlags generate_options;
  CLI::App* generate_cmd = app.add_subcommand("generate", "Continue a text token by token through the KV cache (decoder models; --model for GPT-2)");
  generate_flags.add_to(*generate_cmd);
  generate_options.add_to(*generate_cmd);

  SessionFlags train_session;
  TrainFlags train_flags;
  CLI::App* train_cmd = app.add_subcommand("train", "Train a small model on a toy task (model flags as for run)");
  train_session.add_to(*train_cmd);
  train_flags.add_to(*train_cmd);

  std::vector<std::string> lesson_targets;
  CLI::App* lesson_cmd = app.add_subcommand("lesson", "List lessons, or check and print lessons (file, id or number) with live figures");
  lesson_cmd->add_option("lessons", lesson_targets, "Lesson files, ids or numbers (none: list them all)");
  add_lang(*lesson_cmd);  // `lesson 5 --lang zh`, as before: the same setting as qkvlab-cli --lang
  bool lesson_list = false;
  lesson_cmd->add_flag("--list", lesson_list, "List every lesson (the same as giving none)");

  SessionFlags lab_session;
  LabFlags lab_flags;
  CLI::App* lab_cmd = app.add_subcommand("lab", "Run an experiment of the labs on a session (model flags as for run); --list names them");
  lab_session.add_to(*lab_cmd);
  lab_flags.add_to(*lab_cmd);

  // Every parse error exits 2 (as every other user error), with CLI11's own message; --help exits 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!memory_limit_text.empty()) qkv::set_memory_limit(*qkv::parse_byte_size(memory_limit_text));
  // The printed words (assets/i18n/cli.json); a broken catalog file is reported and the labels fall back to English.
  for (const qkv::Error& e : qkv::i18n::load(QKVLAB_ASSETS_DIR "/i18n")) std::fprintf(stderr, "qkvlab-cli: %s\n", e.message().c_str());
  if (lang_text.empty())
    if (const char* env = std::getenv("QKVLAB_LANG"); env && *env) {
      if (qkv::parse_lang(env)) lang_text = env;
      else std::fprintf(stderr, "qkvlab-cli: QKVLAB_LANG=%s is ignored (en or zh)\n", env);
    }
  qkv::i18n::set_language(qkv::parse_lang(lang_text).value_or(qkv::Lang::En));
  if (lesson_cmd->parsed()) {
    if (lesson_list && !lesson_targets.empty()) return fail({"--list lists every lesson", "give either --list or lessons to print"});  // i18n: name (stderr)
    return cmd_lesson(lesson_targets);
  }
  if (train_cmd->parsed()) return cmd_train(train_session, train_flags);
  if (params->parsed()) return cmd_params(preset, params_flags, json, n);
  if (run_cmd->parsed()) return cmd_run(run_flags, show, export_dir, png_dir, csv_dir, save_path, list, gradients);
  if (demo->parsed()) return cmd_demo();
  if (tokenize_cmd->parsed()) return cmd_tokenize(tokenize_flags, tokenize_json);
  if (generate_cmd->parsed()) return cmd_generate(generate_flags, generate_options);
  if (lab_cmd->parsed()) {
    if (lab_flags.json) qkv::i18n::set_language(qkv::Lang::En);  // --json is for scripts: its captions and notes are the same in every language
    return cmd_lab(lab_session, lab_flags);
  }
  return 0;
}

// No exception leaves main unexplained (issue 11): what a run throws despite the checks (out of memory, a bug) is
// printed as a message and exits 1, not a core dump.
int main(int argc, char** argv) {
  try {
    return cli_main(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "qkvlab-cli: out of memory (lower the model or the text, or --memory-limit to be refused earlier)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qkvlab-cli: stopped by an internal error: %s\n", e.what());
  }
  return 1;
}
