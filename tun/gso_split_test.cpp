// SPDX-License-Identifier: MIT
#include "tun/gso_split.hpp"

#include <doctest/doctest.h>

#include "tun/checksum.hpp"
#include "tun/headers.hpp"
#include "tun/testing/packet_builder.hpp"
#include "tun/testing/reference_checksum.hpp"

namespace {

using tun::VnetHdr;
using tun::testing::PacketSpec;

PacketSpec spec(bool v6, std::uint8_t proto, std::size_t payload) {
  PacketSpec s;
  s.src = *base::IpAddr::parse(v6 ? "fd00::1" : "10.0.0.1");
  s.dst = *base::IpAddr::parse(v6 ? "fd00::2" : "10.0.0.2");
  s.protocol = proto;
  s.sport = 40000;
  s.dport = 5201;
  s.ip_id = 0x1234;
  s.seq = 0xfffff000;  // wraps inside the super-packet
  s.ack = 777;
  s.tcp_flags = tun::hdr::kTcpAckFlag | tun::hdr::kTcpPsh | tun::hdr::kTcpFin;
  s.payload = tun::testing::pattern(payload, 9);
  return s;
}

VnetHdr gso_hdr(const PacketSpec& s, std::uint16_t gso_size) {
  const bool v6 = s.src.is_v6();
  const bool tcp = s.protocol == tun::kProtoTcp;
  VnetHdr h;
  h.flags = VnetHdr::kNeedsCsum;
  h.gso_type = tcp ? (v6 ? VnetHdr::kGsoTcpV6 : VnetHdr::kGsoTcpV4) : VnetHdr::kGsoUdpL4;
  h.csum_start = v6 ? 40 : 20;
  h.csum_offset = tcp ? VnetHdr::kTcpCsumOffset : VnetHdr::kUdpCsumOffset;
  h.hdr_len = 1;  // garbage on purpose: never trusted
  h.gso_size = gso_size;
  return h;
}

TEST_CASE("super-packets split into valid segments that carry the payload in order") {
  struct Row {
    bool v6;
    std::uint8_t proto;
    std::size_t payload;
    std::uint16_t gso;
    std::size_t tcp_options;
  };
  const Row rows[] = {
      {false, tun::kProtoTcp, 5000, 1448, 12},  // 1: TCPv4 with timestamps, short tail
      {true, tun::kProtoTcp, 4096, 1024, 0},    // 2: TCPv6, exact multiple
      {false, tun::kProtoUdp, 5123, 1000, 0},   // 3: USO v4 (fact sheet 13.3's example)
      {true, tun::kProtoUdp, 2001, 1000, 0},    // 4: USO v6
      {false, tun::kProtoTcp, 100, 1448, 0},    // 5: one segment
  };
  for (std::size_t r = 0; r < std::size(rows); ++r) {
    INFO("row " << r + 1);
    const Row& row = rows[r];
    PacketSpec s = spec(row.v6, row.proto, row.payload);
    s.tcp_options.assign(row.tcp_options, std::byte{1});  // NOPs
    const auto super = tun::testing::build_packet(s);
    const VnetHdr h = gso_hdr(s, row.gso);
    tun::GsoPlan plan;
    REQUIRE(tun::plan_gso(h, super, plan) == tun::OffloadError::none);
    const std::size_t ip = row.v6 ? 40 : 20;
    const std::size_t l4 = row.proto == tun::kProtoTcp ? 20 + row.tcp_options : 8;
    CHECK(plan.hdr_len == ip + l4);
    CHECK(plan.segments == (row.payload + row.gso - 1) / row.gso);
    base::Bytes joined;
    for (std::size_t i = 0; i < plan.segments; ++i) {
      base::Bytes seg(plan.segment_length(i));
      REQUIRE(tun::write_segment(plan, super, i, seg) == seg.size());
      CHECK(tun::testing::reference_checksums_ok(seg));
      const bool last = i + 1 == plan.segments;
      CHECK(seg.size() == ip + l4 + (last ? row.payload - i * row.gso : row.gso));
      const base::ConstByteSpan sv(seg);
      if (!row.v6) {
        CHECK(base::load_be16(sv.subspan(2)) == seg.size());
        CHECK(base::load_be16(sv.subspan(4)) == 0x1234 + i);
      } else {
        CHECK(base::load_be16(sv.subspan(4)) == seg.size() - 40);
      }
      const auto l4v = sv.subspan(ip);
      if (row.proto == tun::kProtoTcp) {
        CHECK(base::load_be32(l4v.subspan(4)) == static_cast<std::uint32_t>(s.seq + i * row.gso));
        const auto flags = std::to_integer<std::uint8_t>(l4v[13]);
        CHECK(((flags & (tun::hdr::kTcpFin | tun::hdr::kTcpPsh)) != 0) == last);
        CHECK((flags & tun::hdr::kTcpAckFlag) != 0);
        CHECK(base::equal_bytes(l4v.subspan(20, row.tcp_options),
                                base::ConstByteSpan(super).subspan(ip + 20, row.tcp_options)));
      } else {
        CHECK(base::load_be16(l4v.subspan(4)) == seg.size() - ip);
      }
      joined.insert(joined.end(), seg.begin() + static_cast<std::ptrdiff_t>(ip + l4), seg.end());
    }
    CHECK(joined == s.payload);
  }
}

TEST_CASE("ECN super-packets keep CWR on the first segment only") {
  PacketSpec s = spec(false, tun::kProtoTcp, 3000);
  s.tcp_flags = tun::hdr::kTcpAckFlag | tun::hdr::kTcpCwr;
  const auto super = tun::testing::build_packet(s);
  VnetHdr h = gso_hdr(s, 1000);
  h.gso_type |= VnetHdr::kGsoEcn;
  tun::GsoPlan plan;
  REQUIRE(tun::plan_gso(h, super, plan) == tun::OffloadError::none);
  CHECK(plan.ecn);
  for (std::size_t i = 0; i < 3; ++i) {
    base::Bytes seg(plan.segment_length(i));
    tun::write_segment(plan, super, i, seg);
    CHECK(((std::to_integer<std::uint8_t>(seg[20 + 13]) & tun::hdr::kTcpCwr) != 0) == (i == 0));
  }
}

TEST_CASE("bad virtio headers and packets are refused with a reason") {
  using E = tun::OffloadError;
  const PacketSpec s4 = spec(false, tun::kProtoTcp, 3000);
  const auto good = tun::testing::build_packet(s4);
  const VnetHdr gh = gso_hdr(s4, 1000);
  struct Row {
    const char* what;
    E want;
    void (*mutate)(VnetHdr&, base::Bytes&);
  };
  const Row rows[] = {
      {"1 empty", E::too_short, [](VnetHdr&, base::Bytes& p) { p.clear(); }},
      {"2 version 5", E::bad_ip_version, [](VnetHdr&, base::Bytes& p) { p[0] = std::byte{0x55}; }},
      {"3 UFO", E::bad_gso_type, [](VnetHdr& h, base::Bytes&) { h.gso_type = VnetHdr::kGsoUdp; }},
      {"4 TCPV6 on v4", E::version_mismatch,
       [](VnetHdr& h, base::Bytes&) { h.gso_type = VnetHdr::kGsoTcpV6; }},
      {"5 gso_size 0", E::bad_gso_size, [](VnetHdr& h, base::Bytes&) { h.gso_size = 0; }},
      {"6 UDP type, TCP packet", E::bad_protocol,
       [](VnetHdr& h, base::Bytes&) { h.gso_type = VnetHdr::kGsoUdpL4; }},
      {"7 length field", E::bad_length, [](VnetHdr&, base::Bytes& p) { p.pop_back(); }},
      {"8 fragment", E::fragment, [](VnetHdr&, base::Bytes& p) { p[6] = std::byte{0x20}; }},
      {"9 csum_start", E::bad_csum_offsets, [](VnetHdr& h, base::Bytes&) { h.csum_start = 24; }},
      {"10 csum_offset", E::bad_csum_offsets, [](VnetHdr& h, base::Bytes&) { h.csum_offset = 6; }},
      {"11 TCP data offset 4", E::bad_tcp_header,
       [](VnetHdr&, base::Bytes& p) { p[20 + 12] = std::byte{0x40}; }},
      {"12 IHL 4", E::too_short, [](VnetHdr&, base::Bytes& p) { p[0] = std::byte{0x44}; }},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    VnetHdr h = gh;
    base::Bytes p = good;
    row.mutate(h, p);
    tun::GsoPlan plan;
    CHECK(tun::plan_gso(h, p, plan) == row.want);
    CHECK(std::string(tun::to_string(row.want)) != "unknown");
  }
  // Headers only, no payload.
  PacketSpec empty = spec(true, tun::kProtoUdp, 0);
  tun::GsoPlan plan;
  CHECK(tun::plan_gso(gso_hdr(empty, 100), tun::testing::build_packet(empty), plan) ==
        E::bad_length);
}

TEST_CASE("NEEDS_CSUM packets get their checksum completed") {
  for (const bool v6 : {false, true}) {
    for (const std::uint8_t proto : {tun::kProtoTcp, tun::kProtoUdp}) {
      INFO("v6=" << v6 << " proto=" << int(proto));
      PacketSpec s = spec(v6, proto, 999);
      s.tcp_flags = tun::hdr::kTcpAckFlag;
      auto p = tun::testing::build_packet(s);
      const std::size_t ip = v6 ? 40 : 20;
      const std::size_t field = ip + (proto == tun::kProtoTcp ? 16 : 6);
      // What the kernel hands over for CHECKSUM_PARTIAL: the pseudo-header sum in the field.
      const base::ConstByteSpan pv(p);
      const std::uint16_t pseudo = tun::pseudo_header_sum(
          pv.subspan(v6 ? 8 : 12, v6 ? 16 : 4), pv.subspan(v6 ? 24 : 16, v6 ? 16 : 4), proto,
          static_cast<std::uint32_t>(p.size() - ip));
      base::store_be16(base::ByteSpan(p).subspan(field), pseudo);
      CHECK_FALSE(tun::testing::reference_checksums_ok(p));
      VnetHdr h;
      h.flags = VnetHdr::kNeedsCsum;
      h.csum_start = static_cast<std::uint16_t>(ip);
      h.csum_offset = static_cast<std::uint16_t>(field - ip);
      REQUIRE(tun::complete_checksum(h, p) == tun::OffloadError::none);
      CHECK(tun::testing::reference_checksums_ok(p));
      h.csum_offset = static_cast<std::uint16_t>(p.size());
      CHECK(tun::complete_checksum(h, p) == tun::OffloadError::bad_csum_offsets);
    }
  }
}

}  // namespace
