// SPDX-License-Identifier: MIT
#include "tun/gro.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tun/gso_split.hpp"
#include "tun/headers.hpp"
#include "tun/testing/packet_builder.hpp"
#include "tun/testing/reference_checksum.hpp"

namespace {

using tun::GroTable;
using tun::VnetHdr;
using tun::testing::PacketSpec;

// A TCP flow's packet: seq = base + offset, `len` payload bytes.
PacketSpec tcp(bool v6, std::uint32_t seq, std::size_t len, std::uint8_t flags = 0x10) {
  PacketSpec s;
  s.src = *base::IpAddr::parse(v6 ? "fd00::1" : "10.0.0.1");
  s.dst = *base::IpAddr::parse(v6 ? "fd00::2" : "10.0.0.2");
  s.protocol = tun::kProtoTcp;
  s.sport = 5201;
  s.dport = 40000;
  s.seq = seq;
  s.ack = 99;
  s.tcp_flags = flags;
  s.payload = tun::testing::pattern(len, seq);
  return s;
}

PacketSpec udp(bool v6, std::size_t len, unsigned seed) {
  PacketSpec s = tcp(v6, 0, len);
  s.protocol = tun::kProtoUdp;
  s.payload = tun::testing::pattern(len, seed);
  return s;
}

struct Batch {
  std::vector<base::Bytes> bytes;
  std::vector<base::ConstByteSpan> spans;
  void add(const PacketSpec& s) { bytes.push_back(tun::testing::build_packet(s)); }
  std::span<const base::ConstByteSpan> view() {
    spans.assign(bytes.begin(), bytes.end());
    return spans;
  }
};

// The packets of group g, in order.
std::vector<std::uint16_t> members(const GroTable& t, std::size_t g) {
  std::vector<std::uint16_t> m;
  for (std::uint16_t i = t.first_packet(g); i != GroTable::kEnd; i = t.next_packet(i)) {
    m.push_back(i);
  }
  return m;
}

// Gathers group g as the kernel would receive it: virtio header + IP packet.
std::pair<VnetHdr, base::Bytes> gather(const GroTable& t, std::size_t g, const Batch& b) {
  std::array<std::byte, GroTable::kMaxHeader> hdr{};
  const std::size_t hl = t.build_header(g, hdr);
  base::Bytes pkt(hdr.begin() + VnetHdr::kSize, hdr.begin() + static_cast<std::ptrdiff_t>(hl));
  for (const auto i : members(t, g)) {
    const auto& p = b.bytes[i];
    pkt.insert(pkt.end(), p.begin() + static_cast<std::ptrdiff_t>(t.payload_offset(i)), p.end());
  }
  return {VnetHdr::load(hdr), pkt};
}

// The packet with its IPv4 ID and header checksum zeroed.
base::Bytes without_ipv4_id(base::Bytes p) {
  if (!p.empty() && (std::to_integer<int>(p[0]) >> 4) == 4) {
    for (const std::size_t i : {4u, 5u, 10u, 11u}) p[i] = std::byte{0};
  }
  return p;
}

// Splits a gathered group again and expects exactly the original packets back.
void check_round_trip(const GroTable& t, std::size_t g, const Batch& b) {
  const auto [h, pkt] = gather(t, g, b);
  CHECK(h.flags == VnetHdr::kNeedsCsum);
  tun::GsoPlan plan;
  REQUIRE(tun::plan_gso(h, pkt, plan) == tun::OffloadError::none);
  const auto m = members(t, g);
  REQUIRE(plan.segments == m.size());
  for (std::size_t i = 0; i < m.size(); ++i) {
    base::Bytes seg(plan.segment_length(i));
    tun::write_segment(plan, pkt, i, seg);
    CHECK(tun::testing::reference_checksums_ok(seg));
    // Splitting numbers IPv4 IDs from the head's; the originals may not have been numbered.
    CHECK(without_ipv4_id(seg) == without_ipv4_id(b.bytes[m[i]]));
  }
}

TEST_CASE("an in-order TCP run merges into one super-packet that splits back exactly") {
  for (const bool v6 : {false, true}) {
    INFO("v6=" << v6);
    Batch b;
    for (std::uint32_t k = 0; k < 5; ++k) {
      PacketSpec s = tcp(v6, 1000 + k * 1400, k < 4 ? 1400 : 700, k < 4 ? 0x10 : 0x18);
      s.ip_id = static_cast<std::uint16_t>(50 + k);
      b.add(s);
    }
    GroTable t;
    t.plan(b.view(), {});
    REQUIRE(t.group_count() == 1);
    CHECK(t.packet_count(0) == 5);
    CHECK(t.gso_type(0) == (v6 ? VnetHdr::kGsoTcpV6 : VnetHdr::kGsoTcpV4));
    const auto [h, pkt] = gather(t, 0, b);
    CHECK(h.gso_size == 1400);
    CHECK(h.hdr_len == (v6 ? 60 : 40));
    CHECK(h.csum_start == (v6 ? 40 : 20));
    CHECK(h.csum_offset == 16);
    CHECK(pkt.size() == (v6 ? 60u : 40u) + 4 * 1400 + 700);
    check_round_trip(t, 0, b);
  }
}

TEST_CASE("TCP merging follows the flow, sequence and flag rules") {
  struct Row {
    const char* what;
    std::vector<PacketSpec> pkts;
    std::vector<std::size_t> group_sizes;
  };
  auto with = [](PacketSpec s, auto f) {
    f(s);
    return s;
  };
  std::vector<Row> rows;
  rows.push_back(
      {"1 out of order: prepended", {tcp(false, 1100, 100), tcp(false, 1000, 100)}, {2}});
  rows.push_back({"2 gap in sequence", {tcp(false, 1000, 100), tcp(false, 1200, 100)}, {1, 1}});
  rows.push_back({"3 other ACK: other flow",
                  {tcp(false, 1000, 100), with(tcp(false, 1100, 100), [](auto& s) { s.ack = 5; })},
                  {1, 1}});
  rows.push_back(
      {"4 PSH ends a run", {tcp(false, 1000, 100, 0x18), tcp(false, 1100, 100)}, {1, 1}});
  rows.push_back(
      {"5 SYN is not merged", {tcp(false, 1000, 100), tcp(false, 1100, 100, 0x12)}, {1, 1}});
  rows.push_back({"6 shorter segment ends a run",
                  {tcp(false, 1000, 100), tcp(false, 1100, 50), tcp(false, 1150, 100)},
                  {2, 1}});
  rows.push_back({"7 larger after smaller", {tcp(false, 1000, 50), tcp(false, 1050, 100)}, {1, 1}});
  rows.push_back({"8 TTL differs",
                  {tcp(false, 1000, 100), with(tcp(false, 1100, 100), [](auto& s) { s.ttl = 9; })},
                  {1, 1}});
  rows.push_back(
      {"9 options differ",
       {with(tcp(false, 1000, 100), [](auto& s) { s.tcp_options.assign(4, std::byte{1}); }),
        with(tcp(false, 1100, 100), [](auto& s) { s.tcp_options.assign(4, std::byte{0}); })},
       {1, 1}});
  rows.push_back(
      {"10 interleaved flows",
       {tcp(false, 1000, 100), with(tcp(false, 5000, 100), [](auto& s) { s.sport = 1; }),
        tcp(false, 1100, 100), with(tcp(false, 5100, 100), [](auto& s) { s.sport = 1; })},
       {2, 2}});
  rows.push_back({"11 v4 and v6 never mix", {tcp(false, 1000, 100), tcp(true, 1100, 100)}, {1, 1}});
  rows.push_back({"12 no payload (pure ACK)", {tcp(false, 1000, 0), tcp(false, 1000, 0)}, {1, 1}});
  rows.push_back({"13 TOS differs",
                  {tcp(true, 1000, 100), with(tcp(true, 1100, 100), [](auto& s) { s.tos = 4; })},
                  {1, 1}});
  for (const Row& row : rows) {
    INFO(row.what);
    Batch b;
    for (const auto& s : row.pkts) b.add(s);
    GroTable t;
    t.plan(b.view(), {});
    std::vector<std::size_t> sizes;
    for (std::size_t g = 0; g < t.group_count(); ++g) sizes.push_back(t.packet_count(g));
    CHECK(sizes == row.group_sizes);
    for (std::size_t g = 0; g < t.group_count(); ++g) {
      if (t.packet_count(g) > 1) check_round_trip(t, g, b);
    }
  }
}

TEST_CASE("a bad checksum prevents merging on either side") {
  Batch b;
  b.add(tcp(false, 1000, 100));
  b.add(tcp(false, 1100, 100));
  b.add(tcp(false, 1200, 100));
  b.bytes[1].back() ^= std::byte{1};  // corrupt the middle packet's payload
  GroTable t;
  t.plan(b.view(), {});
  // 0 cannot take 1; 1 starts a group whose head is bad, so 2 cannot join it either.
  REQUIRE(t.group_count() == 3);
  Batch c;
  c.add(tcp(false, 1000, 100));
  c.add(tcp(false, 1100, 100));
  c.bytes[0].back() ^= std::byte{1};
  t.plan(c.view(), {});
  CHECK(t.group_count() == 2);
}

TEST_CASE("UDP datagrams of one flow merge while sizes allow; switches turn merging off") {
  Batch b;
  for (unsigned k = 0; k < 4; ++k) b.add(udp(false, 1000, k));
  b.add(udp(false, 300, 9));    // shorter: ends the run
  b.add(udp(false, 1000, 10));  // new group
  GroTable t;
  t.plan(b.view(), {});
  REQUIRE(t.group_count() == 2);
  CHECK(t.packet_count(0) == 5);
  CHECK(t.gso_type(0) == VnetHdr::kGsoUdpL4);
  check_round_trip(t, 0, b);
  t.plan(b.view(), {.tcp = true, .udp = false});
  CHECK(t.group_count() == 6);
  CHECK(t.gso_type(0) == VnetHdr::kGsoNone);

  Batch v6;
  for (unsigned k = 0; k < 3; ++k) v6.add(udp(true, 500, k));
  t.plan(v6.view(), {});
  REQUIRE(t.group_count() == 1);
  check_round_trip(t, 0, v6);
}

TEST_CASE("merged packets stay within 64 KiB and 64 segments") {
  Batch big;
  for (std::uint32_t k = 0; k < 60; ++k) big.add(tcp(false, k * 1400, 1400));
  GroTable t;
  t.plan(big.view(), {});
  std::size_t total = 0;
  for (std::size_t g = 0; g < t.group_count(); ++g) {
    const auto [h, pkt] = gather(t, g, big);
    CHECK(pkt.size() <= GroTable::kMaxLength);
    total += t.packet_count(g);
  }
  CHECK(total == 60);
  CHECK(t.group_count() == 2);  // 46 * 1400 + 40 <= 65535 < 47 * 1400 + 40

  Batch many;
  for (std::uint32_t k = 0; k < 100; ++k) many.add(tcp(false, k * 10, 10));
  t.plan(many.view(), {});
  REQUIRE(t.group_count() == 2);
  CHECK(t.packet_count(0) == GroTable::kMaxSegments);
  check_round_trip(t, 1, many);
}

TEST_CASE("packets that are not candidates are passed through alone") {
  Batch b;
  PacketSpec frag = udp(false, 100, 1);
  frag.df = false;
  b.add(frag);
  b.bytes[0][6] = std::byte{0x20};  // MF
  b.add(udp(false, 100, 2));
  b.bytes.push_back(base::Bytes{std::byte{0x45}});  // truncated
  b.bytes.push_back(base::Bytes{});                 // empty
  b.add(udp(false, 100, 3));
  GroTable t;
  t.plan(b.view(), {});
  CHECK(t.group_count() == 4);  // the two good datagrams merge
}

}  // namespace
