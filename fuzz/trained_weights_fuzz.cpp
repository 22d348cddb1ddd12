// A trained weights file as the app opens it: safetensors whose metadata holds a session, a vocabulary and a step count
// (issue 11, defect 1 through the metadata's session).
#include "core/trainer.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  Result<TrainedWeights> w = parse_trained(fuzz::text_of(data, size), "fuzz.safetensors");
  if (fuzz::refused(w)) return 0;
  if (w->steps < 0) fuzz::violated("a step count is not negative");
  return 0;
}
