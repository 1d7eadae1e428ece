// SPDX-License-Identifier: MIT
// Time. Protocol code (wg/) takes `now` as an argument; everything else takes a Clock&, so
// tests drive time with base::testing::ManualClock and never sleep waiting for a timer.
#pragma once

#include <chrono>

namespace base {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;  // monotonic
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;   // for people

using namespace std::chrono_literals;

// Thread safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
  virtual WallTime wall() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const noexcept override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  WallTime wall() const noexcept override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
  static SystemClock& instance() noexcept {
    static SystemClock clock;
    return clock;
  }
};

inline double to_seconds(Duration d) noexcept {
  return std::chrono::duration<double>(d).count();
}

}  // namespace base
