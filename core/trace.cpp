#include "core/trace.h"

namespace qkv {

void TensorMap::put(const std::string& path, Mat value) {
  const auto [it, inserted] = index_.emplace(path, entries_.size());
  if (inserted)
    entries_.push_back({path, std::move(value)});
  else
    entries_[it->second].value = std::move(value);
}

const Mat* TensorMap::find(const std::string& path) const {
  const auto it = index_.find(path);
  return it == index_.end() ? nullptr : &entries_[it->second].value;
}

Mat* TensorMap::find_mutable(const std::string& path) {
  const auto it = index_.find(path);
  return it == index_.end() ? nullptr : &entries_[it->second].value;
}

const Mat& TensorMap::at(const std::string& path) const {
  const Mat* m = find(path);
  if (!m) std::fprintf(stderr, "no tensor named %s\n", path.c_str());
  QKV_ASSERT(m != nullptr);
  return *m;
}

size_t TensorMap::bytes() const {
  size_t total = 0;
  for (const Entry& e : entries_) total += static_cast<size_t>(e.value.size()) * sizeof(float);
  return total;
}

const HeadStats* Trace::head(const std::string& path) const {
  for (const HeadStats& h : heads)
    if (h.path == path) return &h;
  return nullptr;
}

}  // namespace qkv
