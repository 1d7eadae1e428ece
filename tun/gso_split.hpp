// SPDX-License-Identifier: MIT
// The read side of TUN offloads (fact sheet 13.4): what to do with a packet read together
// with its virtio_net_hdr.
//
//  - gso_type NONE with NEEDS_CSUM: complete_checksum() finishes the L4 checksum in place.
//  - TCPV4 / TCPV6 / UDP_L4 super-packets: plan_gso() validates the header against the packet
//    (never trusting hdr_len, which the kernel may set to the whole first packet) and
//    write_segment() writes segment i as a complete packet: IP header with its length (and,
//    for IPv4, ID + i and a fresh header checksum), TCP sequence advanced by i * gso_size
//    with FIN/PSH only on the last segment (CWR only on the first when ECN is set), or UDP
//    length; the L4 checksum is computed from scratch.
//
// Pure functions over spans: no allocation, no state, any thread. Every input is untrusted:
// a bad header yields an OffloadError, never a read outside the span.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.hpp"
#include "tun/virtio_hdr.hpp"

namespace tun {

enum class OffloadError : std::uint8_t {
  none = 0,
  too_short,         // shorter than the headers it claims
  bad_ip_version,    // not 4 or 6
  bad_gso_type,      // unknown, or the obsolete UFO
  version_mismatch,  // TCPV4 on IPv6, TCPV6 on IPv4
  bad_protocol,      // IP protocol is not the one the GSO type says
  fragment,          // an IPv4 fragment cannot be a super-packet
  bad_length,        // IP/UDP length fields disagree with the bytes read, or no payload
  bad_csum_offsets,  // csum_start/csum_offset not at the L4 header's checksum
  bad_tcp_header,    // TCP data offset outside 20..60 bytes
  bad_gso_size,      // zero
};
const char* to_string(OffloadError e) noexcept;

// NEEDS_CSUM without GSO: the field at csum_start + csum_offset holds the pseudo-header sum;
// sum from csum_start to the end, complement, store (UDP: 0 is sent as 0xffff).
OffloadError complete_checksum(const VnetHdr& h, base::ByteSpan packet) noexcept;

// How to cut one validated super-packet.
struct GsoPlan {
  bool is_v6 = false;
  bool is_tcp = false;
  bool ecn = false;              // VIRTIO_NET_HDR_GSO_ECN: keep CWR on the first segment only
  std::uint16_t ip_hdr_len = 0;  // IPv4 IHL * 4, or 40
  std::uint16_t hdr_len = 0;     // IP + L4 header, recomputed
  std::uint16_t gso_size = 0;    // payload bytes per segment; the last may have fewer
  std::size_t total_len = 0;     // the whole super-packet
  std::size_t segments = 0;      // >= 1

  std::size_t payload_len() const noexcept { return total_len - hdr_len; }
  // Bytes of segment i (headers included), i < segments.
  std::size_t segment_length(std::size_t i) const noexcept;
  // The largest segment (the first).
  std::size_t max_segment_length() const noexcept { return segment_length(0); }
};

// Validates h against packet (the bytes after the virtio_net_hdr) for a GSO type; fills plan.
OffloadError plan_gso(const VnetHdr& h, base::ConstByteSpan packet, GsoPlan& plan) noexcept;

// Writes segment i (< plan.segments) of `packet` into out, which must hold at least
// plan.segment_length(i) bytes and must not overlap packet. Returns the segment's length.
std::size_t write_segment(const GsoPlan& plan, base::ConstByteSpan packet, std::size_t i,
                          base::ByteSpan out) noexcept;

}  // namespace tun
