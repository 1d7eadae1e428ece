// SPDX-License-Identifier: MIT
#include "base/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <syslog.h>
#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

namespace base {

namespace {

// Terminal and file lines carry their own time; syslog stamps its own.
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v";
constexpr const char* kSyslogPattern = "%l %n: %v";

std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
spdlog::level::level_enum& default_level() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
spdlog::sink_ptr stderr_sink() {
  auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  s->set_pattern(kPattern);
  return s;
}

// The destination of every logger; guarded by registry_mutex().
spdlog::sink_ptr& current_sink() {
  static spdlog::sink_ptr sink = stderr_sink();
  return sink;
}

void use_sink(spdlog::sink_ptr sink) {
  std::lock_guard lock(registry_mutex());
  current_sink() = sink;
  spdlog::apply_all([&](const Logger& lg) { lg->sinks() = {sink}; });
}

}  // namespace

Logger logger(std::string_view module) {
  std::lock_guard lock(registry_mutex());
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  auto lg = std::make_shared<spdlog::logger>(name, current_sink());
  lg->set_level(default_level());
  // Every line reaches its file at once: lines are few, and nothing may sit in a buffer that
  // a fork would copy.
  lg->flush_on(spdlog::level::trace);
  spdlog::register_logger(lg);
  return lg;
}

void log_to_stderr() {
  use_sink(stderr_sink());
}

void log_to_syslog(const std::string& ident) {
  auto sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(ident, LOG_PID, LOG_DAEMON, true);
  sink->set_pattern(kSyslogPattern);
  use_sink(sink);
}

bool log_to_file(const std::string& path, std::string& error) {
  // Create it with our mode first: spdlog would leave the umask's.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open log file " + path + ": " + std::strerror(errno);
    return false;
  }
  ::close(fd);
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
    sink->set_pattern(kPattern);
    use_sink(sink);
  } catch (const spdlog::spdlog_ex& e) {
    error = "cannot open log file " + path + ": " + e.what();
    return false;
  }
  return true;
}

void set_log_level(spdlog::level::level_enum level) {
  std::lock_guard lock(registry_mutex());
  default_level() = level;
  spdlog::set_level(level);
}

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug" || name == "verbose") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "off" || name == "silent") return spdlog::level::off;
  return std::nullopt;
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
