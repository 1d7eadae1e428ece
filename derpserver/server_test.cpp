// SPDX-License-Identifier: MIT
// The relay on loopback with real sockets, driven by bare clients (testing/raw_client.hpp).
#include "derpserver/server.hpp"

#include <doctest/doctest.h>

#include <set>

#include "derpserver/testing/server_fixture.hpp"

namespace {

using derp::FrameType;
using derpserver::testing::disco_payload;
using derpserver::testing::ServerFixture;
using namespace std::chrono_literals;

base::NodePublicKey key_in(const base::Bytes& payload) {
  return base::NodePublicKey(base::KeySpan(base::ConstByteSpan(payload).first(32)));
}

TEST_CASE("login: 101 + ServerKey, ServerInfo first, then two clients exchange packets") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  auto b = f.logged_in();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->server_key() == f.server().public_key());

  const base::Bytes hello(1400, std::byte{0x42});
  a->send_packet(b->key(), hello);
  auto got = b->read_frame_of(FrameType::recv_packet);
  REQUIRE(got);
  CHECK(key_in(got->payload) == a->key());  // v2: source key first
  CHECK(base::equal_bytes(base::ConstByteSpan(got->payload).subspan(32), hello));

  b->send_packet(a->key(), base::as_bytes("pong"));
  got = a->read_frame_of(FrameType::recv_packet);
  REQUIRE(got);
  CHECK(key_in(got->payload) == b->key());
  CHECK(base::as_chars(base::ConstByteSpan(got->payload).subspan(32)) == "pong");

  CHECK(f.server().packets_received() == 2);
  CHECK(f.pump_until([&] { return f.server().packets_sent() == 2; }));
  CHECK(f.server().counters().current_connections.load() == 2);

  // Sending to yourself is legal.
  a->send_packet(a->key(), base::as_bytes("me"));
  got = a->read_frame_of(FrameType::recv_packet);
  REQUIRE(got);
  CHECK(key_in(got->payload) == a->key());
}

TEST_CASE("fast start: request and ClientInfo in one segment, no 101") {
  ServerFixture f;
  f.start();
  derpserver::testing::RawClient c(f.pumper());
  REQUIRE(c.login(f.port(), derp::default_client_info(), true, f.server().public_key()));
}

TEST_CASE("NotHere only for disco packets, limited to a burst of 3 per second") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  REQUIRE(a);
  const auto nobody = base::NodePrivateKey::generate().public_key();
  a->send_packet(nobody, base::Bytes(100));  // not disco: silently dropped
  CHECK(a->no_frame_of(FrameType::peer_gone, 100ms));
  a->send_packet(nobody, disco_payload());
  auto g = a->read_frame_of(FrameType::peer_gone);
  REQUIRE(g);
  CHECK(key_in(g->payload) == nobody);
  CHECK(g->payload.size() == 33);
  CHECK(g->payload[32] == std::byte{0x01});  // NotHere
  for (int i = 0; i < 5; ++i) a->send_packet(nobody, disco_payload());
  int more = 0;
  while (a->read_frame_of(FrameType::peer_gone, 200ms)) ++more;
  CHECK(more == 2);
  CHECK(f.server().drops(derpserver::DropReason::unknown_dest) == 7);
  // A second later the bucket has a token again.
  f.clock().advance(1s);
  a->send_packet(nobody, disco_payload());
  CHECK(a->read_frame_of(FrameType::peer_gone));
}

TEST_CASE("a sender that leaves: its receivers get PeerGone(Disconnected), others nothing") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  auto b = f.logged_in();
  auto c = f.logged_in();
  auto quiet = f.logged_in();  // sends to b, but nobody hears from it
  REQUIRE((a && b && c && quiet));
  a->send_packet(b->key(), base::as_bytes("x"));
  a->send_packet(c->key(), base::as_bytes("y"));
  REQUIRE(b->read_frame_of(FrameType::recv_packet));
  REQUIRE(c->read_frame_of(FrameType::recv_packet));
  const auto a_key = a->key();
  a->close();
  for (auto* r : {b.get(), c.get()}) {
    auto g = r->read_frame_of(FrameType::peer_gone);
    REQUIRE(g);
    CHECK(key_in(g->payload) == a_key);
    CHECK(g->payload[32] == std::byte{0x00});
  }
  CHECK(f.server().counters().peer_gone_disconnected_frames.load() == 2);
  // Closing a client nobody received from sends none.
  quiet->close();
  CHECK(b->no_frame_of(FrameType::peer_gone, 100ms));
  CHECK(f.pump_until([&] { return f.server().counters().current_connections.load() == 2; }));
}

TEST_CASE("Ping gets a Pong with the same bytes (TestServerRepliesToPing)") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  REQUIRE(a);
  const auto data = base::hex_bytes("010203040506072a").value();
  base::Bytes ping;
  derp::encode_ping(ping, std::span<const std::byte, 8>(data.data(), 8));
  a->send(ping);
  auto p = a->read_frame_of(FrameType::pong);
  REQUIRE(p);
  CHECK(base::to_hex(p->payload) == "010203040506072a");
  CHECK(f.server().counters().got_ping.load() == 1);
}

