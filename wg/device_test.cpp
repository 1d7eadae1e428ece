// SPDX-License-Identifier: MIT
// Back-to-back sessions: two wg::Devices handshake and exchange data through in-memory
// queues (wg/testing/device_pair.hpp), driven by a manual clock.
#include "wg/device.hpp"

#include <doctest/doctest.h>

#include "wg/constants.hpp"
#include "wg/messages.hpp"
#include "wg/testing/device_pair.hpp"

namespace {

using namespace std::chrono_literals;
using wg::DropReason;
using wg::testing::DevicePair;
using wg::testing::ipv4_packet;

std::string text(const base::Bytes& b) {
  return std::string(base::as_chars(std::span(b).subspan(20)));
}

TEST_CASE("handshake initiated by either side, data both ways, with and without a PSK") {
  for (bool psk : {false, true}) {
    for (bool a_starts : {true, false}) {
      CAPTURE(psk);
      CAPTURE(a_starts);
      DevicePair pair(psk);
      auto& first = a_starts ? pair.a : pair.b;
      auto& second = a_starts ? pair.b : pair.a;

      // No keypair yet: the packet is staged and an initiation goes out.
      const auto r = first.send(ipv4_packet("hello"));
      CHECK(r.staged == 1);
      CHECK(first.handshakes_sent == 1);
      pair.settle();

      // The staged packet arrived after the handshake; the responder answered once.
      REQUIRE(second.delivered.size() == 1);
      CHECK(text(second.delivered[0]) == "hello");
      CHECK(second.handshakes_sent == 1);
      CHECK(first.peer->last_handshake() == pair.clock.wall());
      CHECK(second.peer->last_handshake() == pair.clock.wall());

      // Data in both directions now flows without further handshakes.
      for (int i = 0; i < 50; ++i) {
        CHECK(first.send(ipv4_packet("ping " + std::to_string(i))).sealed == 1);
        CHECK(second.send(ipv4_packet("pong " + std::to_string(i))).sealed == 1);
      }
      pair.settle();
      CHECK(second.delivered.size() == 51);
      CHECK(first.delivered.size() == 50);
      CHECK(text(first.delivered.back()) == "pong 49");
      CHECK(first.handshakes_sent + second.handshakes_sent == 2);
      CHECK(first.device.drops().total() == 0);
      CHECK(second.device.drops().total() == 0);
      // Byte counters agree across the wire: what one sent the other received.
      CHECK(first.peer->tx_bytes() == second.peer->rx_bytes());
      CHECK(second.peer->tx_bytes() == first.peer->rx_bytes());
      CHECK(first.peer->tx_bytes() > 0);
    }
  }
}

TEST_CASE("the responder sends only after key confirmation") {
  DevicePair pair;
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  pair.b.receive_all();  // b consumes the initiation, answers, keeps the keypair in `next`
  CHECK(pair.b.peer->keypairs.current() == nullptr);
  CHECK(pair.b.peer->keypairs.next() != nullptr);
  // b has data to send: it must stage it, not use the unconfirmed keypair.
  CHECK(pair.b.send(ipv4_packet("early")).staged == 1);
  pair.a.receive_all();  // a consumes the response and confirms with a keepalive
  CHECK(pair.a.peer->keypairs.current() != nullptr);
  pair.b.receive_all();  // the keepalive confirms; b flushes its staged packet
  CHECK(pair.b.keepalives_received == 1);
  CHECK(pair.b.peer->keypairs.current() != nullptr);
  CHECK(pair.b.peer->keypairs.next() == nullptr);
  pair.a.receive_all();
  REQUIRE(pair.a.delivered.size() == 1);
  CHECK(text(pair.a.delivered[0]) == "early");
}

TEST_CASE("rekey after REKEY_AFTER_TIME, by the initiator only; old keypair still receives") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  const auto first = pair.a.peer->keypairs.current();
  REQUIRE(first);
  CHECK(first->initiator());

