// SPDX-License-Identifier: MIT
#include "base/ip.hpp"

#include <doctest/doctest.h>

namespace {

using base::Endpoint;
using base::IpAddr;
using base::IpPrefix;

TEST_CASE("addresses parse and print") {
  CHECK(IpAddr::parse("10.0.0.1")->to_string() == "10.0.0.1");
  CHECK(IpAddr::parse("10.0.0.1")->is_v4());
  CHECK(IpAddr::parse("FD00::1")->to_string() == "fd00::1");
  CHECK(IpAddr::parse("::ffff:1.2.3.4")->unmap().to_string() == "1.2.3.4");
  CHECK(IpAddr::parse("127.0.0.9")->is_loopback());
  CHECK(IpAddr::parse("::1")->is_loopback());
  CHECK(IpAddr::parse("0.0.0.0")->is_unspecified());
  CHECK_FALSE(IpAddr::parse("").has_value());
  CHECK_FALSE(IpAddr::parse("10.0.0").has_value());
  CHECK_FALSE(IpAddr::parse("10.0.0.1 ").has_value());
  CHECK_FALSE(IpAddr::parse("host.example").has_value());
  CHECK(IpAddr::v4(0x0a000001u) == *IpAddr::parse("10.0.0.1"));
}

TEST_CASE("prefixes mask host bits") {
  // Rows: input, masked output.
  const char* rows[][2] = {
      {"10.1.2.3/8", "10.0.0.0/8"},         // 1
      {"10.1.2.3/32", "10.1.2.3/32"},       // 2
      {"10.1.2.3/0", "0.0.0.0/0"},          // 3
      {"10.255.2.3/12", "10.240.0.0/12"},   // 4
      {"fd00:1:2::7/48", "fd00:1:2::/48"},  // 5
      {"fd00::ff/121", "fd00::80/121"},     // 6
  };
  for (auto& r : rows) {
    CAPTURE(r[0]);
    CHECK(IpPrefix::parse(r[0])->masked().to_string() == r[1]);
  }
  CHECK_FALSE(IpPrefix::parse("10.0.0.0/33").has_value());
  CHECK_FALSE(IpPrefix::parse("10.0.0.0/").has_value());
  CHECK_FALSE(IpPrefix::parse("10.0.0.0/-1").has_value());
  CHECK_FALSE(IpPrefix::parse("10.0.0.0").has_value());
  CHECK(IpPrefix::parse("10.0.0.7", true)->to_string() == "10.0.0.7/32");
  CHECK(IpPrefix::parse("10.0.0.0/8")->contains(*IpAddr::parse("10.9.9.9")));
  CHECK_FALSE(IpPrefix::parse("10.0.0.0/8")->contains(*IpAddr::parse("11.0.0.0")));
  CHECK_FALSE(IpPrefix::parse("::/0")->contains(*IpAddr::parse("1.2.3.4")));
}

TEST_CASE("endpoints parse, print and round-trip through sockaddr") {
  CHECK(Endpoint::parse("10.0.0.1:51820")->to_string() == "10.0.0.1:51820");
  CHECK(Endpoint::parse("[fd00::1]:51820")->to_string() == "[fd00::1]:51820");
  CHECK_FALSE(Endpoint::parse("fd00::1:51820").has_value());  // v6 needs brackets
  CHECK_FALSE(Endpoint::parse("[10.0.0.1]:1").has_value());
  CHECK_FALSE(Endpoint::parse("10.0.0.1").has_value());
  CHECK_FALSE(Endpoint::parse("10.0.0.1:65536").has_value());
  CHECK_FALSE(Endpoint::parse("10.0.0.1:").has_value());
  CHECK_FALSE(Endpoint::parse("[fd00::1]").has_value());
  for (const char* text : {"10.0.0.1:1", "[fd00::9]:65535"}) {
    const auto e = *Endpoint::parse(text);
    sockaddr_storage ss;
    const socklen_t len = e.to_sockaddr(ss);
    CHECK(len > 0);
    CHECK(Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len) == e);
  }
}

}  // namespace
