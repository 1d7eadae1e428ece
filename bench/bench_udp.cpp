// SPDX-License-Identifier: MIT
// bench_udp: UDP batch I/O on loopback, sendmmsg -> recvmmsg through net::UdpSocket.
//
// One sender thread and one receiver thread, IPv4 loopback, 1452-byte datagrams (a
// WireGuard-sized packet for a 1500-byte path), for batch sizes 1, 64 and 128 on both sides,
// then batch 128 with UDP GSO on send and UDP GRO on receive (one datagram per sendmmsg
// entry versus runs of up to 45 datagrams per entry, split again by the receiver).
// Prints datagrams/s and Gbit/s of payload received (what arrived, not what was offered:
// loopback drops when the receiver falls behind), the send rate and syscalls per datagram.
// `--smoke`: a fraction of a second per row, for scripts/test. Never asserts a speed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

#include "base/log.hpp"
#include "base/packet.hpp"
#include "net/udp_socket.hpp"

namespace {

constexpr std::size_t kDatagram = 1452;

struct Row {
  std::size_t batch = 0;
  bool offload = false;
  double seconds = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t send_syscalls = 0;
  std::uint64_t recv_calls = 0;
};

Row run(std::size_t batch, bool offload, double seconds) {
  net::UdpOptions o;
  o.bind_addr = *base::IpAddr::parse("127.0.0.1");
  o.gso = offload;
  o.gro = offload;
  auto rx = net::UdpSocket::open(o);
  auto tx = net::UdpSocket::open(o);
  if (!rx || !tx) {
    std::fprintf(stderr, "bench_udp: cannot open sockets\n");
    std::exit(1);
  }
  const base::Endpoint to{o.bind_addr, rx->port()};
  std::atomic<bool> stop{false};
  std::atomic<bool> rx_ready{false};
  Row row;
  row.batch = batch;
  row.offload = offload;

  std::thread receiver([&] {
    base::PacketPool pool(2 * net::kMaxBatch);
    std::vector<base::PacketRef> bufs(batch);
    std::vector<net::RecvMeta> meta(batch);
    pollfd p{rx->fd(), POLLIN, 0};
    rx_ready = true;
    int idle = 0;
    while (idle < 5) {  // after stop: drain until 5 quiet polls of 10 ms
      pool.get_batch(bufs);
      std::error_code ec;
      const std::size_t n = rx->recv_batch(bufs, meta, ec);
      ++row.recv_calls;
      row.received += n;
      if (n == 0 && !rx->has_pending()) {
        ::poll(&p, 1, 10);
        if (stop.load(std::memory_order_relaxed)) ++idle;
      }
      for (auto& b : bufs) b.reset();
    }
  });
  while (!rx_ready) std::this_thread::yield();

  std::vector<base::Bytes> payloads(batch, base::Bytes(kDatagram, std::byte{0x42}));
  std::vector<net::SendMsg> msgs;
  for (const auto& p : payloads) msgs.push_back({p, to, {}, 0});
  pollfd out{tx->fd(), POLLOUT, 0};
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 16; ++i) {
      const auto r = tx->send_batch(msgs);
      row.sent += r.sent;
      if (r.would_block) ::poll(&out, 1, 1);
    }
  }
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  receiver.join();
  row.send_syscalls = tx->stats().send_syscalls.load();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  base::set_log_level(spdlog::level::warn);
  const double seconds = smoke ? 0.3 : 3.0;
  std::printf("bench_udp: IPv4 loopback, %zu-byte datagrams, %.1f s per row%s\n", kDatagram,
              seconds, smoke ? " (smoke)" : "");
  std::printf("%-12s %14s %14s %12s %16s\n", "batch", "sent/s", "received/s", "Gbit/s rx",
              "send calls/dgram");
  std::string summary;
  struct Config {
    std::size_t batch;
    bool offload;
  };
  for (const Config c :
       {Config{1, false}, Config{64, false}, Config{128, false}, Config{128, true}}) {
    const Row r = run(c.batch, c.offload, seconds);
    const double rx_rate = static_cast<double>(r.received) / r.seconds;
    const double tx_rate = static_cast<double>(r.sent) / r.seconds;
    const double gbit = rx_rate * kDatagram * 8 / 1e9;
    const double calls =
        r.sent ? static_cast<double>(r.send_syscalls) / static_cast<double>(r.sent) : 0;
    const std::string name = std::to_string(r.batch) + (r.offload ? "+gso/gro" : "");
    std::printf("%-12s %14.0f %14.0f %12.2f %16.3f\n", name.c_str(), tx_rate, rx_rate, gbit, calls);
    const std::string key = "batch" + std::to_string(r.batch) + (r.offload ? "_gso" : "");
    summary += " " + key + "_dgram_per_s=" + std::to_string(static_cast<long long>(rx_rate)) + " " +
               key + "_gbit_per_s=" + std::to_string(gbit);
  }
  std::printf("bench_udp:%s\n", summary.c_str());
  return 0;
}
