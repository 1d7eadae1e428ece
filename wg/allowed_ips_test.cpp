// SPDX-License-Identifier: MIT
#include "wg/allowed_ips.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/testing/test_seed.hpp"

namespace {

using base::IpAddr;
using base::IpPrefix;
using Table = wg::AllowedIps<int>;

IpPrefix P(const char* text) {
  auto p = IpPrefix::parse(text);
  REQUIRE_MESSAGE(p.has_value(), text);
  return *p;
}

IpAddr A(const char* text) {
  auto a = IpAddr::parse(text);
  REQUIRE_MESSAGE(a.has_value(), text);
  return *a;
}

// -1 stands for "no match".
int lookup(const Table& t, const char* addr) {
  const int* v = t.lookup(A(addr));
  return v == nullptr ? -1 : *v;
}

std::vector<std::string> texts(const std::vector<IpPrefix>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.to_string());
  return out;
}

TEST_CASE("allowed ips: longest prefix wins (IPv4)") {
  Table t;
  t.insert(P("192.168.4.0/24"), 1);
  t.insert(P("192.168.4.4/32"), 2);
  t.insert(P("192.168.0.0/16"), 3);
  t.insert(P("192.95.5.64/27"), 4);
  t.insert(P("192.95.5.65/32"), 5);  // inside /27 of 4
  t.insert(P("192.95.5.64/32"), 6);  // a /32 sibling
  t.insert(P("10.0.0.0/8"), 7);
  t.insert(P("10.1.0.0/16"), 8);
  t.insert(P("10.1.2.0/23"), 9);
  CHECK(t.size() == 9);

  const struct {
    const char* addr;
    int want;
  } rows[] = {
      {"192.168.4.20", 1},      // 1
      {"192.168.4.0", 1},       // 2
      {"192.168.4.4", 2},       // 3
      {"192.168.200.182", 3},   // 4
      {"192.168.5.1", 3},       // 5
      {"192.95.5.68", 4},       // 6
      {"192.95.5.95", 4},       // 7: last of the /27
      {"192.95.5.96", -1},      // 8: first after it
      {"192.95.5.65", 5},       // 9
      {"192.95.5.64", 6},       // 10
      {"10.200.0.1", 7},        // 11
      {"10.1.9.9", 8},          // 12
      {"10.1.3.255", 9},        // 13
      {"10.1.4.0", 8},          // 14
      {"11.0.0.0", -1},         // 15
      {"0.0.0.0", -1},          // 16
      {"255.255.255.255", -1},  // 17
  };
  int row = 0;
  for (const auto& r : rows) {
    ++row;
    CAPTURE(row);
    CAPTURE(r.addr);
    CHECK(lookup(t, r.addr) == r.want);
  }

  t.insert(P("0.0.0.0/0"), 10);
  CHECK(lookup(t, "11.0.0.0") == 10);
  CHECK(lookup(t, "255.255.255.255") == 10);
  CHECK(lookup(t, "192.168.4.4") == 2);
  CHECK(lookup(t, "fd00::1") == -1);  // families are separate
}

TEST_CASE("allowed ips: longest prefix wins (IPv6)") {
  Table t;
  t.insert(P("2607:5300:6000:6b00::/64"), 1);
  t.insert(P("2607:5300:6000:6b00::c05f:543/128"), 2);
  t.insert(P("2607:5300:6000::/40"), 3);
  t.insert(P("fd00::/8"), 4);
  t.insert(P("fd00:1::/32"), 5);
  t.insert(P("fd00:1:0:1::/64"), 6);
  t.insert(P("::/0"), 7);
  t.insert(P("::1/128"), 8);

  const struct {
    const char* addr;
    int want;
  } rows[] = {
      {"2607:5300:6000:6b00::1", 1},                   // 1
      {"2607:5300:6000:6b00::c05f:543", 2},            // 2
      {"2607:5300:6000:6b00::c05f:544", 1},            // 3
      {"2607:5300:6000:6b01::1", 3},                   // 4
      {"2607:5300:60ff:ffff:ffff:ffff:ffff:ffff", 3},  // 5: last of the /40
      {"2607:5300:6100::", 7},                         // 6
      {"fdff::1", 4},                                  // 7
      {"fd00:1:ffff::1", 5},                           // 8
      {"fd00:1:0:1:ffff::", 6},                        // 9
      {"fd00:1:0:2::", 5},                             // 10
      {"::1", 8},                                      // 11
      {"::2", 7},                                      // 12
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 7},  // 13
  };
  int row = 0;
  for (const auto& r : rows) {
    ++row;
    CAPTURE(row);
    CAPTURE(r.addr);
    CHECK(lookup(t, r.addr) == r.want);
  }
  CHECK(lookup(t, "10.0.0.1") == -1);
}

