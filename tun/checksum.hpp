// SPDX-License-Identifier: MIT
// Internet checksums (RFC 1071) for the TUN offload code: IPv4 header, TCP and UDP over IPv4
// and IPv6 with their pseudo-headers. The one place in meshtun that computes them.
//
// Values are 16-bit one's-complement sums of the bytes taken as big-endian words, returned in
// host order (bytes 0x12 0x34 sum to 0x1234); an odd trailing byte counts as its word's high
// byte. Sums combine with ones_add(); a checksum field holds ~sum (store it with store_be16).
// A packet whose sum over the covered bytes, checksum field included, is 0xffff is correct.
// No allocation, no state: safe from any thread.
#pragma once

#include <cstdint>

#include "base/bytes.hpp"

namespace tun {

// IP protocol numbers used here.
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;

// a + b in one's-complement arithmetic (end-around carry).
constexpr std::uint16_t ones_add(std::uint16_t a, std::uint16_t b) noexcept {
  const std::uint32_t s = std::uint32_t{a} + b;
  return static_cast<std::uint16_t>((s & 0xffff) + (s >> 16));
}

// The folded sum of `data` plus `initial`.
std::uint16_t ones_sum(base::ConstByteSpan data, std::uint16_t initial = 0) noexcept;

// The sum of the TCP/UDP pseudo-header: source and destination addresses (4 or 16 bytes
// each, network order, same length), protocol and the L4 length (header + payload).
std::uint16_t pseudo_header_sum(base::ConstByteSpan src, base::ConstByteSpan dst,
                                std::uint8_t protocol, std::uint32_t l4_length) noexcept;

// Zeroes the checksum field (offset 10) of an IPv4 header (ihl*4 bytes, at least 20) and
// stores the correct value.
void set_ipv4_header_checksum(base::ByteSpan header) noexcept;
bool ipv4_header_checksum_ok(base::ConstByteSpan header) noexcept;

// The checksum value to store in a TCP or UDP header: ~(pseudo + l4 with the field zeroed).
// l4 is the whole L4 segment (header + payload). For UDP, a result of 0 must go on the wire as
// 0xffff (0 means "no checksum" in IPv4); udp_checksum_value() does that.
std::uint16_t l4_checksum(base::ConstByteSpan src, base::ConstByteSpan dst, std::uint8_t protocol,
                          base::ConstByteSpan l4_with_zero_field) noexcept;
inline std::uint16_t udp_checksum_value(std::uint16_t computed) noexcept {
  return computed == 0 ? 0xffff : computed;
}
// True if the L4 checksum in `l4` (field in place) is correct for this pseudo-header.
bool l4_checksum_ok(base::ConstByteSpan src, base::ConstByteSpan dst, std::uint8_t protocol,
                    base::ConstByteSpan l4) noexcept;

}  // namespace tun
