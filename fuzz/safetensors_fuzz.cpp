// safetensors files (trained weights; later Hugging Face checkpoints): tensors or an Error, every offset and size
// checked before anything is allocated (issue 11, defect 3).
#include "core/safetensors.h"
#include "fuzz/fuzz.h"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  Metadata metadata;
  Result<TensorMap> tensors = parse_safetensors(fuzz::text_of(data, size), &metadata);
  if (fuzz::refused(tensors)) return 0;
  size_t bytes = 0;
  for (const TensorMap::Entry& e : tensors->entries()) bytes += static_cast<size_t>(e.value.size()) * sizeof(float);
  if (bytes > size) fuzz::violated("tensors hold no more bytes than the file (F32 as is, F64 halved)");
  return 0;
}
