// SPDX-License-Identifier: MIT
// Every timer of fact sheet 8.2 fires, or does not, at the right time: first the state
// machine alone, then through two devices.
#include "wg/timers.hpp"

#include <doctest/doctest.h>

#include "wg/constants.hpp"
#include "wg/testing/device_pair.hpp"

namespace {

using namespace std::chrono_literals;
using base::TimePoint;
using wg::Timers;

const TimePoint t0 = TimePoint(1000s);

TEST_CASE("retransmit: 5 s + jitter after an initiation, cancelled by handshake complete") {
  Timers t;
  t.handshake_initiated(t0, 200ms);
  CHECK_FALSE(t.poll(t0 + 5199ms).any());
  auto a = t.poll(t0 + 5200ms);
  CHECK(a.retry_initiation);
  CHECK(t.attempts() == 1);
  CHECK_FALSE(t.poll(t0 + 20s).any());  // not re-armed until the retry is sent

  t.handshake_initiated(t0 + 20s, 0ms);
  t.handshake_complete();
  CHECK_FALSE(t.poll(t0 + 30s).any());
  CHECK(t.attempts() == 0);
}

TEST_CASE("retransmit gives up after 19 retries (20 initiations) and arms zero_key_material") {
  Timers t;
  TimePoint now = t0;
  int retries = 0;
  for (int i = 0; i < 30; ++i) {
    t.handshake_initiated(now, 0ms);
    now += wg::kRekeyTimeout;
    const auto a = t.poll(now);
    if (a.give_up) {
      CHECK_FALSE(a.retry_initiation);
      break;
    }
    CHECK(a.retry_initiation);
    ++retries;
  }
  CHECK(retries == wg::kMaxTimerHandshakes + 1);  // 19 retries + the first = 20 initiations
  CHECK(retries == 19);
  CHECK(t.armed(Timers::Kind::zero_key_material));
  CHECK(t.deadline(Timers::Kind::zero_key_material) == now + wg::kZeroKeyMaterialAfter);
}

TEST_CASE("send_keepalive: 10 s after data received unless something was sent") {
  Timers t;
  t.data_received(t0);
  CHECK_FALSE(t.poll(t0 + 9999ms).any());
  CHECK(t.poll(t0 + 10s).send_keepalive);

  t.data_received(t0 + 20s);
  t.authenticated_sent();  // we sent something: no keepalive owed
  CHECK_FALSE(t.poll(t0 + 40s).any());

  // Data while pending: the deadline stays, and one more keepalive is owed after it.
  t.data_received(t0 + 50s);
  t.data_received(t0 + 55s);
  auto a = t.poll(t0 + 60s);
  CHECK(a.send_keepalive);
  CHECK(a.rearm_keepalive);
  t.authenticated_sent();  // the keepalive itself
  t.rearm_keepalive(t0 + 60s);
  CHECK(t.poll(t0 + 70s).send_keepalive);
}

TEST_CASE("new_handshake: 15 s + jitter after data sent with nothing heard back") {
  Timers t;
  t.data_sent(t0, 100ms);
  t.data_sent(t0 + 5s, 0ms);  // already pending: the deadline does not move
  CHECK(t.deadline(Timers::Kind::new_handshake) == t0 + 15100ms);
  CHECK_FALSE(t.poll(t0 + 15099ms).any());
  CHECK(t.poll(t0 + 15100ms).send_initiation);

  t.data_sent(t0 + 20s, 0ms);
  t.authenticated_received();
  CHECK_FALSE(t.poll(t0 + 60s).any());
}

TEST_CASE("persistent keepalive: every interval after any traversal; off at 0") {
  Timers t;
  t.traversal(t0);
  CHECK_FALSE(t.poll(t0 + 100s).any());  // off by default
  t.set_persistent_keepalive(25);
  t.traversal(t0);
  CHECK_FALSE(t.poll(t0 + 24s).any());
  CHECK(t.poll(t0 + 25s).send_keepalive);
  t.traversal(t0 + 30s);
  t.set_persistent_keepalive(0);
  CHECK_FALSE(t.poll(t0 + 60s).any());
}

TEST_CASE("zero_key_material: 540 s after the last session was derived") {
  Timers t;
  t.session_derived(t0);
  t.session_derived(t0 + 100s);  // re-armed
  CHECK_FALSE(t.poll(t0 + 639s).any());
  CHECK(t.poll(t0 + 640s).zero_key_material);
}

TEST_CASE("stop cancels everything") {
  Timers t;
  t.set_persistent_keepalive(1);
  t.handshake_initiated(t0, 0ms);
  t.data_sent(t0, 0ms);
  t.data_received(t0);
  t.session_derived(t0);
  t.traversal(t0);
  t.stop();
  CHECK_FALSE(t.poll(t0 + 1000s).any());
}

// --- the same, through two devices ---

using wg::testing::DevicePair;
using wg::testing::ipv4_packet;

void run_for(DevicePair& pair, base::Duration total, bool deliver) {
  for (auto spent = 0ms; spent < total; spent += 100ms) {
    pair.advance(100ms);
    if (deliver) {
      pair.settle();
    } else {
      pair.a.inbox.clear();
      pair.b.inbox.clear();
    }
  }
}

TEST_CASE("device: 20 initiations over about 95 s, then give up and drop what was staged") {
  DevicePair pair;
  pair.a.send(ipv4_packet("nobody hears this"));
  CHECK(pair.a.device.staged(*pair.a.peer) == 1);
  run_for(pair, 120s, false);
  CHECK(pair.a.handshakes_sent == 20);
  CHECK(pair.a.device.staged(*pair.a.peer) == 0);
  CHECK(pair.a.device.drops().get(wg::DropReason::no_keypair) == 1);
  CHECK(pair.a.peer->timers.armed(Timers::Kind::zero_key_material));
}

TEST_CASE("device: a keepalive 10 s after receiving data when we had nothing to say") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  const std::size_t before = pair.a.keepalives_received;
  run_for(pair, 9900ms, true);
  CHECK(pair.a.keepalives_received == before);
  run_for(pair, 200ms, true);
  CHECK(pair.a.keepalives_received == before + 1);
}

