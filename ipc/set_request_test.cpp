// SPDX-License-Identifier: MIT
#include "ipc/set_request.hpp"

#include <doctest/doctest.h>

#include <future>
#include <string>

namespace {

const std::string kKeyA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kKeyB = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const std::string kZero(64, '0');
const std::string kPeer = "public_key=" + kKeyA + "\n";

// errno of parse_set_request(body): 0 when it parses.
int parse_errno(const std::string& body) {
  auto r = ipc::parse_set_request(body);
  if (r.ok()) return 0;
  INFO("message: ", r.error().message);
  CHECK_FALSE(r.error().message.empty());
  return ipc::uapi_errno(r.error());
}

ipc::SetRequest parse_ok(const std::string& body) {
  auto r = ipc::parse_set_request(body);
  if (!r.ok()) FAIL("unexpected error: ", r.error().message);
  return std::move(r).value();
}

struct Row {
  std::string body;
  int want;  // 0 or the negative errno wireguard-go answers
};

void run_rows(const std::vector<Row>& rows) {
  int n = 0;
  for (const Row& r : rows) {
    CAPTURE(++n);
    CAPTURE(r.body);
    CHECK(parse_errno(r.body) == r.want);
  }
}

TEST_CASE("interface keys, good and bad") {
  run_rows({
      {"private_key=" + kKeyA + "\n", 0},                                                     // 1
      {"private_key=0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n", 0},  // 2
      {"private_key=" + kZero + "\n", 0},                // 3 remove the key
      {"private_key=" + kKeyA.substr(1) + "\n", -22},    // 4 63 digits
      {"private_key=" + kKeyA + "0\n", -22},             // 5 65 digits
      {"private_key=" + kKeyA.substr(2) + "zz\n", -22},  // 6
      {"private_key=\n", -22},                           // 7
      {"listen_port=0\n", 0},                            // 8
      {"listen_port=65535\n", 0},                        // 9
      {"listen_port=65536\n", -22},                      // 10
      {"listen_port=-1\n", -22},                         // 11
      {"listen_port=\n", -22},                           // 12
      {"listen_port=1 \n", -22},                         // 13
      {"listen_port=0x10\n", -22},                       // 14
      {"fwmark=0\n", 0},                                 // 15
      {"fwmark=4294967295\n", 0},                        // 16
      {"fwmark=4294967296\n", -22},                      // 17
      {"fwmark=off\n", -22},                             // 18
      {"replace_peers=true\n", 0},                       // 19
      {"replace_peers=false\n", -22},                    // 20
      {"replace_peers=TRUE\n", -22},                     // 21
      {"replace_peers=\n", -22},                         // 22
      {"bogus_key=1\n", -22},                            // 23 verified on wg-go
      {"=1\n", -22},                                     // 24 empty key
      {"listen_port\n", -71},                            // 25 no '='
      {"endpoint=1.2.3.4:5\n", -22},                     // 26 peer keys need a peer
      {"remove=true\n", -22},                            // 27
      {"allowed_ip=10.0.0.0/8\n", -22},                  // 28
      {"protocol_version=1\n", -22},                     // 29
      {"preshared_key=" + kKeyA + "\n", -22},            // 30
      {"", 0},                                           // 31 an empty set
      {"listen_port=5\r\n", 0},                          // 32 CRLF, as Go's scanner
      {"listen_port=5", 0},                              // 33 last '\n' optional
      {"get=1\n", -22},                                  // 34
  });
}

TEST_CASE("peer keys, good and bad") {
  run_rows({
      {kPeer, 0},                                              // 1
      {"public_key=" + kZero + "\n", 0},                       // 2
      {"public_key=" + kKeyA.substr(1) + "\n", -22},           // 3
      {"public_key=\n", -22},                                  // 4
      {kPeer + "remove=true\n", 0},                            // 5
      {kPeer + "remove=false\n", -22},                         // 6
      {kPeer + "update_only=true\n", 0},                       // 7
      {kPeer + "update_only=1\n", -22},                        // 8
      {kPeer + "preshared_key=" + kKeyB + "\n", 0},            // 9
      {kPeer + "preshared_key=" + kZero + "\n", 0},            // 10
      {kPeer + "preshared_key=" + kKeyB + "00\n", -22},        // 11
      {kPeer + "endpoint=127.0.0.1:5\n", 0},                   // 12
      {kPeer + "endpoint=[fd00::1]:51820\n", 0},               // 13
      {kPeer + "endpoint=fd00::1:51820\n", -22},               // 14
      {kPeer + "endpoint=localhost:5\n", -22},                 // 15
      {kPeer + "endpoint=1.2.3.4:5=\n", -22},                  // 16
      {kPeer + "endpoint=\n", -22},                            // 17
      {kPeer + "persistent_keepalive_interval=0\n", 0},        // 18
      {kPeer + "persistent_keepalive_interval=65535\n", 0},    // 19
      {kPeer + "persistent_keepalive_interval=65536\n", -22},  // 20
      {kPeer + "persistent_keepalive_interval=off\n", -22},    // 21
      {kPeer + "replace_allowed_ips=true\n", 0},               // 22
      {kPeer + "replace_allowed_ips=false\n", -22},            // 23
      {kPeer + "allowed_ip=10.0.0.0/24\n", 0},                 // 24
      {kPeer + "allowed_ip=-10.0.0.0/24\n", 0},                // 25
      {kPeer + "allowed_ip=fd00::/64\n", 0},                   // 26
      {kPeer + "allowed_ip=--10.0.0.0/24\n", -22},             // 27
      {kPeer + "allowed_ip=-\n", -22},                         // 28
      {kPeer + "allowed_ip=10.0.0.0\n", -22},                  // 29
      {kPeer + "allowed_ip=10.0.0.0/33\n", -22},               // 30
      {kPeer + "allowed_ip=\n", -22},                          // 31
      {kPeer + "protocol_version=1\n", 0},                     // 32
      {kPeer + "protocol_version=2\n", -22},                   // 33
      {kPeer + "protocol_version=01\n", -22},                  // 34
      {kPeer + "listen_port=1\n", -22},                        // 35 device keys
      {kPeer + "fwmark=1\n", -22},                             // 36 end with
      {kPeer + "private_key=" + kKeyB + "\n", -22},            // 37 the first
      {kPeer + "replace_peers=true\n", -22},                   // 38 peer
      {kPeer + "bogus=1\n", -22},                              // 39
      {kPeer + "endpoint\n", -71},                             // 40
      {kPeer + "\n", -71},                                     // 41
      {kPeer + "last_handshake_time_sec=0\n", -22},            // 42 get-only
      {kPeer + "tx_bytes=0\n", -22},                           // 43
  });
}

TEST_CASE("the first bad line decides the errno") {
  CHECK(parse_errno("bogus\nlisten_port=x\n") == -71);
  CHECK(parse_errno("listen_port=x\nbogus\n") == -22);
  CHECK(parse_errno("listen_port=1\n" + kPeer + "endpoint=x\nnoequals\n") == -22);
}

TEST_CASE("error messages name the line and never carry key material") {
  auto r = ipc::parse_set_request("listen_port=1\nprivate_key=" + kKeyA.substr(1) + "\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("line 2") != std::string::npos);
  CHECK(r.error().message.find(kKeyA.substr(1, 20)) == std::string::npos);
  auto r2 = ipc::parse_set_request(kKeyA + "\n");  // a key that lost its "private_key="
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message.find(kKeyA.substr(0, 20)) == std::string::npos);
}

TEST_CASE("a full request parses to the right values") {
  const std::string body = "private_key=" + kKeyB +
                           "\n"
                           "listen_port=51820\n"
                           "fwmark=7\n"
                           "replace_peers=true\n" +
                           kPeer + "preshared_key=" + kKeyB +
                           "\n"
                           "endpoint=[fd00::1]:5\n"
                           "persistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.0.0.1/24\n"
                           "allowed_ip=-fd00::/64\n"
                           "protocol_version=1\n"
                           "public_key=" +
                           kKeyB +
                           "\n"
                           "update_only=true\n"
                           "endpoint=1.2.3.4:9\n" +
                           kPeer + "remove=true\n";
  const ipc::SetRequest req = parse_ok(body);
  REQUIRE(req.private_key.has_value());
  // Clamped: first byte & 248, last byte & 127 | 64. 0xfe -> 0xf8, 0x10 -> 0x50.
  CHECK(req.private_key->to_hex() ==
        "f8dcba9876543210fedcba9876543210fedcba9876543210fedcba9876543250");
  CHECK(req.listen_port == 51820);
  CHECK(req.fwmark == 7u);
  CHECK(req.replace_peers);
  REQUIRE(req.peers.size() == 3);

  const ipc::PeerChange& a = req.peers[0];
  CHECK(a.public_key.to_hex() == kKeyA);
  CHECK_FALSE(a.remove);
  CHECK_FALSE(a.update_only);
  REQUIRE(a.preshared_key.has_value());
  CHECK(a.preshared_key->to_hex() == kKeyB);  // preshared keys are not clamped
  CHECK(a.endpoint == base::Endpoint::parse("[fd00::1]:5"));
  CHECK(a.persistent_keepalive_interval == 25);
  CHECK(a.replace_allowed_ips);
  REQUIRE(a.allowed_ips.size() == 2);
  CHECK(a.allowed_ips[0].prefix == *base::IpPrefix::parse("10.0.0.1/24"));
  CHECK_FALSE(a.allowed_ips[0].remove);
  CHECK(a.allowed_ips[1].prefix == *base::IpPrefix::parse("fd00::/64"));
  CHECK(a.allowed_ips[1].remove);
  CHECK(a.protocol_version == 1u);

  const ipc::PeerChange& b = req.peers[1];
  CHECK(b.public_key.to_hex() == kKeyB);
  CHECK(b.update_only);
  CHECK_FALSE(b.preshared_key.has_value());
  CHECK(b.endpoint == base::Endpoint::parse("1.2.3.4:9"));
  CHECK_FALSE(b.persistent_keepalive_interval.has_value());
  CHECK_FALSE(b.replace_allowed_ips);
  CHECK(b.allowed_ips.empty());

  const ipc::PeerChange& c = req.peers[2];
  CHECK(c.public_key.to_hex() == kKeyA);  // the same key again: a second section
  CHECK(c.remove);
}

TEST_CASE("an all-zero private key stays zero (it means: drop the key)") {
  const ipc::SetRequest req = parse_ok("private_key=" + kZero + "\n");
  REQUIRE(req.private_key.has_value());
  CHECK(req.private_key->is_zero());
}

TEST_CASE("replace_allowed_ips drops the allowed_ip lines before it; order is kept") {
  const ipc::SetRequest req = parse_ok(kPeer +
                                       "allowed_ip=10.0.0.0/8\n"
                                       "allowed_ip=-10.1.0.0/16\n"
                                       "replace_allowed_ips=true\n"
                                       "allowed_ip=10.2.0.0/16\n"
                                       "allowed_ip=-10.2.0.0/16\n"
                                       "allowed_ip=10.3.0.0/16\n");
  REQUIRE(req.peers.size() == 1);
  const auto& ips = req.peers[0].allowed_ips;
  REQUIRE(ips.size() == 3);
  CHECK(ips[0] == ipc::AllowedIpChange{*base::IpPrefix::parse("10.2.0.0/16"), false});
  CHECK(ips[1] == ipc::AllowedIpChange{*base::IpPrefix::parse("10.2.0.0/16"), true});
  CHECK(ips[2] == ipc::AllowedIpChange{*base::IpPrefix::parse("10.3.0.0/16"), false});
}

TEST_CASE("repeated keys: the last value wins") {
  const ipc::SetRequest req =
      parse_ok("listen_port=1\nlisten_port=2\n" + kPeer +
               "endpoint=1.1.1.1:1\nendpoint=2.2.2.2:2\npersistent_keepalive_interval=5\n"
               "persistent_keepalive_interval=0\n");
  CHECK(req.listen_port == 2);
  CHECK(req.peers[0].endpoint == base::Endpoint::parse("2.2.2.2:2"));
  CHECK(req.peers[0].persistent_keepalive_interval == 0);
}

TEST_CASE("format_set_request writes what wg(8) would send, and parses back equal") {
  const std::string canonical =
      "set=1\n"
      "private_key=" +
      std::string("f8dcba9876543210fedcba9876543210fedcba9876543210fedcba9876543250") +
      "\n"
      "listen_port=51999\n"
      "fwmark=0\n"
      "replace_peers=true\n"
      "public_key=" +
      kKeyA +
      "\n"
      "protocol_version=1\n"
      "preshared_key=" +
      kKeyB +
      "\n"
      "endpoint=[::102:304]:5\n"
      "persistent_keepalive_interval=25\n"
      "replace_allowed_ips=true\n"
      "allowed_ip=10.0.0.0/24\n"
      "allowed_ip=-fd00::/64\n"
      "public_key=" +
      kKeyB +
      "\n"
      "remove=true\n"
      "update_only=true\n"
      "\n";
  // The body is the text between "set=1\n" and the blank line.
  const std::string body = canonical.substr(6, canonical.size() - 7);
  const ipc::SetRequest req = parse_ok(body);
  CHECK(ipc::format_set_request(req) == canonical);

  ipc::SetRequest empty;
  CHECK(ipc::format_set_request(empty) == "set=1\n\n");
  CHECK(parse_ok("") == empty);
}

TEST_CASE("uapi_errno maps error codes to negative errno values") {
  CHECK(ipc::uapi_errno(base::make_error(std::errc::invalid_argument, "x")) == -22);
  CHECK(ipc::uapi_errno(base::make_error(std::errc::protocol_error, "x")) == -71);
  CHECK(ipc::uapi_errno(base::make_error(std::errc::address_in_use, "x")) == -98);
  CHECK(ipc::uapi_errno(base::make_error(std::errc::io_error, "x")) == -5);
  CHECK(ipc::uapi_errno(base::Error{std::make_error_code(std::future_errc::no_state), "x"}) == -55);
}

}  // namespace
