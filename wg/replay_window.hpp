// SPDX-License-Identifier: MIT
// Receive-side replay protection for one keypair: the RFC 6479 bitmap that the Linux kernel
// and wireguard-go both use, with the same sizes, so a reordering peer sees identical
// accept/reject decisions from us as from them.
//
// State: `last_`, the highest counter accepted so far (0 for a fresh window), and a ring of
// 8192 bits = 128 words of 64. Word i holds the bits of counter block b (counters
// 64b .. 64b+63) with b mod 128 == i. When a counter above `last_` arrives, the words of the
// blocks between the old and the new top are zeroed (at most the whole ring), so the ring
// always covers the block of `last_` and the 127 blocks before it. The usable window is one
// word smaller than the ring, 8192 - 64 = 8128 counters, so every counter inside the window
// falls in a block that the ring still holds:
//
//   accept(n, limit) is true exactly when
//     n < limit, and
//     n > last_ or last_ - n <= 8128, and
//     n was not accepted before (since construction or the last reset()).
//
// The kernel stores n + 1 so that 0 can mean "nothing seen"; wireguard-go stores n and starts
// from 0. The decisions are the same.
//
// Thread safety: none. The caller serialises all calls for one keypair (the kernel takes a
// spinlock, wireguard-go has one sequential receiver per peer). accept() is called after the
// packet authenticated, never before: an unauthenticated counter must not move the window.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace wg {

class ReplayWindow {
 public:
  static constexpr std::size_t kRingBits = 8192;
  static constexpr std::size_t kWordBits = 64;
  static constexpr std::size_t kRingWords = kRingBits / kWordBits;     // 128
  static constexpr std::uint64_t kWindowSize = kRingBits - kWordBits;  // 8128
  static_assert((kRingWords & (kRingWords - 1)) == 0, "ring index uses a mask");

  // True if `counter` < limit, is inside the window and was not seen before; marks it seen.
  // The data path passes limit = REJECT_AFTER_MESSAGES.
  bool accept(std::uint64_t counter, std::uint64_t limit) noexcept;

  // Back to the state of a new window (nothing seen, last = 0).
  void reset() noexcept;

  // Highest counter accepted so far; 0 when nothing was (for diagnostics and tests).
  std::uint64_t last() const noexcept { return last_; }

 private:
  std::uint64_t last_ = 0;
  std::array<std::uint64_t, kRingWords> ring_{};
};

}  // namespace wg
