// SPDX-License-Identifier: MIT
// The structure under wg::AllowedIps: a path-compressed binary trie over fixed-width keys
// (IPv4 as uint32, IPv6 as a 128-bit integer, both in network bit order: bit 0 is the most
// significant), the same shape as the kernel's and wireguard-go's allowed-IPs tries.
//
// Each node is a prefix (key masked to `cidr` bits). A node's children are longer prefixes
// that it contains, split on bit number `cidr`. Chains of single-child nodes are skipped
// ("path compression"): a child may be many bits longer than its parent. A node either
// carries an entry (a prefix somebody inserted) or is an intermediate node that only joins
// two subtrees; intermediate nodes always have exactly two children, so the trie holds at
// most 2n - 1 nodes for n prefixes and a lookup visits at most one node per distinct prefix
// length on the path (33 for IPv4, 129 for IPv6; about log2(n) for random tables).
//
// Lookup walks down while the node's prefix matches the address and remembers the last
// entry seen: that is the longest matching prefix. It reads only the node array: no
// allocation, no recursion, no locks.
//
// Nodes live in one std::vector and refer to each other by 32-bit index, so copying a trie is
// a plain vector copy (deep, independent) and lookups touch compact memory. Freed nodes go on
// a free list and are reused by later inserts.
//
// Not thread safe: AllowedIps publishes immutable copies instead (see allowed_ips.hpp).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace wg::detail {

__extension__ using Uint128 = unsigned __int128;  // GCC and Clang; -Wpedantic needs the marker

template <class K>
struct KeyBits;

template <>
struct KeyBits<std::uint32_t> {
  static constexpr unsigned kBits = 32;
  // Number of leading bits a and b share (32 when equal).
  static unsigned common(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<unsigned>(std::countl_zero(a ^ b));
  }
  // Bit `i` (0 = most significant); i < 32.
  static unsigned bit(std::uint32_t k, unsigned i) noexcept { return (k >> (31 - i)) & 1u; }
  static std::uint32_t mask(std::uint32_t k, unsigned bits) noexcept {
    return bits == 0 ? 0 : k & (~std::uint32_t{0} << (32 - bits));
  }
};

template <>
struct KeyBits<Uint128> {
  static constexpr unsigned kBits = 128;
  static unsigned common(Uint128 a, Uint128 b) noexcept {
    const Uint128 x = a ^ b;
    const auto hi = static_cast<std::uint64_t>(x >> 64);
    if (hi != 0) return static_cast<unsigned>(std::countl_zero(hi));
    return 64 + static_cast<unsigned>(std::countl_zero(static_cast<std::uint64_t>(x)));
  }
  static unsigned bit(Uint128 k, unsigned i) noexcept {
    return static_cast<unsigned>(k >> (127 - i)) & 1u;
  }
  static Uint128 mask(Uint128 k, unsigned bits) noexcept {
    return bits == 0 ? 0 : k & (~Uint128{0} << (128 - bits));
  }
};

template <class K>
class PrefixTrie {
 public:
  using Bits = KeyBits<K>;
  static constexpr std::uint32_t kNil = std::numeric_limits<std::uint32_t>::max();
  static constexpr unsigned kBits = Bits::kBits;

  // Index of the entry of the longest prefix containing `key`, or kNil.
  std::uint32_t lookup(K key) const noexcept {
    std::uint32_t found = kNil;
    std::uint32_t n = root_;
    while (n != kNil) {
      const Node& node = nodes_[n];
      if (Bits::common(node.key, key) < node.cidr) break;
      if (node.entry != kNil) found = node.entry;
      if (node.cidr == kBits) break;
      n = node.child[Bits::bit(key, node.cidr)];
    }
    return found;
  }

  // The node of prefix key/cidr, or kNil. Host bits of `key` are ignored.
  std::uint32_t find_exact(K key, unsigned cidr) const noexcept {
    std::uint32_t n = root_;
    while (n != kNil) {
      const Node& node = nodes_[n];
      if (node.cidr > cidr || Bits::common(node.key, key) < node.cidr) return kNil;
      if (node.cidr == cidr) return n;
      n = node.child[Bits::bit(key, node.cidr)];
    }
    return kNil;
  }

