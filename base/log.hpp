// SPDX-License-Identifier: MIT
// Logging facade over spdlog: one logger per module, lines carrying key=value fields, all
// writing to one destination: stderr by default, or syslog (journald reads it) or a file,
// chosen once by the program (a daemon that left its terminal must not write to it).
// Data-path lines go through MT_LOG_EVERY so a flood of bad packets cannot flood the log.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace base {

using Logger = std::shared_ptr<spdlog::logger>;

// The logger named `module`, created on first use. Thread safe.
Logger logger(std::string_view module);
// Sets the level of every logger, present and future ("trace" .. "off").
void set_log_level(spdlog::level::level_enum level);
// The level named by a --log-level flag or LOG_LEVEL: "trace", "debug", "info", "warn",
// "error", "off", and wireguard-go's "verbose" (debug) and "silent" (off). Anything else is
// nullopt, for the caller to refuse: spdlog's own from_str() turns an unknown name into "off".
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Where every logger, present and future, writes from now on. Call before other threads log
// (the switch is not synchronised with logging).
void log_to_stderr();                          // the default
void log_to_syslog(const std::string& ident);  // facility daemon, with the PID
// Appends to `path` (created 0640 if missing); false with `error` set if it cannot be opened.
bool log_to_file(const std::string& path, std::string& error);

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
