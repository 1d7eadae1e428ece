// SPDX-License-Identifier: MIT
// The deterministic handshake vectors of the WireGuard fact sheet (sections 11.3 and 11.4),
// reproduced byte for byte: both messages, the transport keys, a data packet, a keepalive,
// a cookie reply and the mac2 it leads to. These vectors were checked against wireguard-go.
#include "wg/noise.hpp"

#include <doctest/doctest.h>

#include "base/packet.hpp"
#include "base/testing/manual_clock.hpp"
#include "wg/cookie.hpp"
#include "wg/transport.hpp"

namespace {

using base::to_hex;

base::Bytes hx(std::string_view s) {
  return base::hex_bytes(s).value();
}
template <class K>
K key(std::string_view h) {
  return K::from_hex(h).value();
}
base::KeyBytes raw(std::string_view h) {
  base::KeyBytes k{};
  REQUIRE(base::from_hex(h, k));
  return k;
}

constexpr std::string_view kInitPriv =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
constexpr std::string_view kInitPub =
    "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
constexpr std::string_view kRespPriv =
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
constexpr std::string_view kRespPub =
    "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";
constexpr std::string_view kInitEph =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
constexpr std::string_view kRespEph =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
constexpr std::string_view kPsk =
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f";
constexpr std::uint32_t kInitIndex = 0x11223344;
constexpr std::uint32_t kRespIndex = 0x55667788;

constexpr std::string_view kMessage1 =
    "0100000044332211493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d"
    "e27278d731cf2c76eda4f7d51df52a238f1fa9e91e6cf8a81c57688fbbea919ceafd39b50e890c5a"
    "e89212054ccfcb2c27d6273685c933b1365f991dd4fd63f1d325c20148f694abc8a16a8078eafefc"
    "f91a7c6a8cbdcd0977f0a47500000000000000000000000000000000";

struct Case {
  std::string_view psk;
  std::string_view message2;
  std::string_view final_c;
  std::string_view final_h;
  std::string_view initiator_send;
  std::string_view initiator_receive;
};

const Case kWithPsk{
    kPsk,
    "020000008877665544332211605a725d2a4adfeeb1a29e17edd621c1b7593ee8cdbc44ac6c4ab6e2"
    "f805d23cac928ac462483833f29343e2d130ba27e3f7a3d397f3e3bfeb995bfb634f2f6200000000"
    "000000000000000000000000",
    "ec08cfbbd047203d2ba3fcce3aa6aa330a8946234f1c7aa60da1d7239051004d",
    "9d1eac19bfe96c50657f7f7bf7ec2783190be714c599cba46c6e24d6ff686770",
    "324d905dc033ac5a4403a73008a80a1138a3c91cd6f8fa2e58869da83810a5f9",
    "2b4ee8e063b98a225e558490f88773eca665cfba339e3e9f5688a24a781843dc"};

const Case kWithoutPsk{
    "0000000000000000000000000000000000000000000000000000000000000000",
    "020000008877665544332211605a725d2a4adfeeb1a29e17edd621c1b7593ee8cdbc44ac6c4ab6e2f805d23c"
    "95200b4e35d8225dea0d268af5c415e2944603a4710921848a19d1be72e2e4670000000000000000000000000"
    "0000000",
    "90d3e36256d6977e9a0c125d41a0eb99cd1c392904d59b379df97f31a75f420c",
    "88383f26811b6594c8fd36cb6c3005178a5815101146480c1e6657596cf32908",
    "ff6e25937f32c4bd56f7ccaaa9c1bbb6f95d3a171b5a5c2398703c4ebf525b8f",
    "c06cd0e13e5c8d30e3c25f841841efbc7fc1f0a68ff152a7c9790d2f08baa281"};

struct Sides {
  wg::StaticIdentity initiator = wg::StaticIdentity::from_private(key<base::PrivateKey>(kInitPriv));
  wg::StaticIdentity responder = wg::StaticIdentity::from_private(key<base::PrivateKey>(kRespPriv));
  wg::PeerIdentity initiator_view_of_responder;  // held by the initiator
  wg::PeerIdentity responder_view_of_initiator;  // held by the responder
  wg::CookieGenerator to_responder;              // stamps what the initiator sends
  wg::CookieGenerator to_initiator;

