// SPDX-License-Identifier: MIT
// Why a packet or message was dropped. Every drop bumps exactly one counter (STYLE.md 6).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace wg {

#define WG_DROP_REASONS(X)                                                               \
  X(none)                /* not dropped */                                               \
  X(too_short)           /* datagram shorter than any message */                         \
  X(unknown_type)        /* first 4 bytes are not type 1..4 with zero reserved bytes */  \
  X(bad_length)          /* handshake message of the wrong size */                       \
  X(bad_mac1)            /* mac1 does not verify */                                      \
  X(cookie_required)     /* under load without a valid mac2: answered with a cookie */   \
  X(rate_limited)        /* under load, source over its handshake rate */                \
  X(no_private_key)      /* interface has no private key */                              \
  X(handshake_decrypt)   /* a handshake field failed to decrypt */                       \
  X(unknown_peer)        /* initiation from a static key we do not know */               \
  X(invalid_public_key)  /* X25519 gave the all-zero value */                            \
  X(replayed_initiation) /* TAI64N timestamp not newer than the last accepted */         \
  X(initiation_flood)    /* initiation less than 20 ms after the last one */             \
  X(unknown_index)       /* receiver index names nothing we know */                      \
  X(unexpected_state)    /* response or cookie for a handshake not in the right state */ \
  X(cookie_decrypt)      /* cookie reply failed to open */                               \
  X(keypair_expired)     /* keypair older than REJECT_AFTER_TIME or counter exhausted */ \
  X(bad_tag)             /* transport message failed authentication */                   \
  X(replayed)            /* counter seen before or outside the replay window */          \
  X(invalid_inner)       /* decrypted payload is not a sane IPv4/IPv6 packet */          \
  X(source_not_allowed)  /* inner source address not in the peer's allowed IPs */        \
  X(no_route)            /* no peer's allowed IPs cover the destination */               \
  X(no_endpoint)         /* peer has no endpoint to send to */                           \
  X(no_keypair)          /* staged packets dropped: handshake gave up, or keys zeroed */ \
  X(staging_overflow)    /* per-peer staging queue full: that peer's oldest dropped */   \
  X(staging_full)        /* device-wide staging full: the oldest of any peer dropped */  \
  X(seal_failed)         /* the cipher failed to seal: dropped, never sent */            \
  X(queue_full)          /* a bounded queue was full */                                  \
  X(send_failed)         /* the socket refused the datagram */                           \
  X(too_big)             /* packet does not fit the buffer */

enum class DropReason : std::uint8_t {
#define WG_DROP_ENUM(name) name,
  WG_DROP_REASONS(WG_DROP_ENUM)
#undef WG_DROP_ENUM
      count_
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

std::string_view to_string(DropReason r) noexcept;

// Relaxed atomic counters, one per reason. Written by any thread; read for status output.
class DropCounters {
 public:
  void add(DropReason r, std::uint64_t n = 1) noexcept {
    counts_[static_cast<std::size_t>(r)].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t get(DropReason r) const noexcept {
    return counts_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }
  std::uint64_t total() const noexcept {
    std::uint64_t t = 0;
    for (std::size_t i = 1; i < kDropReasonCount; ++i)
      t += counts_[i].load(std::memory_order_relaxed);
    return t;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kDropReasonCount> counts_{};
};

}  // namespace wg
