// SPDX-License-Identifier: MIT
// A Server on 127.0.0.1 with a manual clock and one io_context run by the test thread:
// pump() runs whatever is ready (waiting at most a couple of milliseconds for socket I/O),
// tick(d) advances the clock and runs one housekeeping pass. Nothing sleeps on a timer.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "base/log.hpp"
#include "base/testing/manual_clock.hpp"
#include "derpserver/server.hpp"
#include "derpserver/testing/raw_client.hpp"

namespace derpserver::testing {

inline ServerConfig test_config() {
  base::set_log_level(spdlog::level::warn);
  ServerConfig c;
  c.private_key = base::NodePrivateKey::generate();
  c.housekeeping_timer = false;
  c.mesh_allow_plain_http = true;
  return c;
}

class ServerFixture {
 public:
  explicit ServerFixture(ServerConfig cfg = test_config(), const TlsContext* tls = nullptr)
      : server_(std::make_unique<Server>(std::move(cfg),
                                         std::vector<boost::asio::io_context*>{&io_}, clock_)) {
    port_ = server_->listen("127.0.0.1:0", tls).value();
  }
  ~ServerFixture() { shutdown(); }

  void start() { server_->start(); }
  void shutdown() {
    if (!server_) return;
    server_->stop();
    io_.restart();
    io_.run_for(std::chrono::seconds(2));
    server_.reset();
  }

  // Runs ready handlers; waits up to 2 ms for I/O when there are none.
  void pump() {
    if (io_.stopped()) io_.restart();
    if (io_.poll() == 0) io_.run_one_for(std::chrono::milliseconds(2));
  }
  RawClient::Pump pumper() {
    return [this] { pump(); };
  }
  // Pumps until `pred` holds or `wait` (real time) passes.
  template <class Pred>
  bool pump_until(Pred pred, std::chrono::milliseconds wait = kDefaultWait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pump();
    }
    return true;
  }
  void tick(base::Duration d) {
    clock_.advance(d);
    server_->housekeep_now();
    for (int i = 0; i < 20; ++i) pump();
  }

  std::unique_ptr<RawClient> client() { return std::make_unique<RawClient>(pumper()); }
  std::unique_ptr<RawClient> logged_in(derp::ClientInfo info = derp::default_client_info()) {
    auto c = client();
    if (!c->login(port_, std::move(info))) return nullptr;
    return c;
  }

  Server& server() { return *server_; }
  std::uint16_t port() const { return port_; }
  boost::asio::io_context& io() { return io_; }
  base::testing::ManualClock& clock() { return clock_; }
  std::size_t streams() const { return server_->shards().front()->stream_count(); }

 private:
  boost::asio::io_context io_{1};
  base::testing::ManualClock clock_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
};

inline base::Bytes disco_payload(std::size_t n = 100) {
  base::Bytes b(n, std::byte{0x5a});
  std::copy(derp::kDiscoMagic.begin(), derp::kDiscoMagic.end(), b.begin());
  return b;
}

}  // namespace derpserver::testing
