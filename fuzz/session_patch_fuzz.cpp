// A lesson step's session patch (JSON merge patch over the session): a valid session or an Error, never a crash.
#include "core/config.h"
#include "core/lessons.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  Result<Session> s = patch_session(Session{}, std::string(fuzz::text_of(data, size)));
  if (fuzz::refused(s)) return 0;
  if (auto e = validate(*s)) fuzz::violated("patch_session gives only valid sessions: " + e->message());
  return 0;
}
