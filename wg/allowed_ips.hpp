// SPDX-License-Identifier: MIT
// Cryptokey routing table: which peer owns an inner IP address (WireGuard "allowed IPs").
//
// Outbound, the inner destination address picks the peer; inbound, the decrypted packet's
// inner source address must map back to the peer whose key opened it. Longest prefix wins;
// each prefix belongs to at most one value at a time.
//
// Structure, per address family: host routes (/32, /128) in an exact-match hash table
// (wg/host_table.hpp), every shorter prefix in a path-compressed binary trie
// (wg/prefix_trie.hpp) shaped like the kernel's and wireguard-go's, with nodes in a flat
// vector linked by 32-bit indices. A lookup probes the hash table first (a host route is
// always the longest match) and walks the trie only on a miss; the walk visits at most one
// node per prefix length on the path (about log2(n) for n prefixes). Neither step allocates.
// In a mesh nearly every peer is found by its own host route, so the common lookup costs one
// hash probe whatever the table size. A binary trie rather than a multibit stride trie for
// the rest because its memory stays proportional to the prefixes held, so the copy made for
// each configuration change stays cheap (figures in bench/bench_allowed_ips.cpp).
//
// Semantics follow wireguard-go's device/allowedips.go, because `wg show` (UAPI get) must list
// the same lines in the same order:
//   - insert() masks host bits. Inserting a prefix that is already held, by any value (the
//     same one included), hands it to `v` and moves it to the end of v's list.
//   - prefixes_of(v) lists v's prefixes in that list order: IPv4 and IPv6 interleaved, by
//     the time each was last inserted.
//   - remove(prefix, v) removes the prefix only if v holds it.
//
// Value: small, copyable, equality-comparable and hashable with Hash (a peer pointer or
// index). Invalid prefixes (no family, or more bits than the family has) are a caller bug:
// config parsing rejects them; insert() reports WG_BUG and ignores them.
//
// Thread safety: none inside. The engine treats a table as immutable once published: it
// copies the current table (a deep, independent copy), modifies the copy on the control
// thread and publishes it; data-path threads only call the const lookups of a published one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/bug.hpp"
#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "wg/host_table.hpp"
#include "wg/prefix_trie.hpp"

namespace wg {

template <class Value, class Hash = std::hash<Value>>
class AllowedIps {
 public:
  // Assigns `prefix` (host bits masked) to `v`, taking it from whoever held it.
  void insert(const base::IpPrefix& prefix, Value v);

  // Removes `prefix` (host bits masked) if `v` holds it; returns whether it did.
  bool remove(const base::IpPrefix& prefix, Value v);

  // Removes every prefix of `v`; returns how many.
  std::size_t remove_by_value(Value v);

  // The value owning the longest prefix that contains `addr`, or null. The pointer stays
  // valid until this table is next modified, moved from or destroyed. Never allocates.
  const Value* lookup(const base::IpAddr& addr) const noexcept;
  // Same, from address bytes in network order (straight out of a packet header).
  const Value* lookup_v4(std::span<const std::byte, 4> addr) const noexcept {
    const std::uint32_t key = base::load_be32(addr);
    const std::uint32_t e = hosts4_.find(key);
    return value_at(e != kNil ? e : v4_.lookup(key));
  }
  const Value* lookup_v6(std::span<const std::byte, 16> addr) const noexcept {
    const detail::Uint128 key = key_v6(addr);
    const std::uint32_t e = hosts6_.find(key);
    return value_at(e != kNil ? e : v6_.lookup(key));
  }

  // v's prefixes, masked, in wireguard-go's order (see the file comment).
  std::vector<base::IpPrefix> prefixes_of(Value v) const;

  // Number of prefixes held, both families.
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept;

  // Trie nodes in use, intermediate ones included, and host routes held in the hash tables
  // (tests check that removal frees them).
  std::size_t node_count() const noexcept { return v4_.node_count() + v6_.node_count(); }
  std::size_t host_count() const noexcept { return hosts4_.size() + hosts6_.size(); }

 private:
  static constexpr std::uint32_t kNil = detail::PrefixTrie<std::uint32_t>::kNil;

