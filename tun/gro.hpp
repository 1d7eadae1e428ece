// SPDX-License-Identifier: MIT
// The write side of TUN offloads (fact sheet 13.5): GroTable groups a batch of decrypted IP
// packets into runs that the kernel can take as one GSO super-packet each, like wireguard-go's
// TCP/UDP GRO.
//
// Stages: classify each packet (IPv4 without options or IPv6 without extension headers;
// TCP with flags exactly ACK or ACK|PSH, or UDP; no fragments; lengths consistent; payload
// not empty) -> find its flow (addresses, ports, version; TCP also the ACK number) -> try to
// merge: TCP into any group of the flow, newest first, appending (seq follows) or prepending
// (seq precedes); UDP only onto the flow's newest group. Merging needs identical IP header
// fields that the kernel copies to every segment (TOS/traffic class, TTL/hop limit, IPv4
// flags), identical TCP options, no PSH before the last segment, every segment but the last
// exactly gso_size, at most 64 KiB in all, and a correct L4 checksum on both sides (a merged
// packet is written as CHECKSUM_PARTIAL, so the kernel would never check it again).
//
// The packets are never modified: build_header() writes the merged packet's virtio_net_hdr
// and patched IP/L4 headers into a separate buffer, and the writer gathers
// [header][head payload][payload of each following packet] with one writev(). A group of one
// is written as is behind an all-zero virtio_net_hdr.
//
// Not thread safe (one per queue); fixed capacity, no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.hpp"
#include "tun/virtio_hdr.hpp"

namespace tun {

struct GroOptions {
  bool tcp = true;  // needs TSO negotiated
  bool udp = true;  // needs USO negotiated
};

class GroTable {
 public:
  static constexpr std::size_t kMaxPackets = 128;
  static constexpr std::size_t kMaxSegments = 64;   // per merged packet
  static constexpr std::size_t kMaxLength = 65535;  // IP packet of a merged group
  static constexpr std::size_t kMaxHeader = VnetHdr::kSize + 60 + 60;
  static constexpr std::uint16_t kEnd = 0xffff;

  // Groups packets[0..min(size, kMaxPackets)). The spans are borrowed until the groups have
  // been written (build_header reads the head packets again).
  void plan(std::span<const base::ConstByteSpan> packets, const GroOptions& options) noexcept;

  std::size_t group_count() const noexcept { return n_groups_; }
  std::size_t packet_count(std::size_t g) const noexcept { return groups_[g].count; }
  // The packets of group g in wire order: first_packet(g), then next_packet(i) until kEnd.
  std::uint16_t first_packet(std::size_t g) const noexcept { return groups_[g].head; }
  std::uint16_t next_packet(std::uint16_t i) const noexcept { return pkts_[i].next; }
  // Where packet i's payload starts (its IP + L4 header length); valid in groups of 2+.
  std::size_t payload_offset(std::uint16_t i) const noexcept {
    return std::size_t{pkts_[i].ip_len} + pkts_[i].l4_len;
  }
  // For a group of two or more packets: writes the virtio_net_hdr (NEEDS_CSUM, GSO type,
  // hdr_len, gso_size, csum_start, csum_offset) and the head's IP and L4 headers patched for
  // the merged length into out (at least kMaxHeader bytes); returns the bytes written.
  std::size_t build_header(std::size_t g, base::ByteSpan out) const noexcept;
  // The GSO type group g is written with (kGsoNone for a single packet).
  std::uint8_t gso_type(std::size_t g) const noexcept;

 private:
  enum Kind : std::uint8_t { kNone = 0, kTcp4, kTcp6, kUdp4, kUdp6 };
  struct Pkt {
    Kind kind = kNone;
    std::uint8_t ip_len = 0;
    std::uint8_t l4_len = 0;
    std::uint8_t tcp_flags = 0;
    std::int8_t csum = 0;  // 0: not checked yet, 1: good, -1: bad
    std::uint16_t payload = 0;
    std::uint16_t next = kEnd;
    std::uint32_t seq = 0;
    std::uint64_t key = 0;  // hash of the flow key
  };
  struct Group {
    std::uint16_t head = kEnd;
    std::uint16_t tail = kEnd;
    std::uint16_t count = 0;
    std::uint16_t gso_size = 0;
    std::uint32_t payload = 0;  // of all its packets
    bool closed = false;        // no more appends: the tail is short or carries PSH
    bool no_merge = false;      // the head's checksum is bad
  };

  void classify(std::uint16_t i, const GroOptions& options) noexcept;
  bool same_flow(std::uint16_t a, std::uint16_t b) const noexcept;
  bool same_ip_fields(std::uint16_t a, std::uint16_t b) const noexcept;
  bool checksum_ok(std::uint16_t i) noexcept;
  bool try_tcp(Group& g, std::uint16_t i) noexcept;
  bool try_udp(Group& g, std::uint16_t i) noexcept;
  void start_group(std::uint16_t i) noexcept;

  std::span<const base::ConstByteSpan> packets_;
  std::array<Pkt, kMaxPackets> pkts_;
  std::array<Group, kMaxPackets> groups_;
  std::size_t n_groups_ = 0;
};

}  // namespace tun
