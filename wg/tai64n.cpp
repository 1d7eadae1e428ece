// SPDX-License-Identifier: MIT
#include "wg/tai64n.hpp"

#include "base/bytes.hpp"

namespace wg {

Tai64n tai64n(base::WallTime t) noexcept {
  constexpr std::uint64_t kBase = 0x400000000000000aull;
  constexpr std::uint32_t kWhitenerMask = 0x1000000u - 1;  // 2^24 - 1
  const auto since = t.time_since_epoch();
  const auto secs = std::chrono::floor<std::chrono::seconds>(since);
  const auto nanos = static_cast<std::uint32_t>((since - secs).count());
  Tai64n out;
  base::store_be64(out, kBase + static_cast<std::uint64_t>(secs.count()));
  base::store_be32(std::span(out).subspan(8), nanos & ~kWhitenerMask);
  return out;
}

}  // namespace wg
