// SPDX-License-Identifier: MIT
// Per-source token bucket for handshake messages while the device is "under load".
//
// When the handshake queue is under load, an initiation or response that carries a valid
// mac2 (proof that the sender can receive at its source address) still has to pass this
// limiter, keyed by that source address, before any Diffie-Hellman work is done for it.
//
// Arithmetic (wireguard-go ratelimiter.go, kept exactly): tokens are nanoseconds of credit.
// One packet costs 1 s / 20 = 50 ms; the bucket holds at most 5 packets = 250 ms. A new
// source is admitted and starts with 250 ms - 50 ms. Each later packet first adds the time
// since that source's previous packet (capped at 250 ms), then is admitted only if the
// credit is strictly greater than 50 ms, which it then pays. Consequence of "strictly":
// at a single frozen instant a new source gets 4 packets, not 5; with any time at all
// between them (1 ns is enough, which is how wireguard-go's own test steps) it gets 5, and
// after that one packet per 50 ms. The kernel compares with >= and admits 5 at one instant;
// with a real clock the two are indistinguishable.
//
// Keys (the kernel's choice, stricter than wireguard-go's per-address one): an IPv4 source
// by its address; an IPv6 source by its /64, since one host usually owns a whole /64. An
// IPv4-mapped IPv6 source (from a dual-stack socket) counts as the IPv4 address; without
// that every IPv4 sender would share the bucket of ::ffff:0:0/64.
//
// Table: at most max_entries sources; a new source arriving at a full table is refused
// (counted in stats().table_full) until collect() frees room. collect(now), called by the
// owner about once a second, drops sources idle for more than 1 s. Their bucket would be full
// again by then, and a full bucket that pays for a packet is in the same state as a new entry,
// so forgetting them changes no decision.
// The hash is SipHash with a random key, so an attacker cannot pick sources that collide.
//
// Time is passed in (monotonic). Thread safety: every member function may be called from
// several threads at once; one mutex guards the table (handshake path only, never per data
// packet).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "base/clock.hpp"
#include "base/ip.hpp"
#include "base/thread_annotations.hpp"

namespace wg {

class RateLimiter {
 public:
  static constexpr std::int64_t kPacketsPerSecond = 20;
  static constexpr std::int64_t kPacketsBurstable = 5;
  static constexpr base::Duration kPacketCost =
      std::chrono::duration_cast<base::Duration>(std::chrono::seconds(1)) / kPacketsPerSecond;
  static constexpr base::Duration kMaxTokens = kPacketCost * kPacketsBurstable;
  static constexpr base::Duration kGarbageCollectTime = std::chrono::seconds(1);
  static constexpr std::size_t kDefaultMaxEntries = 16384;
  static_assert(kPacketCost == std::chrono::milliseconds(50));

  struct Stats {
    std::uint64_t allowed = 0;     // packets admitted
    std::uint64_t limited = 0;     // packets refused because the source's bucket was empty
    std::uint64_t table_full = 0;  // packets refused because a new source found no room
  };

  explicit RateLimiter(std::size_t max_entries = kDefaultMaxEntries);

  // Whether a handshake message from `source` may be processed now; charges its bucket.
  // A source without a family is refused.
  bool allow(const base::IpAddr& source, base::TimePoint now);

  // Forgets sources whose last packet is more than 1 s before `now`.
  void collect(base::TimePoint now);

  // Sources currently tracked.
  std::size_t size() const noexcept;
  Stats stats() const noexcept;

 private:
  struct Key {
    std::uint64_t bits = 0;  // IPv4 address, or the top 64 bits of an IPv6 address
    bool v6 = false;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::array<unsigned char, 16> secret;  // SipHash-2-4 key, random per limiter
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Entry {
    base::TimePoint last;
    base::Duration tokens;
  };

  static bool make_key(const base::IpAddr& source, Key& out) noexcept;

  const std::size_t max_entries_;
  mutable base::Mutex mu_;  // guards everything below; taken alone, no lock order
  std::unordered_map<Key, Entry, KeyHash> table_ GUARDED_BY(mu_);
  Stats stats_ GUARDED_BY(mu_);
};

}  // namespace wg
