// SPDX-License-Identifier: MIT
// Root tests of TUN offloads on real devices: negotiation, the merged-write probe, and TCP and
// UDP traffic between two private namespaces whose TUNs are joined by a forwarder that reads
// (splitting super-packets) and writes (merging them again) through tun::Queue.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <optional>
#include <poll.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "base/testing/netns.hpp"
#include "base/testing/skip.hpp"
#include "tun/netlink.hpp"
#include "tun/queue.hpp"
#include "tun/testing/packet_builder.hpp"
#include "tun/testing/reference_checksum.hpp"
#include "tun/tun.hpp"

namespace {

base::IpAddr ip(const char* s) {
  return base::IpAddr::parse(s).value();
}

bool bindable(const base::IpAddr& a) {
  const int s = ::socket(a.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const socklen_t len = base::Endpoint{a, 0}.to_sockaddr(ss);
  const bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  ::close(s);
  return ok;
}

void wait_bindable(const base::IpAddr& a) {
  for (int i = 0; i < 200 && !bindable(a); ++i) ::poll(nullptr, 0, 10);
  REQUIRE_MESSAGE(bindable(a), a.to_string());
}

// In the current namespace: a TUN with offloads, up, with a v4 and a v6 address.
tun::Tun open_side(const char* name, const char* v4, const char* v6) {
  auto t = tun::Tun::open({.name = name, .queues = 2, .offloads = true, .udp_offload = true});
  REQUIRE_MESSAGE(t.ok(), t.error().to_string());
  REQUIRE(tun::set_link_up(t->ifindex(), true).ok());
  REQUIRE(tun::add_address(t->ifindex(), *base::IpPrefix::parse(v4)).ok());
  REQUIRE(tun::add_address(t->ifindex(), *base::IpPrefix::parse(v6)).ok());
  wait_bindable(base::IpPrefix::parse(v6)->addr);
  return std::move(t.value());
}

int make_socket(const base::IpAddr& a, int type, std::uint16_t port) {
  const int s = ::socket(a.is_v4() ? AF_INET : AF_INET6, type | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  const int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  timeval tv{5, 0};  // nothing in these tests may hang
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_storage ss{};
  const socklen_t len = base::Endpoint{a, port}.to_sockaddr(ss);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&ss), len) == 0);
  return s;
}

// Moves packets between the two TUNs until stopped: every queue of one side is read and
// written to queue 0 of the other.
class Forwarder {
 public:
  Forwarder(const tun::Tun& a, const tun::Tun& b) {
    for (const tun::Tun* t : {&a, &b}) {
      for (std::size_t q = 0; q < t->queue_count(); ++q) {
        queues_.push_back(std::make_unique<tun::Queue>(t->fd(q), t->offloads()));
        side_.push_back(t == &a ? 0 : 1);
      }
    }
    out_[0] = queues_[0].get();                // a's queue 0
    out_[1] = queues_[a.queue_count()].get();  // b's queue 0
    thread_ = std::thread([this] { run(); });
  }
  ~Forwarder() {
    stop_ = true;
    thread_.join();
  }
  const tun::Queue& queue(std::size_t i) const { return *queues_[i]; }
  std::size_t size() const { return queues_.size(); }
  std::size_t bad_checksums() const { return bad_.load(); }

 private:
  void run() {
    base::PacketPool pool(256, 2048);
    std::vector<pollfd> pfds;
    for (const auto& q : queues_) pfds.push_back({q->fd(), POLLIN, 0});
    for (int rounds = 0; !stop_ && rounds < 1'000'000; ++rounds) {
      ::poll(pfds.data(), pfds.size(), 20);
      for (std::size_t i = 0; i < queues_.size(); ++i) {
        do {
          std::array<base::PacketRef, 64> batch;
          pool.get_batch(batch);
          std::error_code ec;
          const std::size_t n = queues_[i]->read_batch(batch, ec);
          if (n == 0) break;
          for (std::size_t k = 0; k < n; ++k) {
            if (!tun::testing::reference_checksums_ok(batch[k]->data())) {
              const auto d = batch[k]->data();
              const unsigned v = std::to_integer<unsigned>(d[0]) >> 4;
              const auto proto = std::to_integer<int>(d[v == 4 ? 9 : 6]);
              if (proto == 6 || proto == 17) bad_.fetch_add(1);  // ignore ICMPv6 and the like
            }
          }
          out_[1 - side_[i]]->write_batch(std::span(batch.data(), n), ec);
        } while (queues_[i]->has_pending());
      }
    }
  }

