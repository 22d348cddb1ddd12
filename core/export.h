// QKV Lab core — exports of a run: every weight and every traced tensor as .npy, plus manifest.json.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "core/trace.h"

namespace qkv {

// The file name (without extension) of a tensor path: never a path separator, so every tensor is one file in DIR.
// A gradient dL/d<path> becomes grad.<path>; any other '/' or '\\' becomes '_'. The manifest keeps the tensor's name.
std::string export_file_stem(const std::string& path);

// Writes DIR/<export_file_stem(path)>.npy for every weight and every tensor of the trace, then DIR/manifest.json with each
// tensor's name, file, shape, dtype and kind, the tokens, and the session that produced them. Creates DIR.
// *written: how many tensors were written.
std::optional<Error> export_npy(const Trace&, const Session&, const std::string& dir, size_t* written = nullptr);

// A matrix as CSV (RFC 4180): an optional header of column labels, an optional first column of row labels,
// values with 9 significant digits (float32 round-trips), −∞ as -inf.
std::string tensor_csv(const Mat& M, const std::vector<std::string>* row_labels = nullptr,
                       const std::vector<std::string>* col_labels = nullptr);
// Writes DIR/<export_file_stem(path)>.csv for every weight and every tensor of the trace (no labels). Creates DIR.
// *written: how many tensors were written.
std::optional<Error> export_csv(const Trace&, const std::string& dir, size_t* written = nullptr);

// The manifest alone (JSON text), as export_npy writes it.
std::string manifest_json(const Trace&, const Session&);

}  // namespace qkv
