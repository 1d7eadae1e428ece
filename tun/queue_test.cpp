// SPDX-License-Identifier: MIT
#include "tun/queue.hpp"

#include <doctest/doctest.h>

#include <array>
#include <csignal>

#include "tun/headers.hpp"
#include "tun/testing/channel_tun.hpp"
#include "tun/testing/packet_builder.hpp"
#include "tun/testing/reference_checksum.hpp"

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

// ---- with a virtio_net_hdr (offloads) ----

const tun::Offloads kAll{true, true, true};

base::Bytes with_hdr(const tun::VnetHdr& h, base::ConstByteSpan pkt) {
  base::Bytes b(tun::VnetHdr::kSize + pkt.size());
  h.store(b);
  base::copy_into(base::ByteSpan(b).subspan(tun::VnetHdr::kSize), pkt);
  return b;
}

tun::testing::PacketSpec tcp_spec(std::uint32_t seq, std::size_t len, std::uint8_t flags = 0x10) {
  tun::testing::PacketSpec s;
  s.src = *base::IpAddr::parse("10.0.0.1");
  s.dst = *base::IpAddr::parse("10.0.0.2");
  s.protocol = tun::kProtoTcp;
  s.seq = seq;
  s.tcp_flags = flags;
  s.payload = tun::testing::pattern(len, seq);
  return s;
}

TEST_CASE("offload reads: plain packets stay in place, NEEDS_CSUM is completed") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0), kAll);
  const auto plain = udp_packet(300, 1);
  REQUIRE(ch.inject(0, with_hdr({}, plain)));
  auto partial = tun::testing::build_packet(tcp_spec(5, 200));
  base::store_be16(base::ByteSpan(partial).subspan(36), 0x1234);  // not the final checksum
  tun::VnetHdr h;
  h.flags = tun::VnetHdr::kNeedsCsum;
  h.csum_start = 20;
  h.csum_offset = 16;
  // What the kernel leaves in the field: the pseudo-header sum.
  const base::ConstByteSpan pv(partial);
  base::store_be16(base::ByteSpan(partial).subspan(36),
                   tun::pseudo_header_sum(pv.subspan(12, 4), pv.subspan(16, 4), tun::kProtoTcp,
                                          static_cast<std::uint32_t>(partial.size() - 20)));
  REQUIRE(ch.inject(0, with_hdr(h, partial)));
  base::PacketPool pool(4);
  std::array<base::PacketRef, 4> batch;
  REQUIRE(pool.get_batch(batch) == 4);
  std::error_code ec;
  REQUIRE(q.read_batch(batch, ec) == 2);
  CHECK(base::equal_bytes(batch[0]->data(), plain));
  CHECK(tun::testing::reference_checksums_ok(batch[1]->data()));
  CHECK(q.stats().csum_completed.get() == 1);
  CHECK_FALSE(q.has_pending());
}

TEST_CASE("a super-packet is split into buffers across several batches") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0), kAll);
  const auto spec = tcp_spec(1000, 5000, 0x18);
  const auto super = tun::testing::build_packet(spec);
  tun::VnetHdr h;
  h.flags = tun::VnetHdr::kNeedsCsum;
  h.gso_type = tun::VnetHdr::kGsoTcpV4;
  h.hdr_len = 40;
  h.gso_size = 500;
  h.csum_start = 20;
  h.csum_offset = 16;
  REQUIRE(ch.inject(0, with_hdr(h, super)));
  const auto after = udp_packet(50, 7);
  REQUIRE(ch.inject(0, with_hdr({}, after)));
  base::PacketPool pool(16);
  base::Bytes joined;
  std::vector<std::size_t> counts;
  std::error_code ec;
  for (int round = 0; round < 4; ++round) {
    std::array<base::PacketRef, 4> batch;
    REQUIRE(pool.get_batch(batch) == 4);
    const std::size_t n = q.read_batch(batch, ec);
    REQUIRE_FALSE(ec);
    counts.push_back(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto d = batch[i]->data();
      CHECK(tun::testing::reference_checksums_ok(d));
      if (base::equal_bytes(d, after)) continue;
      joined.insert(joined.end(), d.begin() + 40, d.end());
    }
    if (round < 2) CHECK(q.has_pending());
  }
  CHECK(counts == std::vector<std::size_t>{4, 4, 3, 0});  // 10 segments, then the UDP packet
  CHECK(joined == spec.payload);
  CHECK(q.stats().gso_read.get() == 1);
  CHECK(q.stats().packets_read.get() == 11);
}

