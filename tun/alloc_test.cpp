// SPDX-License-Identifier: MIT
// Steady-state queue I/O allocates nothing: with every heap allocation counted
// (base/testing/counting_alloc.hpp), read_batch and write_batch run with and without offloads.
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <new>
#include <vector>

#include <sys/socket.h>

#include "base/testing/counting_alloc.hpp"
#include "tun/queue.hpp"
#include "tun/testing/channel_tun.hpp"
#include "tun/testing/packet_builder.hpp"

namespace {

base::Bytes with_hdr(const tun::VnetHdr& h, const base::Bytes& pkt) {
  base::Bytes b(tun::VnetHdr::kSize + pkt.size());
  h.store(b);
  base::copy_into(base::ByteSpan(b).subspan(tun::VnetHdr::kSize), pkt);
  return b;
}

TEST_CASE("queue reads and writes allocate nothing per packet, with and without offloads") {
  {  // the counter works: it sees an allocation made on purpose
    base::testing::CountAllocations counting;
    auto* probe = new std::vector<int>(3);
    delete probe;
    REQUIRE(counting.count() >= 1);
  }
  for (const bool offloads : {false, true}) {
    INFO("offloads=" << offloads);
    tun::testing::ChannelTun ch(1);
    const tun::Offloads off = offloads ? tun::Offloads{true, true, true} : tun::Offloads{};
    tun::Queue q(ch.fd(0), off);
    tun::testing::PacketSpec s;
    s.src = *base::IpAddr::parse("10.0.0.1");
    s.dst = *base::IpAddr::parse("10.0.0.2");
    s.protocol = tun::kProtoTcp;
    s.payload = tun::testing::pattern(offloads ? 14000 : 1400, 1);
    const auto pkt = tun::testing::build_packet(s);
    tun::VnetHdr h;
    h.flags = tun::VnetHdr::kNeedsCsum;
    h.gso_type = tun::VnetHdr::kGsoTcpV4;
    h.gso_size = 1400;
    h.csum_start = 20;
    h.csum_offset = 16;
    const auto input = offloads ? with_hdr(h, pkt) : pkt;
    base::PacketPool pool(64);
    base::Bytes sink(70000);
    std::size_t packets = 0;
    std::uint64_t allocations = 0;
    for (int round = 0; round < 50; ++round) {
      REQUIRE(ch.inject(0, input));
      std::array<base::PacketRef, 32> batch;
      REQUIRE(pool.get_batch(batch) == 32);
      std::error_code ec;
      std::size_t n = 0, w = 0;
      {
        base::testing::CountAllocations counting;
        n = q.read_batch(batch, ec);
        w = q.write_batch(std::span(batch.data(), n), ec);
        allocations += counting.count();
      }
      REQUIRE(n == (offloads ? 10u : 1u));
      REQUIRE(w == n);
      packets += n;
      while (::recv(ch.peer_fd(0), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
      }
    }
    CHECK(packets > 0);
    CHECK(allocations == 0);
  }
}

}  // namespace
