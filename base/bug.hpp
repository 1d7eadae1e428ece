// SPDX-License-Identifier: MIT
// WG_BUG(id, fmt, args...): a state the code believes impossible. Debug and sanitizer builds
// abort so tests find it; release builds log (rate-limited), count, and carry on forwarding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/fmt/fmt.h>

namespace base {

void report_bug(std::string_view id, const char* file, int line, const std::string& what);
// Bugs reported since start (release builds only get this far).
std::uint64_t bug_count() noexcept;

}  // namespace base

#define WG_BUG(id, ...) ::base::report_bug(id, __FILE__, __LINE__, fmt::format(__VA_ARGS__))
