// SPDX-License-Identifier: MIT
// A netcheck Probe against scripted STUN replies, and the preferred region's hysteresis.
#include "netcheck/netcheck.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace {

using namespace std::chrono_literals;
using netcheck::PreferredRegion;
using netcheck::Probe;
using netcheck::Region;
using netcheck::Report;
using netcheck::StunRequest;

base::Endpoint ep(const char* text) {
  return *base::Endpoint::parse(text);
}

// Region 1: two IPv4 STUN servers and one IPv6; region 2: one IPv4; region 3: one IPv4.
std::vector<Region> regions() {
  return {
      {1,
       {{1, "1a", ep("192.0.2.10:3478")},
        {1, "1a", ep("[2001:db8::10]:3478")},
        {1, "1b", ep("192.0.2.11:3478")}}},
      {2, {{2, "2a", ep("198.51.100.20:3478")}}},
      {3, {{3, "3a", ep("203.0.113.30:3478")}}},
  };
}

const base::TimePoint t0{1000s};

std::vector<StunRequest> of_region(const std::vector<StunRequest>& all, int region, bool v6) {
  std::vector<StunRequest> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [&](const StunRequest& r) {
    return r.to.region == region && r.to.stun.addr.is_v6() == v6;
  });
  return out;
}

net::stun::Response reply(const StunRequest& r, const char* mapped) {
  return {r.txid, ep(mapped)};
}

TEST_CASE("a full report probes every region 3 times per family, rotating over its servers") {
  Probe p(regions(), true, true, t0);
  const auto first = p.due(t0);
  CHECK(first.size() == 4);  // region 1 v4 and v6, regions 2 and 3 v4
  CHECK(p.due(t0 + 50ms).empty());
  const auto second = p.due(t0 + 100ms);
  const auto third = p.due(t0 + 200ms);
  CHECK(second.size() == 4);
  CHECK(third.size() == 4);
  CHECK(of_region(first, 1, false)[0].to.stun == ep("192.0.2.10:3478"));
  CHECK(of_region(second, 1, false)[0].to.stun == ep("192.0.2.11:3478"));
  CHECK(of_region(third, 1, false)[0].to.stun == ep("192.0.2.10:3478"));
  CHECK(p.next_event(t0 + 200ms) == t0 + 3s);  // nothing more planned: the STUN phase's end
}

TEST_CASE("replies: latency per region and family, mappings, and a region's set cancelled") {
  Probe p(regions(), true, true, t0);
  const auto first = p.due(t0);
  REQUIRE(p.on_response(reply(of_region(first, 1, false)[0], "203.0.113.1:41641"), t0 + 30ms));
  REQUIRE(p.on_response(reply(of_region(first, 1, true)[0], "[2001:db8:1::1]:41641"), t0 + 35ms));
  REQUIRE(p.on_response(reply(of_region(first, 2, false)[0], "203.0.113.1:41641"), t0 + 50ms));
  const Report& r = p.report();
  CHECK(r.udp);
  CHECK(r.ipv4);
  CHECK(r.ipv6);
  CHECK(r.global_v4 == ep("203.0.113.1:41641"));
  CHECK(r.global_v6 == ep("[2001:db8:1::1]:41641"));
  CHECK(r.mapping_varies == false);  // two servers, one mapping: easy NAT
  CHECK(r.latency.at(1) == 30ms);
  CHECK(r.latency_v6.at(1) == 35ms);
  CHECK(r.latency.at(2) == 50ms);
  CHECK(r.extra_mappings.empty());  // the same one twice is the global one
  // Answered sets are cancelled: only region 3 is probed again.
  const auto second = p.due(t0 + 100ms);
  REQUIRE(second.size() == 1);
  CHECK(second[0].to.region == 3);
  // A reply to nothing of ours, or a second reply to the same request, is ignored.
  CHECK_FALSE(p.on_response(reply(of_region(first, 1, false)[0], "203.0.113.9:1"), t0 + 110ms));
}

TEST_CASE("a mapping that differs by destination is hard NAT") {
  Probe p(regions(), true, false, t0);
  const auto first = p.due(t0);
  REQUIRE(first.size() == 3);
  CHECK_FALSE(p.report().mapping_varies.has_value());
  p.on_response(reply(first[0], "203.0.113.1:50001"), t0 + 20ms);
  CHECK_FALSE(p.report().mapping_varies.has_value());
  p.on_response(reply(first[1], "203.0.113.1:50002"), t0 + 25ms);
  CHECK(p.report().mapping_varies == true);
  p.on_response(reply(first[2], "203.0.113.1:50001"), t0 + 26ms);
  CHECK(p.report().mapping_varies == true);                           // stays true
  CHECK(p.report().extra_mappings == std::vector<base::Endpoint>{});  // 50002 seen once
}

