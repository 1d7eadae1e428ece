// SPDX-License-Identifier: MIT
// Exact-match table for host routes (/32 and /128) under wg::AllowedIps.
//
// In a mesh most allowed IPs are host routes: every peer owns its own /32 and /128. A host
// route is always the longest prefix that can match, so AllowedIps looks the address up here
// first, with one hash probe, and walks the trie (which then holds only shorter prefixes)
// only on a miss.
//
// Open addressing with linear probing over a power-of-two array of slots, load factor at most
// 1/2, deletion by backward shift (no tombstones, so probe runs stay short after churn). The
// hash is the MurmurHash3 64-bit finaliser: fixed, so copies agree, and good at spreading the
// consecutive addresses that configurations are full of. Keys come from configuration, not
// from the network; a miss ends at the first empty slot.
//
// find() reads the slot array only: no allocation. insert() may grow the array (control path).
// Not thread safe (see allowed_ips.hpp for how tables are shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "wg/prefix_trie.hpp"

namespace wg::detail {

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline std::uint64_t host_hash(std::uint32_t k) noexcept {
  return mix64(k);
}
inline std::uint64_t host_hash(Uint128 k) noexcept {
  return mix64(static_cast<std::uint64_t>(k >> 64) ^ mix64(static_cast<std::uint64_t>(k)));
}

template <class K>
class HostTable {
 public:
  static constexpr std::uint32_t kNil = std::numeric_limits<std::uint32_t>::max();

  // The entry stored for `key`, or kNil.
  std::uint32_t find(K key) const noexcept {
    if (slots_.empty()) return kNil;
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.entry == kNil) return kNil;
      if (s.key == key) return s.entry;
    }
  }

  // Stores `entry` (not kNil) for `key`, which must be absent.
  void insert(K key, std::uint32_t entry) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t i = home(key);
    while (slots_[i].entry != kNil) i = (i + 1) & mask_;
    slots_[i] = Slot{key, entry};
    ++size_;
  }

  // Removes `key`; returns whether it was there.
  bool erase(K key) noexcept {
    if (slots_.empty()) return false;
    std::size_t hole = home(key);
    while (true) {
      if (slots_[hole].entry == kNil) return false;
      if (slots_[hole].key == key) break;
      hole = (hole + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole when their home
    // slot does not lie cyclically in (hole, j], so every key stays reachable from its home.
    for (std::size_t j = (hole + 1) & mask_; slots_[j].entry != kNil; j = (j + 1) & mask_) {
      const std::size_t h = home(slots_[j].key);
      const bool stays = hole < j ? (h > hole && h <= j) : (h > hole || h <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole].entry = kNil;
    --size_;
    return true;
  }

  std::size_t size() const noexcept { return size_; }

  void clear() noexcept {
    slots_.clear();
    size_ = 0;
    mask_ = 0;
  }

 private:
  struct Slot {
    K key{};
    std::uint32_t entry = kNil;  // kNil: empty
  };

  std::size_t home(K key) const noexcept {
    return static_cast<std::size_t>(host_hash(key)) & mask_;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const std::size_t capacity = old.empty() ? 16 : 2 * old.size();
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (s.entry == kNil) continue;
      std::size_t i = home(s.key);
      while (slots_[i].entry != kNil) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace wg::detail
