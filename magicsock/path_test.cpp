// SPDX-License-Identifier: MIT
// PathState against a simulated path: pings answered after an RTT while the path is up.
// First Tailscale's policy alone (PathConfig::mesh = false), then mesh mode's differences.
#include "magicsock/path.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <random>

#include "base/testing/test_seed.hpp"

namespace {

using namespace std::chrono_literals;
using magicsock::AddrQuality;
using magicsock::better_addr;
using magicsock::PathActions;
using magicsock::PathConfig;
using magicsock::PathState;
using magicsock::PingPurpose;
using magicsock::Route;

base::Endpoint ep(const char* text) {
  return *base::Endpoint::parse(text);
}

// One peer's PathState and the network it probes: every address in `up` answers pings
// with a pong `rtt` later; the others drop them. Time moves in steps of 10 ms.
struct Sim {
  explicit Sim(PathConfig config = {}) : path(config) {}

  bool lost() { return loss > 0 && std::uniform_real_distribution<>(0, 1)(rng) < loss; }
  void act(PathActions& a) {
    for (const auto& ping : a.pings) {
      ++pings;
      if (ping.purpose == PingPurpose::heartbeat) ++heartbeats;
      if (lost() || lost()) continue;  // the ping, or its pong
      if (std::find(up.begin(), up.end(), ping.to) != up.end()) {
        pongs.push_back({now + rtt, ping.txid});
      }
    }
    call_me_maybes += a.call_me_maybe ? 1 : 0;
    a = PathActions{};
  }
  // Advances `d`, sending app data every `send_every` (0: none) and receiving data back
  // from the best address every `data_every` (0: none) while it is up.
  void run(base::Duration d, base::Duration send_every = 0ms, base::Duration data_every = 0ms) {
    const base::TimePoint end = now + d;
    while (now < end) {
      now += 10ms;
      PathActions a;
      while (!pongs.empty() && pongs.front().first <= now) {
        path.on_pong(pongs.front().second, false, now);
        pongs.pop_front();
      }
      if (send_every.count() > 0 && now - last_send >= send_every) {
        last_send = now;
        path.on_send(now, a);
      }
      const base::Endpoint best = path.best().addr;
      if (data_every.count() > 0 && best.valid() && now - last_data >= data_every &&
          std::find(up.begin(), up.end(), best) != up.end()) {
        last_data = now;
        if (!lost()) path.on_authenticated(best, now);
      }
      path.tick(now, a);
      act(a);
      if (best.valid() && !path.best().addr.valid()) ++abandoned;
    }
  }
  Route route() const { return path.route(now); }