TEST_CASE("allowed ips: host bits are masked on insert and remove") {
  Table t;
  t.insert(P("10.1.2.3/8"), 1);
  t.insert(P("fd00::ff/121"), 1);
  CHECK(texts(t.prefixes_of(1)) == std::vector<std::string>{"10.0.0.0/8", "fd00::80/121"});
  CHECK(lookup(t, "10.9.9.9") == 1);
  CHECK(lookup(t, "fd00::80") == 1);
  CHECK(lookup(t, "fd00::7f") == -1);
  t.insert(P("10.0.0.0/8"), 1);  // the same prefix again
  CHECK(t.size() == 2);
  CHECK(t.remove(P("10.200.0.1/8"), 1));  // host bits ignored here too
  CHECK(t.size() == 1);
}

TEST_CASE("allowed ips: inserting a held prefix moves it, in wireguard-go's order") {
  Table t;
  t.insert(P("10.0.0.0/24"), 1);
  t.insert(P("fd00::/64"), 1);
  t.insert(P("10.0.1.0/24"), 1);
  t.insert(P("10.0.2.0/24"), 2);
  CHECK(texts(t.prefixes_of(1)) ==
        std::vector<std::string>{"10.0.0.0/24", "fd00::/64", "10.0.1.0/24"});

  // Another value takes the prefix: it leaves 1's list and joins the end of 2's.
  t.insert(P("10.0.0.0/24"), 2);
  CHECK(lookup(t, "10.0.0.9") == 2);
  CHECK(texts(t.prefixes_of(1)) == std::vector<std::string>{"fd00::/64", "10.0.1.0/24"});
  CHECK(texts(t.prefixes_of(2)) == std::vector<std::string>{"10.0.2.0/24", "10.0.0.0/24"});
  CHECK(t.size() == 4);

  // The same value inserting a prefix it already holds moves it to the end of its list
  // (wireguard-go unlinks and re-appends on an exact match).
  t.insert(P("fd00::/64"), 1);
  CHECK(texts(t.prefixes_of(1)) == std::vector<std::string>{"10.0.1.0/24", "fd00::/64"});
  CHECK(t.size() == 4);
  CHECK(t.prefixes_of(3).empty());
}

TEST_CASE("allowed ips: remove only when the value holds the prefix") {
  Table t;
  t.insert(P("10.0.0.0/24"), 1);
  t.insert(P("10.0.0.0/16"), 2);
  CHECK_FALSE(t.remove(P("10.0.0.0/24"), 2));  // 1 holds it
  CHECK_FALSE(t.remove(P("10.0.0.0/25"), 1));  // nobody holds it
  CHECK_FALSE(t.remove(P("10.0.0.0/8"), 1));   // nobody holds it
  CHECK_FALSE(t.remove(P("fd00::/64"), 1));
  CHECK(lookup(t, "10.0.0.1") == 1);
  CHECK(t.remove(P("10.0.0.0/24"), 1));
  CHECK_FALSE(t.remove(P("10.0.0.0/24"), 1));  // already gone
  CHECK(lookup(t, "10.0.0.1") == 2);           // the shorter prefix shows through
  CHECK(t.prefixes_of(1).empty());
  CHECK(t.size() == 1);
}

