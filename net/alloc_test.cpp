// SPDX-License-Identifier: MIT
// Steady-state UDP batch I/O allocates nothing: a counting global operator new (for this test
// binary) watches send_batch/recv_batch, with GSO and GRO and without.
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <new>
#include <poll.h>
#include <vector>

#include "net/udp_socket.hpp"

// GCC cannot see that these operator new and delete are a matching malloc/free pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
thread_local bool t_counting = false;
thread_local std::size_t t_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (t_counting) ++t_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return ::operator new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

TEST_CASE("UDP batch sends and receives allocate nothing per datagram") {
  {  // the counter works: it sees an allocation made on purpose
    t_counting = true;
    auto* probe = new std::vector<int>(3);
    t_counting = false;
    delete probe;
    REQUIRE(t_allocations >= 1);
    t_allocations = 0;
  }
  for (const bool offload : {false, true}) {
    INFO("offload=" << offload);
    net::UdpOptions o;
    o.bind_addr = *base::IpAddr::parse("127.0.0.1");
    o.gso = offload;
    o.gro = offload;
    auto rx = net::UdpSocket::open(o);
    auto tx = net::UdpSocket::open(o);
    REQUIRE(rx.ok());
    REQUIRE(tx.ok());
    const base::Endpoint to{o.bind_addr, rx->port()};
    const base::Bytes payload(1200, std::byte{7});
    std::vector<net::SendMsg> msgs(64, net::SendMsg{payload, to, {}, 0});
    std::array<net::SendStatus, 64> status;
    base::PacketPool pool(128);
    std::array<net::RecvMeta, 32> meta;
    std::size_t received = 0;
    for (int round = 0; round < 20; ++round) {
      t_counting = true;
      const auto res = tx->send_batch(msgs, status);
      t_counting = false;
      REQUIRE(res.sent == 64);
      std::size_t got = 0;
      for (int i = 0; i < 100 && got < 64; ++i) {
        pollfd p{rx->fd(), POLLIN, 0};
        if (!rx->has_pending()) ::poll(&p, 1, 1000);
        std::array<base::PacketRef, 32> bufs;
        pool.get_batch(bufs);
        std::error_code ec;
        t_counting = true;
        got += rx->recv_batch(bufs, meta, ec);
        t_counting = false;
      }
      REQUIRE(got == 64);
      received += got;
    }
    CHECK(received == 20 * 64);
    CHECK(t_allocations == 0);
    t_allocations = 0;
  }
}

}  // namespace
