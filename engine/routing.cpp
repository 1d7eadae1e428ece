// SPDX-License-Identifier: MIT
#include "engine/routing.hpp"

namespace engine {

namespace {
// IPv4: source at 12, destination at 16; IPv6: source at 8, destination at 24.
template <bool kDestination>
wg::Peer* lookup(const wg::AllowedIps<wg::Peer*>& table, base::ConstByteSpan p) noexcept {
  if (p.empty()) return nullptr;
  const unsigned version = static_cast<unsigned>(p[0]) >> 4;
  wg::Peer* const* hit = nullptr;
  if (version == 4 && p.size() >= 20) {
    hit = table.lookup_v4(p.subspan(kDestination ? 16 : 12).first<4>());
  } else if (version == 6 && p.size() >= 40) {
    hit = table.lookup_v6(p.subspan(kDestination ? 24 : 8).first<16>());
  }
  return hit ? *hit : nullptr;
}
}  // namespace

wg::Peer* Routing::by_destination(base::ConstByteSpan packet) const noexcept {
  return lookup<true>(table, packet);
}

wg::Peer* Routing::by_source(base::ConstByteSpan packet) const noexcept {
  return lookup<false>(table, packet);
}

}  // namespace engine
