// SPDX-License-Identifier: MIT
#include "disco/message.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

namespace {

using base::Bytes;
using disco::DropReason;
using disco::Message;

Bytes bytes(std::string_view spaced_hex) {
  std::string h;
  for (char c : spaced_hex)
    if (c != ' ') h += c;
  return base::hex_bytes(h).value();
}

std::string encode(const Message& m) {
  Bytes out;
  append_message(out, m);
  CHECK(out.size() == disco::encoded_size(m));
  return base::to_hex(out);
}

Message parse_ok(const Bytes& b) {
  DropReason why = DropReason::none;
  auto m = disco::parse_message(b, why);
  REQUIRE_MESSAGE(m.has_value(), to_string(why));
  return *m;
}

DropReason parse_fails(const Bytes& b) {
  DropReason why = DropReason::none;
  auto m = disco::parse_message(b, why);
  CHECK_FALSE(m.has_value());
  return why;
}

// Keys from Tailscale's disco_test.go: 32 bytes, all zero except the named indexes, which
// hold their own index ([]byte{1: 1, 2: 2, 30: 30, 31: 31}).
base::KeyBytes sparse_key(std::initializer_list<int> indexes) {
  base::KeyBytes k{};
  for (int i : indexes) k[static_cast<std::size_t>(i)] = static_cast<std::byte>(i);
  return k;
}

disco::TxId tx_1_to_12() {
  disco::TxId t;
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::byte>(i + 1);
  return t;
}

base::Endpoint ep(std::string_view text) {
  return base::Endpoint::parse(text).value();
}

disco::BindUdpRelayEndpoint relay_bind(disco::MessageType type) {
  disco::BindUdpRelayEndpoint m;
  m.type = type;
  m.vni = 1;
  m.generation = 2;
  m.remote_key = base::DiscoPublicKey(sparse_key({1, 2, 30, 31}));
  for (std::size_t i = 0; i < m.challenge.size(); ++i) m.challenge[i] = static_cast<std::byte>(i);
  return m;
}

disco::UdpRelayEndpoint relay_endpoint() {
  disco::UdpRelayEndpoint e;
  e.server_disco = base::DiscoPublicKey(sparse_key({1, 2, 30, 31}));
  e.client_disco = {base::DiscoPublicKey(sparse_key({1, 2, 3, 30, 31})),
                    base::DiscoPublicKey(sparse_key({1, 2, 4, 30, 31}))};
  e.lamport_id = 123;
  e.vni = 456;
  e.bind_lifetime_ns = 1'000'000'000;             // time.Second
  e.steady_state_lifetime_ns = 60'000'000'000LL;  // time.Minute
  e.addr_ports = {ep("1.2.3.4:567"), ep("[2001::3456]:789")};
  return e;
}

struct Vector {
  int row;
  const char* name;
  Message message;
  const char* want;  // Go's fmt "% x" of AppendMarshal
};

// The table of tailscale/tailscale disco/disco_test.go, TestMarshalAndParse (upstream commit
// de9ec7ee, August 2026): every message type, byte for byte.
std::vector<Vector> tailscale_vectors() {
  const base::NodePublicKey node_key(sparse_key({1, 2, 30, 31}));
  disco::CallMeMaybeVia via;
  via.endpoint = relay_endpoint();
  disco::AllocateUdpRelayEndpointRequest req;
  req.client_disco = relay_endpoint().client_disco;
  req.generation = 1;
  disco::AllocateUdpRelayEndpointResponse resp;
  resp.generation = 1;
  resp.endpoint = relay_endpoint();
  using T = disco::MessageType;
  return {
      {1, "ping", disco::Ping{tx_1_to_12(), std::nullopt, 0},
       "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c"},
      {2, "ping_with_nodekey_src", disco::Ping{tx_1_to_12(), node_key, 0},
       "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 1f"},
      {3, "ping_with_padding", disco::Ping{tx_1_to_12(), std::nullopt, 3},
       "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 00 00"},
      {4, "ping_with_padding_and_nodekey_src", disco::Ping{tx_1_to_12(), node_key, 3},
       "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 1f 00 00 00"},
      {5, "pong", disco::Pong{tx_1_to_12(), ep("2.3.4.5:1234")},
       "02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 00 00 00 00 00 00 00 00 00 ff ff 02 03 04 05 "
       "04 d2"},
      {6, "pongv6", disco::Pong{tx_1_to_12(), ep("[fed0::12]:6666")},
       "02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c fe d0 00 00 00 00 00 00 00 00 00 00 00 00 00 12 "
       "1a 0a"},
      {7, "call_me_maybe", disco::CallMeMaybe{}, "03 00"},
      {8, "call_me_maybe_endpoints",
       disco::CallMeMaybe{{ep("1.2.3.4:567"), ep("[2001::3456]:789")}},
       "03 00 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04 02 37 20 01 00 00 00 00 00 00 00 00 "
       "00 00 00 00 34 56 03 15"},
      {9, "bind_udp_relay_endpoint", relay_bind(T::bind_udp_relay_endpoint),
       "04 00 00 00 00 01 00 00 00 02 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 00 00 1e 1f 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 "
       "12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"},
      {10, "bind_udp_relay_endpoint_challenge", relay_bind(T::bind_udp_relay_endpoint_challenge),
       "05 00 00 00 00 01 00 00 00 02 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 00 00 1e 1f 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 "
       "12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"},
      {11, "bind_udp_relay_endpoint_answer", relay_bind(T::bind_udp_relay_endpoint_answer),
       "06 00 00 00 00 01 00 00 00 02 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 00 00 1e 1f 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 "
       "12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"},
      {12, "call_me_maybe_via", via,
       "07 00 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 1e 1f 00 01 02 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 1e 1f 00 01 02 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 1e 1f 00 00 00 00 00 00 00 7b 00 00 01 c8 00 00 00 00 3b 9a ca 00 00 00 "
       "00 0d f8 47 58 00 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04 02 37 20 01 00 00 00 00 "
       "00 00 00 00 00 00 00 00 34 56 03 15"},
      {13, "allocate_udp_relay_endpoint_request", req,
       "08 00 00 01 02 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 1e 1f 00 01 02 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 1e 1f 00 00 00 01"},
      {14, "allocate_udp_relay_endpoint_response", resp,
       "09 00 00 00 00 01 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 1e 1f 00 01 02 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 1e 1f 00 01 02 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
       "00 00 00 00 00 00 00 00 00 00 1e 1f 00 00 00 00 00 00 00 7b 00 00 01 c8 00 00 00 00 3b 9a "
       "ca 00 00 00 00 0d f8 47 58 00 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04 02 37 20 01 "
       "00 00 00 00 00 00 00 00 00 00 00 00 34 56 03 15"},
  };
}

TEST_CASE("Tailscale's published encodings, byte for byte, and back") {
  for (const auto& v : tailscale_vectors()) {
    CAPTURE(v.row);
    CAPTURE(v.name);
    const Bytes want = bytes(v.want);
    CHECK(encode(v.message) == base::to_hex(want));
    const Message back = parse_ok(want);
    CHECK(back == v.message);
    CHECK(disco::message_type(back) == disco::message_type(v.message));
    CHECK(disco::is_peer_relay(disco::message_type(back)) == (v.row >= 9));
  }
}

TEST_CASE("fact sheet examples (protocols/disco-magicsock.md 2.5 to 2.7)") {
  // 1. Ping, TxID a0..ab, node key all 0x11: 46 bytes.
  disco::TxId tx;
  for (std::size_t i = 0; i < tx.size(); ++i) tx[i] = static_cast<std::byte>(0xa0 + i);
  base::KeyBytes k11;
  k11.fill(std::byte{0x11});
  const Message ping = disco::Ping{tx, base::NodePublicKey(k11), 0};
  CHECK(encode(ping) == "0100a0a1a2a3a4a5a6a7a8a9aaab" + std::string(64, '1'));
  CHECK(disco::encoded_size(ping) == 46);
  // 2. Pong from 198.51.100.7:41641.
  const Message pong = disco::Pong{tx, ep("198.51.100.7:41641")};
  CHECK(encode(pong) == base::to_hex(bytes("02 00 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab 00 00 00 00 "
                                           "00 00 00 00 00 00 ff ff c6 33 64 07 a2 a9")));
  // 3. CallMeMaybe with 203.0.113.9:41641 and [2001:db8::5]:41641.
  const Message cmm = disco::CallMeMaybe{{ep("203.0.113.9:41641"), ep("[2001:db8::5]:41641")}};
  CHECK(encode(cmm) ==
        "0300"
        "00000000000000000000ffffcb007109a2a9"
        "20010db8000000000000000000000005a2a9");
  for (const auto* m : {&ping, &pong, &cmm}) {
    Bytes b;
    append_message(b, *m);
    CHECK(parse_ok(b) == *m);
  }
}

// Tailscale's parser (disco/disco.go) ignores trailing bytes and the version of these types.
TEST_CASE("lenient forms are accepted as Tailscale accepts them") {
  const std::string tx = "0102030405060708090a0b0c";
  const std::string key = std::string(60, '0') + "1e1f";
  const std::string v6 = "fed00000000000000000000000000012";
  const std::string relay_key = std::string(62, '0') + "01";
  const std::string relay = relay_key + relay_key + relay_key + "000000000000007b" + "000001c8" +
                            "000000003b9aca00" + "0000000df8475800";
  const std::string addr =
      "00000000000000000000ffff01020304"
      "0237";

  struct Row {
    int row;
    const char* what;
    std::string hex;
    std::function<void(const Message&)> check;
  };
  const std::vector<Row> rows = {
      {1, "ping with a version byte of 7", "0107" + tx,
       [](const Message& m) { CHECK(std::get<disco::Ping>(m).padding == 0); }},
      {2, "ping with 31 bytes after the TxID: no key, 31 bytes of padding",
       "0100" + tx + std::string(62, '0'),
       [](const Message& m) {
         CHECK_FALSE(std::get<disco::Ping>(m).node_key.has_value());
         CHECK(std::get<disco::Ping>(m).padding == 31);
       }},
      {3, "ping with key and non-zero padding bytes", "0100" + tx + key + "ffff",
       [](const Message& m) {
         CHECK(std::get<disco::Ping>(m).node_key.has_value());
         CHECK(std::get<disco::Ping>(m).padding == 2);
       }},
      {4, "ping with an all-zero key: present, and zero", "0100" + tx + std::string(64, '0'),
       [](const Message& m) { CHECK(std::get<disco::Ping>(m).node_key->is_zero()); }},
      {5, "pong with a trailing byte and version 1", "0201" + tx + v6 + "1a0a" + "99",
       [](const Message& m) { CHECK(std::get<disco::Pong>(m).src == ep("[fed0::12]:6666")); }},
      {6, "pong from an IPv4-mapped address comes out as IPv4",
       "0200" + tx + "00000000000000000000ffff0a000001" + "0001",
       [](const Message& m) { CHECK(std::get<disco::Pong>(m).src == ep("10.0.0.1:1")); }},
      {7, "call-me-maybe, version 1: no endpoints", "0301" + addr,
       [](const Message& m) { CHECK(std::get<disco::CallMeMaybe>(m).endpoints.empty()); }},
      {8, "call-me-maybe, 19 bytes: no endpoints", "0300" + addr + "00",
       [](const Message& m) { CHECK(std::get<disco::CallMeMaybe>(m).endpoints.empty()); }},
      {9, "call-me-maybe, 17 bytes: no endpoints", "0300" + addr.substr(0, 34),
       [](const Message& m) { CHECK(std::get<disco::CallMeMaybe>(m).endpoints.empty()); }},
      {10, "call-me-maybe, one endpoint", "0300" + addr,
       [](const Message& m) {
         CHECK(std::get<disco::CallMeMaybe>(m).endpoints ==
               std::vector<base::Endpoint>{ep("1.2.3.4:567")});
       }},
      {11, "relay bind with version 3 and a trailing byte",
       "0403" + std::string(2 * 72, '0') + "ff",
       [](const Message& m) { CHECK(std::get<disco::BindUdpRelayEndpoint>(m).vni == 0); }},
      {12, "call-me-maybe-via, version 1: empty, version kept", "0701",
       [](const Message& m) { CHECK(std::get<disco::CallMeMaybeVia>(m).version == 1); }},
      {13, "allocation request, version 2 and short: empty", "0802",
       [](const Message& m) {
         CHECK(std::get<disco::AllocateUdpRelayEndpointRequest>(m).version == 2);
       }},
      {14, "allocation request with a trailing byte", "0800" + std::string(136, '0') + "ff",
       [](const Message& m) {
         CHECK(std::get<disco::AllocateUdpRelayEndpointRequest>(m).generation == 0);
       }},
      {15, "allocation response, version 9: empty", "0909" + std::string(8, '0'),
       [](const Message& m) {
         CHECK(std::get<disco::AllocateUdpRelayEndpointResponse>(m).version == 9);
       }},
      {16, "call-me-maybe-via with exactly one address", "0700" + relay + addr,
       [](const Message& m) {
         const auto& e = std::get<disco::CallMeMaybeVia>(m).endpoint;
         CHECK(e.lamport_id == 123);
         CHECK(e.vni == 456);
         CHECK(e.addr_ports == std::vector<base::Endpoint>{ep("1.2.3.4:567")});
       }},
  };
  for (const auto& r : rows) {
    CAPTURE(r.row);
    CAPTURE(r.what);
    const Bytes in = base::hex_bytes(r.hex).value();
    const Message m = parse_ok(in);
    r.check(m);
    // Whatever parses writes back to something that parses to the same value.
    Bytes again;
    append_message(again, m);
    CHECK(parse_ok(again) == m);
  }
}

TEST_CASE("every malformed form is rejected with its reason") {
  const std::string tx = "0102030405060708090a0b0c";
  const std::string relay_key = std::string(62, '0') + "01";
  const std::string relay = relay_key + relay_key + relay_key + std::string(2 * 28, '0');
  const std::string addr =
      "00000000000000000000ffff01020304"
      "0237";
  struct Row {
    int row;
    const char* what;
    std::string hex;
    DropReason want;
  };
  const std::vector<Row> rows = {
      {1, "empty plaintext", "", DropReason::short_message},
      {2, "type byte only", "01", DropReason::short_message},
      {3, "type 0", "0000", DropReason::unknown_type},
      {4, "type 0x0a", "0a00" + tx, DropReason::unknown_type},
      {5, "type 0xff", "ff00", DropReason::unknown_type},
      {6, "ping without a TxID", "0100", DropReason::short_ping},
      {7, "ping with 11 TxID bytes", "0100" + tx.substr(0, 22), DropReason::short_ping},
      {8, "pong without address", "0200" + tx, DropReason::short_pong},
      {9, "pong one byte short", "0200" + tx + std::string(34, '0'), DropReason::short_pong},
      {10, "relay bind 71 bytes", "0400" + std::string(142, '0'),
       DropReason::short_bind_udp_relay_endpoint},
      {11, "relay challenge empty", "0500", DropReason::short_bind_udp_relay_endpoint},
      {12, "relay answer 40 bytes", "0600" + std::string(80, '0'),
       DropReason::short_bind_udp_relay_endpoint},
      {13, "call-me-maybe-via empty", "0700", DropReason::bad_udp_relay_endpoint},
      {14, "call-me-maybe-via without an address", "0700" + relay,
       DropReason::bad_udp_relay_endpoint},
      {15, "call-me-maybe-via with a partial second address", "0700" + relay + addr + "0000",
       DropReason::bad_udp_relay_endpoint},
      {16, "call-me-maybe-via with a trailing byte", "0700" + relay + addr + "ff",
       DropReason::bad_udp_relay_endpoint},
      {17, "allocation request 67 bytes", "0800" + std::string(134, '0'),
       DropReason::short_allocate_request},
      {18, "allocation response without generation", "0900" + std::string(6, '0'),
       DropReason::short_allocate_response},
      {19, "allocation response without an endpoint", "0900" + std::string(8, '0'),
       DropReason::bad_udp_relay_endpoint},
      {20, "allocation response with a partial address",
       "0900" + std::string(8, '0') + relay + addr.substr(0, 20),
       DropReason::bad_udp_relay_endpoint},
  };
  for (const auto& r : rows) {
    CAPTURE(r.row);
    CAPTURE(r.what);
    CHECK(parse_fails(base::hex_bytes(r.hex).value()) == r.want);
  }
}

TEST_CASE("a relay bind message with a type outside 0x04 to 0x06 is written as 0x04") {
  auto m = relay_bind(disco::MessageType::pong);
  CHECK(disco::message_type(m) == disco::MessageType::bind_udp_relay_endpoint);
  CHECK(encode(m).substr(0, 4) == "0400");
}

TEST_CASE("every drop reason and message type has a name") {
  for (std::size_t i = 0; i < disco::kDropReasonCount; ++i) {
    CHECK(to_string(static_cast<DropReason>(i)) != "unknown");
  }
  for (int t = 1; t <= 9; ++t) {
    CHECK(to_string(static_cast<disco::MessageType>(t)) != "unknown");
  }
  CHECK(to_string(static_cast<disco::MessageType>(10)) == "unknown");
}

TEST_CASE("summary names the message and its transaction") {
  CHECK(disco::summary(disco::Ping{tx_1_to_12(), std::nullopt, 5}) ==
        "ping tx=010203040506 padding=5");
  CHECK(disco::summary(disco::Pong{tx_1_to_12(), ep("2.3.4.5:1234")}) ==
        "pong tx=010203040506 src=2.3.4.5:1234");
  CHECK(disco::summary(disco::CallMeMaybe{{ep("1.2.3.4:5")}}) == "call-me-maybe endpoints=1");
}

}  // namespace
