// SPDX-License-Identifier: MIT
// Shared pieces of the DERP end-to-end tests: servers and clients on one io_context run by
// the test thread, one manual clock for all of them, and recording callbacks.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/log.hpp"
#include "base/testing/manual_clock.hpp"
#include "derp/recorder.hpp"
#include "derpclient/client.hpp"
#include "derpserver/server.hpp"

namespace derptest {

using namespace std::chrono_literals;

class World {
 public:
  World() { base::set_log_level(spdlog::level::warn); }
  ~World() {
    for (auto& c : clients_) c->close();
    for (auto& s : servers_) {
      if (s) s->stop();
    }
    io_.restart();
    io_.run_for(2s);
    clients_.clear();
    servers_.clear();
  }

  boost::asio::io_context& io() { return io_; }
  base::testing::ManualClock& clock() { return clock_; }

  derpserver::ServerConfig config(std::optional<derp::MeshKey> mesh = std::nullopt) {
    derpserver::ServerConfig c;
    c.private_key = base::NodePrivateKey::generate();
    c.mesh_key = mesh;
    c.housekeeping_timer = false;
    c.mesh_allow_plain_http = true;
    return c;
  }
  // A server listening on 127.0.0.1 (port 0 = any); not started.
  derpserver::Server& add_server(derpserver::ServerConfig cfg, std::uint16_t port = 0,
                                 const derpserver::TlsContext* tls = nullptr) {
    servers_.push_back(std::make_unique<derpserver::Server>(
        std::move(cfg), std::vector<boost::asio::io_context*>{&io_}, clock_));
    ports_.push_back(servers_.back()->listen("127.0.0.1:" + std::to_string(port), tls).value());
    return *servers_.back();
  }
  std::uint16_t port_of(std::size_t i) const { return ports_.at(i); }
  derpserver::Server& server(std::size_t i) { return *servers_.at(i); }
  // Stops server i and lets its connections wind down.
  void stop_server(std::size_t i) {
    servers_.at(i)->stop();
    pump_for(50ms);
    servers_.at(i).reset();
  }
  void replace_server(std::size_t i, derpserver::ServerConfig cfg) {
    servers_.at(i) = std::make_unique<derpserver::Server>(
        std::move(cfg), std::vector<boost::asio::io_context*>{&io_}, clock_);
    ports_.at(i) =
        servers_.at(i)->listen("127.0.0.1:" + std::to_string(ports_.at(i)), nullptr).value();
  }

  derpclient::Options client_options(std::uint16_t port,
                                     base::NodePrivateKey key = base::NodePrivateKey::generate()) {
    derpclient::Options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = false;
    o.key = std::move(key);
    o.clock = &clock_;
    return o;
  }
  std::shared_ptr<derpclient::Client> add_client(derpclient::Options o, Recorder& r) {
    clients_.push_back(derpclient::Client::create(io_, std::move(o), r.callbacks()));
    clients_.back()->start();
    return clients_.back();
  }

  void pump() {
    if (io_.stopped()) io_.restart();
    if (io_.poll() == 0) io_.run_one_for(2ms);
  }
  template <class Pred>
  bool until(Pred pred, std::chrono::milliseconds wait = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pump();
    }
    return true;
  }
  void pump_for(std::chrono::milliseconds d) {
    until([] { return false; }, d);
  }
  // Advances the shared clock; housekeeping on every server and timers on every client.
  void advance(base::Duration d) {
    clock_.advance(d);
    for (auto& s : servers_) {
      if (s) s->housekeep_now();
    }
    for (auto& c : clients_) c->check_timers();
    pump_for(20ms);
  }

 private:
  boost::asio::io_context io_{1};
  base::testing::ManualClock clock_;
  std::vector<std::unique_ptr<derpserver::Server>> servers_;
  std::vector<std::uint16_t> ports_;
  std::vector<std::shared_ptr<derpclient::Client>> clients_;
};

inline bool connected(const std::shared_ptr<derpclient::Client>& c) {
  return c->state() == derpclient::State::connected;
}

inline base::Bytes disco_payload(std::size_t n = 100) {
  base::Bytes b(n, std::byte{0x5a});
  std::copy(derp::kDiscoMagic.begin(), derp::kDiscoMagic.end(), b.begin());
  return b;
}

}  // namespace derptest