TEST_CASE("the report ends early once 3 regions answered, or at the STUN phase's end") {
  auto four = regions();
  four.push_back({4, {{4, "4a", ep("203.0.113.40:3478")}}});  // never answers
  Probe p(four, true, false, t0);
  const auto first = p.due(t0);
  REQUIRE(first.size() == 4);
  p.on_response(reply(first[0], "203.0.113.1:1"), t0 + 10ms);
  p.on_response(reply(first[1], "203.0.113.1:1"), t0 + 20ms);
  CHECK_FALSE(p.done(t0 + 25ms));
  p.on_response(reply(first[2], "203.0.113.1:1"), t0 + 30ms);
  // The slowest answered latency is 30 ms: twice that after the third answer.
  CHECK_FALSE(p.done(t0 + 89ms));
  CHECK(p.done(t0 + 90ms));
  CHECK(p.due(t0 + 100ms).empty());  // region 4's second try is not sent

  // When every region answered, there is nothing left to wait for.
  Probe all(regions(), true, false, t0);
  const auto asked = all.due(t0);
  for (const auto& r : asked) all.on_response(reply(r, "203.0.113.1:1"), t0 + 5ms);
  CHECK(all.done(t0 + 5ms));

  Probe silent(regions(), true, true, t0);
  silent.due(t0);
  silent.due(t0 + 200ms);
  CHECK_FALSE(silent.done(t0 + 2999ms));
  CHECK(silent.done(t0 + 3s));
  CHECK_FALSE(silent.report().udp);  // UDP blocked: no reply at all
}

Report measured(std::map<int, base::Duration> latency) {
  Report r;
  r.udp = true;
  r.latency = std::move(latency);
  return r;
}

TEST_CASE("preferred region: lowest latency, and a home moves only for 10 ms and a third") {
  PreferredRegion p;
  base::TimePoint now = t0;
  struct Row {
    int n;
    std::map<int, base::Duration> latency;
    int expected;
  };
  const Row rows[] = {
      {1, {{1, 50ms}, {2, 30ms}}, 2}, {2, {{1, 25ms}, {2, 30ms}}, 2},  // 5 ms better: not enough
      {3, {{1, 21ms}, {2, 30ms}}, 2},                                  // 9 ms better: not enough
      {4, {{1, 15ms}, {2, 20ms}}, 2},  // 5 ms better than region 2 now
      {5, {{1, 12ms}, {2, 40ms}}, 1},  // 28 ms and more than a third better: moves
      {6, {{1, 30ms}, {2, 25ms}}, 1},  // region 2's best over 5 minutes is 20 ms: 10 ms off
  };
  for (const Row& r : rows) {
    CAPTURE(r.n);
    now += 30s;
    CHECK(p.update(measured(r.latency), now) == r.expected);
  }
}

TEST_CASE("preferred region: history expires, scores scale, silence keeps a heard home") {
  PreferredRegion p;
  base::TimePoint now = t0;
  CHECK(p.update(measured({{1, 40ms}, {2, 5ms}}), now) == 2);
  // Six minutes later region 2's 5 ms is forgotten; 60 vs 20 ms now moves the home.
  now += 6min;
  CHECK(p.update(measured({{1, 20ms}, {2, 60ms}}), now) == 1);
  // A score below 1 favours a region: 30 ms x 0.25 beats 20 ms by more than a third.
  now += 6min;
  CHECK(p.update(measured({{1, 20ms}, {2, 30ms}}), now, {{2, 0.25}}) == 2);
  // Nothing measured: the home stays while DERP frames come from it, else it is none.
  now += 10s;
  CHECK(p.update(Report{}, now, {}, true) == 2);
  CHECK(p.update(Report{}, now, {}, false) == 0);
  // A region reachable only through DERP (no STUN reply) keeps being the home.
  CHECK(p.update(measured({{1, 20ms}}), now) == 1);
  CHECK(p.update(measured({{3, 1ms}}), now + 1s, {}, true) == 1);
}

}  // namespace
