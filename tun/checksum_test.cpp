// SPDX-License-Identifier: MIT
#include "tun/checksum.hpp"

#include <doctest/doctest.h>

#include <random>

#include "tun/testing/packet_builder.hpp"

namespace {

// Reference: RFC 1071 taken literally, one big-endian word at a time.
std::uint16_t naive_sum(base::ConstByteSpan d, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i < d.size(); i += 2) {
    std::uint32_t w = std::to_integer<std::uint32_t>(d[i]) << 8;
    if (i + 1 < d.size()) w |= std::to_integer<std::uint32_t>(d[i + 1]);
    acc += w;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

TEST_CASE("ones_sum matches RFC 1071 word by word at every length and alignment") {
  const unsigned seed = std::random_device{}();
  INFO("seed=" << seed);
  std::mt19937 rng(seed);
  base::Bytes buf(300);
  for (auto& b : buf) b = std::byte(rng() & 0xff);
  for (std::size_t off = 0; off < 9; ++off) {
    for (std::size_t len = 0; len + off <= buf.size(); ++len) {
      const auto s = base::ConstByteSpan(buf).subspan(off, len);
      REQUIRE(tun::ones_sum(s) == naive_sum(s));
    }
  }
  const auto s = base::ConstByteSpan(buf).first(77);
  CHECK(tun::ones_sum(s, 0x1234) == naive_sum(s, 0x1234));
}

TEST_CASE("RFC 1071 and IPv4 header examples") {
  // 1. RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
  const auto rfc = base::hex_bytes("0001f203f4f5f6f7").value();
  CHECK(tun::ones_sum(rfc) == 0xddf2);
  // 2. A well-known IPv4 header whose checksum is b861.
  auto ip = base::hex_bytes("450000730000400040110000c0a80001c0a800c7").value();
  tun::set_ipv4_header_checksum(ip);
  CHECK(base::load_be16(base::ConstByteSpan(ip).subspan(10)) == 0xb861);
  CHECK(tun::ipv4_header_checksum_ok(ip));
  ip[8] = std::byte{0x3f};
  CHECK_FALSE(tun::ipv4_header_checksum_ok(ip));
}

TEST_CASE("ones_add wraps the carry around") {
  CHECK(tun::ones_add(0xffff, 0x0001) == 0x0001);
  CHECK(tun::ones_add(0x8000, 0x8000) == 0x0001);
  CHECK(tun::ones_add(0x1234, 0x0000) == 0x1234);
}

// Checks the L4 checksum of a built packet with the reference sum over an explicitly built
// pseudo-header.
void check_l4(const base::Bytes& p, bool v4, std::uint8_t proto) {
  const std::size_t ip_len = v4 ? 20 : 40;
  const auto l4 = base::ConstByteSpan(p).subspan(ip_len);
  base::Bytes pseudo;
  const auto src = base::ConstByteSpan(p).subspan(v4 ? 12 : 8, v4 ? 4 : 16);
  const auto dst = base::ConstByteSpan(p).subspan(v4 ? 16 : 24, v4 ? 4 : 16);
  pseudo.insert(pseudo.end(), src.begin(), src.end());
  pseudo.insert(pseudo.end(), dst.begin(), dst.end());
  const auto len = static_cast<std::uint32_t>(l4.size());
  for (const std::uint8_t b :
       {std::uint8_t(len >> 24), std::uint8_t(len >> 16), std::uint8_t(len >> 8), std::uint8_t(len),
        std::uint8_t(0), std::uint8_t(0), std::uint8_t(0), proto}) {
    pseudo.push_back(std::byte{b});
  }
  CHECK(naive_sum(l4, naive_sum(pseudo)) == 0xffff);
  CHECK(tun::l4_checksum_ok(src, dst, proto, l4));
}

TEST_CASE("built TCP and UDP packets carry checksums the reference accepts") {
  using tun::testing::PacketSpec;
  struct Row {
    const char* src;
    const char* dst;
    std::uint8_t proto;
    std::size_t payload;
  };
  const Row rows[] = {
      {"10.0.0.1", "10.0.0.2", tun::kProtoUdp, 0},     // 1
      {"10.0.0.1", "10.0.0.2", tun::kProtoUdp, 1001},  // 2: odd length
      {"10.0.0.1", "10.0.0.2", tun::kProtoTcp, 1400},  // 3
      {"fd00::1", "fd00::2", tun::kProtoUdp, 333},     // 4
      {"fd00::1", "fd00::2", tun::kProtoTcp, 7},       // 5
  };
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    INFO("row " << i + 1);
    PacketSpec s;
    s.src = *base::IpAddr::parse(rows[i].src);
    s.dst = *base::IpAddr::parse(rows[i].dst);
    s.protocol = rows[i].proto;
    s.payload = tun::testing::pattern(rows[i].payload, static_cast<unsigned>(i));
    const auto p = tun::testing::build_packet(s);
    const bool v4 = s.src.is_v4();
    if (v4) CHECK(naive_sum(base::ConstByteSpan(p).first(20)) == 0xffff);
    check_l4(p, v4, rows[i].proto);
  }
}

}  // namespace
