// SPDX-License-Identifier: MIT
// The engine under stress: peers that never answer, shutdown with work still queued, packets
// larger than the buffers, and configuration changing under live traffic (run under the
// ASan and TSan builds too).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "base/bug.hpp"
#include "engine/engine.hpp"
#include "engine/testing/engine_pair.hpp"
#include "wg/messages.hpp"

namespace {

using engine::testing::EnginePair;
using engine::testing::Node;
using namespace std::chrono_literals;

// Where nobody listens: datagrams sent there vanish.
constexpr std::uint16_t kDeadPort = 9;

// Adds `count` peers to `node`, reachable at a dead port, owning 10.1.k.0/24.
std::vector<base::PrivateKey> add_offline_peers(Node& node, int count) {
  std::vector<base::PrivateKey> keys;
  node.on_control([&] {
    for (int k = 0; k < count; ++k) {
      keys.push_back(base::PrivateKey::generate());
      auto peer = node.engine.add_peer(keys.back().public_key());
      peer->set_endpoint({{*base::IpAddr::parse("127.0.0.1"), kDeadPort}, {}, 0});
      node.engine.add_allowed_ip(*peer,
                                 *base::IpPrefix::parse("10.1." + std::to_string(k) + ".0/24"));
    }
    node.engine.publish_routing();
  });
  return keys;
}

// Waits for `want` at `node`'s TUN, passing over other packets still on their way.
bool arrives(Node& node, const base::Bytes& want) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto got = node.wait_packet(1s);
    if (got && *got == want) return true;
  }
  return false;
}

// Sends one packet a -> b and one b -> a; true if both arrive intact.
bool round_trip(EnginePair& pair, const std::string& tag) {
  const auto ping = EnginePair::packet("10.0.0.1", "10.0.0.2", "ping " + tag);
  const auto pong = EnginePair::packet("10.0.0.2", "10.0.0.1", "pong " + tag);
  return pair.a.inject_within(0, ping) && arrives(pair.b, ping) && pair.b.inject_within(0, pong) &&
         arrives(pair.a, pong);
}

TEST_CASE("peers that never answer cannot take the buffers a worker reads into") {
  // A small pool: before staging had buffers of its own, 16 silent peers with 128 staged
  // packets each held all 256, and the worker could read neither its TUN nor its socket.
  engine::Options o = engine::testing::node_options(1);
  o.buffers_per_queue = 256;
  o.staged_packets = 512;
  EnginePair pair(o);
  REQUIRE(round_trip(pair, "before"));
  constexpr int kSilent = 16;
  add_offline_peers(pair.a, kSilent);
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < kSilent; ++k) {
      const std::string dst = "10.1." + std::to_string(k) + ".9";
      INFO("round " << round << " peer " << k);
      REQUIRE(pair.a.inject_within(0, EnginePair::packet("10.0.0.1", dst.c_str(), "lost")));
    }
  }
  // The live peer still gets through, both ways.
  CHECK(round_trip(pair, "during"));
  const engine::Stats s = pair.a.engine.stats();
  CHECK(s.pool_exhausted == 0);
  CHECK(s.staged <= o.staged_packets);
  const auto& d = pair.a.engine.drops();
  const auto dropped =
      d.get(wg::DropReason::staging_full) + d.get(wg::DropReason::staging_overflow);
  MESSAGE("staged=" << s.staged << " staging_full=" << d.get(wg::DropReason::staging_full)
                    << " staging_overflow=" << d.get(wg::DropReason::staging_overflow));
  CHECK(s.staged + dropped == kSilent * 200);
}