TEST_CASE("device: a new handshake 15 s after sending data with nothing heard back") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  const std::size_t before = pair.a.handshakes_sent;
  pair.a.send(ipv4_packet("into the void"));
  run_for(pair, 14900ms, false);
  CHECK(pair.a.handshakes_sent == before);
  run_for(pair, 500ms, false);  // 15 s + up to 333 ms of jitter
  CHECK(pair.a.handshakes_sent == before + 1);
}

TEST_CASE("device: persistent keepalive, sent at once when switched on, then every interval") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  const std::size_t before = pair.b.keepalives_received;
  pair.a.device.set_persistent_keepalive(*pair.a.peer, 25, pair.clock.now(), pair.a);
  pair.settle();
  CHECK(pair.b.keepalives_received == before + 1);
  run_for(pair, 60s, true);
  // b's own keepalive timer is not involved: a's keepalives carry no data. Two more at 25 s, 50 s.
  CHECK(pair.b.keepalives_received == before + 3);
}

TEST_CASE("device: keys are wiped 540 s after the last handshake") {
  DevicePair pair;
  pair.a.send(ipv4_packet("x"));
  pair.settle();
  CHECK(pair.a.peer->keypairs.current() != nullptr);
  pair.advance(wg::kZeroKeyMaterialAfter - 1s);
  CHECK(pair.a.peer->keypairs.current() != nullptr);
  pair.advance(1s);
  CHECK(pair.a.peer->keypairs.current() == nullptr);
  CHECK(pair.b.peer->keypairs.current() == nullptr);
  CHECK(pair.a.device.index_table().size() == 0);
}

}  // namespace