  std::vector<std::unique_ptr<tun::Queue>> queues_;
  std::vector<int> side_;
  tun::Queue* out_[2] = {};
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> bad_{0};
  std::thread thread_;
};

TEST_CASE("offloads are negotiated, and merged writes pass the kernel-bug probe") {
  SKIP_UNLESS_ROOT("private netns, TUN");
  base::testing::ScopedNetns ns;
  REQUIRE_MESSAGE(ns.ok(), ns.error());
  auto t = tun::Tun::open({.name = "mto0", .queues = 2, .offloads = true, .udp_offload = true});
  REQUIRE_MESSAGE(t.ok(), t.error().to_string());
  CHECK(t->offloads().vnet_hdr);
  CHECK(t->offloads().tso);
  CHECK(t->offloads().uso);  // Linux >= 6.2
  auto info = tun::get_link(t->ifindex());
  REQUIRE(info.ok());
  CHECK(info->tun_vnet_hdr);
  tun::Queue q(t->fd(1), t->offloads());
  std::error_code ec;
  CHECK_FALSE(q.probe_tcp_gso_write(ec));  // link down: cannot tell
  CHECK(ec == std::errc::io_error);
  REQUIRE(tun::set_link_up(t->ifindex(), true).ok());
  CHECK(q.probe_tcp_gso_write(ec));
  CHECK(q.gro().tcp);

  auto no_uso =
      tun::Tun::open({.name = "mto1", .queues = 1, .offloads = true, .udp_offload = false});
  REQUIRE(no_uso.ok());
  CHECK(no_uso->offloads() == tun::Offloads{true, true, false});
  auto none = tun::Tun::open({.name = "mto2", .queues = 1});
  REQUIRE(none.ok());
  CHECK(none->offloads() == tun::Offloads{});
  tun::Queue plain(none->fd(0), none->offloads());
  CHECK_FALSE(plain.probe_tcp_gso_write(ec));
  CHECK(ec == std::errc::operation_not_supported);
}

// Sends `bytes` of a pattern on `client` (a connected TCP socket) and checks that the
// accepting side of `listener` got every byte in order.
void transfer(int client, int listener, std::size_t bytes) {
  std::atomic<std::size_t> received{0};
  std::atomic<bool> intact{true};
  std::thread server([&] {
    const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::vector<std::uint8_t> buf(1 << 16);
    std::size_t off = 0;
    for (;;) {
      const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[static_cast<std::size_t>(i)] !=
            static_cast<std::uint8_t>((off + static_cast<std::size_t>(i)) % 251)) {
          intact = false;
        }
      }
      off += static_cast<std::size_t>(n);
    }
    received = off;
    ::close(c);
  });
  std::vector<std::uint8_t> chunk(1 << 16);
  std::size_t sent = 0;
  while (sent < bytes) {
    const std::size_t n = std::min(chunk.size(), bytes - sent);
    for (std::size_t i = 0; i < n; ++i) chunk[i] = static_cast<std::uint8_t>((sent + i) % 251);
    const ssize_t w = ::send(client, chunk.data(), n, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<std::size_t>(w);
  }
  ::shutdown(client, SHUT_WR);
  server.join();
  CHECK(sent == bytes);
  CHECK(received.load() == bytes);
  CHECK(intact.load());
}

