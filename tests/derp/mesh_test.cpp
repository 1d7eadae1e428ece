// SPDX-License-Identifier: MIT
// The three packet paths of the DERP sequence diagrams (SEEDS.md), the mesh key, and a mesh
// server restarting while clients stay connected elsewhere.
#include <doctest/doctest.h>

#include "derp/harness.hpp"

namespace {

using derptest::connected;
using derptest::Recorder;
using derptest::World;
using namespace std::chrono_literals;

derpserver::MeshPeerConfig peer_at(std::uint16_t port) {
  return derpserver::MeshPeerConfig::parse("127.0.0.1:" + std::to_string(port), true).value();
}

// Region 1: servers 0 ("1x") and 1 ("1y"), meshed both ways.
void mesh_two(World& w, const derp::MeshKey& mesh) {
  w.add_server(w.config(mesh));
  w.add_server(w.config(mesh));
  w.server(0).add_mesh_peer(peer_at(w.port_of(1)));
  w.server(1).add_mesh_peer(peer_at(w.port_of(0)));
  w.server(0).start();
  w.server(1).start();
  REQUIRE(w.until([&] {
    return w.server(0).mesh_links_connected() == 1 && w.server(1).mesh_links_connected() == 1;
  }));
}

TEST_CASE("path 2: same region, same server") {
  World w;
  const auto mesh = derp::MeshKey::generate();
  mesh_two(w, mesh);
  Recorder ra, rb;
  auto oa = w.client_options(w.port_of(0));
  auto ob = w.client_options(w.port_of(0));
  auto a = w.add_client(oa, ra);
  auto b = w.add_client(ob, rb);
  REQUIRE(w.until([&] { return connected(a) && connected(b); }));
  b->send(oa.key.public_key(), base::as_bytes("same server"));
  REQUIRE(w.until([&] { return ra.saw_packet_from(ob.key.public_key(), "same server"); }));
  CHECK(w.server(0).shards().front()->counters().packets_forwarded_out.load() == 0);
}

TEST_CASE("path 3: same region, different servers, forwarded one hop over the mesh") {
  World w;
  const auto mesh = derp::MeshKey::generate();
  mesh_two(w, mesh);
  Recorder ra, rb;
  auto oa = w.client_options(w.port_of(0));  // A on 1x
  auto ob = w.client_options(w.port_of(1));  // B on 1y
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = w.add_client(oa, ra);
  auto b = w.add_client(ob, rb);
  REQUIRE(w.until([&] { return connected(a) && connected(b); }));
  // 1x tells 1y that A is there (PeerPresent over the mesh watch).
  REQUIRE(w.until([&] { return w.server(1).registry().has_forwarder(ka); }));
  REQUIRE(w.until([&] { return w.server(0).registry().has_forwarder(kb); }));
  b->send(ka, base::as_bytes("via mesh"));
  REQUIRE(w.until([&] { return ra.saw_packet_from(kb, "via mesh"); }));
  a->send(kb, base::as_bytes("and back"));
  REQUIRE(w.until([&] { return rb.saw_packet_from(ka, "and back"); }));
  std::uint64_t out = 0;
  std::uint64_t in = 0;
  for (const auto& sh : w.server(1).shards()) out += sh->counters().packets_forwarded_out.load();
  for (const auto& sh : w.server(0).shards()) in += sh->counters().packets_forwarded_in.load();
  CHECK(out == 1);
  CHECK(in == 1);
  // Flow stats on 1y: B->A forwarded in-region.
  const auto flows = w.server(1).flows().top(10);
  bool found = false;
  for (const auto& f : flows) {
    if (f.src == kb && f.dst == ka) {
      found = true;
      CHECK(f.packets_forwarded == 1);
    }
  }
  CHECK(found);
  // When A leaves the region, B (which received from A through the mesh) hears about it.
  a->close();
  REQUIRE(w.until([&] { return rb.saw_gone(ka, derp::PeerGoneReason::disconnected); }));
  REQUIRE(w.until([&] { return !w.server(1).registry().has_forwarder(ka); }));
}

TEST_CASE("path 4: different regions: the sender opens a connection to the receiver's home") {
  World w;
  w.add_server(w.config());  // region 1 (A's home)
  w.add_server(w.config());  // region 2 (B's home), not meshed with region 1
  w.server(0).start();
  w.server(1).start();
  Recorder ra, rb_home, rb_extra;
  auto oa = w.client_options(w.port_of(0));
  const auto b_key = base::NodePrivateKey::generate();
  auto ob_home = w.client_options(w.port_of(1), b_key);
  ob_home.preferred = true;
  auto ob_extra = w.client_options(w.port_of(0), b_key);  // same key, A's region
  auto a = w.add_client(oa, ra);
  auto b_home = w.add_client(ob_home, rb_home);
  auto b_extra = w.add_client(ob_extra, rb_extra);
  REQUIRE(w.until([&] { return connected(a) && connected(b_home) && connected(b_extra); }));
  b_extra->send(oa.key.public_key(), base::as_bytes("cross region"));
  REQUIRE(w.until([&] { return ra.saw_packet_from(b_key.public_key(), "cross region"); }));
  // A answers on the connection the packet came in on (the reverse path).
  a->send(b_key.public_key(), base::as_bytes("reply"));
  REQUIRE(w.until([&] { return rb_extra.saw_packet_from(oa.key.public_key(), "reply"); }));
  CHECK(connected(b_home));  // B keeps its home connection
  CHECK(w.server(1).counters().current_home_connections.load() == 1);
}

TEST_CASE("a wrong mesh key is refused; meshing with yourself is detected") {
  World w;
  w.add_server(w.config(derp::MeshKey::generate()));
  w.add_server(w.config(derp::MeshKey::generate()));  // a different key
  w.server(1).add_mesh_peer(peer_at(w.port_of(0)));
  w.server(0).add_mesh_peer(peer_at(w.port_of(0)));  // itself, as --mesh-with may list
  w.server(0).start();
  w.server(1).start();
  Recorder ra;
  auto oa = w.client_options(w.port_of(0));
  auto a = w.add_client(oa, ra);
  REQUIRE(w.until([&] { return connected(a); }));
  REQUIRE(w.until([&] { return w.server(0).counters().mesh_auth_refused.load() >= 1; }));
  w.pump_for(50ms);
  CHECK_FALSE(w.server(1).registry().has_forwarder(oa.key.public_key()));
  CHECK(w.server(0).counters().watchers.load() == 0);
  CHECK(w.server(0).mesh_links_connected() == 0);
  // The refused link retries on its schedule and is refused again.
  const auto refused = w.server(0).counters().mesh_auth_refused.load();
  w.advance(6s);
  REQUIRE(w.until([&] { return w.server(0).counters().mesh_auth_refused.load() > refused; }));
  CHECK_FALSE(w.server(1).registry().has_forwarder(oa.key.public_key()));
}

TEST_CASE("a mesh server restarts while clients stay connected elsewhere") {
  World w;
  const auto mesh = derp::MeshKey::generate();
  mesh_two(w, mesh);
  Recorder ra, rb;
  auto oa = w.client_options(w.port_of(0));  // A on 1x, stays up throughout
  auto ob = w.client_options(w.port_of(1));  // B on 1y, which restarts
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = w.add_client(oa, ra);
  auto b = w.add_client(ob, rb);
  REQUIRE(w.until([&] { return connected(a) && connected(b); }));
  REQUIRE(w.until([&] { return w.server(1).registry().has_forwarder(ka); }));
  b->send(ka, base::as_bytes("before"));
  REQUIRE(w.until([&] { return ra.saw_packet_from(kb, "before"); }));

  // 1y goes down: 1x drops everything it learnt from it; A hears that B left the region.
  auto cfg1 = w.config(mesh);
  const auto key_1y = w.server(1).private_key();
  w.stop_server(1);
  REQUIRE(w.until([&] { return !w.server(0).registry().has_forwarder(kb); }));
  REQUIRE(w.until([&] { return ra.saw_gone(kb, derp::PeerGoneReason::disconnected); }));
  CHECK(connected(a));

  // 1y comes back on the same port with the same key and mesh configuration.
  cfg1.private_key = key_1y;
  w.replace_server(1, cfg1);
  w.server(1).add_mesh_peer(peer_at(w.port_of(0)));
  w.server(1).start();
  // B reconnects (backoff), 1x's link retries after 5 s; nobody sleeps: the clock moves.
  for (int i = 0; i < 10 && !(connected(b) && w.server(0).mesh_links_connected() == 1); ++i) {
    w.advance(1s);
  }
  REQUIRE(w.until([&] { return connected(b) && w.server(0).mesh_links_connected() == 1; }));
  REQUIRE(w.until([&] {
    return w.server(0).registry().has_forwarder(kb) && w.server(1).registry().has_forwarder(ka);
  }));
  b->send(ka, base::as_bytes("after"));
  REQUIRE(w.until([&] { return ra.saw_packet_from(kb, "after"); }));
  a->send(kb, base::as_bytes("welcome back"));
  REQUIRE(w.until([&] { return rb.saw_packet_from(ka, "welcome back"); }));
  CHECK(a->generation() == 1);  // A never reconnected
}

}  // namespace
