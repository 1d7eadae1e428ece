// SPDX-License-Identifier: MIT
// Hostile clients: each one is closed (and counted) while the others keep being served.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include "derp/client_handshake.hpp"
#include "derpserver/testing/server_fixture.hpp"

namespace {

using derp::FrameType;
using derpserver::testing::RawClient;
using derpserver::testing::ServerFixture;
using namespace std::chrono_literals;

// Two well-behaved clients that must keep working whatever the others do.
struct Pair {
  std::unique_ptr<RawClient> a;
  std::unique_ptr<RawClient> b;
  explicit Pair(ServerFixture& f) : a(f.logged_in()), b(f.logged_in()) {}
  bool works() {
    a->send_packet(b->key(), base::as_bytes("still here"));
    auto got = b->read_frame_of(FrameType::recv_packet);
    return got && base::as_chars(base::ConstByteSpan(got->payload).subspan(32)) == "still here";
  }
};

// Upgrades and reads the greeting, leaving the connection before ClientInfo.
void upgrade_only(RawClient& c, std::uint16_t port) {
  REQUIRE(c.connect(port));
  derp::UpgradeRequest req;
  req.host = "x";
  c.send(base::as_bytes(derp::upgrade_request_text(req)));
  const auto head = c.read_bytes(1);  // something came back
  REQUIRE(!head.empty());
}

TEST_CASE("garbage after the upgrade closes that connection only") {
  ServerFixture f;
  f.start();
  Pair p(f);
  REQUIRE(p.works());
  RawClient bad(f.pumper());
  upgrade_only(bad, f.port());
  base::Bytes junk(4096);
  for (std::size_t i = 0; i < junk.size(); ++i)
    junk[i] = std::byte(static_cast<unsigned>(i * 7 + 3));
  bad.send(junk);
  CHECK(bad.wait_closed());
  CHECK(f.server().counters().protocol_errors.load() == 1);
  CHECK(p.works());
}

TEST_CASE("a bad ClientInfo (does not open) closes without ServerInfo") {
  ServerFixture f;
  f.start();
  RawClient bad(f.pumper());
  upgrade_only(bad, f.port());
  base::Bytes ci;
  derp::encode_client_info(ci, base::Bytes(200, std::byte{9}));
  bad.send(ci);
  CHECK(bad.wait_closed());
  CHECK(f.server().counters().bad_client_info.load() == 1);
}

TEST_CASE("a frame length over the limit closes the connection before any payload") {
  ServerFixture f;
  f.start();
  Pair p(f);
  auto bad = f.logged_in();
  REQUIRE(bad);
  base::Bytes hdr(5);
  derp::write_frame_header(std::span<std::byte, 5>(hdr.data(), 5), FrameType::send_packet,
                           0x7fffffff);
  bad->send(hdr);
  CHECK(bad->wait_closed());
  CHECK(f.server().counters().protocol_errors.load() == 1);
  // Just over: 32 + 65537.
  auto bad2 = f.logged_in();
  REQUIRE(bad2);
  derp::write_frame_header(std::span<std::byte, 5>(hdr.data(), 5), FrameType::send_packet,
                           32 + 65537);
  bad2->send(hdr);
  CHECK(bad2->wait_closed());
  // Exactly 64 KiB of data is fine.
  p.a->send_packet(p.b->key(), base::Bytes(65536, std::byte{1}));
  auto big = p.b->read_frame_of(FrameType::recv_packet);
  REQUIRE(big);
  CHECK(big->payload.size() == 32 + 65536);
  CHECK(p.works());
}

TEST_CASE("a client that never reads: others keep flowing, it is closed by the write timeout") {
  ServerFixture f;
  f.start();
  Pair p(f);
  RawClient stuck(f.pumper());
  stuck.set_rcvbuf(4096);
  REQUIRE(stuck.login(f.port()));
  // Fill the stuck client's path: the server's queue drops from its head, the socket fills.
  const base::Bytes big(60000, std::byte{7});
  for (int i = 0; i < 300; ++i) {
    p.a->send_packet(stuck.key(), big);
    // Interleave traffic to b, which must keep arriving (no head-of-line blocking).
    if (i % 50 == 0) REQUIRE(p.works());
    f.pump();
  }
  CHECK(f.server().drops(derpserver::DropReason::queue_head) > 0);
  CHECK(p.works());
  // The stalled write times out once the clock says so.
  f.tick(3s);
  CHECK(f.pump_until([&] { return f.server().counters().write_timeouts.load() == 1; }));
  CHECK(stuck.wait_closed());
  CHECK(p.works());
}

TEST_CASE("a thousand connections that open and drop; the server keeps serving") {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  ServerFixture f;
  f.start();
  Pair p(f);
  const std::size_t base_streams = f.streams();
  std::vector<std::unique_ptr<RawClient>> crowd;
  for (int i = 0; i < 1000; ++i) {
    auto c = std::make_unique<RawClient>(f.pumper());
    REQUIRE(c->connect(f.port()));
    switch (i % 4) {
      case 0:
        break;  // silent
      case 1:
        c->send(base::as_bytes("GET /derp HTTP/1.1\r\nUpg"));
        break;  // half a request
      case 2: {
        derp::UpgradeRequest req;
        req.host = "x";
        c->send(base::as_bytes(derp::upgrade_request_text(req)));  // upgrade, no ClientInfo
        break;
      }
      case 3:
        c->send(base::as_bytes("\x16\x03\x01 not tls either"));
        break;
    }
    crowd.push_back(std::move(c));
    if (i % 100 == 0) f.pump();
  }
  // Three in four stay open (the "not TLS" ones get a 400 and are closed).
  CHECK(f.pump_until([&] { return f.streams() >= base_streams + 700; }, 10s));
  CHECK(p.works());
  crowd.clear();  // all drop at once
  CHECK(f.pump_until([&] { return f.streams() == base_streams; }, 10s));
  CHECK(p.works());
  CHECK(f.server().counters().current_connections.load() == 2);
}

TEST_CASE("connections stuck before ClientInfo are closed by the handshake deadline") {
  ServerFixture f;
  f.start();
  RawClient slow(f.pumper());
  upgrade_only(slow, f.port());
  RawClient idle(f.pumper());
  REQUIRE(idle.connect(f.port()));
  f.pump_until([&] { return f.streams() == 2; });
  f.tick(11s);
  CHECK(slow.wait_closed());
  CHECK(f.server().counters().handshake_timeouts.load() == 1);
  f.tick(20s);  // the HTTP phase allows 30 s
  CHECK(idle.wait_closed());
}

TEST_CASE("per-client rate limit pauses reading, and resumes with the clock") {
  auto cfg = derpserver::testing::test_config();
  cfg.rate_limit_bytes_per_sec = 100000;
  cfg.rate_limit_burst_bytes = 100000;
  ServerFixture f(std::move(cfg));
  f.start();
  auto a = f.logged_in();
  auto b = f.logged_in();
  REQUIRE((a && b));
  // The burst covers the first packet; the second overdraws the bucket and pauses reading.
  a->send_packet(b->key(), base::Bytes(60000));
  CHECK(b->read_frame_of(FrameType::recv_packet, 1s));
  a->send_packet(b->key(), base::Bytes(60000));
  CHECK(b->read_frame_of(FrameType::recv_packet, 1s));
  CHECK(f.server().counters().rate_limited_waits.load() == 1);
  a->send_packet(b->key(), base::Bytes(60000));
  CHECK(b->no_frame_of(FrameType::recv_packet, 200ms));  // not read while paused
  f.tick(1s);                                            // 100 kB/s refills the 20 kB deficit
  CHECK(b->read_frame_of(FrameType::recv_packet, 1s));
}

}  // namespace
