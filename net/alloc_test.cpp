// SPDX-License-Identifier: MIT
// Steady-state UDP batch I/O allocates nothing: with every heap allocation counted
// (base/testing/counting_alloc.hpp), send_batch and recv_batch run with GSO and GRO and without.
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <new>
#include <poll.h>
#include <vector>

#include "base/testing/counting_alloc.hpp"
#include "net/udp_socket.hpp"

namespace {

TEST_CASE("UDP batch sends and receives allocate nothing per datagram") {
  {  // the counter works: it sees an allocation made on purpose
    base::testing::CountAllocations counting;
    auto* probe = new std::vector<int>(3);
    delete probe;
    REQUIRE(counting.count() >= 1);
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
    std::uint64_t allocations = 0;
    for (int round = 0; round < 20; ++round) {
      net::SendResult res;
      {
        base::testing::CountAllocations counting;
        res = tx->send_batch(msgs, status);
        allocations += counting.count();
      }
      REQUIRE(res.sent == 64);
      std::size_t got = 0;
      for (int i = 0; i < 100 && got < 64; ++i) {
        pollfd p{rx->fd(), POLLIN, 0};
        if (!rx->has_pending()) ::poll(&p, 1, 1000);
        std::array<base::PacketRef, 32> bufs;
        pool.get_batch(bufs);
        std::error_code ec;
        base::testing::CountAllocations counting;
        got += rx->recv_batch(bufs, meta, ec);
        allocations += counting.count();
      }
      REQUIRE(got == 64);
      received += got;
    }
    CHECK(received == 20 * 64);
    CHECK(allocations == 0);
  }
}

}  // namespace
