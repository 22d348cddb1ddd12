#include "core/export.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/npy.h"

namespace qkv {

std::string manifest_json(const Trace& t, const Session& s) {
  using nlohmann::json;
  json tensors = json::array();
  const auto list = [&](const TensorMap& map, const char* kind) {
    for (const auto& e : map.entries())
      tensors.push_back(
          {{"name", e.path}, {"file", e.path + ".npy"}, {"shape", {e.value.rows(), e.value.cols()}}, {"dtype", "float32"}, {"kind", kind}});
  };
  list(*t.weights, "weight");
  list(t.tensors, "activation");
  json manifest{{"format", "qkvlab-export-1"},
                {"tokens", {{"source", t.source_tokens}, {"target", t.target_tokens}, {"decoded", t.decoded_tokens}}},
                {"vocab", t.vocab.tokens()},
                {"session", json::parse(to_json(s))},
                {"tensors", tensors}};
  return manifest.dump(2) + "\n";
}

std::optional<Error> export_npy(const Trace& t, const Session& s, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{"cannot create folder " + dir + ": " + ec.message(), "check the path and permissions"};
  for (const TensorMap* map : {t.weights.get(), static_cast<const TensorMap*>(&t.tensors)})
    for (const auto& e : map->entries())
      if (auto err = write_npy(dir + "/" + e.path + ".npy", e.value)) return err;
  return write_file_atomically(dir + "/manifest.json", manifest_json(t, s));
}

}  // namespace qkv
