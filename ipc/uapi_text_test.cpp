// SPDX-License-Identifier: MIT
#include "ipc/uapi_text.hpp"

#include <doctest/doctest.h>

namespace {

TEST_CASE("parse_decimal takes digits only, within range") {
  struct Row {
    const char* text;
    std::uint64_t max;
    std::optional<std::uint64_t> want;
  };
  const Row rows[] = {
      {"0", 65535, 0},                                           // 1
      {"65535", 65535, 65535},                                   // 2
      {"65536", 65535, std::nullopt},                            // 3
      {"00080", 65535, 80},                                      // 4 leading zeros: Go accepts
      {"", 65535, std::nullopt},                                 // 5
      {"+1", 65535, std::nullopt},                               // 6
      {"-1", 65535, std::nullopt},                               // 7
      {" 1", 65535, std::nullopt},                               // 8
      {"1 ", 65535, std::nullopt},                               // 9
      {"0x10", 65535, std::nullopt},                             // 10
      {"4294967295", 0xffffffff, 4294967295u},                   // 11
      {"4294967296", 0xffffffff, std::nullopt},                  // 12
      {"18446744073709551615", UINT64_MAX, UINT64_MAX},          // 13
      {"18446744073709551616", UINT64_MAX, std::nullopt},        // 14
      {"99999999999999999999999999", UINT64_MAX, std::nullopt},  // 15
      {"1_000", 65535, std::nullopt},                            // 16
  };
  int n = 0;
  for (const Row& r : rows) {
    CAPTURE(++n);
    CHECK(ipc::parse_decimal(r.text, r.max) == r.want);
  }
}

TEST_CASE("format_ip prints what Go's netip prints") {
  const char* rows[][2] = {
      {"10.0.0.1", "10.0.0.1"},                        // 1
      {"0.0.0.0", "0.0.0.0"},                          // 2
      {"::", "::"},                                    // 3
      {"::1", "::1"},                                  // 4
      {"fd00::", "fd00::"},                            // 5
      {"2001:DB8::1", "2001:db8::1"},                  // 6 lowercase
      {"::1.2.3.4", "::102:304"},                      // 7 inet_ntop says ::1.2.3.4
      {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},            // 8 IPv4-mapped keeps the dotted form
      {"1:0:0:1:0:0:0:1", "1:0:0:1::1"},               // 9 the longest run is shortened
      {"1:0:0:2:0:0:3:4", "1::2:0:0:3:4"},             // 10 the first of equal runs
      {"0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"},          // 11 a single zero group stays
      {"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},          // 12
      {"1:2:3:4:5:6:0:0", "1:2:3:4:5:6::"},            // 13
      {"fe80::a:b0:c00:d000", "fe80::a:b0:c00:d000"},  // 14 no leading zeros
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},          // 15
  };
  int n = 0;
  for (auto& r : rows) {
    CAPTURE(++n);
    auto addr = base::IpAddr::parse(r[0]);
    REQUIRE(addr.has_value());
    CHECK(ipc::format_ip(*addr) == r[1]);
  }
}

TEST_CASE("endpoints: numeric v4 or bracketed v6 with a port") {
  struct Row {
    const char* text;
    const char* want;  // formatted, or nullptr for a rejection
  };
  const Row rows[] = {
      {"127.0.0.1:5", "127.0.0.1:5"},                  // 1
      {"1.2.3.4:65535", "1.2.3.4:65535"},              // 2
      {"1.2.3.4:0", "1.2.3.4:0"},                      // 3
      {"[::1]:51820", "[::1]:51820"},                  // 4
      {"[FD00::1]:1", "[fd00::1]:1"},                  // 5
      {"[::ffff:10.0.0.1]:9", "[::ffff:10.0.0.1]:9"},  // 6
      {"1.2.3.4:65536", nullptr},                      // 7
      {"1.2.3.4", nullptr},                            // 8
      {"1.2.3.4:", nullptr},                           // 9
      {"::1:5", nullptr},                              // 10 v6 needs brackets
      {"[1.2.3.4]:5", nullptr},                        // 11 brackets only for v6
      {"[::1]5", nullptr},                             // 12
      {"[::1]", nullptr},                              // 13
      {"example.com:5", nullptr},                      // 14 no names
      {"01.2.3.4:5", nullptr},                         // 15 Go rejects leading zeros
      {"[fe80::1%eth0]:5", nullptr},                   // 16 zones: see uapi_text.hpp
      {"1.2.3.4:+5", nullptr},                         // 17
      {" 1.2.3.4:5", nullptr},                         // 18
      {"", nullptr},                                   // 19
      {"1.2.3.4:5\r", nullptr},                        // 20
  };
  int n = 0;
  for (const Row& r : rows) {
    CAPTURE(++n);
    auto ep = ipc::parse_endpoint(r.text);
    if (r.want == nullptr) {
      CHECK_FALSE(ep.has_value());
    } else {
      REQUIRE(ep.has_value());
      CHECK(ipc::format_endpoint(*ep) == r.want);
    }
  }
}

TEST_CASE("prefixes: addr/bits, host bits kept, no leading zero in bits") {
  struct Row {
    const char* text;
    const char* want;
  };
  const Row rows[] = {
      {"10.0.0.0/24", "10.0.0.0/24"},              // 1
      {"10.0.0.1/24", "10.0.0.1/24"},              // 2 not masked by the parser
      {"0.0.0.0/0", "0.0.0.0/0"},                  // 3
      {"1.2.3.4/32", "1.2.3.4/32"},                // 4
      {"fd00::/64", "fd00::/64"},                  // 5
      {"::/0", "::/0"},                            // 6
      {"::1/128", "::1/128"},                      // 7
      {"1.2.3.4/33", nullptr},                     // 8
      {"::1/129", nullptr},                        // 9
      {"1.2.3.4", nullptr},                        // 10 bits are required
      {"1.2.3.4/", nullptr},                       // 11
      {"1.2.3.4/08", nullptr},                     // 12
      {"1.2.3.4/+8", nullptr},                     // 13
      {"1.2.3.4/8/8", nullptr},                    // 14
      {"fe80::1%eth0/64", nullptr},                // 15
      {"/8", nullptr},                             // 16
      {"10.0.0.0/24 ", nullptr},                   // 17
      {"10.0.0.0/99999999999999999999", nullptr},  // 18
  };
  int n = 0;
  for (const Row& r : rows) {
    CAPTURE(++n);
    auto p = ipc::parse_prefix(r.text);
    if (r.want == nullptr) {
      CHECK_FALSE(p.has_value());
    } else {
      REQUIRE(p.has_value());
      CHECK(ipc::format_prefix(*p) == r.want);
    }
  }
}

TEST_CASE("quote_for_log escapes and truncates") {
  CHECK(ipc::quote_for_log("abc") == "\"abc\"");
  CHECK(ipc::quote_for_log(std::string_view("a\0\n\"", 4)) == "\"a\\x00\\x0a\\x22\"");
  CHECK(ipc::quote_for_log("abcdef", 3) == "\"abc\"...");
}

}  // namespace
