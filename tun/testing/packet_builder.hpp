// SPDX-License-Identifier: MIT
// Builds IPv4/IPv6 TCP and UDP packets with correct lengths and checksums, for tests of the
// TUN code and of the engine (with ChannelTun). Header-only; allocates (tests only).
#pragma once

#include <cstdint>

#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "tun/checksum.hpp"
#include "tun/headers.hpp"

namespace tun::testing {

struct PacketSpec {
  base::IpAddr src;
  base::IpAddr dst;  // same family as src
  std::uint8_t protocol = kProtoUdp;
  std::uint16_t sport = 1000;
  std::uint16_t dport = 2000;
  // IP header
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;  // IPv4 TOS / IPv6 traffic class
  std::uint16_t ip_id = 0;
  bool df = true;
  // TCP only
  std::uint32_t seq = 1;
  std::uint32_t ack = 1;
  std::uint8_t tcp_flags = hdr::kTcpAckFlag;
  std::uint16_t window = 65535;
  base::Bytes tcp_options;  // a multiple of 4 bytes, at most 40
  base::Bytes payload;
};

// A pattern payload: byte i is (seed + i) mod 251.
inline base::Bytes pattern(std::size_t n, unsigned seed = 0) {
  base::Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = std::byte((seed + i) % 251);
  return b;
}

inline base::Bytes build_packet(const PacketSpec& s) {
  const bool v4 = s.src.is_v4();
  const std::size_t ip_len = v4 ? hdr::kIpv4MinLen : hdr::kIpv6Len;
  const std::size_t l4_hdr =
      s.protocol == kProtoTcp ? hdr::kTcpMinLen + s.tcp_options.size() : hdr::kUdpLen;
  const std::size_t l4_len = l4_hdr + s.payload.size();
  base::Bytes p(ip_len + l4_len);
  base::ByteSpan b(p);
  if (v4) {
    b[hdr::kIpv4VersionIhl] = std::byte{0x45};
    b[hdr::kIpv4Tos] = std::byte{s.tos};
    base::store_be16(b.subspan(hdr::kIpv4TotalLen), static_cast<std::uint16_t>(p.size()));
    base::store_be16(b.subspan(hdr::kIpv4Id), s.ip_id);
    base::store_be16(b.subspan(hdr::kIpv4FlagsFrag), s.df ? hdr::kIpv4FlagDf : 0);
    b[hdr::kIpv4Ttl] = std::byte{s.ttl};
    b[hdr::kIpv4Protocol] = std::byte{s.protocol};
    base::copy_into(b.subspan(hdr::kIpv4Src), s.src.bytes());
    base::copy_into(b.subspan(hdr::kIpv4Dst), s.dst.bytes());
    set_ipv4_header_checksum(b.first(hdr::kIpv4MinLen));
  } else {
    base::store_be32(b, 0x60000000u | (std::uint32_t{s.tos} << 20));
    base::store_be16(b.subspan(hdr::kIpv6PayloadLen), static_cast<std::uint16_t>(l4_len));
    b[hdr::kIpv6NextHeader] = std::byte{s.protocol};
    b[hdr::kIpv6HopLimit] = std::byte{s.ttl};
    base::copy_into(b.subspan(hdr::kIpv6Src), s.src.bytes());
    base::copy_into(b.subspan(hdr::kIpv6Dst), s.dst.bytes());
  }
  base::ByteSpan l4 = b.subspan(ip_len);
  base::store_be16(l4.subspan(hdr::kSrcPort), s.sport);
  base::store_be16(l4.subspan(hdr::kDstPort), s.dport);
  if (s.protocol == kProtoTcp) {
    base::store_be32(l4.subspan(hdr::kTcpSeq), s.seq);
    base::store_be32(l4.subspan(hdr::kTcpAck), s.ack);
    l4[hdr::kTcpDataOffset] = std::byte(static_cast<std::uint8_t>((l4_hdr / 4) << 4));
    l4[hdr::kTcpFlags] = std::byte{s.tcp_flags};
    base::store_be16(l4.subspan(14), s.window);
    base::copy_into(l4.subspan(hdr::kTcpMinLen), s.tcp_options);
  } else {
    base::store_be16(l4.subspan(hdr::kUdpLength), static_cast<std::uint16_t>(l4_len));
  }
  base::copy_into(l4.subspan(l4_hdr), s.payload);
  std::uint16_t c = l4_checksum(s.src.bytes(), s.dst.bytes(), s.protocol, l4);
  if (s.protocol == kProtoUdp) c = udp_checksum_value(c);
  base::store_be16(l4.subspan(s.protocol == kProtoTcp ? hdr::kTcpChecksum : hdr::kUdpChecksum), c);
  return p;
}

}  // namespace tun::testing
