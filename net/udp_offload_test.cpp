// SPDX-License-Identifier: MIT
// UDP GSO on send and GRO on receive, over loopback (a UDP_SEGMENT send to a local UDP_GRO
// socket arrives as one coalesced buffer; to a socket without UDP_GRO as single datagrams).
#include <doctest/doctest.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <poll.h>
#include <unistd.h>
#include <vector>

#include "base/testing/netns.hpp"
#include "base/testing/skip.hpp"
#include "net/udp_socket.hpp"

namespace {

base::IpAddr ip(const char* s) {
  return base::IpAddr::parse(s).value();
}

net::UdpSocket open_socket(const char* addr, bool gso, bool gro,
                           const net::SocketHooks& hooks = {}) {
  net::UdpOptions o;
  o.bind_addr = ip(addr);
  o.family = o.bind_addr.family();
  o.gso = gso;
  o.gro = gro;
  o.hooks = hooks;
  auto s = net::UdpSocket::open(o);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(s.value());
}

base::Bytes numbered(std::uint32_t n, std::size_t size) {
  base::Bytes b(size, std::byte(n & 0xff));
  if (size >= 4) base::store_be32(b, n);
  return b;
}

struct Got {
  base::Bytes data;
  net::RecvMeta meta;
};

// One recv_batch with `slots` buffers, after waiting (bounded) for the socket or pending data.
std::vector<Got> recv_once(net::UdpSocket& s, base::PacketPool& pool, std::size_t slots) {
  if (!s.has_pending()) {
    pollfd p{s.fd(), POLLIN, 0};
    ::poll(&p, 1, 2000);
  }
  std::vector<base::PacketRef> bufs(slots);
  std::vector<net::RecvMeta> meta(slots);
  pool.get_batch(bufs);
  std::error_code ec;
  const std::size_t n = s.recv_batch(bufs, meta, ec);
  REQUIRE_FALSE(ec);
  std::vector<Got> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back({base::Bytes(bufs[i]->data().begin(), bufs[i]->data().end()), meta[i]});
  }
  return out;
}

std::vector<Got> recv_all(net::UdpSocket& s, base::PacketPool& pool, std::size_t want,
                          std::size_t slots = net::kMaxBatch) {
  std::vector<Got> all;
  for (int i = 0; i < 50 && all.size() < want; ++i) {
    auto got = recv_once(s, pool, slots);
    all.insert(all.end(), got.begin(), got.end());
  }
  return all;
}

TEST_CASE("GSO and GRO are probed, and switched") {
  auto s = open_socket("127.0.0.1", true, true);
  CHECK(s.gso_supported());  // Linux >= 4.18
  CHECK(s.gso_enabled());
  CHECK(s.gro_enabled());  // Linux >= 5.12
  s.set_gso(false);
  CHECK_FALSE(s.gso_enabled());
  s.set_gso(true);
  CHECK(s.gso_enabled());
  auto off = open_socket("::1", false, false);
  CHECK(off.gso_supported());
  CHECK_FALSE(off.gso_enabled());
  CHECK_FALSE(off.gro_enabled());
}

TEST_CASE("runs of equal datagrams go out as GSO sends; a plain receiver sees each one") {
  auto server = open_socket("127.0.0.1", false, false);
  auto client = open_socket("127.0.0.1", true, false);
  const base::Endpoint to{ip("127.0.0.1"), server.port()};
  std::vector<base::Bytes> payloads;
  for (std::uint32_t i = 0; i < 128; ++i) payloads.push_back(numbered(i, 1452));
  std::vector<net::SendMsg> msgs;
  for (const auto& p : payloads) msgs.push_back({p, to, {}, 0});
  const auto res = client.send_batch(msgs);
  CHECK(res.sent == 128);
  CHECK(client.stats().send_syscalls.load() == 1);
  // 65507 bytes per GSO send: 45 + 45 + 38 datagrams.
  CHECK(client.stats().gso_sends.load() == 3);
  base::PacketPool pool(256);
  const auto got = recv_all(server, pool, 128);
  REQUIRE(got.size() == 128);
  for (std::size_t i = 0; i < 128; ++i) CHECK(got[i].data == payloads[i]);
}

