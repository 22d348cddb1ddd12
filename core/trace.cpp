#include "core/trace.h"

#include "core/paths.h"

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

std::vector<TensorMap::Entry> TensorMap::take_entries() && {
  index_.clear();
  return std::move(entries_);
}

size_t TensorMap::bytes() const {
  size_t total = 0;
  for (const Entry& e : entries_) total += static_cast<size_t>(e.value.size()) * sizeof(float);
  return total;
}

const Mat* TraceTensors::find(const std::string& path) const {
  if (const Mat* kept = TensorMap::find(path)) return kept;
  if (!deriver_) return nullptr;
  std::lock_guard<std::recursive_mutex> lock(cache_->mutex);
  return find_derived(path);
}

const Mat* TraceTensors::find_derived(const std::string& path) const {
  if (const Mat* kept = TensorMap::find(path)) return kept;
  if (auto it = cache_->tensors.find(path); it != cache_->tensors.end()) return it->second.get();
  const std::string unit = deriver_->unit_of(path);
  if (unit.empty() || cache_->units_done[unit]) return nullptr;  // derived already: the unit has no such tensor
  TensorMap out;
  deriver_->derive(unit, [this](const std::string& p) { return find_derived(p); }, out);
  cache_->units_done[unit] = true;
  for (TensorMap::Entry& e : std::move(out).take_entries())
    if (!TensorMap::contains(e.path)) cache_->tensors[e.path] = std::make_unique<Mat>(std::move(e.value));
  auto it = cache_->tensors.find(path);
  return it == cache_->tensors.end() ? nullptr : it->second.get();
}

const Mat& TraceTensors::at(const std::string& path) const {
  const Mat* m = find(path);
  if (!m) std::fprintf(stderr, "no tensor named %s\n", path.c_str());
  QKV_ASSERT(m != nullptr);
  return *m;
}

void TraceTensors::for_each(const std::function<void(const std::string&, const Mat&)>& fn) const {
  for (const Entry& e : entries()) fn(e.path, e.value);
  if (!deriver_) return;
  // Units come a layer before its heads: a head's derive() finds Q and K in the layer derived just before, so at most
  // one layer's rows and one head's stages are held at a time.
  TensorMap layer;
  const Deriver::Lookup lookup = [&](const std::string& p) -> const Mat* {
    if (const Mat* kept = TensorMap::find(p)) return kept;
    return layer.find(p);
  };
  for (const std::string& unit : deriver_->units()) {
    TensorMap out;
    deriver_->derive(unit, lookup, out);
    for (const Entry& e : out.entries())
      if (!TensorMap::contains(e.path)) fn(e.path, e.value);
    if (unit.find(".head.") == std::string::npos && !paths::ends_with(unit, ".M")) layer = std::move(out);
  }
}

size_t TraceTensors::count() const {
  size_t n = 0;
  for_each([&](const std::string&, const Mat&) { ++n; });
  return n;
}

size_t TraceTensors::derived_bytes() const {
  std::lock_guard<std::recursive_mutex> lock(cache_->mutex);
  size_t total = 0;
  for (const auto& [path, value] : cache_->tensors) total += static_cast<size_t>(value->size()) * sizeof(float);
  return total;
}

void TraceTensors::release_derived() const {
  std::lock_guard<std::recursive_mutex> lock(cache_->mutex);
  cache_->tensors.clear();
  cache_->units_done.clear();
}

const HeadStats* Trace::head(const std::string& path) const {
  for (const HeadStats& h : heads)
    if (h.path == path) return &h;
  return nullptr;
}

}  // namespace qkv
