// SPDX-License-Identifier: MIT
// bench_allowed_ips: lookups per second of wg::AllowedIps for 1k and 100k random prefixes,
// IPv4 and IPv6, looked up straight from address bytes as the data path does. Also prints
// how long building and copying (snapshot publication) a table takes.
//
//   bench_allowed_ips            about 15 s
//   bench_allowed_ips --smoke    a few seconds, mostly building tables (scripts/test)
//
// Two table shapes, values spread over 1000 peers, 1M lookup addresses per shape (larger than
// the caches for the IPv6 case), looked up in array order:
//   random: random prefixes, lengths uniform in 8..32 (IPv4) or 16..128 (IPv6); lookups half
//           inside a held prefix (random host bits), half random. The trie's worst case.
//   mesh:   what a mesh holds: one host route per peer address (/32 in 100.64.0.0/10,
//           /128 in fd7a:115c:a1e0::/48), 1% subnet routes, and a default route; lookups
//           80% peer addresses, 10% inside subnets, 10% elsewhere.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "base/ip.hpp"
#include "wg/allowed_ips.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread: the figure that matters on a shared machine, where wall time
// includes waiting for a core.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

enum class Shape { random, mesh };

template <std::size_t N>
struct Addr {
  std::byte b[N];
};

template <std::size_t N>
class Workload {
 public:
  static constexpr unsigned kBits = N * 8;

  Workload(Shape shape, std::size_t count, std::uint64_t seed) : rng_(seed) {
    if (shape == Shape::random) {
      make_random(count);
    } else {
      make_mesh(count);
    }
  }

  std::vector<base::IpPrefix> prefixes;
  std::vector<Addr<N>> lookups;

 private:
  static base::IpAddr to_ip(const Addr<N>& a) {
    if constexpr (N == 4) {
      return base::IpAddr::v4(std::span<const std::byte, 4>(a.b));
    } else {
      return base::IpAddr::v6(std::span<const std::byte, 16>(a.b));
    }
  }
  static Addr<N> from_ip(const base::IpAddr& ip) {
    Addr<N> a;
    for (std::size_t k = 0; k < N; ++k) a.b[k] = ip.bytes()[k];
    return a;
  }
  Addr<N> random_addr() {
    Addr<N> a;
    for (auto& x : a.b) x = std::byte(static_cast<std::uint8_t>(rng_()));
    return a;
  }
  // An address inside p: p's network bits, random host bits.
  Addr<N> inside(const base::IpPrefix& p) {
    const base::IpAddr r = to_ip(random_addr());
    const base::IpAddr r_net = r.masked(p.bits);
    Addr<N> a;
    for (std::size_t k = 0; k < N; ++k) {
      a.b[k] = p.addr.bytes()[k] | (r.bytes()[k] ^ r_net.bytes()[k]);
    }
    return a;
  }
  base::IpPrefix random_prefix_in(const base::IpPrefix& outer, unsigned min_bits,
                                  unsigned max_bits) {
    const auto bits = static_cast<std::uint8_t>(min_bits + rng_() % (max_bits - min_bits + 1));
    return base::IpPrefix{to_ip(inside(outer)), bits}.masked();
  }
  // Adds p unless it is already there.
  bool add(wg::AllowedIps<int>& seen, const base::IpPrefix& p) {
    const std::size_t before = seen.size();
    seen.insert(p, 0);
    if (seen.size() == before) return false;
    prefixes.push_back(p);
    return true;
  }

  void make_random(std::size_t count) {
    constexpr unsigned kMinBits = N == 4 ? 8 : 16;
    const base::IpPrefix all{to_ip(Addr<N>{}), 0};
    wg::AllowedIps<int> seen;
    while (seen.size() < count) add(seen, random_prefix_in(all, kMinBits, kBits));
    lookups.resize(std::size_t{1} << 20);
    for (std::size_t i = 0; i < lookups.size(); ++i) {
      lookups[i] = i % 2 == 0 ? inside(prefixes[rng_() % prefixes.size()]) : random_addr();
    }
  }

