// Lesson files (assets/lessons/, and any a teacher is sent): a lesson or an Error (issue 11, defects 4 and 5).
#include "core/lessons.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  Result<Lesson> lesson = parse_lesson(std::string(fuzz::text_of(data, size)), "fuzz.json");
  if (fuzz::refused(lesson)) return 0;
  Result<Session> s = lesson_session(*lesson);  // what opening the lesson does first
  if (s && validate(*s)) fuzz::violated("lesson_session gives only valid sessions");
  return 0;
}