TEST_CASE("allowed ips: an intermediate node can become a prefix and go back") {
  Table t;
  // 10.0.0.0/16 and 10.128.0.0/16 first differ at bit 8: an intermediate 10.0.0.0/8 joins them.
  t.insert(P("10.0.0.0/16"), 1);
  t.insert(P("10.128.0.0/16"), 2);
  CHECK(t.node_count() == 3);
  CHECK(lookup(t, "10.64.0.1") == -1);
  CHECK_FALSE(t.remove(P("10.0.0.0/8"), 1));  // the intermediate node holds nothing
  t.insert(P("10.0.0.0/8"), 3);
  CHECK(t.node_count() == 3);
  CHECK(lookup(t, "10.64.0.1") == 3);
  CHECK(lookup(t, "10.0.0.1") == 1);
  CHECK(lookup(t, "10.128.0.1") == 2);
  CHECK(t.remove(P("10.0.0.0/8"), 3));
  CHECK(lookup(t, "10.64.0.1") == -1);
  CHECK(lookup(t, "10.0.0.1") == 1);
  CHECK(lookup(t, "10.128.0.1") == 2);
  // Removing a leaf collapses the intermediate node.
  CHECK(t.remove(P("10.0.0.0/16"), 1));
  CHECK(t.node_count() == 1);
  CHECK(lookup(t, "10.128.0.1") == 2);
  CHECK(t.remove(P("10.128.0.0/16"), 2));
  CHECK(t.node_count() == 0);
  CHECK(t.empty());
}

TEST_CASE("allowed ips: remove_by_value frees everything it held") {
  Table t;
  for (int i = 0; i < 256; ++i) {
    const std::string v4 = "10." + std::to_string(i) + ".0.0/16";
    t.insert(P(v4.c_str()), i % 3);
    const std::string v6 = "fd00:" + std::to_string(i) + "::/32";
    t.insert(P(v6.c_str()), i % 3);
  }
  t.insert(P("0.0.0.0/0"), 0);
  t.insert(P("::/0"), 1);
  CHECK(t.size() == 514);
  const std::size_t ones = t.prefixes_of(1).size();
  CHECK(ones == 2 * 85 + 1);
  CHECK(t.remove_by_value(1) == ones);
  CHECK(t.remove_by_value(1) == 0);
  CHECK(lookup(t, "10.1.0.1") == 0);  // falls back to 0.0.0.0/0
  CHECK(lookup(t, "10.0.0.1") == 0);
  CHECK(lookup(t, "fd00:1::1") == -1);  // ::/0 was 1's too
  CHECK(lookup(t, "fd00:2::1") == 2);
  CHECK(lookup(t, "11.0.0.0") == 0);
  CHECK(t.remove_by_value(0) + t.remove_by_value(2) == 514 - ones);
  CHECK(t.empty());
  CHECK(t.node_count() == 0);
  CHECK(t.host_count() == 0);
  // The table is usable again afterwards (slots and nodes come from the free lists).
  t.insert(P("10.0.0.0/8"), 5);
  CHECK(lookup(t, "10.1.2.3") == 5);
}

TEST_CASE("allowed ips: /32, /128 and /0") {
  Table t;
  t.insert(P("1.2.3.4/32"), 1);
  t.insert(P("1.2.3.5/32"), 2);
  t.insert(P("2001:db8::1/128"), 3);
  t.insert(P("2001:db8::/128"), 4);
  CHECK(lookup(t, "1.2.3.4") == 1);
  CHECK(lookup(t, "1.2.3.5") == 2);
  CHECK(lookup(t, "1.2.3.6") == -1);
  CHECK(lookup(t, "2001:db8::1") == 3);
  CHECK(lookup(t, "2001:db8::") == 4);
  CHECK(lookup(t, "2001:db8::2") == -1);
  t.insert(P("0.0.0.0/0"), 5);
  t.insert(P("::/0"), 6);
  CHECK(lookup(t, "1.2.3.6") == 5);
  CHECK(lookup(t, "2001:db8::2") == 6);
  CHECK(texts(t.prefixes_of(6)) == std::vector<std::string>{"::/0"});
  CHECK(t.lookup(IpAddr{}) == nullptr);  // no family: no match
}