  PathState path;
  base::TimePoint now{1000s};
  base::TimePoint last_send{}, last_data{};
  base::Duration rtt = 20ms;
  std::vector<base::Endpoint> up;
  std::deque<std::pair<base::TimePoint, magicsock::TxId>> pongs;
  int pings = 0, heartbeats = 0, call_me_maybes = 0, abandoned = 0;
  double loss = 0;  // of each ping, pong and data packet
  std::mt19937_64 rng{1};
};

PathConfig tailscale() {
  PathConfig c;
  c.mesh = false;
  return c;
}

TEST_CASE("better_addr: Tailscale's table of outcomes") {
  struct Row {
    int n;
    const char* a;
    int a_ms;
    const char* b;
    int b_ms;
    bool better;
  };
  const Row rows[] = {
      {1, "203.0.113.1:1", 101, "203.0.113.2:1", 100, false},  // 1 % slower: stay
      {2, "203.0.113.1:1", 100, "203.0.113.2:1", 101, false},  // 1 % faster: hysteresis
      {3, "203.0.113.1:1", 100, "203.0.113.2:1", 103, true},
      {4, "10.0.0.1:1", 100, "203.0.113.2:1", 91, true},  // private beats a bit faster public
      {5, "10.0.0.1:1", 100, "203.0.113.2:1", 30, false},
      {6, "[2001:db8::1]:1", 100, "203.0.113.2:1", 91, true},  // IPv6 bonus
      {7, "[2001:db8::1]:1", 100, "203.0.113.2:1", 30, false},
      {8, "10.0.0.1:1", 100, "[2001:db8::2]:1", 101, true},
      {9, "[fe80::1]:1", 101, "[fd00::1]:1", 100, true},  // link-local beats ULA
      {10, "[fe80::1]:1", 101, "[::1]:1", 100, false},    // loopback beats link-local
      {11, "203.0.113.1:1", 0, "203.0.113.2:1", 0, false},
      {12, "100.64.0.1:1", 100, "203.0.113.2:1", 101, false},  // CGNAT is not private
  };
  for (const Row& r : rows) {
    CAPTURE(r.n);
    const AddrQuality a{ep(r.a), std::chrono::milliseconds(r.a_ms), 0};
    const AddrQuality b{ep(r.b), std::chrono::milliseconds(r.b_ms), 0};
    CHECK(better_addr(a, b) == r.better);
  }
  // The same address: only a larger path MTU is better; anything beats nothing.
  CHECK(better_addr({ep("203.0.113.1:1"), 1ms, 1500}, {ep("203.0.113.1:1"), 1ms, 1400}));
  CHECK_FALSE(better_addr({ep("203.0.113.1:1"), 1ms, 1400}, {ep("203.0.113.1:1"), 1ms, 1400}));
  CHECK(better_addr({ep("203.0.113.1:1"), 50ms, 0}, {}));
  CHECK_FALSE(better_addr({}, {ep("203.0.113.1:1"), 50ms, 0}));
}

TEST_CASE("Tailscale: no candidates means DERP only, and no CallMeMaybe") {
  Sim s(tailscale());
  s.run(10s, 10ms);
  CHECK(s.route() == Route{std::nullopt, true});
  CHECK(s.pings == 0);
  CHECK(s.call_me_maybes == 0);
}

TEST_CASE("Tailscale: a pong makes the path direct and trusted; heartbeats keep it so") {
  Sim s(tailscale());
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(10ms, 10ms);  // the first send: a discovery ping and a CallMeMaybe
  CHECK(s.pings == 1);
  CHECK(s.call_me_maybes == 1);
  CHECK(s.route() == Route{std::nullopt, true});  // no pong yet: DERP only
  s.run(50ms, 10ms);
  CHECK(s.route() == Route{a, false});
  CHECK(s.path.best().latency == 20ms);
  s.run(60s, 10ms, 10ms);
  CHECK(s.route() == Route{a, false});
  CHECK(s.heartbeats >= 19);
  CHECK(s.heartbeats <= 21);  // one every 3 s on a healthy path, no more
}

TEST_CASE("Tailscale: a dead path is mirrored once trust runs out, then dropped") {
  Sim s(tailscale());
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(5s, 10ms, 10ms);
  REQUIRE(s.route() == Route{a, false});
  s.up.clear();
  base::Duration mirrored{}, derp_only{};
  for (base::Duration t = 0ms; t < 20s; t += 10ms) {
    s.run(10ms, 10ms);
    const Route r = s.route();
    if (r.derp && r.direct && mirrored.count() == 0) mirrored = t;
    if (r.derp && !r.direct) {
      derp_only = t;
      break;
    }
  }
  MESSAGE("Tailscale policy: mirrored after "
          << mirrored.count() / 1000000 << " ms, DERP only after " << derp_only.count() / 1000000
          << " ms");
  CHECK(mirrored >= 3s);  // trust (6.5 s after the last pong, sent up to 3 s earlier)
  CHECK(mirrored <= 7s);
  CHECK(derp_only >= mirrored);
  CHECK(derp_only <= 13s);
}

TEST_CASE("Tailscale: discovery spacing, duplicate pings, pongs over DERP, unknown pongs") {
  Sim s(tailscale());
  const auto a = ep("198.51.100.7:41641");
  s.path.set_configured(std::span(&a, 1));
  s.run(4s, 10ms);
  CHECK(s.pings == 1);  // a candidate is pinged at most every 5 s
  s.run(2s, 10ms);
  CHECK(s.pings == 2);
  // A CallMeMaybe resets the spacing: the listed address is pinged at once.
  PathActions out;
  const auto b = ep("198.51.100.8:41641");
  s.path.on_call_me_maybe(std::span(&b, 1), s.now, out);
  CHECK(out.pings.size() == 2);
  CHECK_FALSE(out.call_me_maybe);  // never answered with one
  // The same ping twice: one pong.
  magicsock::TxId t{};
  t[0] = std::byte{7};
  PathActions ignored;
  CHECK(s.path.on_ping(ep("192.0.2.9:1"), t, s.now, ignored));
  CHECK_FALSE(s.path.on_ping(ep("192.0.2.9:1"), t, s.now, ignored));
  CHECK(ignored.pings.empty());  // Tailscale pings nobody back
  // A pong that came through DERP completes a ping but sets no path; an unknown one is no
  // pong of ours.
  CHECK(s.path.on_pong(out.pings[0].txid, true, s.now + 5ms));
  CHECK_FALSE(s.path.best().addr.valid());
  CHECK_FALSE(s.path.on_pong(t, false, s.now));
}

TEST_CASE("Tailscale: an idle session stops heartbeating; sending again restarts it") {
  Sim s(tailscale());
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(2s, 10ms, 10ms);
  REQUIRE(s.path.heartbeating());
  s.run(60s);  // nothing sent
  CHECK_FALSE(s.path.heartbeating());
  const int pings = s.pings;
  s.run(60s);
  CHECK(s.pings == pings);  // idle peers cost nothing
  s.run(10ms, 10ms);
  CHECK(s.path.heartbeating());
}

TEST_CASE("mesh: CallMeMaybe without candidates, at most one per heartbeat") {
  Sim s;
  s.run(10s, 10ms);
  CHECK(s.call_me_maybes >= 3);
  CHECK(s.call_me_maybes <= 4);
  CHECK(s.pings == 0);
}

TEST_CASE("mesh: a ping from a candidate without a trusted path gets a ping back at once") {
  Sim s;
  PathActions out;
  magicsock::TxId t{};
  const auto from = ep("203.0.113.50:40000");
  CHECK(s.path.on_ping(from, t, s.now, out));
  REQUIRE(out.pings.size() == 1);
  CHECK(out.pings[0].to == from);
  t[0] = std::byte{1};
  PathActions again;
  CHECK(s.path.on_ping(from, t, s.now + 500ms, again));
  CHECK(again.pings.empty());  // at most one per second per address
}

TEST_CASE("mesh: data that stops coming back is probed and hedged at once; a pong ends it") {
  Sim s;
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(5s, 10ms, 10ms);
  REQUIRE(s.route() == Route{a, false});
  // The peer's data stops for a moment, the path is fine: one probe, a short hedge.
  s.run(400ms, 10ms);
  CHECK(s.path.misses() == 0);
  s.run(10ms, 10ms, 10ms);
  CHECK(s.route() == Route{a, false});
}

TEST_CASE(
    "mesh: a black-holed path is hedged within 300 ms, abandoned within 3 s, and used "
    "again within 2 s of its return") {
  Sim s;
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(5s, 10ms, 10ms);  // 100 packets/s each way
  REQUIRE(s.route() == Route{a, false});
  s.up.clear();
  base::Duration hedged{-1s}, derp_only{-1s};
  for (base::Duration t = 10ms; t <= 10s; t += 10ms) {
    s.run(10ms, 10ms, 10ms);
    const Route r = s.route();
    if (r.derp && hedged < 0s) hedged = t;
    if (r.derp && !r.direct) {
      derp_only = t;
      break;
    }
  }
  MESSAGE("mesh policy: hedged after " << hedged.count() / 1000000 << " ms, DERP only after "
                                       << derp_only.count() / 1000000 << " ms");
  CHECK(hedged >= 0s);
  CHECK(hedged <= 300ms);
  CHECK(derp_only >= 1s);  // strong evidence only
  CHECK(derp_only <= 3s);

  s.up = {a};
  base::Duration back{-1s};
  for (base::Duration t = 10ms; t <= 10s; t += 10ms) {
    s.run(10ms, 10ms, 10ms);
    if (s.route() == Route{a, false}) {
      back = t;
      break;
    }
  }
  MESSAGE("mesh policy: direct again " << back.count() / 1000000 << " ms after the path returned");
  CHECK(back >= 0s);
  CHECK(back <= 2s);
}

TEST_CASE("mesh: a one-way flow heartbeats every second and keeps a healthy path") {
  Sim s;
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(30s, 10ms);  // we send, nothing but pongs comes back
  CHECK(s.route() == Route{a, false});
  CHECK(s.heartbeats >= 27);
  CHECK(s.heartbeats <= 31);
  // And with data both ways, Tailscale's rate: one heartbeat per 3 s.
  const int before = s.heartbeats;
  s.run(60s, 10ms, 10ms);
  CHECK(s.heartbeats - before <= 21);
  CHECK(s.route() == Route{a, false});
}

TEST_CASE("a better candidate takes over; 'host unreachable' and reset() forget the best") {
  Sim s;
  const auto far = ep("198.51.100.7:41641");
  const auto near = ep("10.1.0.2:41641");
  const std::array<base::Endpoint, 2> both{far, near};
  s.up = {far, near};
  s.path.set_configured(both);
  s.run(5s, 10ms, 10ms);
  CHECK(s.path.best().addr == near);  // private and as fast
  s.path.on_unreachable(near);
  CHECK(s.route() == Route{std::nullopt, true});
  s.run(6s, 10ms, 10ms);
  CHECK(s.path.best().addr.valid());
  s.path.reset();
  CHECK_FALSE(s.path.best().addr.valid());
  CHECK(s.path.pings_in_flight() == 0);
}

}  // namespace

TEST_CASE("mesh: 2 % random loss for 10 minutes abandons nothing and hedges little") {
  const std::uint64_t seed = base::testing::test_seed();
  MESSAGE("path loss seed=" << seed << " (rerun with MESHTUN_TEST_SEED)");
  Sim s;
  s.rng.seed(seed);
  const auto a = ep("198.51.100.7:41641");
  s.up = {a};
  s.path.set_configured(std::span(&a, 1));
  s.run(5s, 10ms, 10ms);
  REQUIRE(s.route() == Route{a, false});
  s.loss = 0.02;
  int hedged_steps = 0, steps = 0;
  for (base::Duration t = 0ms; t < 10min; t += 100ms) {
    s.run(100ms, 10ms, 10ms);  // 100 packets/s each way
    ++steps;
    if (s.route().derp) ++hedged_steps;
  }
  MESSAGE("2 % loss, 10 min, data both ways: " << s.abandoned << " abandonments, hedging in "
                                               << hedged_steps << " of " << steps
                                               << " 100 ms steps");
  CHECK(s.abandoned == 0);
  CHECK(hedged_steps * 100 < steps);  // under 1 % of the time
}
