// SPDX-License-Identifier: MIT
#include "net/stun.hpp"

#include <doctest/doctest.h>

namespace {

net::stun::TxId tx_1_to_12() {
  net::stun::TxId t;
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::byte(static_cast<unsigned>(i + 1));
  return t;
}

// Golden bytes computed independently (Python's zlib.crc32 for the fingerprint).
constexpr std::string_view kRequest =
    "000100142112a4420102030405060708090a0b0c802200087461696c6e6f646580280004b32c370f";
constexpr std::string_view kResponseV4 =
    "0101000c2112a4420102030405060708090a0b0c002000080001373c2010a746";

TEST_CASE("request bytes are Tailscale's (SOFTWARE tailnode, FINGERPRINT)") {
  std::byte out[net::stun::kRequestLen];
  const auto n = net::stun::write_request(tx_1_to_12(), out);
  CHECK(n == 40);
  CHECK(base::to_hex(base::ConstByteSpan(out, n)) == kRequest);
  auto tx = net::stun::parse_request(base::ConstByteSpan(out, n));
  REQUIRE(tx.ok());
  CHECK(*tx == tx_1_to_12());
}

TEST_CASE("requests that are not from Tailscale or are damaged are refused") {
  auto good = base::hex_bytes(kRequest).value();
  // 1. wrong fingerprint
  auto bad_fp = good;
  bad_fp.back() ^= std::byte{1};
  CHECK_FALSE(net::stun::parse_request(bad_fp).ok());
  // 2. other software (fingerprint recomputed would still fail the software check)
  auto other = good;
  other[24] = std::byte{'x'};
  CHECK_FALSE(net::stun::parse_request(other).ok());
  // 3. not a binding request
  auto resp = good;
  resp[1] = std::byte{0x11};
  CHECK_FALSE(net::stun::parse_request(resp).ok());
  // 4. truncated attribute, 5. no cookie, 6. too short
  CHECK_FALSE(net::stun::parse_request(base::ConstByteSpan(good).first(38)).ok());
  auto nocookie = good;
  nocookie[4] = std::byte{0};
  CHECK_FALSE(net::stun::parse_request(nocookie).ok());
  CHECK_FALSE(net::stun::parse_request(base::ConstByteSpan(good).first(19)).ok());
}

TEST_CASE("response: XOR-MAPPED-ADDRESS for IPv4 and IPv6; mapped IPv4 written as IPv4") {
  std::byte out[net::stun::kMaxResponseLen];
  auto n = net::stun::write_response(tx_1_to_12(), *base::Endpoint::parse("1.2.3.4:5678"), out);
  CHECK(base::to_hex(base::ConstByteSpan(out, n)) == kResponseV4);
  auto r = net::stun::parse_response(base::ConstByteSpan(out, n));
  REQUIRE(r.ok());
  CHECK(r->tx == tx_1_to_12());
  CHECK(r->addr.to_string() == "1.2.3.4:5678");

  n = net::stun::write_response(tx_1_to_12(), *base::Endpoint::parse("[2001:db8::1]:41641"), out);
  CHECK(n == 20 + 8 + 16);
  r = net::stun::parse_response(base::ConstByteSpan(out, n));
  REQUIRE(r.ok());
  CHECK(r->addr.to_string() == "[2001:db8::1]:41641");

  n = net::stun::write_response(tx_1_to_12(), *base::Endpoint::parse("[::ffff:10.0.0.1]:7"), out);
  CHECK(n == 32);
  CHECK(net::stun::parse_response(base::ConstByteSpan(out, n))->addr.to_string() == "10.0.0.1:7");
}

TEST_CASE("response parsing: alternate type, MAPPED-ADDRESS fallback, trailing bytes, damage") {
  auto v4 = base::hex_bytes(kResponseV4).value();
  auto alt = v4;
  alt[20] = std::byte{0x80};  // 0x8020
  CHECK(net::stun::parse_response(alt)->addr.to_string() == "1.2.3.4:5678");
  // MAPPED-ADDRESS (not XORed) only.
  auto plain =
      base::hex_bytes("0101000c2112a4420102030405060708090a0b0c00010008000100500a000001").value();
  CHECK(net::stun::parse_response(plain)->addr.to_string() == "10.0.0.1:80");
  auto trailing = v4;
  trailing.push_back(std::byte{0xee});
  CHECK(net::stun::parse_response(trailing).ok());
  auto bad_family = v4;
  bad_family[25] = std::byte{9};
  CHECK_FALSE(net::stun::parse_response(bad_family).ok());
  auto cut = base::ConstByteSpan(v4).first(30);
  CHECK_FALSE(net::stun::parse_response(cut).ok());
  auto request = base::hex_bytes(kRequest).value();
  CHECK_FALSE(net::stun::parse_response(request).ok());
}

TEST_CASE("is_stun: cookie and top bits") {
  auto v4 = base::hex_bytes(kResponseV4).value();
  CHECK(net::stun::is_stun(v4));
  v4[0] = std::byte{0x40};
  CHECK_FALSE(net::stun::is_stun(v4));
  CHECK_FALSE(net::stun::is_stun(base::Bytes(19)));
}

}  // namespace