TEST_CASE("a run ends at a larger datagram, after a shorter one, or at another route") {
  auto a = open_socket("127.0.0.1", false, false);
  auto b = open_socket("127.0.0.1", false, false);
  auto client = open_socket("127.0.0.1", true, false);
  const base::Endpoint to_a{ip("127.0.0.1"), a.port()};
  const base::Endpoint to_b{ip("127.0.0.1"), b.port()};
  struct Row {
    const char* what;
    std::vector<std::pair<int, std::size_t>> msgs;  // (destination 0/1, size)
    std::uint64_t gso_sends;
  };
  const Row rows[] = {
      {"1 equal run with a short tail", {{0, 1000}, {0, 1000}, {0, 1000}, {0, 500}}, 1},
      {"2 shorter ends it", {{0, 1000}, {0, 500}, {0, 1000}, {0, 1000}}, 2},
      {"3 larger ends it", {{0, 500}, {0, 1000}}, 0},
      {"4 alternating destinations", {{0, 100}, {1, 100}, {0, 100}, {1, 100}}, 0},
      {"5 two runs", {{0, 100}, {0, 100}, {1, 100}, {1, 100}}, 2},
  };
  base::PacketPool pool(64);
  for (const Row& row : rows) {
    INFO(row.what);
    const auto before = client.stats().gso_sends.load();
    std::vector<base::Bytes> payloads;
    std::vector<net::SendMsg> msgs;
    for (std::size_t i = 0; i < row.msgs.size(); ++i) {
      payloads.push_back(numbered(static_cast<std::uint32_t>(i), row.msgs[i].second));
    }
    for (std::size_t i = 0; i < row.msgs.size(); ++i) {
      msgs.push_back({payloads[i], row.msgs[i].first == 0 ? to_a : to_b, {}, 0});
    }
    CHECK(client.send_batch(msgs).sent == msgs.size());
    CHECK(client.stats().gso_sends.load() - before == row.gso_sends);
    std::size_t to_a_count = 0;
    for (const auto& m : row.msgs) to_a_count += m.first == 0 ? 1 : 0;
    const auto got_a = recv_all(a, pool, to_a_count);
    const auto got_b = recv_all(b, pool, row.msgs.size() - to_a_count);
    CHECK(got_a.size() + got_b.size() == row.msgs.size());
    std::size_t ia = 0;
    for (std::size_t i = 0; i < row.msgs.size(); ++i) {  // order kept per destination
      if (row.msgs[i].first == 0 && ia < got_a.size()) CHECK(got_a[ia++].data == payloads[i]);
    }
  }
}

TEST_CASE("GRO buffers are split in order; what does not fit waits for the next call") {
  auto server = open_socket("127.0.0.1", false, true);
  auto client = open_socket("127.0.0.1", true, false);
  const base::Endpoint to{ip("127.0.0.1"), server.port()};
  std::vector<base::Bytes> payloads;
  for (std::uint32_t i = 0; i < 40; ++i) payloads.push_back(numbered(i, 1000));
  payloads.push_back(numbered(40, 300));
  std::vector<net::SendMsg> msgs;
  for (const auto& p : payloads) msgs.push_back({p, to, {}, 0});
  REQUIRE(client.send_batch(msgs).sent == 41);
  CHECK(client.stats().gso_sends.load() == 1);

  base::PacketPool pool(64);
  std::vector<Got> all;
  std::vector<std::size_t> counts;
  std::vector<bool> pending;
  for (int i = 0; i < 3; ++i) {
    auto got = recv_once(server, pool, 16);
    counts.push_back(got.size());
    pending.push_back(server.has_pending());
    all.insert(all.end(), got.begin(), got.end());
  }
  CHECK(counts == std::vector<std::size_t>{16, 16, 9});
  CHECK(pending == std::vector<bool>{true, true, false});
  REQUIRE(all.size() == 41);
  for (std::size_t i = 0; i < 41; ++i) {
    CHECK(all[i].data == payloads[i]);
    CHECK(all[i].meta.source == base::Endpoint{ip("127.0.0.1"), client.port()});
    CHECK(all[i].meta.local == ip("127.0.0.1"));
  }
  CHECK(server.stats().gro_buffers.load() == 1);
  CHECK(server.stats().datagrams_received.load() == 41);
}

TEST_CASE("GRO keeps the order of datagrams across coalesced buffers of several flows") {
  auto server = open_socket("::1", false, true);
  auto c1 = open_socket("::1", true, false);
  auto c2 = open_socket("::1", true, false);
  const base::Endpoint to{ip("::1"), server.port()};
  std::vector<base::Bytes> p1;
  std::vector<base::Bytes> p2;
  std::vector<net::SendMsg> m1;
  std::vector<net::SendMsg> m2;
  for (std::uint32_t i = 0; i < 30; ++i) p1.push_back(numbered(i, 800));
  for (std::uint32_t i = 0; i < 30; ++i) p2.push_back(numbered(1000 + i, 800));
  for (const auto& p : p1) m1.push_back({p, to, {}, 0});
  for (const auto& p : p2) m2.push_back({p, to, {}, 0});
  REQUIRE(c1.send_batch(m1).sent == 30);
  REQUIRE(c2.send_batch(m2).sent == 30);
  base::PacketPool pool(64);
  const auto all = recv_all(server, pool, 60, 16);
  REQUIRE(all.size() == 60);
  std::size_t i1 = 0;
  std::size_t i2 = 0;
  for (const auto& g : all) {
    if (g.meta.source.port == c1.port()) {
      REQUIRE(i1 < 30);
      CHECK(g.data == p1[i1++]);
    } else {
      REQUIRE(i2 < 30);
      CHECK(g.data == p2[i2++]);
    }
  }
  CHECK_FALSE(server.has_pending());
}

