// SPDX-License-Identifier: MIT
#include "base/bug.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "base/log.hpp"

namespace base {

namespace {
std::atomic<std::uint64_t> g_bugs{0};
}

void report_bug(std::string_view id, const char* file, int line, const std::string& what) {
  g_bugs.fetch_add(1, std::memory_order_relaxed);
  static const Logger lg = logger("bug");
  MT_LOG_EVERY(lg, std::chrono::milliseconds(1000), spdlog::level::err, "bug={} at={}:{} {}", id,
               file, line, what);
#if !defined(NDEBUG) || defined(MESHTUN_SANITIZED)
  lg->flush();
  std::abort();
#endif
}

std::uint64_t bug_count() noexcept {
  return g_bugs.load(std::memory_order_relaxed);
}

}  // namespace base