TEST_CASE("allowed ips: many host routes with churn, under shorter prefixes") {
  // Host routes live in a hash table apart from the trie: they must still beat every shorter
  // prefix, survive growth of the table, and stay findable when neighbours are removed.
  Table t;
  t.insert(P("100.64.0.0/10"), 1000);
  t.insert(P("fd7a:115c:a1e0::/48"), 1000);
  auto v4 = [](std::uint32_t i) { return IpAddr::v4((100u << 24) | (64u << 16) | i); };
  auto v6 = [](std::uint32_t i) {
    std::byte b[16] = {std::byte{0xfd}, std::byte{0x7a}, std::byte{0x11},
                       std::byte{0x5c}, std::byte{0xa1}, std::byte{0xe0}};
    base::store_be32(std::span(b).last<4>(), i);
    return IpAddr::v6(b);
  };
  constexpr std::uint32_t kN = 5000;
  for (std::uint32_t i = 0; i < kN; ++i) {
    t.insert(IpPrefix{v4(i), 32}, static_cast<int>(i % 7));
    t.insert(IpPrefix{v6(i), 128}, static_cast<int>(i % 7));
  }
  CHECK(t.host_count() == 2 * kN);
  CHECK(t.node_count() == 2);
  // Remove every third one, in a scattered order.
  std::uint32_t removed = 0;
  for (std::uint32_t k = 0; k < kN; ++k) {
    const std::uint32_t i = (k * 7919u) % kN;  // 7919 is prime: a permutation of 0..kN-1
    if (i % 3 != 0) continue;
    REQUIRE(t.remove(IpPrefix{v4(i), 32}, static_cast<int>(i % 7)));
    REQUIRE(t.remove(IpPrefix{v6(i), 128}, static_cast<int>(i % 7)));
    ++removed;
  }
  CHECK(t.host_count() == 2 * (kN - removed));
  for (std::uint32_t i = 0; i < kN + 100; ++i) {
    CAPTURE(i);
    const int want = i >= kN || i % 3 == 0 ? 1000 : static_cast<int>(i % 7);
    const int* a = t.lookup(v4(i));
    const int* b = t.lookup(v6(i));
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(*a == want);
    CHECK(*b == want);
  }
  CHECK(t.remove_by_value(1000) == 2);
  CHECK(t.lookup(v4(kN)) == nullptr);
  CHECK(t.lookup(v6(kN)) == nullptr);
}

TEST_CASE("allowed ips: lookups straight from packet bytes") {
  Table t;
  t.insert(P("192.0.2.0/24"), 1);
  t.insert(P("2001:db8::/32"), 2);
  const std::byte v4[4] = {std::byte{192}, std::byte{0}, std::byte{2}, std::byte{77}};
  std::byte v6[16] = {};
  v6[0] = std::byte{0x20};
  v6[1] = std::byte{0x01};
  v6[2] = std::byte{0x0d};
  v6[3] = std::byte{0xb8};
  v6[15] = std::byte{9};
  REQUIRE(t.lookup_v4(v4) != nullptr);
  CHECK(*t.lookup_v4(v4) == 1);
  REQUIRE(t.lookup_v6(v6) != nullptr);
  CHECK(*t.lookup_v6(v6) == 2);
  v6[3] = std::byte{0xb9};
  CHECK(t.lookup_v6(v6) == nullptr);
}

TEST_CASE("allowed ips: a copy is deep and independent") {
  Table a;
  a.insert(P("10.0.0.0/8"), 1);
  a.insert(P("fd00::/8"), 1);
  a.insert(P("10.1.0.0/16"), 2);
  Table b = a;
  b.insert(P("10.1.0.0/16"), 3);
  b.insert(P("10.2.0.0/16"), 4);
  CHECK(b.remove(P("fd00::/8"), 1));
  CHECK(lookup(a, "10.1.0.1") == 2);
  CHECK(lookup(a, "10.2.0.1") == 1);
  CHECK(lookup(a, "fd00::1") == 1);
  CHECK(a.size() == 3);
  CHECK(texts(a.prefixes_of(1)) == std::vector<std::string>{"10.0.0.0/8", "fd00::/8"});
  CHECK(lookup(b, "10.1.0.1") == 3);
  CHECK(lookup(b, "10.2.0.1") == 4);
  CHECK(lookup(b, "fd00::1") == -1);
  CHECK(b.size() == 3);
  a.clear();
  CHECK(lookup(b, "10.2.0.1") == 4);
  CHECK(a.empty());
  CHECK(lookup(a, "10.0.0.1") == -1);
  Table c;
  c = b;  // copy assignment too
  b.remove_by_value(4);
  CHECK(lookup(c, "10.2.0.1") == 4);
}