  struct Entry {
    std::optional<Value> value;  // empty while the slot is on the free list
    base::IpPrefix prefix;       // masked
    std::uint32_t node = kNil;   // in v4_ or v6_; kNil for a host route (hosts4_, hosts6_)
    std::uint32_t prev = kNil;   // v's list, oldest first
    std::uint32_t next = kNil;
  };
  struct List {
    std::uint32_t head = kNil;
    std::uint32_t tail = kNil;
  };

  static detail::Uint128 key_v6(std::span<const std::byte, 16> b) noexcept {
    return (detail::Uint128{base::load_be64(b.first<8>())} << 64) | base::load_be64(b.last<8>());
  }
  static detail::Uint128 key_v6(const base::IpAddr& a) noexcept {
    return key_v6(a.bytes().first<16>());
  }
  static std::uint32_t key_v4(const base::IpAddr& a) noexcept { return a.v4_host_order(); }
  static bool valid(const base::IpPrefix& p) noexcept {
    return p.addr.valid() && p.bits <= p.addr.bit_length();
  }
  static bool is_host(const base::IpPrefix& p) noexcept { return p.bits == p.addr.bit_length(); }
  // The entry holding exactly `p` (masked), or kNil.
  std::uint32_t find_entry(const base::IpPrefix& p) const noexcept;

  const Value* value_at(std::uint32_t e) const noexcept {
    return e == kNil ? nullptr : &*entries_[e].value;
  }
  std::uint32_t new_entry(Value v, const base::IpPrefix& prefix, std::uint32_t node);
  void link_back(std::uint32_t e);
  void unlink(std::uint32_t e);
  void drop_entry(std::uint32_t e);  // unlinked already: frees the slot and its trie node