TEST_CASE("coalesced datagrams too long for the buffers are dropped and counted") {
  auto server = open_socket("127.0.0.1", false, true);
  auto client = open_socket("127.0.0.1", true, false);
  const base::Endpoint to{ip("127.0.0.1"), server.port()};
  const auto big = numbered(1, 500);
  const auto small = numbered(2, 100);
  const net::SendMsg run[] = {{big, to, {}, 0}, {big, to, {}, 0}, {big, to, {}, 0}};
  REQUIRE(client.send_batch(run).sent == 3);
  const net::SendMsg after[] = {{small, to, {}, 0}};
  REQUIRE(client.send_batch(after).sent == 1);
  base::PacketPool pool(8, 256);  // read area 160 bytes
  const auto got = recv_all(server, pool, 1, 8);
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == small);
  CHECK(server.stats().receive_dropped.load() == 3);
}

// sendmmsg that refuses GSO messages with EIO, as an egress without checksum offload does.
int eio_for_gso(int fd, mmsghdr* msgs, unsigned count, int flags) {
  for (unsigned i = 0; i < count; ++i) {
    if (msgs[i].msg_hdr.msg_iovlen > 1) {
      if (i == 0) {
        errno = EIO;
        return -1;
      }
      return ::sendmmsg(fd, msgs, i, flags);
    }
  }
  return ::sendmmsg(fd, msgs, count, flags);
}

TEST_CASE("EIO on a GSO send switches GSO off and resends the datagrams one by one") {
  auto server = open_socket("127.0.0.1", false, false);
  net::SocketHooks hooks;
  hooks.sendmmsg = eio_for_gso;
  auto client = open_socket("127.0.0.1", true, false, hooks);
  const base::Endpoint to{ip("127.0.0.1"), server.port()};
  std::vector<base::Bytes> payloads;
  std::vector<net::SendMsg> msgs;
  for (std::uint32_t i = 0; i < 10; ++i) payloads.push_back(numbered(i, 700));
  for (const auto& p : payloads) msgs.push_back({p, to, {}, 0});
  std::vector<net::SendStatus> status(10);
  const auto res = client.send_batch(msgs, status);
  CHECK(res.sent == 10);
  for (const auto& st : status) CHECK_FALSE(st.error);
  CHECK_FALSE(client.gso_enabled());
  CHECK(client.stats().gso_disabled.load() == 1);
  CHECK(client.stats().gso_sends.load() == 0);
  base::PacketPool pool(32);
  const auto got = recv_all(server, pool, 10);
  REQUIRE(got.size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(got[i].data == payloads[i]);
  // Later batches go without GSO from the start.
  CHECK(client.send_batch(msgs).sent == 10);
  CHECK(client.stats().gso_disabled.load() == 1);
}

TEST_CASE("GSO runs keep their sticky source, and a stale one is retried without it") {
  ENTER_PRIVATE_NETNS(ns, "private netns");
  REQUIRE(std::system("ip addr add 10.1.0.1/32 dev lo && ip addr add 10.1.0.2/32 dev lo") == 0);
  net::UdpOptions o;
  auto server = net::UdpSocket::open(o);
  auto client = net::UdpSocket::open(o);
  REQUIRE(server.ok());
  REQUIRE(client.ok());
  const base::Endpoint to{ip("10.1.0.1"), server->port()};
  std::vector<base::Bytes> payloads;
  std::vector<net::SendMsg> msgs;
  for (std::uint32_t i = 0; i < 8; ++i) payloads.push_back(numbered(i, 600));
  for (std::size_t i = 0; i < 8; ++i) {
    msgs.push_back({payloads[i], to, ip(i < 4 ? "10.1.0.2" : "10.1.0.77"), 0});
  }
  std::vector<net::SendStatus> status(8);
  const auto res = client->send_batch(msgs, status);
  CHECK(res.sent == 8);
  CHECK(client->stats().gso_sends.load() == 1);  // the good run; the stale one went singly
  for (std::size_t i = 0; i < 8; ++i) CHECK(status[i].source_stale == (i >= 4));
  base::PacketPool pool(32);
  const auto got = recv_all(*server, pool, 8);
  REQUIRE(got.size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(got[i].data == payloads[i]);
    if (i < 4) CHECK(got[i].meta.source.addr == ip("10.1.0.2"));
    CHECK(got[i].meta.local == ip("10.1.0.1"));
  }
}

}  // namespace