  // Responder side: no time-based rekey even after 120 s.
  pair.clock.advance(wg::kRekeyAfterTime + 1s);
  const std::size_t b_before = pair.b.handshakes_sent;
  CHECK(pair.b.send(ipv4_packet("from b")).sealed == 1);
  pair.b.device.tick(pair.clock.now(), pair.clock.wall(), pair.b);
  CHECK(pair.b.handshakes_sent == b_before);

  // Initiator side: the next packet sent asks for a new handshake.
  const std::size_t a_before = pair.a.handshakes_sent;
  const auto r = pair.a.send(ipv4_packet("after 120s"));
  CHECK(r.sealed == 1);
  CHECK(r.wake_control);
  CHECK(pair.a.handshakes_sent == a_before + 1);
  pair.settle();
  const auto second = pair.a.peer->keypairs.current();
  CHECK(second != first);
  CHECK(pair.a.peer->keypairs.previous() == first);
  CHECK(pair.a.delivered.size() == 1);
  CHECK(pair.b.delivered.size() == 2);
}

TEST_CASE("rekey after REKEY_AFTER_MESSAGES, and no sending at REJECT_AFTER_MESSAGES") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  auto kp = pair.a.peer->keypairs.current();
  REQUIRE(kp);
  // Jump the counter past 2^60 as if that many messages had gone out.
  REQUIRE(kp->reserve_counters(wg::kRekeyAfterMessages));
  pair.clock.advance(6s);  // past REKEY_TIMEOUT, so the initiation is not suppressed
  const std::size_t before = pair.a.handshakes_sent;
  auto r = pair.a.send(ipv4_packet("many"));
  CHECK(r.sealed == 1);
  CHECK(pair.a.handshakes_sent == before + 1);
  pair.settle();
  auto fresh = pair.a.peer->keypairs.current();
  CHECK(fresh != kp);

  // A keypair whose counter reached the reject limit can send nothing more.
  REQUIRE(fresh->reserve_counters(wg::kRejectAfterMessages - 1));
  pair.clock.advance(6s);
  r = pair.a.send(ipv4_packet("one too many"));
  CHECK(r.staged == 1);
  CHECK(r.sealed == 0);
  pair.settle();
  CHECK(pair.a.peer->keypairs.current() != fresh);
  CHECK(text(pair.b.delivered.back()) == "one too many");
}

TEST_CASE("keypairs are unusable after REJECT_AFTER_TIME in both directions") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  CHECK(pair.b.send(ipv4_packet("fresh")).sealed == 1);
  auto stale = pair.a.inbox.front();  // captured, not yet delivered
  pair.a.inbox.clear();
  pair.clock.advance(wg::kRejectAfterTime);
  // The old message no longer opens.
  pair.a.inbox.push_back(stale);
  pair.a.receive_all();
  CHECK(pair.a.device.drops().get(DropReason::keypair_expired) == 1);
  // Sending stages and starts a handshake instead of using the expired keypair.
  const auto r = pair.b.send(ipv4_packet("late"));
  CHECK(r.staged == 1);
  pair.settle();
  REQUIRE_FALSE(pair.a.delivered.empty());
  CHECK(text(pair.a.delivered.back()) == "late");
}

TEST_CASE("an initiation replayed later is rejected, and a flood within 20 ms too") {
  DevicePair pair;
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  const auto initiation = pair.b.inbox.front();
  pair.settle();
  const auto keypair = pair.b.peer->keypairs.current();
  REQUIRE(keypair);

  pair.clock.advance(30s);
  pair.b.inbox.push_back(initiation);
  pair.b.receive_all();
  CHECK(pair.b.device.drops().get(DropReason::replayed_initiation) == 1);
  CHECK(pair.b.peer->keypairs.current() == keypair);  // nothing changed
  CHECK(pair.a.inbox.empty());                        // and no response was sent

  // Two fresh initiations 17 ms apart: new timestamps, but over the 50/s limit.
  pair.clock.advance(6s);
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  pair.b.receive_all();
  pair.clock.advance(17ms);
  pair.a.peer->last_sent_handshake.reset();  // let a send again at once
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  pair.b.receive_all();
  CHECK(pair.b.device.drops().get(DropReason::initiation_flood) == 1);
}

