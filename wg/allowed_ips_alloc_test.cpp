// SPDX-License-Identifier: MIT
// Shows that AllowedIps lookups never touch the heap.
//
// This file replaces the global operator new/delete with versions that count calls while a
// flag is on. The replacement is program-wide, so it lives in its own small test binary
// (wg_alloc_test): in the shared wg_test it would take over every test's allocations and
// collide with any other test that wants its own counting allocator.
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "wg/allowed_ips.hpp"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else {
    n = (n + align - 1) / align * align;  // aligned_alloc wants a multiple of the alignment
    p = std::aligned_alloc(align, n);
  }
  return p;
}

void* counted_alloc_or_throw(std::size_t n, std::size_t align) {
  void* p = counted_alloc(n, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Counts calls to operator new while alive.
class CountAllocations {
 public:
  CountAllocations() {
    g_allocations.store(0);
    g_counting.store(true);
  }
  ~CountAllocations() { g_counting.store(false); }
  CountAllocations(const CountAllocations&) = delete;
  CountAllocations& operator=(const CountAllocations&) = delete;
  std::uint64_t count() const { return g_allocations.load(); }
};

}  // namespace

// Every replaceable form, so that no new/delete pair mixes ours with the runtime's (ASan
// checks that pairs match).
void* operator new(std::size_t n) {
  return counted_alloc_or_throw(n, 0);
}
void* operator new[](std::size_t n) {
  return counted_alloc_or_throw(n, 0);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace {

TEST_CASE("the counting allocator sees allocations") {
  CountAllocations counter;
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
    CountAllocations counter;
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
