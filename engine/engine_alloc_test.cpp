// SPDX-License-Identifier: MIT
// Steady state allocates nothing: after the handshake and a warm-up, thousands of packets
// cross two engines (TUN read, route, seal, UDP send, UDP receive, open, source check, TUN
// write, in both directions) without one heap allocation on any thread.
//
// Every heap allocation is counted (base/testing/counting_alloc.hpp), which is why this test
// is a binary of its own. The test thread allocates nothing inside the measured region either:
// packets are built before it and read back with recv() into a fixed buffer.
#include <doctest/doctest.h>

#include <optional>

#include <sys/socket.h>

#include "base/testing/counting_alloc.hpp"
#include "engine/testing/engine_pair.hpp"

namespace {

using engine::testing::EnginePair;

// Reads every packet waiting on `fd` into `buf`; returns how many.
int drain(int fd, std::array<std::byte, 4096>& buf) {
  int n = 0;
  while (::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT) > 0) ++n;
  return n;
}

TEST_CASE("zero heap allocations per packet in steady state, both directions") {
  EnginePair pair;
  constexpr int kPackets = 2000;
  std::vector<base::Bytes> to_b, to_a;
  for (int i = 0; i < kPackets; ++i) {
    to_b.push_back(EnginePair::packet("10.0.0.1", "10.0.0.2", "to b " + std::to_string(i)));
    to_a.push_back(EnginePair::packet("10.0.0.2", "10.0.0.1", "to a " + std::to_string(i)));
  }
  std::array<std::byte, 4096> buf;
  const int fd_a = pair.a.tun.peer_fd(0);
  const int fd_b = pair.b.tun.peer_fd(0);

  // Warm-up: handshake, keypair confirmation, first batches through every path.
  int got_a = 0, got_b = 0;
  std::optional<base::testing::CountAllocations> warm_up(std::in_place);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(pair.a.tun.inject(0, to_b[static_cast<std::size_t>(i)]));
    REQUIRE(pair.b.tun.inject(0, to_a[static_cast<std::size_t>(i)]));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Generous deadlines: sanitizer builds on a busy machine are slow; a pass ends early.
  for (int spins = 0; spins < 20000 && (got_a < 100 || got_b < 100); ++spins) {
    got_a += drain(fd_a, buf);
    got_b += drain(fd_b, buf);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  INFO("warm-up: got_a=" << got_a << " got_b=" << got_b
                         << " drops_a=" << pair.a.engine.drops().total()
                         << " drops_b=" << pair.b.engine.drops().total());
  REQUIRE(got_a == 100);
  REQUIRE(got_b == 100);
  // The counter is live: the handshake (index table, keypairs) allocated.
  CHECK(warm_up->count() > 0);
  warm_up.reset();

  // Measured region.
  got_a = got_b = 0;
  std::optional<base::testing::CountAllocations> counting(std::in_place);
  for (std::size_t i = 100; i < kPackets; ++i) {
    while (!pair.a.tun.inject(0, to_b[i])) got_b += drain(fd_b, buf);
    while (!pair.b.tun.inject(0, to_a[i])) got_a += drain(fd_a, buf);
  }
  for (int spins = 0; spins < 20000 && (got_a < kPackets - 100 || got_b < kPackets - 100);
       ++spins) {
    got_a += drain(fd_a, buf);
    got_b += drain(fd_b, buf);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::uint64_t allocations = counting->count();
  counting.reset();
  CHECK(got_a == kPackets - 100);
  CHECK(got_b == kPackets - 100);
  MESSAGE("allocations while " << 2 * (kPackets - 100) << " packets crossed: " << allocations);
  CHECK(allocations == 0);
}

}  // namespace
