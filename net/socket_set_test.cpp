// SPDX-License-Identifier: MIT
#include "net/socket_set.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <dirent.h>
#include <poll.h>
#include <set>
#include <unistd.h>

#include <netinet/in.h>

#include "base/testing/netns.hpp"
#include "base/testing/skip.hpp"

namespace {

base::IpAddr ip(const char* s) {
  return base::IpAddr::parse(s).value();
}

net::UdpSocket& must(net::UdpSocket* s) {
  REQUIRE(s != nullptr);
  return *s;
}

net::SocketSetOptions opts(std::size_t queues, std::uint16_t port = 0) {
  net::SocketSetOptions o;
  o.queues = queues;
  o.port = port;
  return o;
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// Drains every v4 socket of `set` until `want` datagrams arrived or 2 s passed; returns the
// count per queue.
std::vector<std::size_t> drain_v4(const net::SocketSet& set, std::size_t want) {
  std::vector<std::size_t> per_queue(set.queue_count());
  std::vector<pollfd> pfds;
  for (std::size_t q = 0; q < set.queue_count(); ++q)
    pfds.push_back({must(set.v4(q)).fd(), POLLIN, 0});
  base::PacketPool pool(64);
  std::size_t total = 0;
  for (int i = 0; i < 40 && total < want; ++i) {
    ::poll(pfds.data(), pfds.size(), 50);
    for (std::size_t q = 0; q < set.queue_count(); ++q) {
      std::array<base::PacketRef, 32> bufs;
      std::array<net::RecvMeta, 32> meta;
      pool.get_batch(bufs);
      std::error_code ec;
      const std::size_t n = must(set.v4(q)).recv_batch(bufs, meta, ec);
      per_queue[q] += n;
      total += n;
    }
  }
  return per_queue;
}

TEST_CASE("port 0 gives every socket of the set one port, IPv4 and IPv6") {
  auto set = net::SocketSet::open(opts(3));
  REQUIRE_MESSAGE(set.ok(), set.error().to_string());
  CHECK(set->port() != 0);
  CHECK(set->queue_count() == 3);
  REQUIRE(set->has_v4());
  REQUIRE(set->has_v6());
  std::set<int> fds;
  for (std::size_t q = 0; q < 3; ++q) {
    CHECK(must(set->v4(q)).port() == set->port());
    CHECK(must(set->v6(q)).port() == set->port());
    CHECK(must(set->v4(q)).family() == base::IpAddr::Family::v4);
    CHECK(must(set->v6(q)).family() == base::IpAddr::Family::v6);
    fds.insert(must(set->v4(q)).fd());
    fds.insert(must(set->v6(q)).fd());
  }
  CHECK(fds.size() == 6);
  CHECK(set->for_destination(1, {ip("::1"), 1}) == set->v6(1));
  CHECK(set->for_destination(2, {ip("10.0.0.1"), 1}) == set->v4(2));
  CHECK(set->for_destination(0, {}) == nullptr);
}

TEST_CASE("SO_REUSEPORT spreads flows over the queues' sockets") {
  auto set = net::SocketSet::open(opts(4));
  REQUIRE(set.ok());
  // 64 flows: one datagram from each of 64 client sockets.
  std::vector<net::UdpSocket> clients;
  const base::Bytes payload(32, std::byte{1});
  for (int i = 0; i < 64; ++i) {
    net::UdpOptions o;
    o.bind_addr = ip("127.0.0.1");
    auto c = net::UdpSocket::open(o);
    REQUIRE(c.ok());
    const net::SendMsg m[] = {{payload, {ip("127.0.0.1"), set->port()}, {}, 0}};
    REQUIRE(c->send_batch(m).sent == 1);
    clients.push_back(std::move(c.value()));
  }
  const auto per_queue = drain_v4(*set, 64);
  std::size_t total = 0;
  std::size_t used = 0;
  for (const std::size_t n : per_queue) {
    total += n;
    used += n > 0 ? 1 : 0;
  }
  CHECK(total == 64);
  CHECK(used >= 2);
}

// Hooks that make a family unavailable or make IPv6 binds collide, like a busy host would.
std::atomic<int> g_v6_binds_to_fail{0};
std::atomic<int> g_v6_bind_calls{0};
int no_v6_socket(int domain, int type, int proto) {
  if (domain == AF_INET6) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  return ::socket(domain, type, proto);
}
int no_v4_socket(int domain, int type, int proto) {
  if (domain == AF_INET) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  return ::socket(domain, type, proto);
}
int no_socket(int, int, int) {
  errno = EAFNOSUPPORT;
  return -1;
}
int colliding_v6_bind(int fd, const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET6) {
    g_v6_bind_calls.fetch_add(1);
    if (g_v6_binds_to_fail.fetch_sub(1) > 0) {
      errno = EADDRINUSE;
      return -1;
    }
  }
  return ::bind(fd, sa, len);
}

TEST_CASE("without IPv6 the set falls back to IPv4 only, and the other way round") {
  net::SocketSetOptions o;
  o.queues = 2;
  o.hooks.socket = no_v6_socket;
  auto v4only = net::SocketSet::open(o);
  REQUIRE_MESSAGE(v4only.ok(), v4only.error().to_string());
  CHECK(v4only->has_v4());
  CHECK_FALSE(v4only->has_v6());
  CHECK(v4only->v6(0) == nullptr);
  CHECK(v4only->for_destination(0, {ip("::1"), 1}) == nullptr);

  o.hooks.socket = no_v4_socket;
  auto v6only = net::SocketSet::open(o);
  REQUIRE_MESSAGE(v6only.ok(), v6only.error().to_string());
  CHECK_FALSE(v6only->has_v4());
  CHECK(v6only->has_v6());
  CHECK(v6only->port() != 0);
  CHECK(must(v6only->v6(1)).port() == v6only->port());

  o.hooks.socket = no_socket;
  auto none = net::SocketSet::open(o);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == std::errc::address_family_not_supported);
}

