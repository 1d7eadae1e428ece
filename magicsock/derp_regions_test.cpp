// SPDX-License-Identifier: MIT
// DerpRegions: routes to a peer's region, reverse routes, and which connections to hold.
#include "magicsock/derp_regions.hpp"

#include <doctest/doctest.h>

namespace {

using namespace std::chrono_literals;
using magicsock::DerpRegions;
using magicsock::DerpRegionsConfig;

const base::TimePoint t0{1000s};

base::NodePublicKey key() {
  return base::PrivateKey::generate().public_key();
}

TEST_CASE("a peer is reached through its home region, else the region it reached us on") {
  DerpRegions r;
  r.set_home(1);
  r.on_connected(1);
  const auto k = key();
  // Homed in region 2, not connected yet: 2, which the bind then opens.
  CHECK(r.route(k, 2, t0) == 2);
  // It wrote to us through region 1 (our home): answer there while 2 is not open.
  r.on_received(1, k);
  CHECK(r.reverse_route(k) == 1);
  CHECK(r.route(k, 2, t0) == 1);
  r.on_connected(2);
  CHECK(r.route(k, 2, t0) == 2);
  // A peer without a home region known: the reverse route, or nothing.
  const auto unknown = key();
  CHECK_FALSE(r.route(unknown, 0, t0).has_value());
  r.on_received(2, unknown);
  CHECK(r.route(unknown, 0, t0) == 2);
}

TEST_CASE("PeerGone and a lost connection forget reverse routes through that region") {
  DerpRegions r;
  const auto k = key();
  r.on_connected(3);
  r.on_received(3, k);
  r.on_peer_gone(4, k);  // another region's news changes nothing
  CHECK(r.reverse_route(k) == 3);
  r.on_peer_gone(3, k);
  CHECK_FALSE(r.reverse_route(k).has_value());
  r.on_received(3, k);
  r.on_disconnected(3);
  CHECK_FALSE(r.reverse_route(k).has_value());
  CHECK_FALSE(r.connected(3));
}

TEST_CASE("connections wanted: home always, written regions for 60 s, active peers' homes") {
  DerpRegions r;
  r.set_home(1);
  const auto k = key();
  CHECK(r.wanted(t0) == std::set<int>{1});
  r.on_connected(1);
  r.route(k, 2, t0);  // region 2 written to (to be opened), peer homed there active
  CHECK(r.wanted(t0 + 1s) == std::set<int>{1, 2});
  // Mesh: the active peer's home stays warm for 45 s after the last send to it ...
  CHECK(r.wanted(t0 + 44s) == std::set<int>{1, 2});
  // ... and the written region for 60 s; then only the home is left.
  CHECK(r.wanted(t0 + 59s) == std::set<int>{1, 2});
  CHECK(r.wanted(t0 + 60s) == std::set<int>{1});

  // Tailscale's policy alone: only writes keep a region.
  DerpRegionsConfig plain;
  plain.warm_peer_regions = false;
  DerpRegions p(plain);
  p.set_home(1);
  p.on_connected(1);
  p.on_connected(2);
  p.on_received(2, k);
  p.route(k, 3, t0);  // region 3 not open: the reverse route, region 2, carries it
  CHECK(p.wanted(t0 + 1s) == std::set<int>{1, 2});
}

}  // namespace