  void make_mesh(std::size_t count) {
    const char* peers_text = N == 4 ? "100.64.0.0/10" : "fd7a:115c:a1e0::/48";
    const char* subnets_text = N == 4 ? "10.0.0.0/8" : "fd00::/8";
    const base::IpPrefix peers = *base::IpPrefix::parse(peers_text);
    const base::IpPrefix subnets = *base::IpPrefix::parse(subnets_text);
    const std::size_t n_subnets = count / 100;
    wg::AllowedIps<int> seen;
    add(seen, base::IpPrefix{to_ip(Addr<N>{}), 0});  // an exit node
    std::vector<base::IpPrefix> subnet_list;
    while (subnet_list.size() < n_subnets) {
      const auto p = N == 4 ? random_prefix_in(subnets, 16, 24) : random_prefix_in(subnets, 48, 64);
      if (add(seen, p)) subnet_list.push_back(p);
    }
    std::vector<base::IpPrefix> host_list;
    while (seen.size() < count) {
      const auto p = random_prefix_in(peers, kBits, kBits);
      if (add(seen, p)) host_list.push_back(p);
    }
    lookups.resize(std::size_t{1} << 20);
    for (auto& a : lookups) {
      const std::uint64_t kind = rng_() % 10;
      if (kind < 8) {
        a = from_ip(host_list[rng_() % host_list.size()].addr);
      } else if (kind < 9 && !subnet_list.empty()) {
        a = inside(subnet_list[rng_() % subnet_list.size()]);
      } else {
        a = random_addr();
      }
    }
  }

  std::mt19937_64 rng_;
};

template <std::size_t N>
void run(Shape shape, std::size_t prefixes, double budget_s, std::uint64_t seed) {
  const Workload<N> w(shape, prefixes, seed);

  wg::AllowedIps<std::uint32_t> table;
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < w.prefixes.size(); ++i) {
    table.insert(w.prefixes[i], static_cast<std::uint32_t>(i % 1000));
  }
  const double build_s = seconds_since(t0);

  t0 = Clock::now();
  const wg::AllowedIps<std::uint32_t> copy = table;
  const double copy_s = seconds_since(t0);

  std::uint64_t hits = 0;
  std::uint64_t sum = 0;
  std::uint64_t lookups = 0;
  t0 = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  double elapsed = 0;
  do {
    for (const auto& a : w.lookups) {
      const std::uint32_t* v;
      if constexpr (N == 4) {
        v = copy.lookup_v4(std::span<const std::byte, 4>(a.b));
      } else {
        v = copy.lookup_v6(std::span<const std::byte, 16>(a.b));
      }
      if (v != nullptr) {
        ++hits;
        sum += *v;
      }
    }
    lookups += w.lookups.size();
    elapsed = seconds_since(t0);
  } while (elapsed < budget_s);
  const double cpu = thread_cpu_seconds() - cpu0;

  std::printf(
      "allowed_ips %s %-6s prefixes=%zu hosts=%zu trie_nodes=%zu lookups_per_cpu_s=%.1fM "
      "ns_per_lookup=%.1f (wall %.1fM/s) hit_rate=%.2f build_ms=%.1f copy_ms=%.2f "
      "(checksum %llu)\n",
      N == 4 ? "v4" : "v6", shape == Shape::random ? "random" : "mesh", table.size(),
      table.host_count(), table.node_count(), static_cast<double>(lookups) / cpu / 1e6,
      cpu * 1e9 / static_cast<double>(lookups), static_cast<double>(lookups) / elapsed / 1e6,
      static_cast<double>(hits) / static_cast<double>(lookups), build_s * 1e3, copy_s * 1e3,
      static_cast<unsigned long long>(sum));
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else {
      std::fprintf(stderr, "usage: %s [--smoke]\n", argv[0]);
      return 2;
    }
  }
  const double budget = smoke ? 0.05 : 1.0;
  std::uint64_t seed = 1;
  for (Shape shape : {Shape::random, Shape::mesh}) {
    for (std::size_t n : {std::size_t{1'000}, std::size_t{100'000}}) {
      run<4>(shape, n, budget, seed++);
      run<16>(shape, n, budget, seed++);
    }
  }
  return 0;
}
