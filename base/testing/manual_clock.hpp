// SPDX-License-Identifier: MIT
// A clock that moves only when a test says so. Not thread safe; tests advance it between steps.
#pragma once

#include "base/clock.hpp"

namespace base::testing {

class ManualClock final : public Clock {
 public:
  // Starts at an arbitrary non-zero monotonic time and at 2023-11-14 22:13:20 UTC wall time.
  ManualClock() : now_(TimePoint(1000s)), wall_(WallTime(1'700'000'000s)) {}

  TimePoint now() const noexcept override { return now_; }
  WallTime wall() const noexcept override { return wall_; }

  void advance(Duration d) noexcept {
    now_ += d;
    wall_ += d;
  }
  void set_wall(WallTime w) noexcept { wall_ = w; }

 private:
  TimePoint now_;
  WallTime wall_;
};

}  // namespace base::testing
