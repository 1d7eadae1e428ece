// SPDX-License-Identifier: MIT
// TAI64N timestamps for handshake initiations (fact sheet section 5): 8-byte BE
// 0x400000000000000a + unix seconds, then 4-byte BE nanoseconds rounded down to a multiple
// of 2^24 so the timestamp does not reveal a precise clock. Byte-wise comparison is numeric.
#pragma once

#include <array>
#include <cstddef>

#include "base/clock.hpp"

namespace wg {

using Tai64n = std::array<std::byte, 12>;

Tai64n tai64n(base::WallTime t) noexcept;

// True if a is strictly later than b.
inline bool tai64n_after(const Tai64n& a, const Tai64n& b) noexcept {
  return a > b;
}

}  // namespace wg