TEST_CASE("allowed ips: pointer values") {
  struct Peer {
    int id;
  };
  Peer p1{1};
  Peer p2{2};
  wg::AllowedIps<const Peer*> t;
  t.insert(P("10.0.0.0/8"), &p1);
  t.insert(P("10.0.0.0/24"), &p2);
  auto* v = t.lookup(A("10.0.0.1"));
  REQUIRE(v != nullptr);
  CHECK((*v)->id == 2);
  CHECK(t.remove_by_value(&p2) == 1);
  CHECK((*t.lookup(A("10.0.0.1")))->id == 1);
}

// ---------------------------------------------------------------------------------------
// Differential test: the trie against a linear scan over a list kept in wireguard-go's order.

class LinearTable {
 public:
  void insert(IpPrefix p, int v) { owner_[p.masked()] = Owner{v, ++clock_}; }
  bool remove(IpPrefix p, int v) {
    auto it = owner_.find(p.masked());
    if (it == owner_.end() || it->second.value != v) return false;
    owner_.erase(it);
    return true;
  }
  std::size_t remove_by_value(int v) {
    return std::erase_if(owner_, [v](const auto& kv) { return kv.second.value == v; });
  }
  int lookup(const IpAddr& a) const {
    int best_bits = -1;
    int best = -1;
    for (const auto& [p, o] : owner_) {  // keys are masked already
      if (p.bits > best_bits && p.addr.family() == a.family() && a.masked(p.bits) == p.addr) {
        best_bits = p.bits;
        best = o.value;
      }
    }
    return best;
  }
  // v's prefixes by the time each was last inserted.
  std::vector<IpPrefix> prefixes_of(int v) const {
    std::vector<std::pair<std::uint64_t, IpPrefix>> held;
    for (const auto& [p, o] : owner_) {
      if (o.value == v) held.emplace_back(o.inserted, p);
    }
    std::sort(held.begin(), held.end());
    std::vector<IpPrefix> out;
    for (const auto& h : held) out.push_back(h.second);
    return out;
  }
  std::size_t size() const { return owner_.size(); }
  // The owner of exactly p (masked), or -1.
  int owner(const IpPrefix& p) const {
    const auto it = owner_.find(p.masked());
    return it == owner_.end() ? -1 : it->second.value;
  }
  std::vector<IpPrefix> all() const {
    std::vector<IpPrefix> out;
    for (const auto& kv : owner_) out.push_back(kv.first);
    return out;
  }

 private:
  struct Owner {
    int value;
    std::uint64_t inserted;  // when last inserted
  };
  std::map<IpPrefix, Owner> owner_;
  std::uint64_t clock_ = 0;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {
    // Addresses cluster around a few bases, so prefixes nest and share long common runs.
    for (int i = 0; i < 24; ++i) {
      bases4_.push_back(random_addr(false));
      bases6_.push_back(random_addr(true));
    }
  }

  std::uint64_t pick(std::uint64_t n) {  // uniform in [0, n]
    return std::uniform_int_distribution<std::uint64_t>(0, n)(rng_);
  }

  IpAddr addr(bool v6) {
    if (pick(9) == 0) return random_addr(v6);
    const auto& bases = v6 ? bases6_ : bases4_;
    IpAddr a = bases[pick(bases.size() - 1)];
    // Flip a few random bits, mostly low ones.
    std::byte b[16];
    std::copy(a.bytes().begin(), a.bytes().end(), b);
    const unsigned len = a.bit_length();
    const std::uint64_t flips = pick(3);
    for (std::uint64_t i = 0; i < flips; ++i) {
      const auto bit =
          static_cast<unsigned>(len - 1 - std::min<std::uint64_t>(pick(len - 1), pick(len - 1)));
      b[bit / 8] ^= std::byte(static_cast<std::uint8_t>(0x80u >> (bit % 8)));
    }
    return v6 ? IpAddr::v6(std::span<const std::byte, 16>(b, 16))
              : IpAddr::v4(std::span<const std::byte, 4>(b, 4));
  }

  IpPrefix prefix(bool v6) {
    const unsigned len = v6 ? 128 : 32;
    unsigned bits = static_cast<unsigned>(pick(len));
    if (pick(3) == 0) bits = len - static_cast<unsigned>(pick(4));  // many host routes
    // Unmasked on purpose: the table must mask host bits itself.
    return IpPrefix{addr(v6), static_cast<std::uint8_t>(bits)};
  }

