// SPDX-License-Identifier: MIT
// Counter: a statistic with one writer thread and any number of readers.
//
// The writer bumps it with a relaxed load and store (no locked read-modify-write on the hot
// path); readers on other threads (metrics, `wg show`) see a value that is at most a little
// stale. Two threads must never add() to the same Counter: give each worker its own and sum
// them when reading.
#pragma once

#include <atomic>
#include <cstdint>

namespace base {

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace base