  // The node of prefix key/cidr, created (with no entry) if absent. cidr <= kBits.
  std::uint32_t find_or_create(K key, unsigned cidr) {
    key = Bits::mask(key, cidr);
    std::uint32_t parent = kNil;
    std::uint32_t cur = root_;
    while (cur != kNil) {
      const unsigned cur_cidr = nodes_[cur].cidr;
      const unsigned common = std::min({Bits::common(nodes_[cur].key, key), cur_cidr, cidr});
      if (common == cur_cidr) {  // cur contains the new prefix: descend
        if (cur_cidr == cidr) return cur;
        parent = cur;
        cur = nodes_[cur].child[Bits::bit(key, cur_cidr)];
        continue;
      }
      if (common == cidr) {  // the new prefix contains cur: goes between parent and cur
        const std::uint32_t n = new_node(key, cidr);
        replace_child(parent, cur, n);
        attach(n, cur);
        return n;
      }
      // They diverge at bit `common`: a new intermediate node holds both.
      const std::uint32_t mid = new_node(Bits::mask(key, common), common);
      const std::uint32_t n = new_node(key, cidr);
      replace_child(parent, cur, mid);
      attach(mid, cur);
      attach(mid, n);
      return n;
    }
    const std::uint32_t n = new_node(key, cidr);
    if (parent == kNil) {
      root_ = n;
    } else {
      attach(parent, n);
    }
    return n;
  }

  std::uint32_t entry(std::uint32_t n) const noexcept { return nodes_[n].entry; }
  void set_entry(std::uint32_t n, std::uint32_t e) noexcept { nodes_[n].entry = e; }
  K key(std::uint32_t n) const noexcept { return nodes_[n].key; }
  unsigned cidr(std::uint32_t n) const noexcept { return nodes_[n].cidr; }

  // Call after clearing the entry of node n: removes n unless it still joins two subtrees,
  // and splices out a parent that was left as an intermediate node with one child.
  void release(std::uint32_t n) {
    const Node& node = nodes_[n];
    if (node.entry != kNil || (node.child[0] != kNil && node.child[1] != kNil)) return;
    const std::uint32_t only = node.child[0] != kNil ? node.child[0] : node.child[1];
    const std::uint32_t parent = parents_[n];
    replace_child(parent, n, only);
    free_node(n);
    if (only != kNil || parent == kNil || nodes_[parent].entry != kNil) return;
    // parent had two children (intermediate invariant) and now has one.
    const Node& p = nodes_[parent];
    const std::uint32_t other = p.child[0] != kNil ? p.child[0] : p.child[1];
    replace_child(parents_[parent], parent, other);
    free_node(parent);
  }

  void clear() noexcept {
    nodes_.clear();
    parents_.clear();
    free_.clear();
    root_ = kNil;
  }

  // Nodes in use, intermediate ones included (for tests and diagnostics).
  std::size_t node_count() const noexcept { return nodes_.size() - free_.size(); }

 private:
  // 20 bytes for IPv4, 32 for IPv6: only what a lookup reads.
  struct Node {
    K key;  // masked to cidr bits
    std::uint32_t child[2];
    std::uint32_t entry;  // kNil: intermediate node
    std::uint8_t cidr;
  };

  std::uint32_t new_node(K key, unsigned cidr) {
    const Node node{key, {kNil, kNil}, kNil, static_cast<std::uint8_t>(cidr)};
    if (!free_.empty()) {
      const std::uint32_t n = free_.back();
      free_.pop_back();
      nodes_[n] = node;
      parents_[n] = kNil;
      return n;
    }
    nodes_.push_back(node);
    parents_.push_back(kNil);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }

  void free_node(std::uint32_t n) {
    nodes_[n].entry = kNil;
    free_.push_back(n);
  }

  // Makes `child` (a longer prefix inside `parent`) a child of `parent`.
  void attach(std::uint32_t parent, std::uint32_t child) noexcept {
    Node& p = nodes_[parent];
    p.child[Bits::bit(nodes_[child].key, p.cidr)] = child;
    parents_[child] = parent;
  }

  // Puts `to` (may be kNil) where `from` hangs under `parent` (kNil: the root).
  void replace_child(std::uint32_t parent, std::uint32_t from, std::uint32_t to) noexcept {
    if (parent == kNil) {
      root_ = to;
    } else {
      Node& p = nodes_[parent];
      p.child[p.child[0] == from ? 0 : 1] = to;
    }
    if (to != kNil) parents_[to] = parent;
  }

  std::vector<Node> nodes_;
  std::vector<std::uint32_t> parents_;  // beside nodes_, so lookups read smaller nodes
  std::vector<std::uint32_t> free_;
  std::uint32_t root_ = kNil;
};

}  // namespace wg::detail
