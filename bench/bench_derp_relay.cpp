// SPDX-License-Identifier: MIT
// bench_derp_relay: relay throughput on loopback for 1,400-byte packets.
//
// Cases: 1 and 8 sender/receiver pairs through one server, and the same through a mesh hop
// (senders on server A, receivers on server B, A forwarding to B over its mesh link). Each
// server is a child process with 2 io_context threads; senders write SendPacket frames as
// fast as TCP lets them (32 per write), receivers count RecvPacket frames. Figures are what
// receivers got per second after a warm-up; the server drops from the head of full queues,
// so "offered" can exceed "delivered". Everything shares this machine's cores.
//
//   bench_derp_relay [--seconds S] [--threads T] [--verbose] [--smoke]
// --verbose prints each server's non-zero drop counters.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "derp/frame.hpp"
#include "derp/frame_reader.hpp"
#include "derp_bench_util.hpp"

namespace {

using derpbench::BareClient;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kPacket = 1400;
constexpr int kFramesPerWrite = 32;

struct Pair {
  BareClient sender;
  BareClient receiver;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> sent{0};
};

void receive_loop(Pair& p, const std::atomic<bool>& stop) {
  derp::FrameReader reader(&derp::client_read_limit);
  reader.set_handshake_done(true);
  std::vector<std::byte> buf(256 * 1024);
  p.receiver.set_receive_timeout_ms(100);
  while (!stop.load(std::memory_order_relaxed)) {
    const std::size_t n = p.receiver.read_some(buf);
    if (n == 0) continue;  // timeout (or closed)
    std::uint64_t got = 0;
    (void)reader.feed(base::ConstByteSpan(buf.data(), n), [&](std::uint8_t t, base::ConstByteSpan) {
      if (t == static_cast<std::uint8_t>(derp::FrameType::recv_packet)) ++got;
      return true;
    });
    p.received.fetch_add(got, std::memory_order_relaxed);
  }
}

void send_loop(Pair& p, const std::atomic<bool>& stop) {
  base::Bytes batch;
  const base::Bytes payload(kPacket, std::byte{0x17});
  for (int i = 0; i < kFramesPerWrite; ++i)
    derp::encode_send_packet(batch, p.receiver.key(), payload);
  while (!stop.load(std::memory_order_relaxed)) {
    if (!p.sender.write_all(batch)) return;
    p.sent.fetch_add(kFramesPerWrite, std::memory_order_relaxed);
  }
}

// Waits until a probe packet gets through (mesh routes take a moment to appear).
bool warm_up(Pair& p) {
  base::Bytes frame;
  derp::encode_send_packet(frame, p.receiver.key(), base::Bytes(kPacket));
  derp::FrameReader reader(&derp::client_read_limit);
  reader.set_handshake_done(true);
  p.receiver.set_receive_timeout_ms(50);
  std::vector<std::byte> buf(65536);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (!p.sender.write_all(frame)) return false;
    const std::size_t n = p.receiver.read_some(buf);
    bool got = false;
    (void)reader.feed(base::ConstByteSpan(buf.data(), n), [&](std::uint8_t t, base::ConstByteSpan) {
      got = got || t == static_cast<std::uint8_t>(derp::FrameType::recv_packet);
      return true;
    });
    if (got) return true;
  }
  return false;
}

bool run_case(int pairs, bool mesh, double seconds, unsigned threads, bool verbose) {
  std::vector<derpbench::ServerProcess> servers;
  std::uint16_t send_port = 0;
  std::uint16_t recv_port = 0;
  derpbench::ServerSpec spec;
  spec.threads = threads;
  if (mesh) {
    spec.mesh_key = derp::MeshKey::generate();
    servers.push_back(derpbench::start_server(spec));  // B: receivers
    spec.mesh_with = {servers[0].port};
    servers.push_back(derpbench::start_server(spec));  // A: senders, watches B
    recv_port = servers[0].port;
    send_port = servers[1].port;
  } else {
    servers.push_back(derpbench::start_server(spec));
    send_port = recv_port = servers[0].port;
  }
  std::vector<std::unique_ptr<Pair>> ps;
  bool ok = true;
  for (int i = 0; i < pairs && ok; ++i) {
    auto p = std::make_unique<Pair>();
    ok = p->receiver.login(recv_port) && p->sender.login(send_port) && warm_up(*p);
    ps.push_back(std::move(p));
  }
  if (!ok) {
    std::printf("bench_derp_relay: %d pair(s) %s: setup FAILED\n", pairs, mesh ? "mesh" : "direct");
    for (auto& s : servers) derpbench::stop_server(s);
    return false;
  }
  std::atomic<bool> stop_send{false};
  std::atomic<bool> stop_recv{false};
  std::vector<std::thread> threads_v;
  for (auto& p : ps) {
    threads_v.emplace_back(receive_loop, std::ref(*p), std::cref(stop_recv));
    threads_v.emplace_back(send_loop, std::ref(*p), std::cref(stop_send));
  }
  const auto warm = std::chrono::duration<double>(seconds * 0.2);
  std::this_thread::sleep_for(warm);
  std::uint64_t r0 = 0;
  std::uint64_t s0 = 0;
  for (auto& p : ps) {
    r0 += p->received.load();
    s0 += p->sent.load();
  }
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  std::uint64_t r1 = 0;
  std::uint64_t s1 = 0;
  for (auto& p : ps) {
    r1 += p->received.load();
    s1 += p->sent.load();
  }
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  if (verbose) {
    for (const auto& s : servers) {
      std::printf("  server pid %d:\n%s", s.pid,
                  derpbench::server_metrics(s, "derp_packets_dropped{").c_str());
    }
  }
  stop_send = true;
  // Unblock senders stuck in write: closing the servers resets their sockets.
  for (auto& s : servers) derpbench::stop_server(s);
  stop_recv = true;
  for (auto& t : threads_v) t.join();
  const double pps = static_cast<double>(r1 - r0) / dt;
  const double offered = static_cast<double>(s1 - s0) / dt;
  std::printf(
      "bench_derp_relay: %d pair(s), %-6s 1400-byte packets: %9.0f packets/s delivered, %6.2f "
      "Gbit/s payload (offered %9.0f packets/s)\n",
      pairs, mesh ? "mesh" : "direct", pps, pps * kPacket * 8 / 1e9, offered);
  return r1 > r0;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  unsigned threads = 2;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      seconds = 0.3;
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_derp_relay [--seconds S] [--threads T] [--verbose] [--smoke]\n");
      return 2;
    }
  }
  derpbench::raise_fd_limit();
  bool ok = true;
  for (bool mesh : {false, true}) {
    for (int pairs : {1, 8}) ok = run_case(pairs, mesh, seconds, threads, verbose) && ok;
  }
  return ok ? 0 : 1;
}
