// SPDX-License-Identifier: MIT
#include "tun/gso_split.hpp"

#include "tun/checksum.hpp"
#include "tun/headers.hpp"

namespace tun {

const char* to_string(OffloadError e) noexcept {
  switch (e) {
    case OffloadError::none:
      return "none";
    case OffloadError::too_short:
      return "too_short";
    case OffloadError::bad_ip_version:
      return "bad_ip_version";
    case OffloadError::bad_gso_type:
      return "bad_gso_type";
    case OffloadError::version_mismatch:
      return "version_mismatch";
    case OffloadError::bad_protocol:
      return "bad_protocol";
    case OffloadError::fragment:
      return "fragment";
    case OffloadError::bad_length:
      return "bad_length";
    case OffloadError::bad_csum_offsets:
      return "bad_csum_offsets";
    case OffloadError::bad_tcp_header:
      return "bad_tcp_header";
    case OffloadError::bad_gso_size:
      return "bad_gso_size";
  }
  return "unknown";
}

OffloadError complete_checksum(const VnetHdr& h, base::ByteSpan packet) noexcept {
  const std::size_t start = h.csum_start;
  const std::size_t field = start + h.csum_offset;
  if (start >= packet.size() || field + 2 > packet.size()) return OffloadError::bad_csum_offsets;
  const auto f = packet.subspan(field);
  const std::uint16_t pseudo = base::load_be16(f);
  base::store_be16(f, 0);
  std::uint16_t c = static_cast<std::uint16_t>(~ones_sum(packet.subspan(start), pseudo));
  if (h.csum_offset == VnetHdr::kUdpCsumOffset) c = udp_checksum_value(c);
  base::store_be16(f, c);
  return OffloadError::none;
}

std::size_t GsoPlan::segment_length(std::size_t i) const noexcept {
  const std::size_t done = i * gso_size;
  const std::size_t left = payload_len() - done;
  return hdr_len + (left < gso_size ? left : gso_size);
}

OffloadError plan_gso(const VnetHdr& h, base::ConstByteSpan p, GsoPlan& plan) noexcept {
  plan = GsoPlan{};
  if (p.empty()) return OffloadError::too_short;
  const unsigned version = std::to_integer<unsigned>(p[0]) >> 4;
  if (version != 4 && version != 6) return OffloadError::bad_ip_version;
  const bool v6 = version == 6;
  const std::uint8_t type = h.gso_type & static_cast<std::uint8_t>(~VnetHdr::kGsoEcn);
  bool tcp = false;
  switch (type) {
    case VnetHdr::kGsoTcpV4:
      if (v6) return OffloadError::version_mismatch;
      tcp = true;
      break;
    case VnetHdr::kGsoTcpV6:
      if (!v6) return OffloadError::version_mismatch;
      tcp = true;
      break;
    case VnetHdr::kGsoUdpL4:
      break;
    default:
      return OffloadError::bad_gso_type;
  }
  if (h.gso_size == 0) return OffloadError::bad_gso_size;

  std::size_t ip_len = 0;
  std::uint8_t proto = 0;
  if (!v6) {
    if (p.size() < hdr::kIpv4MinLen) return OffloadError::too_short;
    ip_len = (std::to_integer<std::size_t>(p[hdr::kIpv4VersionIhl]) & 0x0f) * 4;
    if (ip_len < hdr::kIpv4MinLen || p.size() < ip_len) return OffloadError::too_short;
    if (base::load_be16(p.subspan(hdr::kIpv4TotalLen)) != p.size()) {
      return OffloadError::bad_length;
    }
    const std::uint16_t frag = base::load_be16(p.subspan(hdr::kIpv4FlagsFrag));
    if ((frag & (hdr::kIpv4FlagMf | hdr::kIpv4FragOffsetMask)) != 0) return OffloadError::fragment;
    proto = std::to_integer<std::uint8_t>(p[hdr::kIpv4Protocol]);
  } else {
    if (p.size() < hdr::kIpv6Len) return OffloadError::too_short;
    ip_len = hdr::kIpv6Len;
    if (base::load_be16(p.subspan(hdr::kIpv6PayloadLen)) + hdr::kIpv6Len != p.size()) {
      return OffloadError::bad_length;
    }
    // Extension headers are not supported: the L4 header must follow the fixed header.
    proto = std::to_integer<std::uint8_t>(p[hdr::kIpv6NextHeader]);
  }
  if (proto != (tcp ? kProtoTcp : kProtoUdp)) return OffloadError::bad_protocol;
  if (h.csum_start != ip_len ||
      h.csum_offset != (tcp ? VnetHdr::kTcpCsumOffset : VnetHdr::kUdpCsumOffset)) {
    return OffloadError::bad_csum_offsets;
  }

  std::size_t l4_len = hdr::kUdpLen;
  if (tcp) {
    if (p.size() < ip_len + hdr::kTcpMinLen) return OffloadError::too_short;
    l4_len = (std::to_integer<std::size_t>(p[ip_len + hdr::kTcpDataOffset]) >> 4) * 4;
    if (l4_len < hdr::kTcpMinLen || l4_len > hdr::kTcpMaxLen) return OffloadError::bad_tcp_header;
  }
  const std::size_t hdr_len = ip_len + l4_len;
  if (p.size() <= hdr_len) return OffloadError::bad_length;  // also: no payload
  if (!tcp && base::load_be16(p.subspan(ip_len + hdr::kUdpLength)) != p.size() - ip_len) {
    return OffloadError::bad_length;
  }
  plan.is_v6 = v6;
  plan.is_tcp = tcp;
  plan.ecn = tcp && (h.gso_type & VnetHdr::kGsoEcn) != 0;
  plan.ip_hdr_len = static_cast<std::uint16_t>(ip_len);
  plan.hdr_len = static_cast<std::uint16_t>(hdr_len);
  plan.gso_size = h.gso_size;
  plan.total_len = p.size();
  plan.segments = (plan.payload_len() + h.gso_size - 1) / h.gso_size;
  return OffloadError::none;
}

std::size_t write_segment(const GsoPlan& plan, base::ConstByteSpan p, std::size_t i,
                          base::ByteSpan out) noexcept {
  const std::size_t seg_len = plan.segment_length(i);
  const std::size_t payload = seg_len - plan.hdr_len;
  base::copy_into(out, p.first(plan.hdr_len));
  base::copy_into(out.subspan(plan.hdr_len), p.subspan(plan.hdr_len + i * plan.gso_size, payload));
  const auto seg = out.first(seg_len);
  const std::size_t ip = plan.ip_hdr_len;
  base::ConstByteSpan src;
  base::ConstByteSpan dst;
  if (!plan.is_v6) {
    base::store_be16(seg.subspan(hdr::kIpv4TotalLen), static_cast<std::uint16_t>(seg_len));
    const std::uint16_t id = base::load_be16(seg.subspan(hdr::kIpv4Id));
    base::store_be16(seg.subspan(hdr::kIpv4Id), static_cast<std::uint16_t>(id + i));
    set_ipv4_header_checksum(seg.first(ip));
    src = seg.subspan(hdr::kIpv4Src, hdr::kIpv4AddrLen);
    dst = seg.subspan(hdr::kIpv4Dst, hdr::kIpv4AddrLen);
  } else {
    base::store_be16(seg.subspan(hdr::kIpv6PayloadLen),
                     static_cast<std::uint16_t>(seg_len - hdr::kIpv6Len));
    src = seg.subspan(hdr::kIpv6Src, hdr::kIpv6AddrLen);
    dst = seg.subspan(hdr::kIpv6Dst, hdr::kIpv6AddrLen);
  }
  const auto l4 = seg.subspan(ip);
  if (plan.is_tcp) {
    const std::uint32_t seq = base::load_be32(l4.subspan(hdr::kTcpSeq));
    base::store_be32(l4.subspan(hdr::kTcpSeq), static_cast<std::uint32_t>(seq + i * plan.gso_size));
    auto flags = std::to_integer<std::uint8_t>(l4[hdr::kTcpFlags]);
    if (i + 1 < plan.segments) flags &= static_cast<std::uint8_t>(~(hdr::kTcpFin | hdr::kTcpPsh));
    if (plan.ecn && i > 0) flags &= static_cast<std::uint8_t>(~hdr::kTcpCwr);
    l4[hdr::kTcpFlags] = std::byte{flags};
    base::store_be16(l4.subspan(hdr::kTcpChecksum), 0);
    base::store_be16(l4.subspan(hdr::kTcpChecksum), l4_checksum(src, dst, kProtoTcp, l4));
  } else {
    base::store_be16(l4.subspan(hdr::kUdpLength), static_cast<std::uint16_t>(l4.size()));
    base::store_be16(l4.subspan(hdr::kUdpChecksum), 0);
    base::store_be16(l4.subspan(hdr::kUdpChecksum),
                     udp_checksum_value(l4_checksum(src, dst, kProtoUdp, l4)));
  }
  return seg_len;
}

}  // namespace tun
