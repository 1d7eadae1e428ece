// SPDX-License-Identifier: MIT
// The 10-byte virtio_net_hdr that starts every read and write on a TUN opened with
// IFF_VNET_HDR (fact sheet 13.3), and the TUNSETOFFLOAD bits.
//
//   0      1         2-3      4-5       6-7         8-9
//   flags  gso_type  hdr_len  gso_size  csum_start  csum_offset
//
// The 16-bit fields are little-endian ("virtio16" in the legacy layout on x86; meshtun runs on
// little-endian hosts and never calls TUNSETVNETBE). <linux/virtio_net.h> cannot be included
// from C++ (a field is named `class`), and Debian 12's 6.1 headers lack TUN_F_USO4/6 and
// VIRTIO_NET_HDR_GSO_UDP_L4, so the values are spelled out here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.hpp"

namespace tun {

// TUNSETOFFLOAD bits (linux/if_tun.h).
inline constexpr unsigned kTunFCsum = 0x01;
inline constexpr unsigned kTunFTso4 = 0x02;
inline constexpr unsigned kTunFTso6 = 0x04;
inline constexpr unsigned kTunFTsoEcn = 0x08;
inline constexpr unsigned kTunFUso4 = 0x20;  // Linux 6.2
inline constexpr unsigned kTunFUso6 = 0x40;  // Linux 6.2

struct VnetHdr {
  static constexpr std::size_t kSize = 10;
  // Field offsets.
  static constexpr std::size_t kFlags = 0;
  static constexpr std::size_t kGsoType = 1;
  static constexpr std::size_t kHdrLen = 2;
  static constexpr std::size_t kGsoSize = 4;
  static constexpr std::size_t kCsumStart = 6;
  static constexpr std::size_t kCsumOffset = 8;
  static_assert(kCsumOffset + 2 == kSize);

  // flags
  static constexpr std::uint8_t kNeedsCsum = 1;
  static constexpr std::uint8_t kDataValid = 2;
  // gso_type
  static constexpr std::uint8_t kGsoNone = 0;
  static constexpr std::uint8_t kGsoTcpV4 = 1;
  static constexpr std::uint8_t kGsoUdp = 3;  // obsolete UFO: rejected
  static constexpr std::uint8_t kGsoTcpV6 = 4;
  static constexpr std::uint8_t kGsoUdpL4 = 5;  // USO, IPv4 and IPv6 (Linux 6.2)
  static constexpr std::uint8_t kGsoEcn = 0x80;
  // csum_offset values
  static constexpr std::uint16_t kTcpCsumOffset = 16;
  static constexpr std::uint16_t kUdpCsumOffset = 6;

  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;

  // b.size() >= kSize.
  static VnetHdr load(base::ConstByteSpan b) noexcept {
    VnetHdr h;
    h.flags = std::to_integer<std::uint8_t>(b[kFlags]);
    h.gso_type = std::to_integer<std::uint8_t>(b[kGsoType]);
    h.hdr_len = base::load_le16(b.subspan(kHdrLen));
    h.gso_size = base::load_le16(b.subspan(kGsoSize));
    h.csum_start = base::load_le16(b.subspan(kCsumStart));
    h.csum_offset = base::load_le16(b.subspan(kCsumOffset));
    return h;
  }
  void store(base::ByteSpan b) const noexcept {
    b[kFlags] = std::byte{flags};
    b[kGsoType] = std::byte{gso_type};
    base::store_le16(b.subspan(kHdrLen), hdr_len);
    base::store_le16(b.subspan(kGsoSize), gso_size);
    base::store_le16(b.subspan(kCsumStart), csum_start);
    base::store_le16(b.subspan(kCsumOffset), csum_offset);
  }
  friend bool operator==(const VnetHdr&, const VnetHdr&) = default;
};

}  // namespace tun
