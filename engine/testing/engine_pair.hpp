// SPDX-License-Identifier: MIT
// Two engines back to back over real UDP sockets on 127.0.0.1, each with a ChannelTun for a
// TUN and its own control thread. Node a is 10.0.0.1 (fd00::1), node b 10.0.0.2 (fd00::2);
// each routes the other's /32 and /128 to the other. Tests inject packets into one node's
// TUN and read them out of the other's.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <poll.h>
#include <thread>

#include "base/clock.hpp"
#include "engine/engine.hpp"
#include "magicsock/udp_bind.hpp"
#include "tun/testing/channel_tun.hpp"
#include "tun/testing/packet_builder.hpp"

namespace engine::testing {

// IPv4 only: the pair talks over 127.0.0.1.
inline magicsock::UdpBindOptions bind_options(std::size_t queues) {
  magicsock::UdpBindOptions o;
  o.queues = queues;
  o.ipv6 = false;
  return o;
}

class Node {
 public:
  Node(std::size_t queues, const base::PrivateKey& key)
      : tun(queues),
        bind(bind_options(queues)),
        engine(options(queues), fds(), bind, base::SystemClock::instance()) {
    if (!bind.rebind(0, 0)) throw std::runtime_error("bind failed");
    engine.device().set_private_key(key);
  }
  ~Node() { stop(); }

  void start() {
    engine.start();
    control = std::thread([this] {
      while (!stopping.load()) {
        pollfd p{engine.control_fd(), POLLIN, 0};
        ::poll(&p, 1, 20);
        engine.run_control();
      }
    });
  }
  void stop() {
    if (stopping.exchange(true)) return;
    if (control.joinable()) control.join();
    engine.stop();
  }

  // Waits up to `timeout` for a packet on any queue.
  std::optional<base::Bytes> wait_packet(
      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (std::size_t q = 0; q < tun.queue_count(); ++q) {
        if (auto p = tun.receive(q)) return p;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::nullopt;
  }

  tun::testing::ChannelTun tun;
  magicsock::UdpBind bind;
  Engine engine;

 private:
  static Options options(std::size_t queues) {
    Options o;
    o.queues = queues;
    o.buffers_per_queue = 1024;
    return o;
  }
  std::vector<int> fds() const {
    std::vector<int> v;
    for (std::size_t q = 0; q < tun.queue_count(); ++q) v.push_back(tun.fd(q));
    return v;
  }
  std::atomic<bool> stopping{false};
  std::thread control;
};

struct EnginePair {
  explicit EnginePair(std::size_t queues = 1)
      : key_a(base::PrivateKey::generate()),
        key_b(base::PrivateKey::generate()),
        a(queues, key_a),
        b(queues, key_b) {
    link(a, b, key_b, "10.0.0.2/32", "fd00::2/128");
    link(b, a, key_a, "10.0.0.1/32", "fd00::1/128");
    a.start();
    b.start();
  }

  static void link(Node& from, Node& to, const base::PrivateKey& to_key, const char* v4,
                   const char* v6) {
    auto peer = from.engine.add_peer(to_key.public_key());
    peer->set_endpoint({{*base::IpAddr::parse("127.0.0.1"), to.bind.port()}, {}, 0});
    from.engine.add_allowed_ip(*peer, *base::IpPrefix::parse(v4));
    from.engine.add_allowed_ip(*peer, *base::IpPrefix::parse(v6));
    from.engine.publish_routing();
  }

  // A UDP packet from `src` to `dst` with `payload`.
  static base::Bytes packet(const char* src, const char* dst, std::string_view payload) {
    tun::testing::PacketSpec s;
    s.src = *base::IpAddr::parse(src);
    s.dst = *base::IpAddr::parse(dst);
    s.payload.assign(base::as_bytes(payload).begin(), base::as_bytes(payload).end());
    return tun::testing::build_packet(s);
  }

  base::PrivateKey key_a, key_b;
  Node a, b;
};

}  // namespace engine::testing
