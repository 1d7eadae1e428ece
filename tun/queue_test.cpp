// SPDX-License-Identifier: MIT
#include "tun/queue.hpp"

#include <doctest/doctest.h>

#include <array>
#include <csignal>

#include "tun/testing/channel_tun.hpp"
#include "tun/testing/packet_builder.hpp"

namespace {

base::Bytes udp_packet(std::size_t payload, unsigned seed) {
  tun::testing::PacketSpec s;
  s.src = *base::IpAddr::parse("10.0.0.1");
  s.dst = *base::IpAddr::parse("10.0.0.2");
  s.payload = tun::testing::pattern(payload, seed);
  return tun::testing::build_packet(s);
}

TEST_CASE("read_batch reads injected packets in order and stops when the queue is empty") {
  tun::testing::ChannelTun ch(2);
  tun::Queue q(ch.fd(1));
  std::vector<base::Bytes> sent;
  for (unsigned i = 0; i < 5; ++i) {
    sent.push_back(udp_packet(100 + i * 50, i));
    REQUIRE(ch.inject(1, sent.back()));
  }
  base::PacketPool pool(16);
  std::array<base::PacketRef, 8> batch;
  REQUIRE(pool.get_batch(batch) == 8);
  std::error_code ec;
  const std::size_t n = q.read_batch(batch, ec);
  CHECK_FALSE(ec);
  REQUIRE(n == 5);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(base::equal_bytes(batch[i]->data(), sent[i]));
    // Reads land at the headroom, so the transport header can be pushed in front.
    CHECK(batch[i]->headroom() == base::PacketBuf::kHeadroom);
  }
  CHECK(q.stats().packets_read.get() == 5);
  CHECK(q.read_batch(batch, ec) == 0);
  CHECK_FALSE(ec);
  // Queue 0 saw nothing.
  tun::Queue q0(ch.fd(0));
  CHECK(q0.read_batch(batch, ec) == 0);
}

TEST_CASE("read_batch stops at a full batch and at the first empty slot") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0));
  for (unsigned i = 0; i < 10; ++i) REQUIRE(ch.inject(0, udp_packet(64, i)));
  base::PacketPool pool(8);
  std::array<base::PacketRef, 4> batch;
  REQUIRE(pool.get_batch(batch) == 4);
  std::error_code ec;
  CHECK(q.read_batch(batch, ec) == 4);  // full
  batch[2].reset();
  CHECK(q.read_batch(batch, ec) == 2);  // stops at the null slot
  std::array<base::PacketRef, 8> big;
  REQUIRE(pool.get_batch(big) == 5);  // 3 still out in `batch`
  CHECK(q.read_batch(big, ec) == 4);  // the rest
  CHECK(q.stats().packets_read.get() == 10);
}

TEST_CASE("a packet that fills the read area is taken as cut short and dropped") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0));
  base::PacketPool pool(2, 256);  // read area 256 - 64 - 32 = 160 bytes
  REQUIRE(ch.inject(0, base::Bytes(160, std::byte{1})));
  REQUIRE(ch.inject(0, base::Bytes(500, std::byte{2})));
  REQUIRE(ch.inject(0, base::Bytes(159, std::byte{3})));
  std::array<base::PacketRef, 2> batch;
  REQUIRE(pool.get_batch(batch) == 2);
  std::error_code ec;
  REQUIRE(q.read_batch(batch, ec) == 1);
  CHECK(batch[0]->size() == 159);
  CHECK(q.stats().read_dropped.get() == 2);
}

TEST_CASE("write_batch writes every packet unchanged, in order") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0));
  base::PacketPool pool(4);
  std::array<base::PacketRef, 3> batch;
  REQUIRE(pool.get_batch(batch) == 3);
  std::vector<base::Bytes> want;
  for (unsigned i = 0; i < 3; ++i) {
    want.push_back(udp_packet(10 + i, i));
    auto area = batch[i]->read_area();
    base::copy_into(area, want.back());
    batch[i]->set_size(want.back().size());
  }
  std::error_code ec;
  CHECK(q.write_batch(batch, ec) == 3);
  CHECK_FALSE(ec);
  const auto got = ch.receive_all(0);
  REQUIRE(got.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(got[i] == want[i]);
  CHECK(q.stats().packets_written.get() == 3);
  CHECK(q.stats().bytes_written.get() == want[0].size() + want[1].size() + want[2].size());
}

TEST_CASE("a closed peer is fatal for reads and writes") {
  std::signal(SIGPIPE, SIG_IGN);  // as meshtund does; a write to a closed socketpair raises it
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0));
  ch.close_peer();
  base::PacketPool pool(1);
  std::array<base::PacketRef, 1> batch;
  REQUIRE(pool.get_batch(batch) == 1);
  std::error_code ec;
  CHECK(q.read_batch(batch, ec) == 0);
  CHECK(tun::is_fatal(ec));
  const auto pkt = udp_packet(10, 0);
  CHECK_FALSE(q.write(pkt, ec));
  CHECK(tun::is_fatal(ec));
  CHECK(q.stats().write_errors.get() == 1);
}

TEST_CASE("is_fatal separates a gone queue from transient errors") {
  CHECK(tun::is_fatal(std::error_code(EBADFD, std::system_category())));
  CHECK(tun::is_fatal(std::error_code(EBADF, std::system_category())));
  CHECK_FALSE(tun::is_fatal(std::error_code(EIO, std::system_category())));
  CHECK_FALSE(tun::is_fatal(std::error_code(EINVAL, std::system_category())));
  CHECK_FALSE(tun::is_fatal(std::error_code()));
}

}  // namespace
