// SPDX-License-Identifier: MIT
// Hash flooding of the flow table: one client sends to many destination keys that share their
// first 8 bytes (all in one bucket for a hash of those bytes alone) while two others relay.
// The relaying pair's packet rate with the flood must stay within 20 % of its rate without.
//
// Everything runs on this thread (ServerFixture pumps the server), so any work the flood
// causes in the server is time taken from the relaying pair. Rates are medians over a few
// short alternating rounds, which keeps the comparison fair on a loaded machine.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "derp/frame.hpp"
#include "derpserver/server.hpp"
#include "derpserver/testing/server_fixture.hpp"

namespace {

using derp::FrameType;
using derpserver::testing::ServerFixture;
using Clock = std::chrono::steady_clock;

constexpr int kPrefill = 20'000;    // colliding keys sent before measuring
constexpr int kRounds = 9;          // per mode, alternating
constexpr int kChunks = 20;         // per round
constexpr int kRelayPerChunk = 40;  // A -> B packets
constexpr int kFloodPerChunk = 5;   // C -> colliding keys, alongside (1 in 9 packets)
constexpr std::size_t kRelayLen = 200;

// The n-th colliding key: the first 8 bytes of `like`, then n.
base::NodePublicKey colliding(const base::NodePublicKey& like, std::uint64_t n) {
  std::array<std::byte, 32> b{};
  std::copy_n(like.bytes().begin(), 8, b.begin());
  for (std::size_t i = 0; i < 8; ++i) b[8 + i] = static_cast<std::byte>(n >> (8 * i));
  b[31] = std::byte{0x01};
  return base::NodePublicKey(base::KeySpan(b));
}

TEST_CASE("flood: colliding destination keys from one client do not slow two others") {
  ServerFixture f;
  f.start();
  auto a = f.logged_in();
  auto b = f.logged_in();
  auto c = f.logged_in();
  auto d = f.logged_in();  // an existing destination for the flooder
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  REQUIRE(d);
  std::uint64_t next_key = 0;
  std::uint64_t expected_received = 0;
  const base::Bytes small(16, std::byte{0x33});  // not disco: no NotHere replies

  const auto flood = [&](int n) {
    base::Bytes batch;
    for (int i = 0; i < n; ++i) {
      // Mostly unknown colliding keys; every tenth goes to a client that exists.
      const base::NodePublicKey dst = i % 10 == 9 ? d->key() : colliding(b->key(), next_key++);
      derp::encode_send_packet(batch, dst, small);
    }
    c->send(batch);
    expected_received += static_cast<std::uint64_t>(n);
  };

  // Prefill: the flooder's records (if any are made) are in place before measuring.
  for (int done = 0; done < kPrefill; done += 1000) flood(1000);
  REQUIRE(f.pump_until([&] { return f.server().packets_received() >= expected_received; },
                       std::chrono::seconds(60)));
  while (d->read_frame_of(FrameType::recv_packet, std::chrono::milliseconds(1))) {
  }

  const base::Bytes payload(kRelayLen, std::byte{0x42});
  base::Bytes relay_batch;
  for (int i = 0; i < kRelayPerChunk; ++i) derp::encode_send_packet(relay_batch, b->key(), payload);

  // One round: kChunks x (A sends a batch, C floods alongside if asked, B reads the batch).
  const auto round = [&](bool with_flood) -> double {
    const auto t0 = Clock::now();
    for (int ch = 0; ch < kChunks; ++ch) {
      a->send(relay_batch);
      expected_received += kRelayPerChunk;
      if (with_flood) flood(kFloodPerChunk);
      for (int i = 0; i < kRelayPerChunk; ++i) {
        if (!b->read_frame_of(FrameType::recv_packet)) return 0;
      }
    }
    if (!f.pump_until([&] { return f.server().packets_received() >= expected_received; },
                      std::chrono::seconds(30))) {
      return 0;
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return kChunks * kRelayPerChunk / s;
  };

  std::vector<double> clean;
  std::vector<double> flooded;
  (void)round(false);  // warm-up
  for (int r = 0; r < kRounds; ++r) {
    clean.push_back(round(false));
    flooded.push_back(round(true));
    while (d->read_frame_of(FrameType::recv_packet, std::chrono::milliseconds(1))) {
    }
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double clean_rate = median(clean);
  const double flood_rate = median(flooded);
  std::printf(
      "flood: relay A->B %.0f packets/s without the flood, %.0f with it (%.0f %%); "
      "flows %zu, refused per source %llu\n",
      clean_rate, flood_rate, clean_rate > 0 ? 100.0 * flood_rate / clean_rate : 0.0,
      f.server().flows().size(),
      static_cast<unsigned long long>(f.server().flows().refused_per_source()));
  REQUIRE(clean_rate > 0);
  // The bound: within 20 %. Sanitizer builds instrument the flood's extra locking and
  // hashing more heavily than the relay path (ThreadSanitizer measured 79 %), so they check
  // only that the collapse before the fix (15-24 % in release builds) is gone.
#if defined(MESHTUN_SANITIZED)
  constexpr double kBound = 0.5;
#else
  constexpr double kBound = 0.8;
#endif
  CHECK(flood_rate >= kBound * clean_rate);
}

}  // namespace