TEST_CASE("port 0 retries when the IPv6 side of the chosen port is taken") {
  net::SocketSetOptions o;
  o.queues = 2;
  o.hooks.bind = colliding_v6_bind;
  g_v6_binds_to_fail = 3;
  g_v6_bind_calls = 0;
  auto set = net::SocketSet::open(o);
  REQUIRE_MESSAGE(set.ok(), set.error().to_string());
  CHECK(g_v6_bind_calls.load() == 3 + 2);  // three collisions, then both queues
  CHECK(must(set->v6(0)).port() == set->port());
  CHECK(must(set->v4(1)).port() == set->port());

  // An explicit port is not retried.
  g_v6_binds_to_fail = 1;
  auto free_port = net::SocketSet::open(opts(1));
  REQUIRE(free_port.ok());
  const std::uint16_t p = free_port->port();
  auto v6_only = opts(1);
  v6_only.ipv4 = false;
  free_port = net::SocketSet::open(v6_only);  // closes the old one
  o.port = p;
  o.queues = 1;
  auto explicit_port = net::SocketSet::open(o);
  REQUIRE_FALSE(explicit_port.ok());
  CHECK(explicit_port.error().code == std::errc::address_in_use);

  // Always colliding: gives up after kMaxPortAttempts.
  g_v6_binds_to_fail = 1000;
  o.port = 0;
  auto never = net::SocketSet::open(o);
  REQUIRE_FALSE(never.ok());
  CHECK(never.error().code == std::errc::address_in_use);
  g_v6_binds_to_fail = 0;
}

TEST_CASE("rebinding: the new set opens before the old closes, a failure changes nothing") {
  const std::size_t fds_before = open_fds();
  {
    auto current = net::SocketSet::open(opts(2));
    REQUIRE(current.ok());
    const std::uint16_t old_port = current->port();

    // A port taken by somebody without SO_REUSEPORT: the new set fails, the old one works.
    net::UdpOptions blocker_opts;
    auto blocker = net::UdpSocket::open(blocker_opts);
    REQUIRE(blocker.ok());
    const std::size_t fds_mid = open_fds();
    auto failed = net::SocketSet::open(opts(2, blocker->port()));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == std::errc::address_in_use);
    CHECK(failed.error().message.find("in use") != std::string::npos);
    CHECK(open_fds() == fds_mid);  // nothing leaked
    const base::Bytes payload(8, std::byte{2});
    {
      const net::SendMsg m[] = {{payload, {ip("127.0.0.1"), old_port}, {}, 0}};
      REQUIRE(blocker->send_batch(m).sent == 1);
      const auto got = drain_v4(*current, 1);
      CHECK(got[0] + got[1] == 1);
    }

    // The same port again (SO_REUSEPORT lets both exist), then a new one; swap and drop old.
    auto same = net::SocketSet::open(opts(2, old_port));
    REQUIRE_MESSAGE(same.ok(), same.error().to_string());
    auto fresh = net::SocketSet::open(opts(2));
    REQUIRE(fresh.ok());
    CHECK(fresh->port() != old_port);
    current = std::move(fresh.value());
    same = std::move(current);  // old sets are gone now; `same` holds the fresh one
    // The old port is free again for a socket without SO_REUSEPORT.
    blocker_opts.port = old_port;
    CHECK(net::UdpSocket::open(blocker_opts).ok());
  }
  CHECK(open_fds() == fds_before);
}

TEST_CASE("fwmark reaches every socket of the set") {
  ENTER_PRIVATE_NETNS(ns, "SO_MARK");
  auto o = opts(2);
  o.fwmark = 51820;
  auto set = net::SocketSet::open(o);
  REQUIRE_MESSAGE(set.ok(), set.error().to_string());
  auto mark_of = [](int fd) {
    std::uint32_t m = 0;
    socklen_t len = sizeof m;
    REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_MARK, &m, &len) == 0);
    return m;
  };
  for (std::size_t q = 0; q < 2; ++q) {
    CHECK(mark_of(must(set->v4(q)).fd()) == 51820);
    CHECK(mark_of(must(set->v6(q)).fd()) == 51820);
  }
  REQUIRE(set->set_fwmark(7).ok());
  CHECK(mark_of(must(set->v6(1)).fd()) == 7);
}

TEST_CASE("offload switches reach every socket of the set") {
  auto o = opts(2);
  o.gro = false;
  auto set = net::SocketSet::open(o);
  REQUIRE(set.ok());
  for (std::size_t q = 0; q < 2; ++q) {
    CHECK_FALSE(must(set->v4(q)).gro_enabled());
    CHECK(must(set->v6(q)).gso_enabled());
  }
  set->set_gso(false);
  for (std::size_t q = 0; q < 2; ++q) {
    CHECK_FALSE(must(set->v4(q)).gso_enabled());
    CHECK_FALSE(must(set->v6(q)).gso_enabled());
  }
}

TEST_CASE("queue counts are checked") {
  CHECK_FALSE(net::SocketSet::open(opts(0)).ok());
  CHECK_FALSE(net::SocketSet::open(opts(257)).ok());
  auto neither = opts(1);
  neither.ipv4 = false;
  neither.ipv6 = false;
  CHECK_FALSE(net::SocketSet::open(neither).ok());
}

}  // namespace