TEST_CASE("destroying an engine with handshake messages still queued returns every buffer") {
  // No control thread: whatever the workers queue stays queued until the engine goes.
  const std::uint64_t bugs_before = base::bug_count();
  auto node = std::make_unique<Node>(1, base::PrivateKey::generate());
  node->engine.start();
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(node->bind.port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::array<std::byte, wg::kInitiationSize> initiation{};
  initiation[0] = std::byte{1};  // type 1, right length: queued for the control thread
  for (int i = 0; i < 50; ++i) {
    REQUIRE(::sendto(s, initiation.data(), initiation.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to),
                     sizeof to) == static_cast<ssize_t>(initiation.size()));
  }
  ::close(s);
  for (int i = 0; i < 2000 && node->engine.stats().handshakes_queued < 50; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(node->engine.stats().handshakes_queued == 50);
  node.reset();  // the workers' pools must not go before the queue that holds their buffers
  CHECK(base::bug_count() == bugs_before);
}

TEST_CASE("packets too big for a buffer are counted; the MTU is clamped to what fits") {
  EnginePair pair;
  const unsigned max = pair.a.engine.max_mtu();
  CHECK(max == engine::Engine::max_mtu_for(base::PacketPool::kDefaultBufferSize));
  CHECK(max < base::PacketPool::kDefaultBufferSize);
  CHECK(pair.a.engine.set_mtu(9000) == max);
  CHECK(pair.a.engine.mtu() == max);
  CHECK(pair.a.engine.set_mtu(1420) == 1420);

  // An MTU-sized packet at the largest MTU crosses; one byte more than a buffer takes does
  // not, and is counted.
  pair.a.engine.set_mtu(max);
  pair.b.engine.set_mtu(max);
  const std::string fits(max - 28, 'f');  // IPv4 + UDP headers: 28 bytes
  const auto big = EnginePair::packet("10.0.0.1", "10.0.0.2", fits);
  REQUIRE(big.size() == max);
  REQUIRE(pair.a.inject_within(0, big));
  const auto got = pair.b.wait_packet();
  REQUIRE(got);
  CHECK(*got == big);
  const std::string too_long(base::PacketPool::kDefaultBufferSize, 't');
  REQUIRE(pair.a.inject_within(0, EnginePair::packet("10.0.0.1", "10.0.0.2", too_long)));
  CHECK_FALSE(pair.b.wait_packet(300ms));
  CHECK(pair.a.engine.drops().get(wg::DropReason::too_big) == 1);
}

TEST_CASE(
    "peers added, removed and re-keyed on the control thread while two workers carry "
    "traffic") {
  EnginePair pair(2);
  REQUIRE(round_trip(pair, "start"));
  std::atomic<bool> done{false};
  std::atomic<int> received{0};
  // Traffic on both queues, both ways, for as long as the changes go on.
  std::thread traffic([&] {
    int i = 0;
    while (!done.load()) {
      for (std::size_t q = 0; q < 2; ++q) {
        const std::string n = std::to_string(i++);
        pair.a.tun.inject(q, EnginePair::packet("10.0.0.1", "10.0.0.2", "a" + n));
        pair.b.tun.inject(q, EnginePair::packet("10.0.0.2", "10.0.0.1", "b" + n));
        for (Node* node : {&pair.a, &pair.b}) {
          while (node->tun.receive(q)) received.fetch_add(1);
        }
      }
    }
  });
  std::shared_ptr<wg::Peer> live_b;
  pair.a.on_control([&] { live_b = pair.a.engine.device().find_peer(pair.key_b.public_key()); });
  REQUIRE(live_b);
  const auto extra_prefix = *base::IpPrefix::parse("10.9.0.0/16");
  for (int round = 0; round < 40; ++round) {
    pair.a.on_control([&] {
      // A peer that comes and goes, with routes.
      const auto key = base::PrivateKey::generate();
      auto peer = pair.a.engine.add_peer(key.public_key());
      peer->set_endpoint({{*base::IpAddr::parse("127.0.0.1"), kDeadPort}, {}, 0});
      pair.a.engine.add_allowed_ip(*peer, *base::IpPrefix::parse("10.8.0.0/24"));
      pair.a.engine.publish_routing();
      pair.a.engine.remove_peer(key.public_key());
      // The live peer's routes change, and its session is renewed.
      if (round % 2 == 0) {
        pair.a.engine.add_allowed_ip(*live_b, extra_prefix);
      } else {
        pair.a.engine.remove_allowed_ip(*live_b, extra_prefix);
      }
      pair.a.engine.publish_routing();
      if (round % 10 == 0) {
        // A new session now (the tick of this control thread's next run starts it).
        live_b->last_sent_handshake.reset();
        live_b->request_handshake();
      }
    });
    std::this_thread::sleep_for(20ms);
  }
  done.store(true);
  traffic.join();
  // Let the backlog drain (a full fake TUN would drop the round trip's packets).
  for (int quiet = 0; quiet < 300;) {
    bool any = false;
    for (std::size_t q = 0; q < 2; ++q) {
      for (Node* node : {&pair.a, &pair.b}) {
        while (node->tun.receive(q)) any = true;
      }
    }
    quiet = any ? 0 : quiet + 1;
    std::this_thread::sleep_for(1ms);
  }
  MESSAGE("packets delivered during the changes: " << received.load());
  CHECK(received.load() > 0);
  const bool after = round_trip(pair, "after");
  if (!after) {
    for (std::size_t r = 0; r < wg::kDropReasonCount; ++r) {
      const auto why = static_cast<wg::DropReason>(r);
      if (pair.a.engine.drops().get(why) + pair.b.engine.drops().get(why) > 0) {
        MESSAGE(wg::to_string(why) << ": a=" << pair.a.engine.drops().get(why)
                                   << " b=" << pair.b.engine.drops().get(why));
      }
    }
  }
  CHECK(after);
  std::size_t peers = 0;
  pair.a.on_control([&] { peers = pair.a.engine.device().peer_count(); });
  CHECK(peers == 1);
}

}  // namespace
