// SPDX-License-Identifier: MIT
// A deliberately naive checksum reference for tests and fuzz targets: RFC 1071 one
// big-endian word at a time and an explicitly built pseudo-header, sharing no code with
// tun/checksum.cpp, so the production code is checked independently.
#pragma once

#include <cstdint>

#include "base/bytes.hpp"

namespace tun::testing {

inline std::uint16_t naive_sum(base::ConstByteSpan d, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i < d.size(); i += 2) {
    std::uint32_t w = std::to_integer<std::uint32_t>(d[i]) << 8;
    if (i + 1 < d.size()) w |= std::to_integer<std::uint32_t>(d[i + 1]);
    acc += w;
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  }
  return static_cast<std::uint16_t>(acc);
}

// True if `p` is an IPv4 (no options needed) or IPv6 packet carrying TCP or UDP whose
// checksums (IPv4 header, L4 over the pseudo-header) are all correct.
inline bool reference_checksums_ok(base::ConstByteSpan p) {
  if (p.empty()) return false;
  const unsigned version = std::to_integer<unsigned>(p[0]) >> 4;
  std::size_t ip_len = 0;
  std::uint8_t proto = 0;
  base::Bytes pseudo;
  if (version == 4) {
    if (p.size() < 20) return false;
    ip_len = (std::to_integer<std::size_t>(p[0]) & 0x0f) * 4;
    if (ip_len < 20 || p.size() < ip_len) return false;
    if (naive_sum(p.first(ip_len)) != 0xffff) return false;
    proto = std::to_integer<std::uint8_t>(p[9]);
    pseudo.assign(p.begin() + 12, p.begin() + 20);
  } else if (version == 6) {
    if (p.size() < 40) return false;
    ip_len = 40;
    proto = std::to_integer<std::uint8_t>(p[6]);
    pseudo.assign(p.begin() + 8, p.begin() + 40);
  } else {
    return false;
  }
  if (proto != 6 && proto != 17) return false;
  const auto l4 = p.subspan(ip_len);
  const auto len = static_cast<std::uint32_t>(l4.size());
  for (const unsigned shift : {24u, 16u, 8u, 0u})
    pseudo.push_back(std::byte((len >> shift) & 0xff));
  for (const std::uint8_t b : {std::uint8_t{0}, std::uint8_t{0}, std::uint8_t{0}, proto}) {
    pseudo.push_back(std::byte{b});
  }
  if (proto == 17 && version == 4 && l4.size() >= 8 && std::to_integer<int>(l4[6]) == 0 &&
      std::to_integer<int>(l4[7]) == 0) {
    return true;  // IPv4 UDP without a checksum
  }
  return naive_sum(l4, naive_sum(pseudo)) == 0xffff;
}

}  // namespace tun::testing