TEST_CASE("keepalives every 60 s plus jitter, driven by the manual clock") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  REQUIRE(a);
  f.tick(30s);
  CHECK(a->no_frame_of(FrameType::keep_alive, 50ms));
  f.tick(36s);  // past 60 s + the largest jitter
  CHECK(a->read_frame_of(FrameType::keep_alive, 1s));
  f.tick(66s);
  CHECK(a->read_frame_of(FrameType::keep_alive, 1s));
}

TEST_CASE("NotePreferred moves the home gauge idempotently") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  REQUIRE(a);
  base::Bytes np;
  derp::encode_note_preferred(np, true);
  a->send(np);
  a->send(np);
  CHECK(f.pump_until([&] { return f.server().counters().current_home_connections.load() == 1; }));
  np.clear();
  derp::encode_note_preferred(np, false);
  a->send(np);
  CHECK(f.pump_until([&] { return f.server().counters().current_home_connections.load() == 0; }));
  a->close();
  CHECK(f.pump_until([&] { return f.server().counters().current_connections.load() == 0; }));
}

TEST_CASE("duplicate client, last writer is active (production policy)") {
  ServerFixture f;
  f.start();
  const auto dup_key = base::NodePrivateKey::generate();
  derpserver::testing::RawClient d1(f.pumper(), dup_key);
  derpserver::testing::RawClient d2(f.pumper(), dup_key);
  auto sender = f.logged_in();
  REQUIRE(sender);
  REQUIRE(d1.login(f.port()));
  REQUIRE(d2.login(f.port()));
  CHECK(f.server().counters().dup_client_keys.load() == 1);
  CHECK(f.server().counters().dup_client_conns.load() == 2);
  // The newest connection gets traffic.
  sender->send_packet(dup_key.public_key(), base::as_bytes("1"));
  CHECK(d2.read_frame_of(FrameType::recv_packet));
  CHECK(d1.no_frame_of(FrameType::recv_packet, 50ms));
  // d1 speaks: it becomes active.
  base::Bytes np;
  derp::encode_note_preferred(np, false);
  d1.send(np);
  f.pump_until([&] { return false; }, 20ms);
  sender->send_packet(dup_key.public_key(), base::as_bytes("2"));
  CHECK(d1.read_frame_of(FrameType::recv_packet));
  CHECK(d2.no_frame_of(FrameType::recv_packet, 50ms));
  // d1 leaves: no PeerGone to anyone, d2 is the single connection again.
  d1.close();
  CHECK(f.pump_until([&] { return f.server().counters().dup_client_keys.load() == 0; }));
  CHECK(f.server().counters().dup_client_conns.load() == 0);
  CHECK(sender->no_frame_of(FrameType::peer_gone, 50ms));
  sender->send_packet(dup_key.public_key(), base::as_bytes("3"));
  CHECK(d2.read_frame_of(FrameType::recv_packet));
}

TEST_CASE("duplicate client, disable fighters (test policy)") {
  auto cfg = derpserver::testing::test_config();
  cfg.dup_policy = derpserver::DupPolicy::disable_fighters;
  ServerFixture f(std::move(cfg));
  f.start();
  const auto dup_key = base::NodePrivateKey::generate();
  derpserver::testing::RawClient d1(f.pumper(), dup_key);
  derpserver::testing::RawClient d2(f.pumper(), dup_key);
  auto sender = f.logged_in();
  REQUIRE(sender);
  REQUIRE(d1.login(f.port()));
  REQUIRE(d2.login(f.port()));
  base::Bytes np;
  derp::encode_note_preferred(np, false);
  // Alternating speakers: d2, d1 (first time each is fine), then d2 again -> all disabled.
  d2.send(np);
  f.pump_until([&] { return false; }, 10ms);
  d1.send(np);
  f.pump_until([&] { return false; }, 10ms);
  d2.send(np);
  f.pump_until([&] { return false; }, 10ms);
  sender->send_packet(dup_key.public_key(), base::as_bytes("x"));
  CHECK(d1.no_frame_of(FrameType::recv_packet, 50ms));
  CHECK(d2.no_frame_of(FrameType::recv_packet, 50ms));
  CHECK(f.pump_until([&] { return f.server().drops(derpserver::DropReason::dup_client) == 1; }));
  // A newcomer becomes active.
  derpserver::testing::RawClient d3(f.pumper(), dup_key);
  REQUIRE(d3.login(f.port()));
  sender->send_packet(dup_key.public_key(), base::as_bytes("y"));
  CHECK(d3.read_frame_of(FrameType::recv_packet));
}

