// SPDX-License-Identifier: MIT
// The engine's counters in Prometheus text format (version 0.0.4).
#pragma once

#include <string>

#include "engine/engine.hpp"

namespace meshtund {

// Control thread (reads peers and the device).
std::string render_metrics(engine::Engine& engine, const std::string& interface);

}  // namespace meshtund
