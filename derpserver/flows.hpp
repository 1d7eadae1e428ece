// SPDX-License-Identifier: MIT
// Flow statistics: one record per directional (source key, destination key) pair seen by
// this server (SEEDS.md "DERP flow tracking"; not in Tailscale's main branch).
//
// A Flow counts packets and bytes delivered locally and forwarded in-region, drops for an
// unknown destination and for a destination that was gone, its creation time and a coarse
// last-activity time (updated at most once a minute). Counters are relaxed atomics bumped on
// the hot path through a pointer each sending connection caches (ClientConn's route cache,
// at most 100 flows per connection), so hot flows never touch the table's lock.
//
// The table is a map plus a vector. Each insertion inspects the next two records of the
// vector round-robin and evicts those idle for longer than the idle timeout (one hour) that
// no connection still caches, so cleanup keeps pace with creation; sweep() does the same in
// small steps from housekeeping when nothing is being created. The table holds at most
// max_flows records; past that, new pairs are counted as refused and go untracked.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/keys.hpp"
#include "base/thread_annotations.hpp"

namespace derpserver {

inline constexpr base::Duration kFlowIdleTimeout = std::chrono::hours(1);
inline constexpr base::Duration kFlowActivityGranularity = std::chrono::minutes(1);
inline constexpr std::size_t kDefaultMaxFlows = 200'000;

struct Flow {
  Flow(const base::NodePublicKey& s, const base::NodePublicKey& d, base::TimePoint now,
       base::WallTime wall)
      : src(s),
        dst(d),
        created(now),
        created_wall(wall),
        last_activity_ns(now.time_since_epoch().count()) {}

  const base::NodePublicKey src;
  const base::NodePublicKey dst;
  const base::TimePoint created;
  const base::WallTime created_wall;
  std::atomic<std::int64_t> last_activity_ns;
  std::atomic<std::uint64_t> packets_local{0};
  std::atomic<std::uint64_t> bytes_local{0};
  std::atomic<std::uint64_t> packets_forwarded{0};
  std::atomic<std::uint64_t> bytes_forwarded{0};
  std::atomic<std::uint64_t> drops_unknown_dest{0};
  std::atomic<std::uint64_t> drops_gone{0};
  std::size_t index = 0;  // position in FlowTable::all_, guarded by the table's mutex

  // Coarse: writes only when the stored time is a minute or more behind `now`.
  void touch(base::TimePoint now) noexcept {
    const std::int64_t n = now.time_since_epoch().count();
    const std::int64_t last = last_activity_ns.load(std::memory_order_relaxed);
    if (n - last >= std::chrono::nanoseconds(kFlowActivityGranularity).count()) {
      last_activity_ns.store(n, std::memory_order_relaxed);
    }
  }
  base::TimePoint last_activity() const noexcept {
    return base::TimePoint(base::Duration(last_activity_ns.load(std::memory_order_relaxed)));
  }
};

struct FlowSnapshot {
  base::NodePublicKey src;
  base::NodePublicKey dst;
  base::WallTime created;
  base::Duration idle{};
  std::uint64_t packets_local = 0;
  std::uint64_t bytes_local = 0;
  std::uint64_t packets_forwarded = 0;
  std::uint64_t bytes_forwarded = 0;
  std::uint64_t drops_unknown_dest = 0;
  std::uint64_t drops_gone = 0;
};

class FlowTable {
 public:
  explicit FlowTable(base::Clock& clock, std::size_t max_flows = kDefaultMaxFlows,
                     base::Duration idle_timeout = kFlowIdleTimeout)
      : clock_(clock), max_flows_(max_flows), idle_timeout_(idle_timeout) {}

  // The flow for (src, dst), created if new; null when the table is full.
  std::shared_ptr<Flow> get(const base::NodePublicKey& src, const base::NodePublicKey& dst)
      EXCLUDES(mu_);
  // Inspects up to `n` records for idle eviction (housekeeping).
  void sweep(std::size_t n) EXCLUDES(mu_);

  std::size_t size() const EXCLUDES(mu_);
  std::uint64_t created() const noexcept { return created_.load(std::memory_order_relaxed); }
  std::uint64_t evicted() const noexcept { return evicted_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  // The `limit` flows with the most bytes (local + forwarded), largest first.
  std::vector<FlowSnapshot> top(std::size_t limit) const EXCLUDES(mu_);

 private:
  struct PairKey {
    base::NodePublicKey src;
    base::NodePublicKey dst;
    friend bool operator==(const PairKey&, const PairKey&) = default;
  };
  struct PairHash {
    std::size_t operator()(const PairKey& k) const noexcept {
      return base::KeyHash{}(k.src) * 31 ^ base::KeyHash{}(k.dst);
    }
  };
  void check_one_locked(base::TimePoint now) REQUIRES(mu_);

  base::Clock& clock_;
  const std::size_t max_flows_;
  const base::Duration idle_timeout_;
  mutable base::Mutex mu_;  // leaf lock
  std::unordered_map<PairKey, std::shared_ptr<Flow>, PairHash> map_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Flow>> all_ GUARDED_BY(mu_);
  std::size_t next_check_ GUARDED_BY(mu_) = 0;
  std::atomic<std::uint64_t> created_{0};
  std::atomic<std::uint64_t> evicted_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace derpserver