TEST_CASE("mesh watcher: flood of PeerPresent including itself, then updates; ClosePeer") {
  auto cfg = derpserver::testing::test_config();
  const auto mesh = derp::MeshKey::generate();
  cfg.mesh_key = mesh;
  ServerFixture f(std::move(cfg));
  f.start();
  auto a = f.logged_in();
  REQUIRE(a);
  auto info = derp::default_client_info();
  info.mesh_key = mesh;
  auto w = f.logged_in(info);
  REQUIRE(w);
  base::Bytes watch;
  derp::encode_watch_conns(watch);
  w->send(watch);
  std::set<base::NodePublicKey> seen;
  for (int i = 0; i < 2; ++i) {
    auto p = w->read_frame_of(FrameType::peer_present);
    REQUIRE(p);
    REQUIRE(p->payload.size() == 51);
    const auto k = key_in(p->payload);
    seen.insert(k);
    const auto flags = static_cast<std::uint8_t>(p->payload[50]);
    CHECK(flags == (k == w->key() ? derp::peer_flags::kIsMeshPeer : derp::peer_flags::kIsRegular));
  }
  CHECK(seen == std::set<base::NodePublicKey>{a->key(), w->key()});
  auto b = f.logged_in();
  REQUIRE(b);
  auto p = w->read_frame_of(FrameType::peer_present);
  REQUIRE(p);
  CHECK(key_in(p->payload) == b->key());
  // ClosePeer b: the server closes it; watchers hear PeerGone.
  base::Bytes cp;
  derp::encode_close_peer(cp, b->key());
  w->send(cp);
  CHECK(b->wait_closed());
  auto g = w->read_frame_of(FrameType::peer_gone);
  REQUIRE(g);
  CHECK(key_in(g->payload) == b->key());
}

TEST_CASE("mesh-only frames from a client without the mesh key close it") {
  auto cfg = derpserver::testing::test_config();
  cfg.mesh_key = derp::MeshKey::generate();
  ServerFixture f(std::move(cfg));
  f.start();
  // A wrong mesh key: logged in as a regular client, refused on WatchConns.
  auto info = derp::default_client_info();
  info.mesh_key = derp::MeshKey::generate();
  auto w = f.logged_in(info);
  REQUIRE(w);
  CHECK(f.server().counters().mesh_auth_refused.load() == 1);
  base::Bytes watch;
  derp::encode_watch_conns(watch);
  w->send(watch);
  CHECK(w->wait_closed());
  auto c = f.logged_in();
  REQUIRE(c);
  base::Bytes cp;
  derp::encode_close_peer(cp, c->key());
  c->send(cp);
  CHECK(c->wait_closed());
  auto d = f.logged_in();
  REQUIRE(d);
  base::Bytes fwd;
  derp::encode_forward_packet(fwd, d->key(), d->key(), base::as_bytes("x"));
  d->send(fwd);
  CHECK(d->wait_closed());
}

TEST_CASE("flow statistics count local deliveries per (src, dst); none for unknown keys") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  auto b = f.logged_in();
  REQUIRE((a && b));
  for (int i = 0; i < 10; ++i) a->send_packet(b->key(), base::Bytes(100));
  for (int i = 0; i < 10; ++i) REQUIRE(b->read_frame_of(FrameType::recv_packet));
  const auto nobody = base::NodePrivateKey::generate().public_key();
  a->send_packet(nobody, base::Bytes(10));
  f.pump_until([&] { return f.server().drops(derpserver::DropReason::unknown_dest) == 1; });
  // No record for a destination that does not exist.
  const auto top = f.server().flows().top(10);
  REQUIRE(top.size() == 1);
  CHECK(top[0].src == a->key());
  CHECK(top[0].dst == b->key());
  CHECK(top[0].packets_local == 10);
  CHECK(top[0].bytes_local == 1000);
  const std::string metrics = f.server().prometheus_text();
  CHECK(metrics.find("derp_flow_packets{src=\"" + a->key().to_hex() + "\",dst=\"" +
                     b->key().to_hex() + "\",path=\"local\"} 10") != std::string::npos);
  CHECK(f.server().debug_text().find(a->key().short_string() + " -> " + b->key().short_string()) !=
        std::string::npos);
}

TEST_CASE("a flow record appears once an unknown destination connects") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  REQUIRE(a);
  const auto later_key = base::NodePrivateKey::generate();
  a->send_packet(later_key.public_key(), base::Bytes(10));  // cached as unknown, no record
  REQUIRE(
      f.pump_until([&] { return f.server().drops(derpserver::DropReason::unknown_dest) == 1; }));
  CHECK(f.server().flows().size() == 0);
  derpserver::testing::RawClient later(f.pumper(), later_key);
  REQUIRE(later.login(f.port()));
  a->send_packet(later_key.public_key(), base::Bytes(10));
  REQUIRE(later.read_frame_of(FrameType::recv_packet));
  const auto top = f.server().flows().top(10);
  REQUIRE(top.size() == 1);
  CHECK(top[0].dst == later_key.public_key());
  CHECK(top[0].packets_local == 1);
}

}  // namespace