  explicit Sides(std::string_view psk) {
    initiator_view_of_responder.public_key = responder.public_key;
    initiator_view_of_responder.preshared_key = key<base::PresharedKey>(psk);
    initiator_view_of_responder.recompute(initiator);
    responder_view_of_initiator.public_key = initiator.public_key;
    responder_view_of_initiator.preshared_key = key<base::PresharedKey>(psk);
    responder_view_of_initiator.recompute(responder);
    to_responder.set_peer(responder.public_key);
    to_initiator.set_peer(initiator.public_key);
  }
};

wg::Tai64n vector_timestamp() {
  return wg::tai64n(
      base::WallTime(std::chrono::seconds(1700000000) + std::chrono::nanoseconds(123456789)));
}

TEST_CASE("static keys and derived constants match the vector inputs") {
  Sides s(kPsk);
  CHECK(s.initiator.public_key.to_hex() == kInitPub);
  CHECK(s.responder.public_key.to_hex() == kRespPub);
  CHECK(to_hex(s.initiator_view_of_responder.static_static) ==
        "04c304fb1ca83cee75e206344231f33797e07d9929db670994b7c6fbeb1dc255");
  CHECK(to_hex(wg::derive_label_key("mac1----", s.responder.public_key)) ==
        "800501dc9ca555ecfb8225337aa9eec589101c941a9ffa28e85e2bbb586eacbe");
  CHECK(to_hex(wg::derive_label_key("cookie--", s.responder.public_key)) ==
        "ee8d30ab43585e5d27713eb4488a5f275a6a7e26d5ccf3bbbd6f4b8b53a21975");
  CHECK(to_hex(vector_timestamp()) == "400000006553f10a07000000");
}

TEST_CASE("full handshake vectors, with and without a preshared key") {
  for (const Case* c : {&kWithPsk, &kWithoutPsk}) {
    CAPTURE(c->psk);
    Sides s(c->psk);
    base::testing::ManualClock clock;

    // Message 1.
    wg::Handshake ihs;
    auto m1 = wg::create_initiation(s.initiator, s.initiator_view_of_responder, ihs, kInitIndex,
                                    vector_timestamp(), raw(kInitEph));
    REQUIRE(m1);
    CHECK(to_hex(ihs.chaining_key) ==
          "f8457bee5470ac179ee79fc563607a141b763bb6289fc42462583d9ccce6ff73");
    CHECK(to_hex(ihs.hash) == "ddd1f82d8e7f3d65fd9d58003ba4d7c9d08c5d4d3a443018729308907f721686");
    std::array<std::byte, wg::kInitiationSize> b1;
    wg::write_initiation(*m1, b1);
    s.to_responder.stamp(b1, clock.now());
    CHECK(to_hex(b1) == kMessage1);

    // The responder consumes it.
    wg::DropReason why{};
    auto parsed1 = wg::parse_initiation(b1);
    REQUIRE(parsed1);
    auto opened = wg::open_initiation(s.responder, *parsed1, why);
    REQUIRE(opened);
    CHECK(opened->initiator == s.initiator.public_key);
    wg::Handshake rhs;
    REQUIRE(wg::consume_initiation(*opened, s.responder_view_of_initiator, rhs, clock.now(), why));

    // Message 2.
    auto m2 =
        wg::create_response(s.responder_view_of_initiator, rhs, kRespIndex, raw(kRespEph), why);
    REQUIRE(m2);
    CHECK(to_hex(rhs.chaining_key) == c->final_c);
    CHECK(to_hex(rhs.hash) == c->final_h);
    std::array<std::byte, wg::kResponseSize> b2;
    wg::write_response(*m2, b2);
    s.to_initiator.stamp(b2, clock.now());
    CHECK(to_hex(b2) == c->message2);

    // The initiator consumes it; both derive the same transport keys.
    auto parsed2 = wg::parse_response(b2);
    REQUIRE(parsed2);
    REQUIRE(wg::consume_response(s.initiator, s.initiator_view_of_responder, ihs, *parsed2, why));
    CHECK(to_hex(ihs.chaining_key) == c->final_c);
    auto ikeys = wg::derive_session(ihs);
    auto rkeys = wg::derive_session(rhs);
    REQUIRE(ikeys);
    REQUIRE(rkeys);
    CHECK(ikeys->initiator);
    CHECK_FALSE(rkeys->initiator);
    CHECK(to_hex(ikeys->send) == c->initiator_send);
    CHECK(to_hex(ikeys->receive) == c->initiator_receive);
    CHECK(to_hex(rkeys->receive) == c->initiator_send);
    CHECK(to_hex(rkeys->send) == c->initiator_receive);
    CHECK(ikeys->remote_index == kRespIndex);
    CHECK(rkeys->remote_index == kInitIndex);
    CHECK(ihs.state == wg::Handshake::State::zeroed);
    CHECK(base::is_all_zero(ihs.chaining_key));
  }
}

TEST_CASE("transport vectors: a data packet and a keepalive") {
  wg::crypto::Key send{};
  REQUIRE(base::from_hex(kWithPsk.initiator_send, send));
  wg::crypto::DefaultTransportAead aead;
  base::PacketPool pool(2);

  auto p = pool.get();
  const auto inner =
      hx("4500003412344000400100000a0000020a0000017769726567756172642d766563746f7277697265677561726"
         "42d766563746f72");
  REQUIRE(inner.size() == 52);
  base::copy_into(p->read_area(), inner);
  p->set_size(inner.size());
  REQUIRE(wg::seal_transport(*p, send, kRespIndex, 0, 1420, aead));
  CHECK(to_hex(p->data()) ==
        "040000008877665500000000000000001466ad623ae62b8fa81428e3401d0df91b6111a3fb75bc85"
        "3bd7e54fd53870f919172fd706333bbd3cd37d6d2099c956b7d37d38b485a618bbc78d7e65b3eac4"
        "0af50ed8c2e52662531010c6500ece7d");

  // The receiver opens it, gets 52 + 12 bytes of padding, and the IP length trims it.
  wg::crypto::OpenSslAead other;
  REQUIRE(wg::open_transport(*p, send, 0, other));
  CHECK(p->size() == 64);
  CHECK(wg::inner_packet_length(p->data()) == 52u);
  CHECK(to_hex(p->data().first(52)) == to_hex(inner));

  auto k = pool.get();
  REQUIRE(wg::seal_transport(*k, send, kRespIndex, 1, 1420, aead));
  CHECK(to_hex(k->data()) == "040000008877665501000000000000004fc5500b33fa79d7fdf61475b57c82bd");
}

TEST_CASE("cookie reply vector, and mac2 with the cookie it carries") {
  Sides s(kPsk);
  base::testing::ManualClock clock;
  const auto m1 = hx(kMessage1);
  wg::CookieChecker responder_checker;
  responder_checker.set_identity(s.responder.public_key);
  CHECK(responder_checker.check_mac1(m1));

  wg::crypto::Mac cookie;
  REQUIRE(base::from_hex("d8d9dadbdcdddedfe0e1e2e3e4e5e6e7", cookie));
  wg::crypto::XNonce nonce;
  REQUIRE(base::from_hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7", nonce));
  const auto reply = responder_checker.seal_reply(m1, kInitIndex, cookie, nonce);
  std::array<std::byte, wg::kCookieReplySize> rb;
  wg::write_cookie_reply(reply, rb);
  CHECK(to_hex(rb) ==
        "0300000044332211c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d77e275bb3ea19eaf0"
        "12f29f6c6ae54503557e665b36c58d3ccec1bab5d742ed8d");

  // The initiator stamped message 1, so it can open the reply and then stamp mac2.
  std::array<std::byte, wg::kInitiationSize> again;
  base::copy_into(again, m1);
  s.to_responder.stamp(again, clock.now());
  wg::DropReason why{};
  REQUIRE(s.to_responder.consume_reply(*wg::parse_cookie_reply(rb), clock.now(), why));
  s.to_responder.stamp(again, clock.now());
  CHECK(to_hex(std::span(again).first(116)) == to_hex(std::span(m1).first(116)));
  CHECK(to_hex(std::span(again).last(16)) == "ac99f17b3473b66b525d197e0e31d769");

  // Cookies expire after two minutes: mac2 goes back to zero.
  clock.advance(std::chrono::seconds(121));
  s.to_responder.stamp(again, clock.now());
  CHECK(base::is_all_zero(std::span(again).last(16)));
}

}  // namespace
