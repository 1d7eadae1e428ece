// SPDX-License-Identifier: MIT
// bench_derp_memory: resident memory of meshtun's relay per idle connected client.
//
// A Server runs in a child process (2 io_context threads); this process logs in N bare
// clients (plain HTTP, then TLS 1.3 with the meta certificate), leaves them idle, and reads
// the child's VmRSS / RssAnon before and after. 100 clients connect first so that one-time
// allocations (allocator arenas, TLS context) are in the baseline.
// Target (DESIGN.md): under 16 KiB per idle connection. Kernel socket buffers are not part
// of RSS and are not counted. Prints figures; asserts nothing.
//
//   bench_derp_memory [--clients N] [--threads T] [--plain-only|--tls-only] [--smoke]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "derp_bench_util.hpp"

namespace {

using derpbench::BareClient;

struct Result {
  bool ok = false;
  std::size_t clients = 0;
  derpbench::Rss before;
  derpbench::Rss after;
};

Result run(bool tls, std::size_t n, unsigned threads) {
  Result r;
  derpbench::ServerSpec spec;
  spec.threads = threads;
  spec.tls = tls;
  auto server = derpbench::start_server(spec);
  SSL_CTX* ctx = tls ? derpbench::insecure_client_tls() : nullptr;
  std::vector<BareClient> warm;
  for (int i = 0; i < 100; ++i) {
    warm.emplace_back();
    if (!warm.back().login(server.port, ctx)) {
      std::fprintf(stderr, "warm-up login %d failed\n", i);
      derpbench::stop_server(server);
      return r;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  r.before = derpbench::read_rss(server.pid);
  std::vector<BareClient> clients;
  clients.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    clients.emplace_back();
    if (!clients.back().login(server.port, ctx)) {
      std::fprintf(stderr, "login %zu failed\n", i);
      break;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server settle
  r.after = derpbench::read_rss(server.pid);
  r.clients = clients.size();
  r.ok = clients.size() == n;
  clients.clear();
  warm.clear();
  derpbench::stop_server(server);
  return r;
}

void print(const char* mode, const Result& r) {
  if (!r.ok) {
    std::printf("bench_derp_memory: %s: FAILED after %zu clients\n", mode, r.clients);
    return;
  }
  const double n = static_cast<double>(r.clients);
  const double per = static_cast<double>(r.after.vm_rss_kib - r.before.vm_rss_kib) / n;
  const double per_anon = static_cast<double>(r.after.anon_kib - r.before.anon_kib) / n;
  std::printf(
      "bench_derp_memory: %zu idle clients, %-5s server RSS %.1f MiB -> %.1f MiB: %.2f KiB per "
      "client (anonymous memory %.2f KiB)\n",
      r.clients, mode, static_cast<double>(r.before.vm_rss_kib) / 1024.0,
      static_cast<double>(r.after.vm_rss_kib) / 1024.0, per, per_anon);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t clients = 10000;
  unsigned threads = 2;
  bool plain = true;
  bool tls = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      clients = 200;
    } else if (a == "--clients" && i + 1 < argc) {
      clients = std::stoul(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (a == "--plain-only") {
      tls = false;
    } else if (a == "--tls-only") {
      plain = false;
    } else {
      std::fprintf(stderr,
                   "usage: bench_derp_memory [--clients N] [--threads T] [--plain-only|--tls-only] "
                   "[--smoke]\n");
      return 2;
    }
  }
  const auto fds = derpbench::raise_fd_limit();
  if (fds < clients + 200) {
    std::fprintf(stderr, "bench_derp_memory: RLIMIT_NOFILE %llu is too low for %zu clients\n",
                 static_cast<unsigned long long>(fds), clients);
    return 1;
  }
  bool ok = true;
  if (plain) {
    const auto r = run(false, clients, threads);
    print("plain", r);
    ok = ok && r.ok;
  }
  if (tls) {
    const auto r = run(true, clients, threads);
    print("TLS", r);
    ok = ok && r.ok;
  }
  return ok ? 0 : 1;
}