  detail::PrefixTrie<std::uint32_t> v4_;
  detail::PrefixTrie<detail::Uint128> v6_;
  detail::HostTable<std::uint32_t> hosts4_;
  detail::HostTable<detail::Uint128> hosts6_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> free_entries_;
  std::unordered_map<Value, List, Hash> lists_;  // only values holding at least one prefix
  std::size_t size_ = 0;
};

template <class Value, class Hash>
void AllowedIps<Value, Hash>::insert(const base::IpPrefix& prefix, Value v) {
  if (!valid(prefix)) {
    WG_BUG("allowed_ips_invalid_prefix", "insert of invalid prefix {}", prefix.to_string());
    return;
  }
  const base::IpPrefix p = prefix.masked();
  if (const std::uint32_t held = find_entry(p); held != kNil) {
    unlink(held);
    entries_[held].value = v;
    link_back(held);
    return;
  }
  std::uint32_t e = kNil;
  if (p.addr.is_v6()) {
    const detail::Uint128 key = key_v6(p.addr);
    if (is_host(p)) {
      e = new_entry(v, p, kNil);
      hosts6_.insert(key, e);
    } else {
      const std::uint32_t node = v6_.find_or_create(key, p.bits);
      e = new_entry(v, p, node);
      v6_.set_entry(node, e);
    }
  } else {
    const std::uint32_t key = key_v4(p.addr);
    if (is_host(p)) {
      e = new_entry(v, p, kNil);
      hosts4_.insert(key, e);
    } else {
      const std::uint32_t node = v4_.find_or_create(key, p.bits);
      e = new_entry(v, p, node);
      v4_.set_entry(node, e);
    }
  }
  link_back(e);
  ++size_;
}

template <class Value, class Hash>
bool AllowedIps<Value, Hash>::remove(const base::IpPrefix& prefix, Value v) {
  if (!valid(prefix)) return false;
  const std::uint32_t e = find_entry(prefix.masked());
  if (e == kNil || !(*entries_[e].value == v)) return false;
  unlink(e);
  drop_entry(e);
  return true;
}

template <class Value, class Hash>
std::uint32_t AllowedIps<Value, Hash>::find_entry(const base::IpPrefix& p) const noexcept {
  if (p.addr.is_v6()) {
    const detail::Uint128 key = key_v6(p.addr);
    if (is_host(p)) return hosts6_.find(key);
    const std::uint32_t node = v6_.find_exact(key, p.bits);
    return node == kNil ? kNil : v6_.entry(node);
  }
  const std::uint32_t key = key_v4(p.addr);
  if (is_host(p)) return hosts4_.find(key);
  const std::uint32_t node = v4_.find_exact(key, p.bits);
  return node == kNil ? kNil : v4_.entry(node);
}

template <class Value, class Hash>
std::size_t AllowedIps<Value, Hash>::remove_by_value(Value v) {
  const auto it = lists_.find(v);
  if (it == lists_.end()) return 0;
  std::uint32_t e = it->second.head;
  lists_.erase(it);
  std::size_t n = 0;
  while (e != kNil) {
    const std::uint32_t next = entries_[e].next;
    drop_entry(e);
    e = next;
    ++n;
  }
  return n;
}

template <class Value, class Hash>
const Value* AllowedIps<Value, Hash>::lookup(const base::IpAddr& addr) const noexcept {
  if (addr.is_v4()) return lookup_v4(addr.bytes().first<4>());
  if (addr.is_v6()) return lookup_v6(addr.bytes().first<16>());
  return nullptr;
}

template <class Value, class Hash>
std::vector<base::IpPrefix> AllowedIps<Value, Hash>::prefixes_of(Value v) const {
  std::vector<base::IpPrefix> out;
  const auto it = lists_.find(v);
  if (it == lists_.end()) return out;
  for (std::uint32_t e = it->second.head; e != kNil; e = entries_[e].next) {
    out.push_back(entries_[e].prefix);
  }
  return out;
}

template <class Value, class Hash>
void AllowedIps<Value, Hash>::clear() noexcept {
  v4_.clear();
  v6_.clear();
  hosts4_.clear();
  hosts6_.clear();
  entries_.clear();
  free_entries_.clear();
  lists_.clear();
  size_ = 0;
}

template <class Value, class Hash>
std::uint32_t AllowedIps<Value, Hash>::new_entry(Value v, const base::IpPrefix& prefix,
                                                 std::uint32_t node) {
  Entry en;
  en.value = v;
  en.prefix = prefix;
  en.node = node;
  if (!free_entries_.empty()) {
    const std::uint32_t e = free_entries_.back();
    free_entries_.pop_back();
    entries_[e] = en;
    return e;
  }
  entries_.push_back(en);
  return static_cast<std::uint32_t>(entries_.size() - 1);
}

template <class Value, class Hash>
void AllowedIps<Value, Hash>::link_back(std::uint32_t e) {
  Entry& en = entries_[e];
  List& list = lists_[*en.value];
  en.prev = list.tail;
  en.next = kNil;
  if (list.tail == kNil) {
    list.head = e;
  } else {
    entries_[list.tail].next = e;
  }
  list.tail = e;
}

template <class Value, class Hash>
void AllowedIps<Value, Hash>::unlink(std::uint32_t e) {
  Entry& en = entries_[e];
  const auto it = lists_.find(*en.value);
  if (it == lists_.end()) {
    WG_BUG("allowed_ips_unlisted_entry", "entry {} has no list", e);
    return;
  }
  List& list = it->second;
  if (en.prev == kNil) {
    list.head = en.next;
  } else {
    entries_[en.prev].next = en.next;
  }
  if (en.next == kNil) {
    list.tail = en.prev;
  } else {
    entries_[en.next].prev = en.prev;
  }
  en.prev = en.next = kNil;
  if (list.head == kNil) lists_.erase(it);
}

template <class Value, class Hash>
void AllowedIps<Value, Hash>::drop_entry(std::uint32_t e) {
  Entry& en = entries_[e];
  const bool v6 = en.prefix.addr.is_v6();
  if (en.node == kNil) {
    const bool erased =
        v6 ? hosts6_.erase(key_v6(en.prefix.addr)) : hosts4_.erase(key_v4(en.prefix.addr));
    if (!erased) WG_BUG("allowed_ips_host_missing", "host route {} not in its table", e);
  } else if (v6) {
    v6_.set_entry(en.node, kNil);
    v6_.release(en.node);
  } else {
    v4_.set_entry(en.node, kNil);
    v4_.release(en.node);
  }
  en.value.reset();
  en.node = kNil;
  free_entries_.push_back(e);
  --size_;
}

}  // namespace wg