 private:
  IpAddr random_addr(bool v6) {
    std::byte b[16];
    for (auto& x : b) x = std::byte(static_cast<std::uint8_t>(pick(255)));
    return v6 ? IpAddr::v6(std::span<const std::byte, 16>(b, 16))
              : IpAddr::v4(std::span<const std::byte, 4>(b, 4));
  }

  std::mt19937_64 rng_;
  std::vector<IpAddr> bases4_;
  std::vector<IpAddr> bases6_;
};

void check_same(const Table& t, const LinearTable& ref, Generator& gen, int values) {
  REQUIRE(t.size() == ref.size());
  for (int v = 0; v < values; ++v) {
    CAPTURE(v);
    REQUIRE(t.prefixes_of(v) == ref.prefixes_of(v));
  }
  for (int i = 0; i < 200; ++i) {
    const IpAddr a = gen.addr(gen.pick(1) == 1);
    const int* got = t.lookup(a);
    const int want = ref.lookup(a);
    if ((got == nullptr ? -1 : *got) != want) {
      FAIL("lookup " << a.to_string() << " got " << (got == nullptr ? -1 : *got) << " want "
                     << want);
    }
  }
  // A held prefix's own address resolves to its owner or to a longer prefix's (a sample).
  const std::vector<IpPrefix> all = ref.all();
  for (std::size_t i = 0; i < all.size(); i += all.size() / 100 + 1) {
    const IpPrefix& p = all[i];
    const int* got = t.lookup(p.addr);
    REQUIRE(got != nullptr);
    REQUIRE(*got == ref.lookup(p.addr));
  }
}

TEST_CASE("allowed ips: differential test against a linear scan") {
  const std::uint64_t seed = base::testing::test_seed();
  MESSAGE("allowed ips differential seed=" << seed << " (rerun with MESHTUN_TEST_SEED)");
  INFO("seed=" << seed);
  Generator gen(seed);
  constexpr int kValues = 12;

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    Table t;
    LinearTable ref;
    std::vector<IpPrefix> inserted;
    Table snapshot;
    LinearTable snapshot_ref;
    for (int step = 0; step < 12'000; ++step) {
      CAPTURE(step);
      const std::uint64_t op = gen.pick(99);
      const int v = static_cast<int>(gen.pick(kValues - 1));
      if (op < 70 || inserted.empty()) {
        const IpPrefix p = gen.prefix(gen.pick(1) == 1);
        t.insert(p, v);
        ref.insert(p, v);
        inserted.push_back(p);
      } else if (op < 80) {  // move a known prefix to another value
        const IpPrefix p = inserted[gen.pick(inserted.size() - 1)];
        t.insert(p, v);
        ref.insert(p, v);
      } else if (op < 90) {  // remove, with the right value about half the time
        const IpPrefix p = inserted[gen.pick(inserted.size() - 1)];
        const int owner = ref.owner(p);
        const int who = owner >= 0 && gen.pick(1) == 0 ? owner : v;
        REQUIRE(t.remove(p, who) == ref.remove(p, who));
      } else if (op < 91 && gen.pick(9) == 0) {  // rare: each empties a twelfth of the table
        REQUIRE(t.remove_by_value(v) == ref.remove_by_value(v));
      } else if (op < 92) {  // snapshot: the copy must not change while the original does
        snapshot = t;
        snapshot_ref = ref;
      } else {
        const IpAddr a = gen.addr(gen.pick(1) == 1);
        const int* got = t.lookup(a);
        REQUIRE((got == nullptr ? -1 : *got) == ref.lookup(a));
      }
      if (step % 3000 == 2999) {
        check_same(t, ref, gen, kValues);
        check_same(snapshot, snapshot_ref, gen, kValues);
      }
    }
    MESSAGE("round " << round << ": " << t.size() << " prefixes, " << t.node_count()
                     << " nodes at the end");
    CHECK(t.node_count() < 2 * t.size() + 1);  // intermediate nodes have two children
    // Empty it by values; every node must be freed.
    std::size_t removed = 0;
    for (int v = 0; v < kValues; ++v) removed += t.remove_by_value(v);
    CHECK(removed == ref.size());
    CHECK(t.node_count() == 0);
    CHECK(t.host_count() == 0);
  }
}

}  // namespace
