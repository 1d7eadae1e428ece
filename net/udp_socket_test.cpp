// SPDX-License-Identifier: MIT
#include "net/udp_socket.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <set>
#include <unistd.h>
#include <vector>

#include "base/testing/netns.hpp"
#include "base/testing/skip.hpp"

namespace {

using Family = base::IpAddr::Family;

base::IpAddr ip(const char* s) {
  return base::IpAddr::parse(s).value();
}

net::UdpSocket open_on(const char* addr, std::uint16_t port = 0) {
  net::UdpOptions o;
  o.bind_addr = ip(addr);
  o.family = o.bind_addr.family();
  o.port = port;
  auto s = net::UdpSocket::open(o);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(s.value());
}

int get_int_opt(int fd, int level, int opt) {
  int v = -1;
  socklen_t len = sizeof v;
  REQUIRE(::getsockopt(fd, level, opt, &v, &len) == 0);
  return v;
}

struct Received {
  base::Bytes data;
  net::RecvMeta meta;
};

// Receives until `want` datagrams arrived or 2 s passed.
std::vector<Received> receive(net::UdpSocket& s, std::size_t want, base::PacketPool& pool) {
  std::vector<Received> got;
  pollfd p{s.fd(), POLLIN, 0};
  for (int i = 0; i < 40 && got.size() < want; ++i) {
    ::poll(&p, 1, 50);
    std::array<base::PacketRef, net::kMaxBatch> bufs;
    std::array<net::RecvMeta, net::kMaxBatch> meta;
    pool.get_batch(bufs);
    std::error_code ec;
    const std::size_t n = s.recv_batch(bufs, meta, ec);
    REQUIRE_FALSE(ec);
    for (std::size_t k = 0; k < n; ++k) {
      got.push_back({base::Bytes(bufs[k]->data().begin(), bufs[k]->data().end()), meta[k]});
    }
  }
  return got;
}

base::Bytes numbered(std::uint32_t n, std::size_t size) {
  base::Bytes b(size, std::byte(n & 0xff));
  base::store_be32(b, n);
  return b;
}

TEST_CASE("a socket is non-blocking, close-on-exec, with pktinfo and big buffers") {
  net::UdpOptions o;
  o.reuse_port = true;
  auto s = net::UdpSocket::open(o);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  CHECK(s->port() != 0);
  CHECK((::fcntl(s->fd(), F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(s->fd(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(get_int_opt(s->fd(), IPPROTO_IP, IP_PKTINFO) == 1);
  CHECK(get_int_opt(s->fd(), SOL_SOCKET, SO_REUSEPORT) == 1);
  if (base::testing::is_root()) {
    // SO_RCVBUFFORCE passes rmem_max; Linux reports twice the value set.
    CHECK(get_int_opt(s->fd(), SOL_SOCKET, SO_RCVBUF) == 2 * net::kSocketBufferBytes);
    CHECK(get_int_opt(s->fd(), SOL_SOCKET, SO_SNDBUF) == 2 * net::kSocketBufferBytes);
  }
  o.family = Family::v6;
  o.reuse_port = false;
  auto s6 = net::UdpSocket::open(o);
  REQUIRE_MESSAGE(s6.ok(), s6.error().to_string());
  CHECK(get_int_opt(s6->fd(), IPPROTO_IPV6, IPV6_V6ONLY) == 1);
  CHECK(get_int_opt(s6->fd(), IPPROTO_IPV6, IPV6_RECVPKTINFO) == 1);
  CHECK(get_int_opt(s6->fd(), SOL_SOCKET, SO_REUSEPORT) == 0);
}

TEST_CASE("open rejects a bind address of the other family and reports a taken port") {
  net::UdpOptions o;
  o.bind_addr = ip("::1");
  auto bad = net::UdpSocket::open(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == std::errc::invalid_argument);
  auto a = open_on("127.0.0.1");
  o.bind_addr = ip("127.0.0.1");
  o.port = a.port();
  auto taken = net::UdpSocket::open(o);
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == std::errc::address_in_use);
}

TEST_CASE("128 datagrams go out in one batch and come back in one, v4 and v6") {
  for (const char* addr : {"127.0.0.1", "::1"}) {
    INFO("address " << addr);
    auto server = open_on(addr);
    auto client = open_on(addr);
    const base::Endpoint to{ip(addr), server.port()};
    std::vector<base::Bytes> payloads;
    std::vector<net::SendMsg> msgs;
    for (std::uint32_t i = 0; i < 128; ++i) payloads.push_back(numbered(i, 1452));
    for (const auto& p : payloads) msgs.push_back({p, to, {}, 0});
    std::vector<net::SendStatus> status(msgs.size());
    const auto res = client.send_batch(msgs, status);
    CHECK(res.handled == 128);
    CHECK(res.sent == 128);
    CHECK_FALSE(res.would_block);
    for (const auto& st : status) CHECK_FALSE(st.error);
    CHECK(client.stats().send_syscalls.load() == 1);
    CHECK(client.stats().datagrams_sent.load() == 128);

    base::PacketPool pool(256);
    const auto got = receive(server, 128, pool);
    REQUIRE(got.size() == 128);
    for (std::uint32_t i = 0; i < 128; ++i) {
      CHECK(got[i].data == payloads[i]);  // loopback keeps the order
      CHECK(got[i].meta.source == base::Endpoint{ip(addr), client.port()});
      CHECK(got[i].meta.local == ip(addr));
      CHECK(got[i].meta.ifindex == 1);  // lo
    }
    CHECK(server.stats().datagrams_received.load() == 128);
    CHECK(server.stats().bytes_received.load() == 128 * 1452);
  }
}

TEST_CASE("recv_batch returns 0 without error when nothing is queued") {
  auto s = open_on("127.0.0.1");
  base::PacketPool pool(4);
  std::array<base::PacketRef, 4> bufs;
  std::array<net::RecvMeta, 4> meta;
  REQUIRE(pool.get_batch(bufs) == 4);
  std::error_code ec;
  CHECK(s.recv_batch(bufs, meta, ec) == 0);
  CHECK_FALSE(ec);
  CHECK(s.recv_batch({}, meta, ec) == 0);
}

TEST_CASE("a datagram too long for its buffer is dropped and the batch stays dense") {
  auto server = open_on("127.0.0.1");
  auto client = open_on("127.0.0.1");
  client.set_gso(false);  // one datagram each (GSO would send 500 + 150 as one run)
  const base::Endpoint to{ip("127.0.0.1"), server.port()};
  const auto small1 = numbered(1, 100);
  const auto big = numbered(2, 500);
  const auto small2 = numbered(3, 150);
  const net::SendMsg msgs[] = {{small1, to, {}, 0}, {big, to, {}, 0}, {small2, to, {}, 0}};
  REQUIRE(client.send_batch(msgs).sent == 3);
  base::PacketPool pool(8, 256);  // read area 160 bytes
  const auto got = receive(server, 2, pool);
  REQUIRE(got.size() == 2);
  CHECK(got[0].data == small1);
  CHECK(got[1].data == small2);
  CHECK(server.stats().receive_dropped.load() == 1);
}

TEST_CASE("a message that cannot go is reported and the others still go") {
  auto server = open_on("127.0.0.1");
  auto client = open_on("127.0.0.1");
  const base::Endpoint to{ip("127.0.0.1"), server.port()};
  const auto a = numbered(1, 10);
  const net::SendMsg msgs[] = {
      {a, to, {}, 0},
      {a, {ip("127.0.0.1"), 0}, {}, 0},  // port 0: EINVAL
      {a, {ip("::1"), 9}, {}, 0},        // IPv6 destination on an IPv4 socket
      {a, to, {}, 0},
  };
  std::array<net::SendStatus, 4> status;
  const auto res = client.send_batch(msgs, status);
  CHECK(res.handled == 4);
  CHECK(res.sent == 2);
  CHECK_FALSE(status[0].error);
  CHECK(status[1].error == std::errc::invalid_argument);
  CHECK_FALSE(status[1].source_stale);
  CHECK(status[2].error == std::errc::address_family_not_supported);
  CHECK_FALSE(status[3].error);
  CHECK(client.stats().send_errors.load() == 2);
  base::PacketPool pool(8);
  CHECK(receive(server, 2, pool).size() == 2);
}

// Runs an `ip` command in the calling thread's namespace.
void ip_cmd(const std::string& args) {
  const std::string cmd = "ip " + args + " >/dev/null 2>&1";
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
}

// Waits (bounded) until `addr` can be bound: IPv6 addresses finish DAD in a work item.
void wait_bindable(const base::IpAddr& addr) {
  for (int i = 0; i < 200; ++i) {
    net::UdpOptions o;
    o.family = addr.family();
    o.bind_addr = addr;
    if (net::UdpSocket::open(o).ok()) return;
    ::poll(nullptr, 0, 10);
  }
  FAIL("address never became usable: " << addr.to_string());
}

TEST_CASE("sticky source: replies leave from the address chosen, a stale one is dropped") {
  ENTER_PRIVATE_NETNS(ns, "private netns");
  ip_cmd("addr add 10.1.0.1/32 dev lo");
  ip_cmd("addr add 10.1.0.2/32 dev lo");
  ip_cmd("addr add fd01::1/128 dev lo");
  ip_cmd("addr add fd01::2/128 dev lo");
  wait_bindable(ip("fd01::2"));
  struct Row {
    Family family;
    const char* dst;
    const char* alt_src;
    const char* stale_src;
  };
  const Row rows[] = {
      {Family::v4, "10.1.0.1", "10.1.0.2", "10.1.0.99"},  // 1
      {Family::v6, "fd01::1", "fd01::2", "fd01::99"},     // 2
  };
  for (std::size_t r = 0; r < std::size(rows); ++r) {
    INFO("row " << r + 1);
    net::UdpOptions o;
    o.family = rows[r].family;
    auto server = net::UdpSocket::open(o);  // every address
    auto client = net::UdpSocket::open(o);
    REQUIRE(server.ok());
    REQUIRE(client.ok());
    const base::Endpoint to{ip(rows[r].dst), server->port()};
    const auto data = numbered(7, 64);
    std::array<net::SendStatus, 3> status;
    const net::SendMsg msgs[] = {
        {data, to, {}, 0},                   // kernel's choice
        {data, to, ip(rows[r].alt_src), 0},  // sticky source
        {data, to, ip(rows[r].stale_src), 0},
    };
    const auto res = client->send_batch(msgs, status);
    CHECK(res.sent == 3);
    CHECK_FALSE(status[0].source_stale);
    CHECK_FALSE(status[1].source_stale);
    CHECK(status[2].source_stale);
    CHECK_FALSE(status[2].error);
    CHECK(client->stats().stale_sources.load() == 1);
    base::PacketPool pool(8);
    const auto got = receive(*server, 3, pool);
    REQUIRE(got.size() == 3);
    CHECK(got[1].meta.source == base::Endpoint{ip(rows[r].alt_src), client->port()});
    CHECK(got[2].meta.source.addr != ip(rows[r].stale_src));
    for (const auto& g : got) CHECK(g.meta.local == ip(rows[r].dst));  // pktinfo destination

    // The server answers from the address the datagram came to.
    const net::SendMsg reply[] = {
        {data, got[1].meta.source, got[1].meta.local, got[1].meta.ifindex}};
    REQUIRE(server->send_batch(reply).sent == 1);
    const auto back = receive(*client, 1, pool);
    REQUIRE(back.size() == 1);
    CHECK(back[0].meta.source == to);
    CHECK(back[0].meta.local == ip(rows[r].alt_src));
  }
}

TEST_CASE("SO_MARK is set at open and can be changed") {
  ENTER_PRIVATE_NETNS(ns, "private netns");
  net::UdpOptions o;
  o.fwmark = 0x1234;
  auto s = net::UdpSocket::open(o);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  CHECK(get_int_opt(s->fd(), SOL_SOCKET, SO_MARK) == 0x1234);
  REQUIRE(s->set_fwmark(0).ok());
  CHECK(get_int_opt(s->fd(), SOL_SOCKET, SO_MARK) == 0);
}

}  // namespace
