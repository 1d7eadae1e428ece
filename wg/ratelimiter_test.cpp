// SPDX-License-Identifier: MIT
#include "wg/ratelimiter.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/testing/manual_clock.hpp"

namespace {

using base::IpAddr;
using base::testing::ManualClock;
using wg::RateLimiter;
using namespace std::chrono_literals;

IpAddr A(const char* text) {
  auto a = IpAddr::parse(text);
  REQUIRE_MESSAGE(a.has_value(), text);
  return *a;
}

TEST_CASE("ratelimiter: wireguard-go's sequence, for many sources at once") {
  // Rows as in wireguard-go's ratelimiter_test.go: before each row the clock moves by
  // `wait` + 1 ns, then every source sends one packet.
  const struct {
    base::Duration wait;
    bool allowed;
  } rows[] = {
      {0ns, true},    // 1-5: the initial burst
      {0ns, true},    // 2
      {0ns, true},    // 3
      {0ns, true},    // 4
      {0ns, true},    // 5
      {0ns, false},   // 6: after the burst
      {50ms, true},   // 7: 50 ms refill one packet
      {0ns, false},   // 8: not refilled enough
      {100ms, true},  // 9: a two-packet burst
      {0ns, true},    // 10
      {0ns, false},   // 11: and no more
  };
  const char* sources[] = {"127.0.0.1",
                           "192.168.1.1",
                           "172.167.2.3",
                           "97.231.252.215",
                           "248.97.91.167",
                           "188.208.233.47",
                           "2001:db8:a0b:12f0::1",
                           "f5c2:818f:c052:655a:9860:b136:6894:25f0",
                           "b2d7:15ab:48a7:b07c:a541:f144:a9fe:54fc"};
  ManualClock clock;
  RateLimiter rl;
  int row = 0;
  for (const auto& r : rows) {
    ++row;
    CAPTURE(row);
    clock.advance(r.wait + 1ns);
    for (const char* s : sources) {
      CAPTURE(s);
      CHECK(rl.allow(A(s), clock.now()) == r.allowed);
    }
  }
  CHECK(rl.size() == std::size(sources));
  const auto st = rl.stats();
  CHECK(st.allowed == 8 * std::size(sources));
  CHECK(st.limited == 3 * std::size(sources));
  CHECK(st.table_full == 0);
}

TEST_CASE("ratelimiter: at one frozen instant a new source gets 4 (wireguard-go's strict >)") {
  ManualClock clock;
  RateLimiter rl;
  const IpAddr a = A("10.0.0.1");
  for (int i = 0; i < 4; ++i) CHECK(rl.allow(a, clock.now()));
  CHECK_FALSE(rl.allow(a, clock.now()));
  // The refused packet paid nothing: 50 ms of credit remain, and 1 ns more lets one through.
  clock.advance(1ns);
  CHECK(rl.allow(a, clock.now()));  // leaves 1 ns of credit
  // Exactly one packet's worth of credit is not enough: it must exceed 50 ms.
  clock.advance(50ms - 1ns);
  CHECK_FALSE(rl.allow(a, clock.now()));
  clock.advance(1ns);
  CHECK(rl.allow(a, clock.now()));
}

TEST_CASE("ratelimiter: burst of 5, then 20 per second") {
  ManualClock clock;
  RateLimiter rl;
  const IpAddr a = A("10.0.0.1");
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    clock.advance(1us);
    admitted += rl.allow(a, clock.now()) ? 1 : 0;
  }
  CHECK(admitted == 5);

  // Refill: one packet after 50 ms, not before.
  clock.advance(49ms);
  CHECK_FALSE(rl.allow(a, clock.now()));
  clock.advance(1ms + 1us);
  CHECK(rl.allow(a, clock.now()));
  CHECK_FALSE(rl.allow(a, clock.now()));

  // A source sending every millisecond for 10 s gets 20 per second.
  admitted = 0;
  for (int i = 0; i < 10'000; ++i) {
    clock.advance(1ms);
    admitted += rl.allow(a, clock.now()) ? 1 : 0;
  }
  CHECK(admitted >= 199);
  CHECK(admitted <= 201);

  // After a long pause the bucket is full again, but holds no more than 5.
  clock.advance(60s);
  admitted = 0;
  for (int i = 0; i < 10; ++i) {
    clock.advance(1us);
    admitted += rl.allow(a, clock.now()) ? 1 : 0;
  }
  CHECK(admitted == 5);
}

TEST_CASE("ratelimiter: sources are independent") {
  ManualClock clock;
  RateLimiter rl;
  const IpAddr a = A("10.0.0.1");
  const IpAddr b = A("10.0.0.2");
  for (int i = 0; i < 20; ++i) {
    clock.advance(1ns);
    rl.allow(a, clock.now());
  }
  CHECK_FALSE(rl.allow(a, clock.now()));
  for (int i = 0; i < 5; ++i) {
    clock.advance(1ns);
    CHECK(rl.allow(b, clock.now()));
  }
  CHECK_FALSE(rl.allow(b, clock.now()));
  CHECK(rl.size() == 2);
}

