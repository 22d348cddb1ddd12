#include "core/export.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/i18n.h"
#include "core/npy.h"

namespace qkv {

std::string export_file_stem(const std::string& path) {
  static const std::string kGrad = "dL/d";
  std::string stem = path.rfind(kGrad, 0) == 0 ? "grad." + path.substr(kGrad.size()) : path;
  for (char& c : stem)
    if (c == '/' || c == '\\') c = '_';
  return stem;
}

namespace {

using nlohmann::json;

// Every weight, then every activation (a lean trace derives its activations one layer at a time, once), until one
// `visit` fails. *count: how many were visited.
std::optional<Error> visit_each(const Trace& t, const std::function<std::optional<Error>(const std::string&, const Mat&, const char* kind)>& visit,
                                size_t* count = nullptr) {
  size_t n = 0;
  std::optional<Error> failed;
  const auto one = [&](const std::string& path, const Mat& value, const char* kind) {
    if (failed) return;
    failed = visit(path, value, kind);
    if (!failed) ++n;
  };
  for (const auto& e : t.weights->entries()) one(e.path, e.value, "weight");
  t.tensors.for_each([&](const std::string& path, const Mat& value) { one(path, value, "activation"); });
  if (count) *count = n;
  return failed;
}

json manifest_entry(const std::string& path, const Mat& value, const char* kind) {
  return {{"name", path}, {"file", export_file_stem(path) + ".npy"}, {"shape", {value.rows(), value.cols()}}, {"dtype", "float32"}, {"kind", kind}};
}

std::string manifest_text(const Trace& t, const Session& s, json tensors) {
  // The manifest is read by scripts: its text is the same in every language.
  // i18n: names begin
  json manifest{{"format", "qkvlab-export-1"},
                {"file_names", "each tensor's file is its name + .npy, except that a gradient dL/d<name> is written as "
                               "grad.<name>.npy (a file name never holds a path separator); \"file\" gives it for each tensor"},
                // i18n: names end
                {"tokens", {{"source", t.source_tokens}, {"target", t.target_tokens}, {"decoded", t.decoded_tokens}}},
                {"ids", {{"source", t.source_ids}}},
                {"vocab", t.vocab.tokens()},
                {"session", json::parse(to_json(s))},
                {"tensors", std::move(tensors)}};
  return manifest.dump(2) + "\n";
}

}  // namespace

std::string manifest_json(const Trace& t, const Session& s) {
  json tensors = json::array();
  visit_each(t, [&](const std::string& path, const Mat& value, const char* kind) {
    tensors.push_back(manifest_entry(path, value, kind));
    return std::optional<Error>();
  });
  return manifest_text(t, s, std::move(tensors));
}

namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::optional<Error> make_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Error{i18n::trf("core.export.cannot_create_folder", i18n::arg("dir", dir), i18n::arg("reason", ec.message())),
                 i18n::tr("core.export.cannot_create_folder_hint")};
  return std::nullopt;
}

}  // namespace

std::string tensor_csv(const Mat& M, const std::vector<std::string>* row_labels, const std::vector<std::string>* col_labels) {
  std::string out;
  const auto label = [](const std::vector<std::string>* labels, Eigen::Index i) {
    return labels && i < static_cast<Eigen::Index>(labels->size()) ? csv_field((*labels)[i]) : std::to_string(i);
  };
  if (col_labels) {
    if (row_labels) out += ',';
    for (Eigen::Index j = 0; j < M.cols(); ++j) out += (j ? "," : "") + label(col_labels, j);
    out += '\n';
  }
  char buf[32];
  for (Eigen::Index i = 0; i < M.rows(); ++i) {
    if (row_labels) out += label(row_labels, i) + ",";
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      const float v = M(i, j);
      if (std::isinf(v)) std::snprintf(buf, sizeof buf, "%s", v < 0 ? "-inf" : "inf");
      else std::snprintf(buf, sizeof buf, "%.9g", v);
      if (j) out += ',';
      out += buf;
    }
    out += '\n';
  }
  return out;
}

std::optional<Error> export_csv(const Trace& t, const std::string& dir, size_t* written) {
  if (auto e = make_folder(dir)) return e;
  return visit_each(
      t, [&](const std::string& path, const Mat& value, const char*) { return write_file_atomically(dir + "/" + export_file_stem(path) + ".csv", tensor_csv(value)); },
      written);
}

std::optional<Error> export_npy(const Trace& t, const Session& s, const std::string& dir, size_t* written) {
  if (auto e = make_folder(dir)) return e;
  json tensors = json::array();  // the manifest's rows, gathered as the files are written (a lean trace derives once)
  if (auto err = visit_each(
          t,
          [&](const std::string& path, const Mat& value, const char* kind) {
            tensors.push_back(manifest_entry(path, value, kind));
            return write_npy(dir + "/" + export_file_stem(path) + ".npy", value);
          },
          written))
    return err;
  return write_file_atomically(dir + "/manifest.json", manifest_text(t, s, std::move(tensors)));
}

}  // namespace qkv
