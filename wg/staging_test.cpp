// SPDX-License-Identifier: MIT
// The staging area: copies, not the caller's buffers; the per-peer and device-wide bounds
// drop the oldest first; a closed queue refuses; and a differential run against a plain model
// (a deque per peer plus the device-wide staging order).
#include "wg/staging.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/testing/test_seed.hpp"

namespace {

using wg::StagingArea;
using wg::StagingQueue;

// A buffer of `pool` holding `text`.
base::PacketRef packet(base::PacketPool& pool, const std::string& text) {
  base::PacketRef p = pool.get();
  REQUIRE(p);
  base::copy_into(p->read_area(), base::as_bytes(text));
  p->set_size(text.size());
  return p;
}

// Pushes one packet per text; returns what push() reported, summed.
StagingArea::PushResult push(StagingArea& area, StagingQueue& q, base::PacketPool& pool,
                             const std::vector<std::string>& texts) {
  std::vector<base::PacketRef> batch;
  for (const auto& t : texts) batch.push_back(packet(pool, t));
  return area.push(q, batch);
}

std::vector<std::string> take_all(StagingArea& area, StagingQueue& q) {
  std::array<base::PacketRef, wg::kMaxStagedPackets> out;
  const std::size_t n = area.take(q, out);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < n; ++i) texts.emplace_back(base::as_chars(out[i]->data()));
  return texts;
}

