// SPDX-License-Identifier: MIT
// Steady state allocates nothing: after the handshake and a warm-up, thousands of packets
// cross two engines (TUN read, route, seal, UDP send, UDP receive, open, source check, TUN
// write, in both directions) without one heap allocation on any thread: malloc, calloc,
// realloc and operator new are all counted (base/testing/counting_alloc.hpp), which is why
// this test is a binary of its own. The same holds with TUN offloads (super-packets split on
// the way out, merged on the way in) and for packets staged while a peer has no session. A
// rekey allocates a little for the new session (its keypair and index), never per packet.
//
// The test thread allocates nothing inside a measured region either: packets are built
// before it and read back with recv() into a fixed buffer.
#include <doctest/doctest.h>

#include <optional>

#include <sys/socket.h>

#include "base/testing/counting_alloc.hpp"
#include "engine/testing/engine_pair.hpp"
#include "tun/virtio_hdr.hpp"

namespace {

using base::testing::CountAllocations;
using engine::testing::EnginePair;

using Buffer = std::array<std::byte, tun::testing::ChannelTun::kMaxPacket>;

// Reads every packet waiting on `fd` into `buf`; returns how many, and adds their bytes.
int drain(int fd, Buffer& buf, std::size_t* bytes = nullptr) {
  int n = 0;
  for (;;) {
    const ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (got <= 0) break;
    ++n;
    if (bytes != nullptr) *bytes += static_cast<std::size_t>(got);
  }
  return n;
}

// Waits (bounded; sanitizer builds on a busy machine are slow) until `done()`.
template <class Done, class Step>
void pump(Done done, Step step) {
  for (int spins = 0; spins < 20000 && !done(); ++spins) {
    step();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Sends to_b[from, to) into a and to_a[from, to) into b, reading both far ends meanwhile;
// returns the packets that came out of a and b.
std::pair<int, int> exchange(EnginePair& pair, const std::vector<base::Bytes>& to_b,
                             const std::vector<base::Bytes>& to_a, std::size_t from, std::size_t to,
                             Buffer& buf) {
  const int fd_a = pair.a.tun.peer_fd(0);
  const int fd_b = pair.b.tun.peer_fd(0);
  int got_a = 0, got_b = 0;
  for (std::size_t i = from; i < to; ++i) {
    while (!pair.a.tun.inject(0, to_b[i])) got_b += drain(fd_b, buf);
    while (!pair.b.tun.inject(0, to_a[i])) got_a += drain(fd_a, buf);
  }
  const int want = static_cast<int>(to - from);
  pump([&] { return got_a >= want && got_b >= want; },
       [&] {
         got_a += drain(fd_a, buf);
         got_b += drain(fd_b, buf);
       });
  return {got_a, got_b};
}

struct Traffic {
  explicit Traffic(int count) {
    for (int i = 0; i < count; ++i) {
      to_b.push_back(EnginePair::packet("10.0.0.1", "10.0.0.2", "to b " + std::to_string(i)));
      to_a.push_back(EnginePair::packet("10.0.0.2", "10.0.0.1", "to a " + std::to_string(i)));
    }
  }
  std::vector<base::Bytes> to_b, to_a;
};

// Handshake, keypair confirmation and first batches through every path.
void warm_up(EnginePair& pair, const Traffic& t, Buffer& buf) {
  std::optional<CountAllocations> counting(std::in_place);
  const auto [got_a, got_b] = exchange(pair, t.to_b, t.to_a, 0, 100, buf);
  INFO("warm-up: got_a=" << got_a << " got_b=" << got_b
                         << " drops_a=" << pair.a.engine.drops().total()
                         << " drops_b=" << pair.b.engine.drops().total());
  REQUIRE(got_a == 100);
  REQUIRE(got_b == 100);
  // The counter is live: the handshake (index table, keypairs) allocated.
  CHECK(counting->count() > 0);
}

TEST_CASE("zero heap allocations per packet in steady state, both directions") {
  EnginePair pair;
  constexpr int kPackets = 2000;
  const Traffic t(kPackets);
  auto buf = std::make_unique<Buffer>();
  warm_up(pair, t, *buf);

  std::optional<CountAllocations> counting(std::in_place);
  const auto [got_a, got_b] = exchange(pair, t.to_b, t.to_a, 100, kPackets, *buf);
  const std::uint64_t allocations = counting->count();
  counting.reset();
  CHECK(got_a == kPackets - 100);
  CHECK(got_b == kPackets - 100);
  MESSAGE("allocations while " << 2 * (kPackets - 100) << " packets crossed: " << allocations);
  CHECK(allocations == 0);
}

TEST_CASE("zero heap allocations with TUN offloads: super-packets split out, merged in") {
  engine::Options o = engine::testing::node_options(1);
  o.tun_offloads = tun::Offloads{true, true, true};
  EnginePair pair(o);
  // TCP super-packets of 10 segments of 1200 bytes, from a to b, with their virtio header.
  constexpr std::size_t kSegment = 1200, kSegments = 10;
  std::vector<base::Bytes> supers;
  for (std::uint32_t i = 0; i < 300; ++i) {
    tun::testing::PacketSpec s;
    s.src = *base::IpAddr::parse("10.0.0.1");
    s.dst = *base::IpAddr::parse("10.0.0.2");
    s.protocol = tun::kProtoTcp;
    s.seq = 1 + i * static_cast<std::uint32_t>(kSegment * kSegments);
    s.payload = tun::testing::pattern(kSegment * kSegments, i);
    const auto packet = tun::testing::build_packet(s);
    tun::VnetHdr h;
    h.flags = tun::VnetHdr::kNeedsCsum;
    h.gso_type = tun::VnetHdr::kGsoTcpV4;
    h.hdr_len = 40;
    h.gso_size = kSegment;
    h.csum_start = 20;
    h.csum_offset = tun::VnetHdr::kTcpCsumOffset;
    base::Bytes framed(tun::VnetHdr::kSize + packet.size());
    h.store(framed);
    base::copy_into(base::ByteSpan(framed).subspan(tun::VnetHdr::kSize), packet);
    supers.push_back(std::move(framed));
  }
  auto buf = std::make_unique<Buffer>();
  const int fd_b = pair.b.tun.peer_fd(0);
  // Payload bytes that reached b's TUN (merged writes carry several segments each).
  auto send = [&](std::size_t from, std::size_t to) {
    std::size_t bytes = 0;
    for (std::size_t i = from; i < to; ++i) {
      while (!pair.a.tun.inject(0, supers[i])) drain(fd_b, *buf, &bytes);
    }
    const std::size_t want_min = (to - from) * kSegment * kSegments;
    pump([&] { return bytes >= want_min; }, [&] { drain(fd_b, *buf, &bytes); });
    return bytes;
  };
  {
    std::optional<CountAllocations> warm(std::in_place);
    // The handshake first, with a plain packet (behind an all-zero virtio header), so that no
    // super-packet waits in staging.
    const auto hello = EnginePair::packet("10.0.0.1", "10.0.0.2", "hello");
    base::Bytes framed(tun::VnetHdr::kSize + hello.size());
    base::copy_into(base::ByteSpan(framed).subspan(tun::VnetHdr::kSize), hello);
    REQUIRE(pair.a.inject_within(0, framed));
    std::size_t hello_bytes = 0;
    pump([&] { return hello_bytes > 0; }, [&] { drain(fd_b, *buf, &hello_bytes); });
    REQUIRE(hello_bytes == framed.size());
    REQUIRE(send(0, 20) >= 20 * kSegment * kSegments);
    CHECK(warm->count() > 0);
  }
  std::optional<CountAllocations> counting(std::in_place);
  const std::size_t bytes = send(20, supers.size());
  const std::uint64_t allocations = counting->count();
  counting.reset();
  CHECK(bytes >= (supers.size() - 20) * kSegment * kSegments);
  MESSAGE("allocations while " << (supers.size() - 20) * kSegments
                               << " segments crossed with offloads: " << allocations);
  CHECK(allocations == 0);
}

TEST_CASE("zero heap allocations while packets are staged for a peer without a session") {
  EnginePair pair;
  auto buf = std::make_unique<Buffer>();
  const Traffic t(100);
  warm_up(pair, t, *buf);
  // A peer that never answers; the first packet to it sends its (allocating) initiation.
  std::shared_ptr<wg::Peer> c;
  pair.a.on_control([&] {
    c = pair.a.engine.add_peer(base::PrivateKey::generate().public_key());
    c->set_endpoint({{*base::IpAddr::parse("127.0.0.1"), 9}, {}, 0});
    pair.a.engine.add_allowed_ip(*c, *base::IpPrefix::parse("10.0.0.3/32"));
    pair.a.engine.publish_routing();
  });
  std::vector<base::Bytes> to_c;
  for (int i = 0; i < 1000; ++i)
    to_c.push_back(EnginePair::packet("10.0.0.1", "10.0.0.3", "to c " + std::to_string(i)));
  REQUIRE(pair.a.inject_within(0, to_c[0]));
  pump([&] { return pair.a.engine.stats().staged == 1; }, [] {});
  REQUIRE(pair.a.engine.stats().staged == 1);

  // Staging only, evicting the oldest past 128. A region in which a handshake retry went out
  // (every 5 s; a slow sanitizer build may take that long) allocated for that handshake, not
  // for packets: such a region is measured again.
  std::uint64_t allocations = 0;
  std::uint64_t read_before = pair.a.engine.stats().tun_packets_read;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::uint64_t initiation_bytes = c->tx_bytes();
    std::optional<CountAllocations> counting(std::in_place);
    for (std::size_t i = 1; i < to_c.size(); ++i) {
      while (!pair.a.tun.inject(0, to_c[i])) std::this_thread::yield();
    }
    const std::uint64_t want = read_before + to_c.size() - 1;
    pump([&] { return pair.a.engine.stats().tun_packets_read >= want; }, [] {});
    allocations = counting->count();
    counting.reset();
    read_before = pair.a.engine.stats().tun_packets_read;
    if (c->tx_bytes() == initiation_bytes) break;
    MESSAGE("a handshake retry went out during the region; measuring again");
  }
  CHECK(pair.a.engine.stats().staged == wg::kMaxStagedPackets);
  MESSAGE("allocations while " << to_c.size() - 1 << " packets were staged: " << allocations);
  CHECK(allocations == 0);
}

TEST_CASE("a rekey under traffic allocates for the new session only, never per packet") {
  EnginePair pair;
  constexpr int kPackets = 2000;
  const Traffic t(kPackets);
  auto buf = std::make_unique<Buffer>();
  warm_up(pair, t, *buf);
  std::shared_ptr<wg::Peer> b;
  pair.a.on_control([&] {
    b = pair.a.engine.device().find_peer(pair.key_b.public_key());
    b->last_sent_handshake.reset();  // so the request below is not rate-limited
  });
  const wg::KeypairPtr before = b->keypairs.current();

  std::optional<CountAllocations> counting(std::in_place);
  b->request_handshake();  // the control thread's next tick starts it
  const auto [got_a, got_b] = exchange(pair, t.to_b, t.to_a, 100, kPackets, *buf);
  pump([&] { return b->keypairs.current() != before; }, [] {});
  const std::uint64_t allocations = counting->count();
  counting.reset();
  CHECK(b->keypairs.current() != before);
  CHECK(got_a == kPackets - 100);
  CHECK(got_b == kPackets - 100);
  MESSAGE("allocations while a rekey ran and " << 2 * (kPackets - 100)
                                               << " packets crossed: " << allocations);
  // A handshake on each side: keypairs, index entries, the control thread's scratch.
  CHECK(allocations <= 32);
}

}  // namespace
