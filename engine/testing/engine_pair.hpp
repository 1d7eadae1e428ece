// SPDX-License-Identifier: MIT
// Two engines back to back over real UDP sockets on 127.0.0.1, each with a ChannelTun for a
// TUN and its own control thread. Node a is 10.0.0.1 (fd00::1), node b 10.0.0.2 (fd00::2);
// each routes the other's /32 and /128 to the other. Tests inject packets into one node's
// TUN and read them out of the other's.
//
// The engine's contract puts configuration on its control thread: tests change a running
// node through on_control(), which runs a function there and waits for it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <poll.h>
#include <thread>
#include <vector>

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

inline Options node_options(std::size_t queues) {
  Options o;
  o.queues = queues;
  o.buffers_per_queue = 1024;
  return o;
}

class Node {
 public:
  Node(const Options& options, const base::PrivateKey& key)
      : tun(options.queues),
        bind(bind_options(options.queues)),
        engine(options, fds(), bind, base::SystemClock::instance()) {
    if (!bind.rebind(0, 0)) throw std::runtime_error("bind failed");
    engine.device().set_private_key(key);
  }
  Node(std::size_t queues, const base::PrivateKey& key) : Node(node_options(queues), key) {}
  ~Node() { stop(); }

  void start() {
    engine.start();
    control = std::thread([this] { run_control_loop(); });
  }
  void stop() {
    if (stopping.exchange(true)) return;
    if (control.joinable()) control.join();
    engine.stop();
  }

  // Runs `fn` on the control thread (or here, before start()) and waits for it.
  void on_control(std::function<void()> fn) {
    if (!control.joinable()) {
      fn();
      return;
    }
    std::packaged_task<void()> task(std::move(fn));
    auto done = task.get_future();
    {
      std::lock_guard lock(tasks_mu_);
      tasks_.push_back(std::move(task));
    }
    done.get();
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

  // Injects into queue q, waiting up to `timeout` for room (the worker must be reading).
  bool inject_within(std::size_t q, base::ConstByteSpan packet,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!tun.inject(q, packet)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }

  tun::testing::ChannelTun tun;
  magicsock::UdpBind bind;
  Engine engine;

 private:
  void run_control_loop() {
    while (!stopping.load()) {
      pollfd p{engine.control_fd(), POLLIN, 0};
      ::poll(&p, 1, 20);
      engine.run_control();
      std::vector<std::packaged_task<void()>> tasks;
      {
        std::lock_guard lock(tasks_mu_);
        tasks.swap(tasks_);
      }
      for (auto& t : tasks) t();
    }
  }
  std::vector<int> fds() const {
    std::vector<int> v;
    for (std::size_t q = 0; q < tun.queue_count(); ++q) v.push_back(tun.fd(q));
    return v;
  }
  std::atomic<bool> stopping{false};
  std::thread control;
  std::mutex tasks_mu_;  // guards tasks_
  std::vector<std::packaged_task<void()>> tasks_;
};

struct EnginePair {
  explicit EnginePair(std::size_t queues = 1) : EnginePair(node_options(queues)) {}
  explicit EnginePair(const Options& a_options, std::optional<Options> b_options = std::nullopt)
      : key_a(base::PrivateKey::generate()),
        key_b(base::PrivateKey::generate()),
        a(a_options, key_a),
        b(b_options.value_or(a_options), key_b) {
    link(a, b, key_b, "10.0.0.2/32", "fd00::2/128");
    link(b, a, key_a, "10.0.0.1/32", "fd00::1/128");
    a.start();
    b.start();
  }

  // Before start(), or through on_control().
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