TEST_CASE("initiations are not sent twice within REKEY_TIMEOUT") {
  DevicePair pair;
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  pair.clock.advance(4s);
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  CHECK(pair.a.handshakes_sent == 1);
  pair.clock.advance(1s);
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  CHECK(pair.a.handshakes_sent == 2);
}

TEST_CASE("a response to nobody, and a response replayed, are dropped") {
  DevicePair pair;
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  pair.b.receive_all();
  auto response = pair.a.inbox.front();
  // Re-address the response to an index a never allocated (mac1 does not cover... it does:
  // recompute it with b's cookie generator so only the index is wrong).
  auto forged = response;
  base::store_le32(std::span(forged.bytes).subspan(8), 0xdeadbeef);
  pair.b.peer->cookies.stamp(forged.bytes, pair.clock.now());
  pair.a.inbox.push_front(forged);
  pair.a.receive_all();
  CHECK(pair.a.device.drops().get(DropReason::unknown_index) == 1);
  CHECK(pair.a.peer->keypairs.current() != nullptr);  // the real one, behind it, worked
  pair.a.inbox.push_back(response);                   // replay the real one
  pair.a.receive_all();
  CHECK(pair.a.device.drops().get(DropReason::unknown_index) == 2);
}

TEST_CASE("every malformed message is dropped with a counted reason") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  auto& dev = pair.b.device;
  auto deliver = [&](base::Bytes bytes) {
    pair.b.inbox.push_back({std::move(bytes), {pair.a.address, {}, 0}});
    pair.b.receive_all();
  };
  auto count = [&](DropReason r) { return dev.drops().get(r); };

  // Capture a good initiation and a good transport message from a.
  pair.clock.advance(6s);
  pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
  const base::Bytes initiation = pair.b.inbox.front().bytes;
  pair.b.inbox.clear();
  pair.a.send(ipv4_packet("data"));
  const base::Bytes transport = pair.b.inbox.front().bytes;
  pair.b.inbox.clear();

  SUBCASE("1 too short") {
    deliver(base::Bytes(31));
    CHECK(count(DropReason::too_short) == 1);
  }
  SUBCASE("2 unknown type, or a reserved byte set") {
    auto b = initiation;
    b[0] = std::byte{5};
    deliver(b);
    b = initiation;
    b[2] = std::byte{1};
    deliver(b);
    CHECK(count(DropReason::unknown_type) == 2);
  }
  SUBCASE("3 handshake of the wrong length") {
    deliver(base::Bytes(initiation.begin(), initiation.end() - 1));
    auto longer = initiation;
    longer.push_back(std::byte{0});
    deliver(longer);
    CHECK(count(DropReason::bad_length) == 2);
  }
  SUBCASE("4 bad mac1") {
    auto b = initiation;
    b[wg::off::init::kMac1] ^= std::byte{1};
    deliver(b);
    CHECK(count(DropReason::bad_mac1) == 1);
  }
  SUBCASE("5 encrypted static that does not open") {
    auto b = initiation;
    b[wg::off::init::kStatic + 3] ^= std::byte{1};
    pair.a.peer->cookies.stamp(b, pair.clock.now());  // valid mac1 over the damage
    deliver(b);
    CHECK(count(DropReason::handshake_decrypt) == 1);
  }
  SUBCASE("6 initiation from a key we do not know") {
    wg::Device stranger;
    stranger.set_private_key(base::PrivateKey::generate());
    auto p = stranger.add_peer(pair.b.device.identity()->public_key);
    struct Capture final : wg::Outbox {
      base::Bytes sent;
      void send_handshake(wg::Peer&, base::ConstByteSpan m) override {
        sent.assign(m.begin(), m.end());
      }
      void send_cookie_reply(const wg::PeerEndpoint&, base::ConstByteSpan) override {}
      void flush_staged(wg::Peer&, bool) override {}
    } capture;
    stranger.initiate(*p, pair.clock.now(), pair.clock.wall(), false, capture);
    deliver(capture.sent);
    CHECK(count(DropReason::unknown_peer) == 1);
  }
  SUBCASE("7 transport with a bad tag, a replay, an unknown index") {
    auto b = transport;
    b[20] ^= std::byte{1};
    deliver(b);
    CHECK(count(DropReason::bad_tag) == 1);
    deliver(transport);
    CHECK(pair.b.delivered.size() == 2);
    deliver(transport);
    CHECK(count(DropReason::replayed) == 1);
    b = transport;
    base::store_le32(std::span(b).subspan(4), 0x01020304);
    deliver(b);
    CHECK(count(DropReason::unknown_index) == 1);
  }
  SUBCASE("8 authenticated garbage that is not an IP packet") {
    pair.a.send(base::as_bytes("\x70 not an ip packet"));
    pair.b.receive_all();
    CHECK(count(DropReason::invalid_inner) == 1);
    // A v4 header whose length field claims more than there is.
    auto p = ipv4_packet("abc");
    base::store_be16(std::span(p).subspan(2), 200);
    pair.a.send(p);
    pair.b.receive_all();
    CHECK(count(DropReason::invalid_inner) == 2);
  }
  SUBCASE("9 no private key") {
    dev.set_private_key(std::nullopt);
    deliver(initiation);
    CHECK(count(DropReason::no_private_key) == 1);
  }
  CHECK(pair.b.delivered.size() <= 2);
}

