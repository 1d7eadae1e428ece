// SPDX-License-Identifier: MIT
// The relay with two io_contexts on two threads (as meshtun-derper runs it): packets cross
// shards in both directions while connections come and go. Meant for the sanitizer builds
// (ThreadSanitizer in particular). No timers are involved, so the system clock is used and
// clients wait only for socket I/O.
#include <doctest/doctest.h>

#include <thread>

#include "base/log.hpp"
#include "derpserver/server.hpp"
#include "derpserver/testing/raw_client.hpp"

namespace {

using derp::FrameType;
using derpserver::testing::RawClient;
using namespace std::chrono_literals;

TEST_CASE("two shards on two threads relay across each other while clients churn") {
  base::set_log_level(spdlog::level::warn);
  boost::asio::io_context io0{1};
  boost::asio::io_context io1{1};
  derpserver::ServerConfig cfg;
  cfg.private_key = base::NodePrivateKey::generate();
  cfg.housekeeping_timer = false;
  auto server = std::make_unique<derpserver::Server>(
      std::move(cfg), std::vector<boost::asio::io_context*>{&io0, &io1},
      base::SystemClock::instance());
  const auto port = server->listen("127.0.0.1:0", nullptr).value();
  server->start();
  auto guard0 = boost::asio::make_work_guard(io0);
  auto guard1 = boost::asio::make_work_guard(io1);
  std::thread t0([&] { io0.run(); });
  std::thread t1([&] { io1.run(); });
  const RawClient::Pump wait = [] { std::this_thread::sleep_for(1ms); };

  constexpr int kClients = 6;
  std::vector<std::unique_ptr<RawClient>> c;
  for (int i = 0; i < kClients; ++i) {
    c.push_back(std::make_unique<RawClient>(wait));
    REQUIRE(c.back()->login(port));
  }
  // Every client sends 20 packets to every other client (and they land on both shards).
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < kClients; ++i) {
      for (int j = 0; j < kClients; ++j) {
        if (i != j)
          c[static_cast<std::size_t>(i)]->send_packet(c[static_cast<std::size_t>(j)]->key(),
                                                      base::Bytes(200, std::byte(i)));
      }
    }
  }
  for (int j = 0; j < kClients; ++j) {
    int got = 0;
    while (got < 20 * (kClients - 1) &&
           c[static_cast<std::size_t>(j)]->read_frame_of(FrameType::recv_packet, 5s)) {
      ++got;
    }
    CHECK(got == 20 * (kClients - 1));
  }
  // Churn: half reconnect while the others keep sending to them.
  for (int i = 0; i < kClients / 2; ++i) {
    c[static_cast<std::size_t>(i)]->close();
    c[static_cast<std::size_t>(kClients - 1)]->send_packet(c[static_cast<std::size_t>(i)]->key(),
                                                           base::Bytes(10));
    REQUIRE(c[static_cast<std::size_t>(i)]->login(port));
  }
  c[0]->send_packet(c[kClients - 1]->key(), base::as_bytes("after churn"));
  auto f = c[kClients - 1]->read_frame_of(FrameType::recv_packet, 5s);
  while (f && base::as_chars(base::ConstByteSpan(f->payload).subspan(32)) != "after churn") {
    f = c[kClients - 1]->read_frame_of(FrameType::recv_packet, 5s);
  }
  CHECK(f.has_value());
  (void)server->prometheus_text();  // scrapes while both threads run
  (void)server->debug_text();

  c.clear();
  server->stop();
  guard0.reset();
  guard1.reset();
  t0.join();
  t1.join();
  server.reset();
}

}  // namespace