TEST_CASE("TCP and UDP cross two offloading TUNs intact, split on read and merged on write") {
  SKIP_UNLESS_ROOT("private netns, TUN");
  std::optional<tun::Tun> a;
  std::optional<tun::Tun> b;
  int listen4 = -1, listen6 = -1, udp_rx = -1;
  int client4 = -1, client6 = -1, udp_tx = -1;
  {
    base::testing::ScopedNetns ns;
    REQUIRE_MESSAGE(ns.ok(), ns.error());
    a.emplace(open_side("mta0", "10.60.0.1/24", "fd60::1/64"));
    listen4 = make_socket(ip("10.60.0.1"), SOCK_STREAM, 5001);
    listen6 = make_socket(ip("fd60::1"), SOCK_STREAM, 5001);
    REQUIRE(::listen(listen4, 1) == 0);
    REQUIRE(::listen(listen6, 1) == 0);
    udp_rx = make_socket(ip("10.60.0.1"), SOCK_DGRAM, 6000);
  }
  {
    base::testing::ScopedNetns ns;
    REQUIRE_MESSAGE(ns.ok(), ns.error());
    b.emplace(open_side("mtb0", "10.60.0.2/24", "fd60::2/64"));
    client4 = make_socket(ip("10.60.0.2"), SOCK_STREAM, 0);
    client6 = make_socket(ip("fd60::2"), SOCK_STREAM, 0);
    udp_tx = make_socket(ip("10.60.0.2"), SOCK_DGRAM, 0);
  }
  // Both namespaces live on through the sockets and TUN fds; this thread is back home.
  Forwarder fwd(*a, *b);
  for (const auto& run :
       {std::tuple{client4, listen4, "10.60.0.1"}, std::tuple{client6, listen6, "fd60::1"}}) {
    const auto [client, listener, to] = run;
    const char* addr = to;  // a plain variable: INFO captures it
    INFO("to " << addr);
    sockaddr_storage ss{};
    const socklen_t len = base::Endpoint{ip(addr), 5001}.to_sockaddr(ss);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&ss), len) == 0);
    transfer(client, listener, 32u << 20);
  }

  // A UDP_SEGMENT send: one USO super-packet out of b, six datagrams into a's socket.
  {
    std::vector<std::uint8_t> data(5123);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i % 251);
    const int seg = 1000;
    REQUIRE(::setsockopt(udp_tx, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0);
    sockaddr_storage ss{};
    const socklen_t len = base::Endpoint{ip("10.60.0.1"), 6000}.to_sockaddr(ss);
    REQUIRE(::sendto(udp_tx, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
            5123);
    std::vector<std::size_t> sizes;
    std::vector<std::uint8_t> joined;
    for (int i = 0; i < 6; ++i) {
      std::vector<std::uint8_t> buf(2000);
      const ssize_t n = ::recv(udp_rx, buf.data(), buf.size(), 0);
      if (n < 0) break;
      sizes.push_back(static_cast<std::size_t>(n));
      joined.insert(joined.end(), buf.begin(), buf.begin() + n);
    }
    CHECK(sizes == std::vector<std::size_t>{1000, 1000, 1000, 1000, 1000, 123});
    CHECK(joined == data);
  }

  std::uint64_t gso_read = 0;
  std::uint64_t gso_written = 0;
  std::uint64_t dropped = 0;
  for (std::size_t i = 0; i < fwd.size(); ++i) {
    gso_read += fwd.queue(i).stats().gso_read.get();
    gso_written += fwd.queue(i).stats().gso_written.get();
    dropped += fwd.queue(i).stats().read_dropped.get() + fwd.queue(i).stats().write_errors.get();
  }
  MESSAGE("super-packets read=" << gso_read << " merged writes=" << gso_written);
  CHECK(gso_read > 0);
  CHECK(gso_written > 0);
  CHECK(dropped == 0);
  CHECK(fwd.bad_checksums() == 0);
  for (const int fd : {listen4, listen6, udp_rx, client4, client6, udp_tx}) ::close(fd);
}

}  // namespace
