// Session JSON (File ▸ Open, --session, the session inside a trained weights file): a value or an Error, and a session
// that loads saves to a text that loads back to the same session (issue 11, defects 1 and 2).
#include "core/config.h"
#include "core/model.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  Result<Session> s = session_from_json(fuzz::text_of(data, size));
  if (fuzz::refused(s)) return 0;
  const std::string saved = to_json(*s);
  Result<Session> again = session_from_json(saved);
  if (!again) fuzz::violated("a session that loaded saves to a text that loads back: " + again.error().message() + "\n" + saved);
  if (to_json(*again) != saved) fuzz::violated("a session is the same after a save and a load:\n" + saved + "\n" + to_json(*again));
  // What the app does next with a session it opened: validates it, and estimates its memory when it is valid.
  if (!validate(*s) && s->input.text.size() + s->extra_batch.size() < 4096) estimate_memory(*s);
  return 0;
}
