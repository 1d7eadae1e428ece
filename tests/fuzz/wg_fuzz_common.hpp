// SPDX-License-Identifier: MIT
// Shared set-up for the WireGuard fuzz targets: one established device pair, built once.
#pragma once

#include <cstdlib>

#include "wg/messages.hpp"
#include "wg/testing/device_pair.hpp"

namespace fuzz {

inline wg::testing::DevicePair& established_pair() {
  static wg::testing::DevicePair* pair = [] {
    auto* p = new wg::testing::DevicePair(true);
    p->a.send(wg::testing::ipv4_packet("seed"));
    p->settle();
    return p;
  }();
  return *pair;
}

// Aborts (a finding) when parse -> write -> parse does not give the same value and bytes.
template <class Msg, std::size_t N, class Parse, class Write>
void check_round_trip(base::ConstByteSpan data, Parse parse, Write write) {
  const std::optional<Msg> m = parse(data);
  if (!m) return;
  std::array<std::byte, N> out{};
  write(*m, std::span<std::byte, N>(out));
  if (!base::equal_bytes(out, data)) std::abort();
  const std::optional<Msg> again = parse(out);
  if (!again || !(*again == *m)) std::abort();
}

}  // namespace fuzz
