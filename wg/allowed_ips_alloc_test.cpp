// SPDX-License-Identifier: MIT
// Shows that AllowedIps lookups never touch the heap.
//
// Every heap allocation is counted (base/testing/counting_alloc.hpp), so this is a test
// binary of its own (wg_alloc_test).
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "base/testing/counting_alloc.hpp"
#include "wg/allowed_ips.hpp"

namespace {

TEST_CASE("the counting allocator sees allocations") {
  base::testing::CountAllocations counter;
  auto* s = new std::string(100, 'x');  // longer than the small-string buffer
  delete s;
  CHECK(counter.count() >= 2);
}

TEST_CASE("allowed ips: lookup performs no heap allocation") {
  wg::AllowedIps<int> t;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 5000; ++i) {
    std::byte b[16];
    for (auto& x : b) x = std::byte(static_cast<std::uint8_t>(rng()));
    const auto v = static_cast<int>(rng() % 64);
    t.insert({base::IpAddr::v4(std::span<const std::byte, 4>(b, 4)),
              static_cast<std::uint8_t>(8 + rng() % 25)},
             v);
    t.insert({base::IpAddr::v6(std::span<const std::byte, 16>(b, 16)),
              static_cast<std::uint8_t>(16 + rng() % 113)},
             v);
  }
  t.insert(*base::IpPrefix::parse("0.0.0.0/0"), 99);

  // Addresses prepared outside the measured region.
  std::vector<base::IpAddr> addrs;
  for (int i = 0; i < 4096; ++i) {
    std::byte b[16];
    for (auto& x : b) x = std::byte(static_cast<std::uint8_t>(rng()));
    addrs.push_back(base::IpAddr::v4(std::span<const std::byte, 4>(b, 4)));
    addrs.push_back(base::IpAddr::v6(std::span<const std::byte, 16>(b, 16)));
  }

  std::uint64_t hits = 0;
  std::uint64_t allocations = 0;
  {
    base::testing::CountAllocations counter;
    for (int round = 0; round < 8; ++round) {
      for (const auto& a : addrs) {
        hits += t.lookup(a) != nullptr ? 1u : 0u;
        const auto bytes = a.bytes();
        if (a.is_v4()) {
          hits += t.lookup_v4(bytes.first<4>()) != nullptr ? 1u : 0u;
        } else {
          hits += t.lookup_v6(bytes.first<16>()) != nullptr ? 1u : 0u;
        }
      }
    }
    allocations = counter.count();
  }
  CHECK(allocations == 0);
  CHECK(hits >= 2 * 8 * 4096);  // every v4 address matches 0.0.0.0/0
}

}  // namespace