std::vector<std::string> numbered(const std::string& prefix, int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

TEST_CASE("staged packets are copies: the caller's buffers go back to its pool at once") {
  base::PacketPool caller(4);
  StagingArea area(16, base::PacketPool::kDefaultBufferSize);
  StagingQueue q;
  for (int round = 0; round < 3; ++round) {
    const auto r = push(area, q, caller, numbered("r" + std::to_string(round) + "-", 0, 4));
    CHECK(r.staged == 4);
    CHECK(caller.available() == caller.capacity());  // the batch was released on return
  }
  CHECK(area.size(q) == 12);
  CHECK(take_all(area, q) == [] {
    std::vector<std::string> all;
    for (int round = 0; round < 3; ++round) {
      const auto part = numbered("r" + std::to_string(round) + "-", 0, 4);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }());
  CHECK(area.size() == 0);
}

TEST_CASE("one peer holds at most kMaxStagedPackets; its oldest go first") {
  base::PacketPool caller(256);
  StagingArea area(1024, base::PacketPool::kDefaultBufferSize);
  StagingQueue q;
  constexpr int kMax = static_cast<int>(wg::kMaxStagedPackets);
  auto r = push(area, q, caller, numbered("p", 0, 100));
  CHECK(r.staged == 100);
  r = push(area, q, caller, numbered("p", 100, 200));
  CHECK(r.staged == 100);
  CHECK(r.evicted_peer == 200 - wg::kMaxStagedPackets);
  CHECK(r.evicted_device == 0);
  CHECK(take_all(area, q) == numbered("p", 200 - kMax, 200));
  // One batch longer than the bound keeps its newest.
  r = push(area, q, caller, numbered("q", 0, 250));  // the caller's pool holds 256
  CHECK(r.staged == wg::kMaxStagedPackets);
  CHECK(r.evicted_peer == 250 - wg::kMaxStagedPackets);
  CHECK(take_all(area, q) == numbered("q", 250 - kMax, 250));
}

TEST_CASE("the device-wide bound drops the oldest packet of any peer first") {
  base::PacketPool caller(64);
  StagingArea area(10, base::PacketPool::kDefaultBufferSize);
  StagingQueue a, b;
  CHECK(push(area, a, caller, numbered("a", 0, 6)).staged == 6);
  const auto r = push(area, b, caller, numbered("b", 0, 6));
  CHECK(r.staged == 6);
  CHECK(r.evicted_device == 2);  // a0 and a1, the oldest of the device
  CHECK(area.size() == 10);
  CHECK(take_all(area, a) == numbered("a", 2, 6));
  // b's own oldest go next when a has none left to give.
  CHECK(push(area, a, caller, numbered("c", 0, 6)).evicted_device == 2);
  CHECK(take_all(area, b) == numbered("b", 2, 6));
  CHECK(take_all(area, a) == numbered("c", 0, 6));
}

TEST_CASE("with every buffer out being sent and nothing staged, a new packet is refused") {
  base::PacketPool caller(8);
  StagingArea area(4, base::PacketPool::kDefaultBufferSize);
  StagingQueue q;
  REQUIRE(push(area, q, caller, numbered("x", 0, 4)).staged == 4);
  std::array<base::PacketRef, 4> out;
  REQUIRE(area.take(q, out) == 4);  // held as if a flush were sealing them
  const auto r = push(area, q, caller, {"late"});
  CHECK(r.staged == 0);
  CHECK(r.refused == 1);
  for (auto& p : out) p.reset();
  CHECK(push(area, q, caller, {"later"}).staged == 1);
}

TEST_CASE("a closed queue drops what it had and refuses more; a packet too long is refused") {
  base::PacketPool caller(8, 4096);
  StagingArea area(8, base::PacketPool::kDefaultBufferSize);
  StagingQueue q;
  REQUIRE(push(area, q, caller, {"one", "two"}).staged == 2);
  CHECK(area.close(q) == 2);
  const auto r = push(area, q, caller, {"three"});
  CHECK(r.staged == 0);
  CHECK(r.refused == 1);
  CHECK(area.size() == 0);

  StagingQueue open;
  const auto big = push(area, open, caller, {std::string(3000, 'z')});
  CHECK(big.refused == 1);
  CHECK(area.size(open) == 0);
}

TEST_CASE("differential: random pushes, takes and clears against a plain model") {
  const std::uint64_t seed = base::testing::test_seed();
  MESSAGE("staging differential seed=" << seed << " (rerun with MESHTUN_TEST_SEED)");
  INFO("seed=" << seed);
  std::mt19937_64 rng(seed);
  constexpr std::size_t kPeers = 5, kCapacity = 300;
  base::PacketPool caller(wg::kMaxStagedPackets);
  StagingArea area(kCapacity, base::PacketPool::kDefaultBufferSize);
  std::array<StagingQueue, kPeers> queues;
  // The model: each peer's packets in order, and the device-wide staging order.
  std::array<std::deque<std::string>, kPeers> model;
  std::deque<std::pair<std::size_t, std::string>> order;
  auto model_remove = [&](std::size_t peer, const std::string& text) {
    order.erase(std::find(order.begin(), order.end(), std::make_pair(peer, text)));
  };
  int serial = 0;
  for (int step = 0; step < 4000; ++step) {
    const std::size_t peer = rng() % kPeers;
    const unsigned op = static_cast<unsigned>(rng() % 10);
    CAPTURE(step);
    if (op < 7) {
      const std::size_t n = 1 + rng() % 40;
      std::vector<std::string> texts;
      for (std::size_t i = 0; i < n; ++i) texts.push_back("s" + std::to_string(serial++));
      const auto r = push(area, queues[peer], caller, texts);
      REQUIRE(r.staged == n);
      // Room in the peer's queue first, then in the device (wg/staging.hpp).
      while (!model[peer].empty() && model[peer].size() + n > wg::kMaxStagedPackets) {
        model_remove(peer, model[peer].front());
        model[peer].pop_front();
      }
      for (const auto& t : texts) {
        if (order.size() == kCapacity) {
          const auto [victim, text] = order.front();
          order.pop_front();
          REQUIRE(model[victim].front() == text);
          model[victim].pop_front();
        }
        model[peer].push_back(t);
        order.emplace_back(peer, t);
      }
    } else if (op < 9) {
      const auto got = take_all(area, queues[peer]);
      REQUIRE(got == std::vector<std::string>(model[peer].begin(), model[peer].end()));
      for (const auto& t : got) model_remove(peer, t);
      model[peer].clear();
    } else {
      REQUIRE(area.clear(queues[peer]) == model[peer].size());
      for (const auto& t : model[peer]) model_remove(peer, t);
      model[peer].clear();
    }
    REQUIRE(area.size() == order.size());
    REQUIRE(area.size(queues[peer]) == model[peer].size());
  }
}

}  // namespace
