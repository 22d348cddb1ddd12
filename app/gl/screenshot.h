// QKV Lab app — the back buffer as a PNG (atomic write).
#pragma once

#include "core/tensor.h"

#include <optional>
#include <string>

namespace qkv::app {

// Call after rendering a frame and before swapping buffers.
std::optional<Error> write_screenshot(const std::string& path, int width, int height);

}  // namespace qkv::app
