// SPDX-License-Identifier: MIT
// Shard: one io_context (one thread) and the streams it owns. There is one per core in
// meshtun-derper; tests run a single shard on the test thread.
//
// Housekeeping (keepalives, write timeouts, handshake deadlines, rate-limit resumes) is one
// walk over the shard's streams with the clock's time, run every kHousekeepingPeriod by a
// real timer, or on demand by housekeep_now() when a test has advanced a manual clock.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "derpserver/metrics.hpp"

namespace derpserver {

class Stream;

inline constexpr base::Duration kHousekeepingPeriod = std::chrono::milliseconds(500);
// One read's worth: about 45 packets of 1,400 bytes. Reads are kept this small (and two per
// wake-up) so that writers get to run between them: a reader that pulled in hundreds of
// packets at once for one destination would overflow that destination's 32-packet queue
// before its writer (possibly on another shard) had a chance to drain it.
inline constexpr std::size_t kScratchSize = 64 * 1024;

class Shard {
 public:
  Shard(boost::asio::io_context& io, std::size_t index, base::Clock& clock);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  boost::asio::io_context& io() const noexcept { return io_; }
  std::size_t index() const noexcept { return index_; }
  base::Clock& clock() const noexcept { return clock_; }
  ShardCounters& counters() noexcept { return counters_; }
  const ShardCounters& counters() const noexcept { return counters_; }
  // Owner thread only: the read buffer every stream of this shard reads into.
  base::ByteSpan scratch() noexcept { return {scratch_.get(), kScratchSize}; }
  // Time as of the last housekeeping pass: cheap, for coarse bookkeeping (flow activity).
  base::TimePoint coarse_now() const noexcept {
    return base::TimePoint(base::Duration(coarse_now_ns_.load(std::memory_order_relaxed)));
  }

  // Owner thread only.
  void add(Stream* s) noexcept;
  void remove(Stream* s) noexcept;
  std::size_t stream_count() const noexcept { return count_; }
  void housekeep();
  // Closes every stream of this shard.
  void close_all(std::string_view reason);
  // Calls f(Stream&) for each stream (owner thread).
  template <class F, class S = Stream>  // S: Stream, complete where this is used
  void for_each(F&& f) {
    for (S* s = head_; s != nullptr; s = s->shard_next_) f(*s);
  }
  // Extra work for each housekeeping pass (the server's mesh links hook in here).
  void set_tick_hook(std::function<void(base::TimePoint)> hook) { tick_hook_ = std::move(hook); }

  // Starts the periodic timer (production); any thread.
  void start_timer();
  void stop_timer();
  // Posts one housekeeping pass (tests, after advancing a manual clock); any thread.
  void housekeep_now();

  static std::uint64_t next_stream_id() noexcept;

 private:
  void arm_timer();

  boost::asio::io_context& io_;
  const std::size_t index_;
  base::Clock& clock_;
  ShardCounters counters_;
  std::unique_ptr<std::byte[]> scratch_;
  std::atomic<std::int64_t> coarse_now_ns_{0};
  Stream* head_ = nullptr;
  std::size_t count_ = 0;
  boost::asio::steady_timer timer_;
  std::atomic<bool> timer_running_{false};
  std::function<void(base::TimePoint)> tick_hook_;
};

}  // namespace derpserver
