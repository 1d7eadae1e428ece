// SPDX-License-Identifier: MIT
// Two engines over UDP on loopback with fake TUNs: packets injected into one come out of the
// other, in both directions and families, with cryptokey routing enforced both ways.
#include "engine/engine.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/testing/engine_pair.hpp"

namespace {

using engine::testing::EnginePair;

TEST_CASE("a packet starts the handshake and arrives; replies flow back") {
  EnginePair pair;
  const auto ping = EnginePair::packet("10.0.0.1", "10.0.0.2", "ping");
  REQUIRE(pair.a.tun.inject(0, ping));
  const auto got = pair.b.wait_packet();
  REQUIRE(got);
  CHECK(base::equal_bytes(*got, ping));

  const auto pong = EnginePair::packet("10.0.0.2", "10.0.0.1", "pong");
  REQUIRE(pair.b.tun.inject(0, pong));
  const auto back = pair.a.wait_packet();
  REQUIRE(back);
  CHECK(base::equal_bytes(*back, pong));

  // IPv6 inside the tunnel too.
  const auto v6 = EnginePair::packet("fd00::1", "fd00::2", "six");
  REQUIRE(pair.a.tun.inject(0, v6));
  const auto got6 = pair.b.wait_packet();
  REQUIRE(got6);
  CHECK(base::equal_bytes(*got6, v6));

  const auto peer_a = pair.b.engine.device().find_peer(pair.key_a.public_key());
  CHECK(peer_a->last_handshake().has_value());
  CHECK(peer_a->rx_bytes() > 0);
  CHECK(pair.a.engine.drops().total() == 0);
  CHECK(pair.b.engine.drops().total() == 0);
}

TEST_CASE("a burst of packets in both directions arrives complete and in order") {
  EnginePair pair;
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.0.0.2", "warm-up")));
  REQUIRE(pair.b.wait_packet());
  // One queue and one flow each way: TUN read, seal, UDP, open and TUN write keep the order.
  constexpr int kCount = 2000;
  std::vector<base::Bytes> to_b, to_a, got_b, got_a;
  for (int i = 0; i < kCount; ++i) {
    to_b.push_back(EnginePair::packet("10.0.0.1", "10.0.0.2", "to b " + std::to_string(i)));
    to_a.push_back(EnginePair::packet("10.0.0.2", "10.0.0.1", "to a " + std::to_string(i)));
  }
  for (int i = 0; i < kCount; ++i) {
    const auto k = static_cast<std::size_t>(i);
    while (!pair.a.tun.inject(0, to_b[k])) {
      if (auto p = pair.b.tun.receive(0)) got_b.push_back(std::move(*p));
    }
    while (!pair.b.tun.inject(0, to_a[k])) {
      if (auto p = pair.a.tun.receive(0)) got_a.push_back(std::move(*p));
    }
  }
  while (got_b.size() < kCount) {
    auto p = pair.b.wait_packet(std::chrono::milliseconds(2000));
    if (!p) break;
    got_b.push_back(std::move(*p));
  }
  while (got_a.size() < kCount) {
    auto p = pair.a.wait_packet(std::chrono::milliseconds(2000));
    if (!p) break;
    got_a.push_back(std::move(*p));
  }
  CHECK(got_b == to_b);
  CHECK(got_a == to_a);
}

TEST_CASE("cryptokey routing: no route is dropped and counted; a forged inner source is refused") {
  EnginePair pair;
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.0.0.2", "establish")));
  REQUIRE(pair.b.wait_packet());

  // Outbound: nobody's allowed IPs cover 10.9.9.9.
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.9.9.9", "nowhere")));
  // Inbound: a routes 10.0.0.2 to b, but b only accepts 10.0.0.1 from a as a source.
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.77", "10.0.0.2", "forged source")));
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.0.0.2", "honest")));
  const auto got = pair.b.wait_packet();
  REQUIRE(got);
  CHECK(base::as_chars(*got).ends_with("honest"));
  CHECK_FALSE(pair.b.wait_packet(std::chrono::milliseconds(200)));
  CHECK(pair.a.engine.drops().get(wg::DropReason::no_route) == 1);
  CHECK(pair.b.engine.drops().get(wg::DropReason::source_not_allowed) == 1);
}

TEST_CASE("several queues: traffic on every queue gets through") {
  EnginePair pair(3);
  for (std::size_t q = 0; q < 3; ++q) {
    const auto p = EnginePair::packet("10.0.0.1", "10.0.0.2", "queue " + std::to_string(q));
    REQUIRE(pair.a.tun.inject(q, p));
    const auto got = pair.b.wait_packet();
    REQUIRE(got);
    CHECK(base::equal_bytes(*got, p));
  }
}

TEST_CASE("removing a peer stops its traffic; rebinding the port keeps the tunnel") {
  EnginePair pair;
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.0.0.2", "one")));
  REQUIRE(pair.b.wait_packet());

  // b moves to another port; a learns it (as `wg set ... endpoint` would tell it).
  pair.b.on_control([&] {
    REQUIRE(pair.b.bind.rebind(0, 0));
    pair.b.engine.wake_workers();
  });
  pair.a.on_control([&] {
    auto peer_b = pair.a.engine.device().find_peer(pair.key_b.public_key());
    peer_b->set_endpoint({{*base::IpAddr::parse("127.0.0.1"), pair.b.bind.port()}, {}, 0});
  });
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.0.0.2", "two")));
  const auto got = pair.b.wait_packet();
  REQUIRE(got);
  CHECK(base::as_chars(*got).ends_with("two"));

  pair.a.on_control([&] {
    CHECK(pair.a.engine.remove_peer(pair.key_b.public_key()));
    pair.a.engine.publish_routing();
  });
  REQUIRE(pair.a.tun.inject(0, EnginePair::packet("10.0.0.1", "10.0.0.2", "three")));
  CHECK_FALSE(pair.b.wait_packet(std::chrono::milliseconds(300)));
  CHECK(pair.a.engine.drops().get(wg::DropReason::no_route) == 1);
}

}  // namespace
