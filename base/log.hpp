// SPDX-License-Identifier: MIT
// Logging facade over spdlog: one logger per module, writing to stderr (journald picks it
// up), lines carrying key=value fields. Data-path lines go through MT_LOG_EVERY so a flood
// of bad packets cannot flood the log.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

namespace base {

using Logger = std::shared_ptr<spdlog::logger>;

// The logger named `module`, created on first use. Thread safe.
Logger logger(std::string_view module);
// Sets the level of every logger, present and future ("trace" .. "off").
void set_log_level(spdlog::level::level_enum level);

// Admits one event per interval; the rest are counted and reported with the next admitted one.
class LogRateLimit {
 public:
  explicit LogRateLimit(std::chrono::milliseconds interval)
      : interval_ns_(interval.count() * 1'000'000) {}
  // Returns true if this event may be logged; `suppressed` gets the count skipped since the last.
  bool allow(std::uint64_t& suppressed) noexcept;

 private:
  const std::int64_t interval_ns_;
  std::atomic<std::int64_t> next_ns_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace base

// MT_LOG_EVERY(logger, 1000ms, spdlog::level::warn, "fmt {}", x): at most one line per interval
// from this call site.
#define MT_LOG_EVERY(lg, interval, level, ...)                                                   \
  do {                                                                                           \
    static ::base::LogRateLimit mt_rl_(interval);                                                \
    std::uint64_t mt_suppressed_ = 0;                                                            \
    if ((lg)->should_log(level) && mt_rl_.allow(mt_suppressed_)) {                               \
      (lg)->log(level, __VA_ARGS__);                                                             \
      if (mt_suppressed_ > 0) (lg)->log(level, "suppressed={} (similar lines)", mt_suppressed_); \
    }                                                                                            \
  } while (0)