// Sends 6 packets 1 ns apart from each source in turn; returns how many got through.
int burst(RateLimiter& rl, ManualClock& clock, const std::vector<const char*>& sources) {
  int admitted = 0;
  for (const char* s : sources) {
    for (int i = 0; i < 6; ++i) {
      clock.advance(1ns);
      admitted += rl.allow(A(s), clock.now()) ? 1 : 0;
    }
  }
  return admitted;
}

TEST_CASE("ratelimiter: IPv6 sources share a bucket per /64") {
  ManualClock clock;
  RateLimiter rl;
  // Same /64: one bucket of 5 between them.
  CHECK(burst(rl, clock,
              {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"}) == 5);
  CHECK(rl.size() == 1);
  // Neighbouring /64s are separate.
  CHECK(burst(rl, clock, {"2001:db8:1:3::1"}) == 5);
  CHECK(burst(rl, clock, {"2001:db8:1:1:ffff:ffff:ffff:ffff"}) == 5);
  CHECK(rl.size() == 3);
}

TEST_CASE("ratelimiter: IPv4 sources are keyed by the whole address, mapped or not") {
  ManualClock clock;
  RateLimiter rl;
  // 10.0.0.1 and its IPv4-mapped IPv6 form are the same sender.
  CHECK(burst(rl, clock, {"10.0.0.1", "::ffff:10.0.0.1"}) == 5);
  // Every other IPv4 address is separate, mapped ones included (no shared ::ffff:0:0/64).
  CHECK(burst(rl, clock, {"10.0.0.2", "::ffff:10.0.0.3", "10.0.0.0"}) == 15);
  CHECK(rl.size() == 4);
  // An address without a family is refused and not tracked.
  CHECK_FALSE(rl.allow(IpAddr{}, clock.now()));
  CHECK(rl.size() == 4);
}

TEST_CASE("ratelimiter: collect drops sources idle for more than a second") {
  ManualClock clock;
  RateLimiter rl;
  CHECK(rl.allow(A("10.0.0.1"), clock.now()));
  clock.advance(500ms);
  CHECK(rl.allow(A("10.0.0.2"), clock.now()));
  CHECK(rl.allow(A("fd00::1"), clock.now()));
  CHECK(rl.size() == 3);

  clock.advance(500ms);  // 10.0.0.1 idle for exactly 1 s: kept (wireguard-go collects at > 1 s)
  rl.collect(clock.now());
  CHECK(rl.size() == 3);
  clock.advance(1ns);
  rl.collect(clock.now());
  CHECK(rl.size() == 2);

  // Traffic keeps an entry alive.
  for (int i = 0; i < 5; ++i) {
    clock.advance(400ms);
    rl.allow(A("10.0.0.2"), clock.now());
    rl.collect(clock.now());
  }
  CHECK(rl.size() == 1);
  clock.advance(1001ms);
  rl.collect(clock.now());
  CHECK(rl.size() == 0);

  // A collected source starts again with a full burst.
  CHECK(burst(rl, clock, {"10.0.0.1"}) == 5);
}

TEST_CASE("ratelimiter: a full table refuses new sources and counts them") {
  ManualClock clock;
  RateLimiter rl(3);
  CHECK(rl.allow(A("10.0.0.1"), clock.now()));
  CHECK(rl.allow(A("10.0.0.2"), clock.now()));
  CHECK(rl.allow(A("fd00::1"), clock.now()));
  CHECK_FALSE(rl.allow(A("10.0.0.4"), clock.now()));
  CHECK_FALSE(rl.allow(A("fd00:0:0:1::1"), clock.now()));
  CHECK(rl.allow(A("10.0.0.1"), clock.now() + 1ns));  // known sources still pass
  CHECK(rl.size() == 3);
  CHECK(rl.stats().table_full == 2);
  clock.advance(2s);
  rl.collect(clock.now());
  CHECK(rl.size() == 0);
  CHECK(rl.allow(A("10.0.0.4"), clock.now()));
}

TEST_CASE("ratelimiter: many sources from several threads") {
  // Each thread owns 1000 sources and sends 6 packets per source at one instant: 4 pass
  // (strict comparison at a frozen time). Under TSan this also checks the locking.
  RateLimiter rl;
  const base::TimePoint now = ManualClock().now();
  constexpr int kThreads = 4;
  std::vector<int> admitted(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint32_t i = 0; i < 1000; ++i) {
        const IpAddr a = IpAddr::v4((10u << 24) | (static_cast<std::uint32_t>(t) << 16) | i);
        for (int k = 0; k < 6; ++k)
          admitted[static_cast<std::size_t>(t)] += rl.allow(a, now) ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : admitted) CHECK(n == 4000);
  CHECK(rl.size() == kThreads * 1000);
}

}  // namespace
