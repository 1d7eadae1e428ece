// SPDX-License-Identifier: MIT
#include "derpserver/flows.hpp"

#include <doctest/doctest.h>

#include "base/testing/manual_clock.hpp"

namespace {

TEST_CASE("flows: one record per pair; idle ones evicted after an hour unless cached") {
  base::testing::ManualClock clock;
  derpserver::FlowTable t(clock, 1000);
  const auto a = base::NodePrivateKey::generate().public_key();
  const auto b = base::NodePrivateKey::generate().public_key();
  auto ab = t.get(a, b);
  REQUIRE(ab);
  CHECK(t.get(a, b) == ab);
  CHECK(t.get(b, a) != ab);
  CHECK(t.size() == 2);
  auto held = t.get(b, a);  // a connection's cache still holds b->a
  ab.reset();
  clock.advance(std::chrono::minutes(61));
  t.sweep(10);
  CHECK(t.size() == 1);  // a->b evicted, b->a kept (held)
  CHECK(t.evicted() == 1);
  held.reset();
  t.sweep(10);
  CHECK(t.size() == 0);
}

TEST_CASE("flows: activity is coarse; recent activity keeps a flow") {
  base::testing::ManualClock clock;
  derpserver::FlowTable t(clock, 1000);
  const auto a = base::NodePrivateKey::generate().public_key();
  const auto b = base::NodePrivateKey::generate().public_key();
  t.get(a, b);
  clock.advance(std::chrono::minutes(50));
  t.get(a, b);  // touches
  clock.advance(std::chrono::minutes(50));
  t.sweep(10);
  CHECK(t.size() == 1);
}

TEST_CASE("flows: a full table refuses new pairs; insertions evict idle ones round-robin") {
  base::testing::ManualClock clock;
  derpserver::FlowTable t(clock, 4);
  std::vector<base::NodePublicKey> k;
  for (int i = 0; i < 6; ++i) k.push_back(base::NodePrivateKey::generate().public_key());
  for (int i = 0; i < 4; ++i) t.get(k[0], k[static_cast<std::size_t>(i + 1)]);
  CHECK(t.get(k[5], k[0]) == nullptr);
  CHECK(t.refused() == 1);
  clock.advance(std::chrono::hours(2));
  CHECK(t.get(k[5], k[0]) != nullptr);  // two idle ones went on the way in
  CHECK(t.size() == 3);
}

}  // namespace
