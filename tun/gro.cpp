// SPDX-License-Identifier: MIT
#include "tun/gro.hpp"

#include <algorithm>
#include <cstring>

#include "tun/checksum.hpp"
#include "tun/headers.hpp"

namespace tun {

namespace {

std::uint8_t byte_at(base::ConstByteSpan p, std::size_t i) noexcept {
  return std::to_integer<std::uint8_t>(p[i]);
}

// FNV-1a over a few key fields; only a filter before the exact comparison.
std::uint64_t fnv(std::uint64_t h, base::ConstByteSpan b) noexcept {
  for (const std::byte x : b) {
    h ^= std::to_integer<std::uint64_t>(x);
    h *= 0x100000001b3ull;
  }
  return h;
}

// Source and destination addresses: contiguous in both IPv4 and IPv6 headers.
base::ConstByteSpan addresses(base::ConstByteSpan p, bool v6) noexcept {
  return v6 ? p.subspan(hdr::kIpv6Src, 2 * hdr::kIpv6AddrLen)
            : p.subspan(hdr::kIpv4Src, 2 * hdr::kIpv4AddrLen);
}

}  // namespace

void GroTable::classify(std::uint16_t i, const GroOptions& options) noexcept {
  Pkt& k = pkts_[i];
  k = Pkt{};
  const base::ConstByteSpan p = packets_[i];
  if (p.empty()) return;
  const unsigned version = byte_at(p, 0) >> 4;
  std::size_t ip = 0;
  std::uint8_t proto = 0;
  if (version == 4) {
    if (p.size() < hdr::kIpv4MinLen || (byte_at(p, 0) & 0x0f) != 5) return;  // no options
    if (base::load_be16(p.subspan(hdr::kIpv4TotalLen)) != p.size()) return;
    const std::uint16_t frag = base::load_be16(p.subspan(hdr::kIpv4FlagsFrag));
    if ((frag & (hdr::kIpv4FlagMf | hdr::kIpv4FragOffsetMask)) != 0) return;
    ip = hdr::kIpv4MinLen;
    proto = byte_at(p, hdr::kIpv4Protocol);
  } else if (version == 6) {
    if (p.size() < hdr::kIpv6Len) return;
    if (base::load_be16(p.subspan(hdr::kIpv6PayloadLen)) + hdr::kIpv6Len != p.size()) return;
    ip = hdr::kIpv6Len;
    proto = byte_at(p, hdr::kIpv6NextHeader);  // extension headers disqualify
  } else {
    return;
  }
  const bool v6 = version == 6;
  const base::ConstByteSpan l4 = p.subspan(ip);
  std::size_t l4_len = 0;
  Kind kind = kNone;
  if (proto == kProtoTcp) {
    if (!options.tcp || l4.size() < hdr::kTcpMinLen) return;
    l4_len = (byte_at(l4, hdr::kTcpDataOffset) >> 4) * 4u;
    if (l4_len < hdr::kTcpMinLen || l4_len > l4.size()) return;
    const std::uint8_t flags = byte_at(l4, hdr::kTcpFlags);
    if (flags != hdr::kTcpAckFlag && flags != (hdr::kTcpAckFlag | hdr::kTcpPsh)) return;
    k.tcp_flags = flags;
    k.seq = base::load_be32(l4.subspan(hdr::kTcpSeq));
    kind = v6 ? kTcp6 : kTcp4;
  } else if (proto == kProtoUdp) {
    if (!options.udp || l4.size() < hdr::kUdpLen) return;
    if (base::load_be16(l4.subspan(hdr::kUdpLength)) != l4.size()) return;
    l4_len = hdr::kUdpLen;
    kind = v6 ? kUdp6 : kUdp4;
  } else {
    return;
  }
  if (l4.size() == l4_len) return;  // no payload
  k.ip_len = static_cast<std::uint8_t>(ip);
  k.l4_len = static_cast<std::uint8_t>(l4_len);
  k.payload = static_cast<std::uint16_t>(l4.size() - l4_len);
  std::uint64_t h = 0xcbf29ce484222325ull ^ kind;
  h = fnv(h, addresses(p, v6));
  h = fnv(h, l4.first(4));                                          // ports
  if (proto == kProtoTcp) h = fnv(h, l4.subspan(hdr::kTcpAck, 4));  // ACK number
  k.key = h;
  k.kind = kind;
}

bool GroTable::same_flow(std::uint16_t a, std::uint16_t b) const noexcept {
  const Pkt& x = pkts_[a];
  const Pkt& y = pkts_[b];
  if (x.kind != y.kind || x.key != y.key) return false;
  const bool v6 = x.kind == kTcp6 || x.kind == kUdp6;
  const auto pa = packets_[a];
  const auto pb = packets_[b];
  if (!base::equal_bytes(addresses(pa, v6), addresses(pb, v6))) return false;
  const auto la = pa.subspan(x.ip_len);
  const auto lb = pb.subspan(y.ip_len);
  if (!base::equal_bytes(la.first(4), lb.first(4))) return false;
  if (x.kind == kTcp4 || x.kind == kTcp6) {
    return base::equal_bytes(la.subspan(hdr::kTcpAck, 4), lb.subspan(hdr::kTcpAck, 4));
  }
  return true;
}

// The fields the kernel copies into every segment of a super-packet must agree.
bool GroTable::same_ip_fields(std::uint16_t a, std::uint16_t b) const noexcept {
  const Pkt& x = pkts_[a];
  const Pkt& y = pkts_[b];
  if (x.ip_len != y.ip_len || x.l4_len != y.l4_len) return false;
  const auto pa = packets_[a];
  const auto pb = packets_[b];
  if (x.kind == kTcp4 || x.kind == kUdp4) {
    if (byte_at(pa, hdr::kIpv4Tos) != byte_at(pb, hdr::kIpv4Tos)) return false;
    if (byte_at(pa, hdr::kIpv4Ttl) != byte_at(pb, hdr::kIpv4Ttl)) return false;
    if (base::load_be16(pa.subspan(hdr::kIpv4FlagsFrag)) !=
        base::load_be16(pb.subspan(hdr::kIpv4FlagsFrag))) {
      return false;
    }
  } else {
    // Traffic class: the low nibble of byte 0 and the high nibble of byte 1.
    if ((byte_at(pa, 0) & 0x0f) != (byte_at(pb, 0) & 0x0f) ||
        (byte_at(pa, 1) & 0xf0) != (byte_at(pb, 1) & 0xf0)) {
      return false;
    }
    if (byte_at(pa, hdr::kIpv6HopLimit) != byte_at(pb, hdr::kIpv6HopLimit)) return false;
  }
  if (x.kind == kTcp4 || x.kind == kTcp6) {  // identical options
    const auto oa = pa.subspan(x.ip_len + hdr::kTcpMinLen, x.l4_len - hdr::kTcpMinLen);
    const auto ob = pb.subspan(y.ip_len + hdr::kTcpMinLen, y.l4_len - hdr::kTcpMinLen);
    if (!base::equal_bytes(oa, ob)) return false;
  }
  return true;
}

bool GroTable::checksum_ok(std::uint16_t i) noexcept {
  Pkt& k = pkts_[i];
  if (k.csum != 0) return k.csum > 0;
  const auto p = packets_[i];
  const bool v6 = k.kind == kTcp6 || k.kind == kUdp6;
  const bool tcp = k.kind == kTcp4 || k.kind == kTcp6;
  const auto addr = addresses(p, v6);
  const std::size_t alen = addr.size() / 2;
  const auto l4 = p.subspan(k.ip_len);
  bool ok = false;
  if (!tcp && !v6 && base::load_be16(l4.subspan(hdr::kUdpChecksum)) == 0) {
    ok = true;  // IPv4 UDP without a checksum; the merged packet gets one
  } else {
    ok = l4_checksum_ok(addr.first(alen), addr.subspan(alen), tcp ? kProtoTcp : kProtoUdp, l4);
  }
  k.csum = ok ? 1 : -1;
  return ok;
}

void GroTable::start_group(std::uint16_t i) noexcept {
  const Pkt& k = pkts_[i];
  Group& g = groups_[n_groups_++];
  g = Group{};
  g.head = i;
  g.tail = i;
  g.count = 1;
  g.gso_size = k.payload;
  g.payload = k.payload;
  g.closed = (k.tcp_flags & hdr::kTcpPsh) != 0;
}

bool GroTable::try_tcp(Group& g, std::uint16_t i) noexcept {
  if (g.no_merge || g.count >= kMaxSegments) return false;
  const Pkt& k = pkts_[i];
  const Pkt& head = pkts_[g.head];
  if (!same_ip_fields(g.head, i)) return false;
  if (std::size_t{head.ip_len} + head.l4_len + g.payload + k.payload > kMaxLength) return false;
  const bool append = k.seq == static_cast<std::uint32_t>(head.seq + g.payload);
  const bool prepend = !append && static_cast<std::uint32_t>(k.seq + k.payload) == head.seq;
  if (append) {
    if (g.closed || k.payload > g.gso_size) return false;
  } else if (prepend) {
    // The new head must not carry PSH and must be at least as long as what follows.
    if ((k.tcp_flags & hdr::kTcpPsh) != 0) return false;
    if (k.payload != g.gso_size && !(g.count == 1 && k.payload > g.gso_size)) return false;
  } else {
    return false;
  }
  if (!checksum_ok(g.head)) {
    g.no_merge = true;
    return false;
  }
  if (!checksum_ok(i)) return false;
  g.payload += k.payload;
  ++g.count;
  if (append) {
    pkts_[g.tail].next = i;
    g.tail = i;
    g.closed = k.payload < g.gso_size || (k.tcp_flags & hdr::kTcpPsh) != 0;
  } else {
    pkts_[i].next = g.head;
    g.head = i;
    g.gso_size = k.payload;
    const Pkt& tail = pkts_[g.tail];
    g.closed = tail.payload < g.gso_size || (tail.tcp_flags & hdr::kTcpPsh) != 0;
  }
  return true;
}

bool GroTable::try_udp(Group& g, std::uint16_t i) noexcept {
  if (g.no_merge || g.closed || g.count >= kMaxSegments) return false;
  const Pkt& k = pkts_[i];
  const Pkt& head = pkts_[g.head];
  if (!same_ip_fields(g.head, i)) return false;
  if (k.payload > g.gso_size) return false;
  if (std::size_t{head.ip_len} + head.l4_len + g.payload + k.payload > kMaxLength) return false;
  if (!checksum_ok(g.head)) {
    g.no_merge = true;
    return false;
  }
  if (!checksum_ok(i)) return false;
  pkts_[g.tail].next = i;
  g.tail = i;
  g.payload += k.payload;
  ++g.count;
  g.closed = k.payload < g.gso_size;
  return true;
}

void GroTable::plan(std::span<const base::ConstByteSpan> packets,
                    const GroOptions& options) noexcept {
  packets_ = packets.first(std::min(packets.size(), kMaxPackets));
  n_groups_ = 0;
  for (std::uint16_t i = 0; i < packets_.size(); ++i) {
    classify(i, options);
    const Pkt& k = pkts_[i];
    bool merged = false;
    if (k.kind != kNone) {
      const bool udp = k.kind == kUdp4 || k.kind == kUdp6;
      for (std::size_t g = n_groups_; g > 0 && !merged; --g) {
        Group& grp = groups_[g - 1];
        if (!same_flow(grp.head, i)) continue;
        if (udp) {
          merged = try_udp(grp, i);
          break;  // UDP looks at the flow's newest group only: no reordering
        }
        merged = try_tcp(grp, i);
      }
    }
    if (!merged) start_group(i);
  }
}

std::uint8_t GroTable::gso_type(std::size_t g) const noexcept {
  const Group& grp = groups_[g];
  if (grp.count < 2) return VnetHdr::kGsoNone;
  switch (pkts_[grp.head].kind) {
    case kTcp4:
      return VnetHdr::kGsoTcpV4;
    case kTcp6:
      return VnetHdr::kGsoTcpV6;
    case kUdp4:
    case kUdp6:
      return VnetHdr::kGsoUdpL4;
    case kNone:
      break;
  }
  return VnetHdr::kGsoNone;
}

std::size_t GroTable::build_header(std::size_t g, base::ByteSpan out) const noexcept {
  const Group& grp = groups_[g];
  const Pkt& k = pkts_[grp.head];
  const auto p = packets_[grp.head];
  const bool tcp = k.kind == kTcp4 || k.kind == kTcp6;
  const bool v6 = k.kind == kTcp6 || k.kind == kUdp6;
  const std::size_t hl = std::size_t{k.ip_len} + k.l4_len;
  VnetHdr v;
  v.flags = VnetHdr::kNeedsCsum;
  v.gso_type = gso_type(g);
  v.hdr_len = static_cast<std::uint16_t>(hl);
  v.gso_size = grp.gso_size;
  v.csum_start = k.ip_len;
  v.csum_offset = tcp ? VnetHdr::kTcpCsumOffset : VnetHdr::kUdpCsumOffset;
  v.store(out);
  const auto h = out.subspan(VnetHdr::kSize, hl);
  base::copy_into(h, p.first(hl));
  const std::size_t total = hl + grp.payload;
  if (!v6) {
    base::store_be16(h.subspan(hdr::kIpv4TotalLen), static_cast<std::uint16_t>(total));
    set_ipv4_header_checksum(h.first(k.ip_len));
  } else {
    base::store_be16(h.subspan(hdr::kIpv6PayloadLen),
                     static_cast<std::uint16_t>(total - hdr::kIpv6Len));
  }
  const auto addr = addresses(h, v6);
  const std::size_t alen = addr.size() / 2;
  const auto l4 = h.subspan(k.ip_len);
  const auto l4_total = static_cast<std::uint32_t>(total - k.ip_len);
  const std::uint16_t pseudo = pseudo_header_sum(addr.first(alen), addr.subspan(alen),
                                                 tcp ? kProtoTcp : kProtoUdp, l4_total);
  if (tcp) {
    if ((pkts_[grp.tail].tcp_flags & hdr::kTcpPsh) != 0) {
      l4[hdr::kTcpFlags] |= std::byte{hdr::kTcpPsh};
    }
    base::store_be16(l4.subspan(hdr::kTcpChecksum), pseudo);
  } else {
    base::store_be16(l4.subspan(hdr::kUdpLength), static_cast<std::uint16_t>(l4_total));
    base::store_be16(l4.subspan(hdr::kUdpChecksum), pseudo);
  }
  return VnetHdr::kSize + hl;
}

}  // namespace tun
