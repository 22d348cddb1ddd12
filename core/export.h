// QKV Lab core — exports of a run: every weight and every traced tensor as .npy, plus manifest.json.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "core/trace.h"

namespace qkv {

// Writes DIR/<path>.npy for every weight and every tensor of the trace, then DIR/manifest.json with each
// tensor's name, file, shape, dtype and kind, the tokens, and the session that produced them. Creates DIR.
std::optional<Error> export_npy(const Trace&, const Session&, const std::string& dir);

// The manifest alone (JSON text), as export_npy writes it.
std::string manifest_json(const Trace&, const Session&);

}  // namespace qkv