TEST_CASE("offload reads drop bad headers and segments that cannot fit") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0), kAll);
  const auto super = tun::testing::build_packet(tcp_spec(1, 4000));
  tun::VnetHdr h;
  h.flags = tun::VnetHdr::kNeedsCsum;
  h.gso_type = tun::VnetHdr::kGsoUdp;  // UFO: refused
  h.gso_size = 1000;
  h.csum_start = 20;
  h.csum_offset = 16;
  REQUIRE(ch.inject(0, with_hdr(h, super)));
  h.gso_type = tun::VnetHdr::kGsoTcpV4;
  h.gso_size = 1950;  // 40 + 1950 does not fit a 2048-byte buffer's read area
  REQUIRE(ch.inject(0, with_hdr(h, super)));
  REQUIRE(ch.inject(0, base::Bytes(5, std::byte{0})));  // shorter than a virtio header
  base::PacketPool pool(4);
  std::array<base::PacketRef, 4> batch;
  REQUIRE(pool.get_batch(batch) == 4);
  std::error_code ec;
  CHECK(q.read_batch(batch, ec) == 0);
  CHECK(q.stats().read_dropped.get() == 3);
}

TEST_CASE("offload writes merge a TCP run and put single packets behind a zero header") {
  tun::testing::ChannelTun ch(1);
  tun::Queue q(ch.fd(0), kAll);
  base::PacketPool pool(8);
  std::array<base::PacketRef, 6> batch;
  REQUIRE(pool.get_batch(batch) == 6);
  std::vector<base::Bytes> pkts;
  for (std::uint32_t k = 0; k < 5; ++k) {
    pkts.push_back(tun::testing::build_packet(tcp_spec(100 + k * 1000, 1000)));
  }
  pkts.push_back(udp_packet(77, 3));
  for (std::size_t i = 0; i < 6; ++i) {
    base::copy_into(batch[i]->read_area(), pkts[i]);
    batch[i]->set_size(pkts[i].size());
  }
  std::error_code ec;
  CHECK(q.write_batch(batch, ec) == 6);
  CHECK_FALSE(ec);
  const auto got = ch.receive_all(0);
  REQUIRE(got.size() == 2);
  const auto merged_hdr = tun::VnetHdr::load(got[0]);
  CHECK(merged_hdr.gso_type == tun::VnetHdr::kGsoTcpV4);
  CHECK(merged_hdr.gso_size == 1000);
  CHECK(got[0].size() == tun::VnetHdr::kSize + 40 + 5000);
  CHECK(tun::VnetHdr::load(got[1]) == tun::VnetHdr{});
  CHECK(base::equal_bytes(base::ConstByteSpan(got[1]).subspan(tun::VnetHdr::kSize), pkts[5]));
  CHECK(q.stats().gso_written.get() == 1);
  CHECK(q.stats().packets_merged.get() == 5);
  CHECK(q.stats().packets_written.get() == 6);

  // With TCP merging switched off every packet goes alone.
  q.set_gro({.tcp = false, .udp = true});
  CHECK(q.write_batch(batch, ec) == 6);
  CHECK(ch.receive_all(0).size() == 6);
  // Without TSO negotiated nothing is merged either.
  tun::Queue plain_hdr(ch.fd(0), tun::Offloads{true, false, false});
  CHECK(plain_hdr.write_batch(batch, ec) == 6);
  CHECK(ch.receive_all(0).size() == 6);
}

}  // namespace
