// SPDX-License-Identifier: MIT
// Steady-state queue I/O allocates nothing: a counting global operator new (for this test
// binary) watches read_batch/write_batch, with and without offloads.
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <new>
#include <vector>

#include <sys/socket.h>

#include "tun/queue.hpp"
#include "tun/testing/channel_tun.hpp"
#include "tun/testing/packet_builder.hpp"

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

base::Bytes with_hdr(const tun::VnetHdr& h, const base::Bytes& pkt) {
  base::Bytes b(tun::VnetHdr::kSize + pkt.size());
  h.store(b);
  base::copy_into(base::ByteSpan(b).subspan(tun::VnetHdr::kSize), pkt);
  return b;
}

TEST_CASE("queue reads and writes allocate nothing per packet, with and without offloads") {
  {  // the counter works: it sees an allocation made on purpose
    t_counting = true;
    auto* probe = new std::vector<int>(3);
    t_counting = false;
    delete probe;
    REQUIRE(t_allocations >= 1);
    t_allocations = 0;
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
    for (int round = 0; round < 50; ++round) {
      REQUIRE(ch.inject(0, input));
      std::array<base::PacketRef, 32> batch;
      REQUIRE(pool.get_batch(batch) == 32);
      std::error_code ec;
      t_counting = true;
      const std::size_t n = q.read_batch(batch, ec);
      const std::size_t w = q.write_batch(std::span(batch.data(), n), ec);
      t_counting = false;
      REQUIRE(n == (offloads ? 10u : 1u));
      REQUIRE(w == n);
      packets += n;
      while (::recv(ch.peer_fd(0), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
      }
    }
    CHECK(packets > 0);
    CHECK(t_allocations == 0);
    t_allocations = 0;
  }
}

}  // namespace
