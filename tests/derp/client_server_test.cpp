// SPDX-License-Identifier: MIT
// derpclient against one derpserver: delivery, peer-gone events, ping, preferred, watch,
// reconnects with backoff and timeouts driven by the manual clock.
#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>

#include "derp/harness.hpp"

namespace {

using derptest::connected;
using derptest::Recorder;
using derptest::World;
using namespace std::chrono_literals;

TEST_CASE("two clients exchange packets through one server") {
  World w;
  auto& s = w.add_server(w.config());
  s.start();
  Recorder ra, rb;
  auto oa = w.client_options(w.port_of(0));
  auto ob = w.client_options(w.port_of(0));
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = w.add_client(oa, ra);
  auto b = w.add_client(ob, rb);
  REQUIRE(w.until([&] { return connected(a) && connected(b); }));
  CHECK(ra.connected == 1);
  CHECK(a->server_key() == s.public_key());
  // In rounds of 20 (the send queue holds 32 and drops from its head beyond that).
  for (int round = 0; round < 5; ++round) {
    for (int i = round * 20; i < round * 20 + 20; ++i) {
      CHECK(a->send(kb, base::as_bytes("a" + std::to_string(i))));
      CHECK(b->send(ka, base::as_bytes("b" + std::to_string(i))));
    }
    const std::size_t want = static_cast<std::size_t>(round * 20 + 20);
    REQUIRE(w.until([&] { return ra.packets.size() == want && rb.packets.size() == want; }));
  }
  CHECK(a->stats().dropped_queue_head == 0);
  for (int i = 0; i < 100; ++i) {
    CHECK(base::as_chars(rb.packets[static_cast<std::size_t>(i)].data) == "a" + std::to_string(i));
    CHECK(rb.packets[static_cast<std::size_t>(i)].src == ka);
  }
  CHECK(s.packets_received() == 200);
}

TEST_CASE("delivery, NotHere and Disconnected through derpclient") {
  World w;
  w.add_server(w.config()).start();
  Recorder ra, rb;
  auto oa = w.client_options(w.port_of(0));
  auto ob = w.client_options(w.port_of(0));
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto b = w.add_client(ob, rb);
  REQUIRE(w.until([&] { return connected(b); }));
  auto a = w.add_client(oa, ra);
  // a sends before it is even connected: the packet waits in the queue.
  CHECK(a->send(kb, base::as_bytes("early")));
  REQUIRE(w.until([&] { return connected(a); }));
  REQUIRE(w.until([&] { return rb.saw_packet_from(ka, "early"); }));
  CHECK(b->send(ka, base::as_bytes("reply")));
  REQUIRE(w.until([&] { return ra.saw_packet_from(kb, "reply"); }));

  // NotHere for a disco packet to a key nobody has.
  const auto nobody = base::NodePrivateKey::generate().public_key();
  a->send(nobody, derptest::disco_payload());
  REQUIRE(w.until([&] { return ra.saw_gone(nobody, derp::PeerGoneReason::not_here); }));

  // a leaves: b, which received from a, hears Disconnected.
  a->close();
  REQUIRE(w.until([&] { return rb.saw_gone(ka, derp::PeerGoneReason::disconnected); }));
  CHECK(a->stats().packets_sent >= 1);
  CHECK(b->stats().packets_received == 1);
}

TEST_CASE("ping round trip (TestPing) and the preferred flag") {
  World w;
  auto& s = w.add_server(w.config());
  s.start();
  Recorder r;
  auto o = w.client_options(w.port_of(0));
  o.preferred = true;
  auto c = w.add_client(o, r);
  REQUIRE(w.until([&] { return connected(c); }));
  REQUIRE(w.until([&] { return s.counters().current_home_connections.load() == 1; }));
  bool done = false;
  bool ok = false;
  c->ping([&](bool good, base::Duration) {
    done = true;
    ok = good;
  });
  REQUIRE(w.until([&] { return done; }));
  CHECK(ok);
  c->set_preferred(false);
  CHECK(w.until([&] { return s.counters().current_home_connections.load() == 0; }));
}

TEST_CASE("mesh login with watch-conns and ClosePeer from derpclient") {
  World w;
  const auto mesh = derp::MeshKey::generate();
  auto& s = w.add_server(w.config(mesh));
  s.start();
  Recorder rr, rw;
  auto regular = w.add_client(w.client_options(w.port_of(0)), rr);
  REQUIRE(w.until([&] { return connected(regular); }));
  auto ow = w.client_options(w.port_of(0));
  ow.mesh_key = mesh;
  ow.watch_conns = true;
  const auto kw = ow.key.public_key();
  auto watcher = w.add_client(ow, rw);
  REQUIRE(w.until([&] { return rw.present.size() >= 2; }));
  CHECK(rw.saw_present(kw));  // the watcher sees itself
  std::optional<base::NodePublicKey> regular_key;
  for (const auto& p : rw.present) {
    if (p.peer != kw) regular_key = p.peer;
    CHECK(p.has_flags);
    CHECK(p.endpoint.addr.to_string() == "127.0.0.1");
  }
  REQUIRE(regular_key);
  watcher->close_peer(*regular_key);
  REQUIRE(w.until([&] { return !rr.disconnects.empty(); }));
  REQUIRE(w.until([&] { return rw.saw_gone(*regular_key, derp::PeerGoneReason::disconnected); }));
  // The kicked client reconnects after its backoff and is announced again.
  const auto before = rw.present.size();
  w.advance(2s);
  REQUIRE(w.until([&] { return connected(regular); }));
  REQUIRE(w.until([&] { return rw.present.size() > before; }));
  CHECK(regular->generation() == 2);
}

TEST_CASE("reconnect with backoff when the server goes away and comes back") {
  World w;
  auto cfg = w.config();
  const auto server_key = cfg.private_key;
  w.add_server(cfg).start();
  Recorder r;
  auto c = w.add_client(w.client_options(w.port_of(0)), r);
  REQUIRE(w.until([&] { return connected(c); }));
  w.stop_server(0);
  REQUIRE(w.until([&] { return !r.disconnects.empty(); }));
  CHECK(c->state() == derpclient::State::connecting);
  // Each failed attempt waits longer; nothing happens until the clock moves.
  const auto fails = r.disconnects.size();
  w.pump_for(30ms);
  CHECK(r.disconnects.size() == fails);
  w.advance(100ms);
  REQUIRE(w.until([&] { return r.disconnects.size() > fails; }));  // refused again
  // The server returns (same key, same port); the client gets back in.
  auto cfg2 = w.config();
  cfg2.private_key = server_key;
  w.replace_server(0, cfg2);
  w.server(0).start();
  for (int i = 0; i < 20 && !connected(c); ++i) w.advance(1s);
  REQUIRE(w.until([&] { return connected(c); }));
  CHECK(c->generation() == 2);
  CHECK(r.connected == 2);
}

TEST_CASE("connect timeout and read timeout come from the clock") {
  World w;
  // A TCP listener that never answers: the client's login cannot finish.
  boost::asio::ip::tcp::acceptor hole(w.io(), {boost::asio::ip::make_address("127.0.0.1"), 0});
  Recorder r;
  auto o = w.client_options(hole.local_endpoint().port());
  auto c = w.add_client(o, r);
  w.pump_for(50ms);
  CHECK(r.disconnects.empty());
  w.advance(11s);
  REQUIRE(w.until([&] { return !r.disconnects.empty(); }));
  CHECK(r.disconnects.front() == "connect timeout");
  c->close();
}

TEST_CASE("an idle connection pings; a silent one is dropped") {
  World w;
  auto& s = w.add_server(w.config());
  s.start();
  Recorder r;
  auto c = w.add_client(w.client_options(w.port_of(0)), r);
  REQUIRE(w.until([&] { return connected(c); }));
  // 66 s of silence: the client pings, the server answers, the connection stays.
  w.advance(66s);
  REQUIRE(w.until([&] { return s.counters().got_ping.load() == 1; }));
  w.pump_for(20ms);
  w.advance(4s);
  CHECK(r.disconnects.empty());
  CHECK(connected(c));
}

}  // namespace
