// SPDX-License-Identifier: MIT
#include "base/log.hpp"

#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace base {

namespace {
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
spdlog::level::level_enum& default_level() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
}  // namespace

Logger logger(std::string_view module) {
  std::lock_guard lock(registry_mutex());
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  auto lg = spdlog::stderr_color_mt(name);
  lg->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  lg->set_level(default_level());
  return lg;
}

void set_log_level(spdlog::level::level_enum level) {
  std::lock_guard lock(registry_mutex());
  default_level() = level;
  spdlog::set_level(level);
}

bool LogRateLimit::allow(std::uint64_t& suppressed) noexcept {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now < next || !next_ns_.compare_exchange_strong(next, now + interval_ns_)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace base
