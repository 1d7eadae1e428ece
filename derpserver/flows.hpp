// SPDX-License-Identifier: MIT
// Flow statistics: one record per directional (source key, destination key) pair seen by
// this server (SEEDS.md "DERP flow tracking"; not in Tailscale's main branch).
//
// A Flow counts packets and bytes delivered locally and forwarded in-region, drops for a
// destination that left (unknown since) and for a destination that was gone, its creation
// time and a coarse last-activity time (updated at most once a minute). Counters are relaxed
// atomics bumped on the hot path through a pointer each sending connection caches
// (ClientConn's route cache, at most 100 flows per connection), so hot flows never touch the
// table's locks. Callers ask for records only for destinations that exist (connected here or
// on a mesh peer): packets to unknown keys are counted as drops, never as flows.
//
// Both keys are chosen by whoever sends, so the table must not be a hash-flooding target:
// pairs are hashed with SipHash-2-4 (libsodium's crypto_shorthash) over all 64 bytes, keyed
// by a random key drawn per table. The table is split into kFlowStripes stripes by source,
// each a map plus a vector under its own mutex; one source holds at most max_per_source
// records (kDefaultMaxFlowsPerSource), further pairs from it are counted as refused and go
// untracked. Each insertion inspects the next two records of its stripe round-robin and
// evicts those idle for longer than the idle timeout (one hour) that no connection still
// caches, so cleanup keeps pace with creation; sweep() does the same in small steps from
// housekeeping when nothing is being created. The table holds at most max_flows records in
// all; an insertion into a full table first inspects two records in every other stripe,
// and if still full, the pair is counted as refused and goes untracked.
//
// top() (scrapes of /metrics and /debug/flows) copies kFlowScrapeChunk records per lock hold
// and sorts with no lock held, so a scrape of a full table does not stall a connection that
// needs a new record. A record that an eviction moves during a scrape may be left out of it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
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
// Records one source may hold: more destinations than a client of a large tailnet reaches
// through one relay, far fewer than the table holds.
inline constexpr std::size_t kDefaultMaxFlowsPerSource = 4096;
inline constexpr std::size_t kFlowStripes = 16;
inline constexpr std::size_t kFlowScrapeChunk = 256;  // records copied per lock hold

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
  std::size_t index = 0;  // position in its stripe's vector, guarded by the stripe's mutex

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

// Thread safety: every member may be called from any thread.
class FlowTable {
 public:
  explicit FlowTable(base::Clock& clock, std::size_t max_flows = kDefaultMaxFlows,
                     base::Duration idle_timeout = kFlowIdleTimeout,
                     std::size_t max_per_source = kDefaultMaxFlowsPerSource);

  // The flow for (src, dst), created if new; null when the table is full or `src` already
  // holds max_per_source records.
  std::shared_ptr<Flow> get(const base::NodePublicKey& src, const base::NodePublicKey& dst);
  // Inspects up to `n` records for idle eviction (housekeeping).
  void sweep(std::size_t n);

  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }
  std::uint64_t created() const noexcept { return created_.load(std::memory_order_relaxed); }
  std::uint64_t evicted() const noexcept { return evicted_.load(std::memory_order_relaxed); }
  // Pairs not tracked because the table was full.
  std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  // Pairs not tracked because their source held max_per_source records.
  std::uint64_t refused_per_source() const noexcept {
    return refused_per_source_.load(std::memory_order_relaxed);
  }
  // The `limit` flows with the most bytes (local + forwarded), largest first.
  std::vector<FlowSnapshot> top(std::size_t limit) const;
  // Tests: the most records in any one hash bucket.
  std::size_t largest_bucket() const;
  // Tests: called by top() after each lock hold, with no lock held. Set before any use.
  void set_scrape_pause_for_test(std::function<void()> f) { scrape_pause_ = std::move(f); }

 private:
  using HashKey = std::array<unsigned char, 16>;  // crypto_shorthash_KEYBYTES
  // The pair and its SipHash-2-4 under the table's key, computed once (pair_key()): the map
  // needs the hash again on every rehash and bucket walk.
  struct PairKey {
    base::NodePublicKey src;
    base::NodePublicKey dst;
    std::size_t hash = 0;
    friend bool operator==(const PairKey&, const PairKey&) = default;
  };
  struct PairHash {
    std::size_t operator()(const PairKey& k) const noexcept { return k.hash; }
  };
  struct SourceHash {
    const HashKey* key;
    std::size_t operator()(const base::NodePublicKey& k) const noexcept;
  };
  struct Stripe {
    explicit Stripe(const HashKey* key) : per_source(16, SourceHash{key}) {}
    mutable base::Mutex mu;  // leaf lock; guards the members below
    std::unordered_map<PairKey, std::shared_ptr<Flow>, PairHash> map GUARDED_BY(mu);
    std::vector<std::shared_ptr<Flow>> all GUARDED_BY(mu);
    std::unordered_map<base::NodePublicKey, std::size_t, SourceHash> per_source GUARDED_BY(mu);
    std::size_t next_check GUARDED_BY(mu) = 0;
  };
  PairKey pair_key(const base::NodePublicKey& src, const base::NodePublicKey& dst) const noexcept;
  Stripe& stripe_for(const base::NodePublicKey& src) const noexcept;
  void check_one_locked(Stripe& s, base::TimePoint now) REQUIRES(s.mu);

  base::Clock& clock_;
  const std::size_t max_flows_;
  const base::Duration idle_timeout_;
  const std::size_t max_per_source_;
  HashKey hash_key_{};                            // random, set in the constructor, then read-only
  std::vector<std::unique_ptr<Stripe>> stripes_;  // kFlowStripes, fixed after construction
  std::function<void()> scrape_pause_;            // tests only
  std::atomic<std::size_t> next_sweep_{0};        // first stripe of the next sweep()
  std::atomic<std::size_t> count_{0};             // records in all stripes
  std::atomic<std::uint64_t> created_{0};
  std::atomic<std::uint64_t> evicted_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> refused_per_source_{0};
};

}  // namespace derpserver
