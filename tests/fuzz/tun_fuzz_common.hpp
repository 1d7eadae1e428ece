// SPDX-License-Identifier: MIT
// Helpers shared by the TUN offload fuzz targets.
#pragma once

#include <array>
#include <cstdlib>
#include <vector>

#include "base/bytes.hpp"
#include "tun/gro.hpp"
#include "tun/gso_split.hpp"

namespace tun::fuzz {

// Aborts with a message libFuzzer shows; for invariants that must hold.
#define TUN_FUZZ_CHECK(cond)                                                             \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// The packet with the fields merging does not compare (so a split may change them) zeroed:
// IPv4 ID and header checksum, IPv6 flow label, TCP window, checksum and urgent pointer, UDP
// checksum.
inline base::Bytes normalized(base::ConstByteSpan in) {
  base::Bytes p(in.begin(), in.end());
  if (p.empty()) return p;
  const unsigned version = std::to_integer<unsigned>(p[0]) >> 4;
  std::size_t ip = 0;
  int proto = -1;
  if (version == 4 && p.size() >= 20) {
    ip = (std::to_integer<std::size_t>(p[0]) & 0x0f) * 4;
    proto = std::to_integer<int>(p[9]);
    for (const std::size_t i : {4u, 5u, 10u, 11u}) p[i] = std::byte{0};
  } else if (version == 6 && p.size() >= 40) {
    ip = 40;
    proto = std::to_integer<int>(p[6]);
    p[1] &= std::byte{0xf0};
    p[2] = p[3] = std::byte{0};
  }
  if (proto == 6 && p.size() >= ip + 20) {
    for (const std::size_t i : {14u, 15u, 16u, 17u, 18u, 19u}) p[ip + i] = std::byte{0};
  } else if (proto == 17 && p.size() >= ip + 8) {
    p[ip + 6] = p[ip + 7] = std::byte{0};
  }
  return p;
}

// Gathers group g of t (over `packets`) into the virtio header and IP packet the kernel
// would receive.
inline std::pair<VnetHdr, base::Bytes> gather(const GroTable& t, std::size_t g,
                                              std::span<const base::ConstByteSpan> packets) {
  std::array<std::byte, GroTable::kMaxHeader> hdr{};
  const std::size_t hl = t.build_header(g, hdr);
  base::Bytes pkt(hdr.begin() + VnetHdr::kSize, hdr.begin() + static_cast<std::ptrdiff_t>(hl));
  for (std::uint16_t i = t.first_packet(g); i != GroTable::kEnd; i = t.next_packet(i)) {
    const auto payload = packets[i].subspan(t.payload_offset(i));
    pkt.insert(pkt.end(), payload.begin(), payload.end());
  }
  return {VnetHdr::load(hdr), pkt};
}

// Every merged group of t splits back into its members (up to the fields merging ignores).
inline void check_groups_split_back(const GroTable& t,
                                    std::span<const base::ConstByteSpan> packets) {
  for (std::size_t g = 0; g < t.group_count(); ++g) {
    if (t.packet_count(g) < 2) continue;
    const auto [h, pkt] = gather(t, g, packets);
    GsoPlan plan;
    TUN_FUZZ_CHECK(plan_gso(h, pkt, plan) == OffloadError::none);
    TUN_FUZZ_CHECK(plan.segments == t.packet_count(g));
    TUN_FUZZ_CHECK(pkt.size() <= GroTable::kMaxLength);
    std::size_t k = 0;
    for (std::uint16_t i = t.first_packet(g); i != GroTable::kEnd; i = t.next_packet(i), ++k) {
      base::Bytes seg(plan.segment_length(k));
      write_segment(plan, pkt, k, seg);
      TUN_FUZZ_CHECK(normalized(seg) == normalized(packets[i]));
    }
  }
}

}  // namespace tun::fuzz
