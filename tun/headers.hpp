// SPDX-License-Identifier: MIT
// Named offsets into the IPv4, IPv6, TCP and UDP headers that the TUN offload code reads and
// patches (RFC 791, 8200, 9293, 768). All multi-byte fields are big-endian; read and write
// them with base::load_be16/store_be16 and friends at these offsets.
//
//  IPv4 (20 bytes without options)          IPv6 (40 bytes)
//   0 ver|ihl  1 tos  2-3 total length        0-3 ver|tc|flow label
//   4-5 id     6-7 flags|fragment offset      4-5 payload length  6 next header  7 hop limit
//   8 ttl      9 protocol  10-11 checksum     8-23 source  24-39 destination
//  12-15 source  16-19 destination
//
//  TCP (20..60 bytes)                        UDP (8 bytes)
//   0-1 sport  2-3 dport  4-7 seq  8-11 ack   0-1 sport  2-3 dport  4-5 length  6-7 checksum
//  12 data offset<<4  13 flags  14-15 window
//  16-17 checksum  18-19 urgent  20.. options
#pragma once

#include <cstddef>
#include <cstdint>

namespace tun::hdr {

// IPv4
inline constexpr std::size_t kIpv4MinLen = 20;
inline constexpr std::size_t kIpv4VersionIhl = 0;
inline constexpr std::size_t kIpv4Tos = 1;
inline constexpr std::size_t kIpv4TotalLen = 2;
inline constexpr std::size_t kIpv4Id = 4;
inline constexpr std::size_t kIpv4FlagsFrag = 6;
inline constexpr std::size_t kIpv4Ttl = 8;
inline constexpr std::size_t kIpv4Protocol = 9;
inline constexpr std::size_t kIpv4Checksum = 10;
inline constexpr std::size_t kIpv4Src = 12;
inline constexpr std::size_t kIpv4Dst = 16;
inline constexpr std::size_t kIpv4AddrLen = 4;
inline constexpr std::uint16_t kIpv4FlagDf = 0x4000;
inline constexpr std::uint16_t kIpv4FlagMf = 0x2000;
inline constexpr std::uint16_t kIpv4FragOffsetMask = 0x1fff;

// IPv6
inline constexpr std::size_t kIpv6Len = 40;
inline constexpr std::size_t kIpv6PayloadLen = 4;
inline constexpr std::size_t kIpv6NextHeader = 6;
inline constexpr std::size_t kIpv6HopLimit = 7;
inline constexpr std::size_t kIpv6Src = 8;
inline constexpr std::size_t kIpv6Dst = 24;
inline constexpr std::size_t kIpv6AddrLen = 16;
static_assert(kIpv6Dst + kIpv6AddrLen == kIpv6Len);
static_assert(kIpv4Dst + kIpv4AddrLen == kIpv4MinLen);

// TCP
inline constexpr std::size_t kTcpMinLen = 20;
inline constexpr std::size_t kTcpMaxLen = 60;
inline constexpr std::size_t kTcpSeq = 4;
inline constexpr std::size_t kTcpAck = 8;
inline constexpr std::size_t kTcpDataOffset = 12;
inline constexpr std::size_t kTcpFlags = 13;
inline constexpr std::size_t kTcpChecksum = 16;
inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAckFlag = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;
inline constexpr std::uint8_t kTcpEce = 0x40;
inline constexpr std::uint8_t kTcpCwr = 0x80;

// UDP
inline constexpr std::size_t kUdpLen = 8;
inline constexpr std::size_t kUdpLength = 4;
inline constexpr std::size_t kUdpChecksum = 6;

// Common to TCP and UDP.
inline constexpr std::size_t kSrcPort = 0;
inline constexpr std::size_t kDstPort = 2;

}  // namespace tun::hdr
