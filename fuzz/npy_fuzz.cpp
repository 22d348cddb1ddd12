// .npy files: a matrix or an Error; the header is scanned without regular expressions (issue 11, defect 6).
#include "core/npy.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  Result<Mat> M = parse_npy(fuzz::text_of(data, size));
  if (fuzz::refused(M)) return 0;
  if (static_cast<size_t>(M->size()) > size) fuzz::violated("a matrix holds no more numbers than the file has bytes");
  return 0;
}