TEST_CASE("under load: a cookie reply first, then the initiation with mac2 succeeds") {
  DevicePair pair;
  pair.b.handshake_queue_busy = true;
  pair.a.send(ipv4_packet("through the cookie"));
  pair.b.receive_all();
  CHECK(pair.b.device.drops().get(DropReason::cookie_required) == 1);
  REQUIRE(pair.a.inbox.size() == 1);
  CHECK(pair.a.inbox.front().bytes.size() == wg::kCookieReplySize);
  pair.a.receive_all();  // a stores the cookie; it does not resend at once
  CHECK(pair.a.handshakes_sent == 1);
  CHECK(pair.b.inbox.empty());

  // The retransmit timer resends with mac2, which b accepts while still under load.
  pair.advance(wg::kRekeyTimeout + 400ms);
  CHECK(pair.a.handshakes_sent == 2);
  pair.settle();
  REQUIRE(pair.b.delivered.size() == 1);
  CHECK(text(pair.b.delivered[0]) == "through the cookie");
  CHECK(pair.b.device.under_load(pair.clock.now()));
  pair.b.handshake_queue_busy = false;
  pair.clock.advance(2s);
  CHECK_FALSE(pair.b.device.under_load(pair.clock.now()));
}

TEST_CASE("a private key change stops current keypairs and a peer with our new key is removed") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  auto old = pair.a.peer->keypairs.current();
  const auto fresh = base::PrivateKey::generate();
  // A peer configured with the key a is about to take is removed.
  pair.a.device.add_peer(fresh.public_key());
  CHECK(pair.a.device.peer_count() == 2);
  pair.a.device.set_private_key(fresh);
  CHECK(pair.a.device.peer_count() == 1);
  CHECK_FALSE(old->reserve_counters(1).has_value());
  // Sending now stages and initiates at once (the rekey timeout was reset).
  const auto r = pair.a.send(ipv4_packet("y"));
  CHECK(r.staged == 1);
  CHECK(pair.a.handshakes_sent == 2);
}

TEST_CASE("roaming: the endpoint follows the last authenticated source") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  pair.a.send(ipv4_packet("from elsewhere"));
  auto d = pair.b.inbox.front();
  pair.b.inbox.clear();
  d.from.remote = *base::Endpoint::parse("198.51.100.7:4000");
  pair.b.inbox.push_back(d);
  pair.b.receive_all();
  CHECK(pair.b.peer->endpoint()->remote.to_string() == "198.51.100.7:4000");
  // A forged packet from a third address does not move it.
  auto forged = d;
  forged.bytes[40] ^= std::byte{1};
  forged.from.remote = *base::Endpoint::parse("203.0.113.9:1");
  pair.b.inbox.push_back(forged);
  pair.b.receive_all();
  CHECK(pair.b.peer->endpoint()->remote.to_string() == "198.51.100.7:4000");
}

}  // namespace
