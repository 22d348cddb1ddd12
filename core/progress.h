// QKV Lab core — progress and cancellation of a long computation (a run, a sweep), for a caller on another thread.
#pragma once

#include <functional>

namespace qkv {

// Called as the work advances with (steps done, steps in all); returning false cancels: the work stops at its next
// check and says it was cancelled. It may be asked again with the same count between steps (core::run asks between
// heads, so a cancel takes effect within one head's work). Empty: run to the end.
using Progress = std::function<bool(int done, int total)>;

}  // namespace qkv
