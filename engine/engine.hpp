// SPDX-License-Identifier: MIT
// Engine: one WireGuard interface's data plane. One worker thread per queue runs each packet
// to completion; one control thread (the caller's Asio loop) runs handshakes and timers.
//
// Outbound, worker q: TUN queue q read batch -> allowed-IPs lookup by destination -> group
//   by peer -> wg::Device::seal (nonces from one atomic add per batch, encrypt in place;
//   staged when there is no keypair) -> wg::Bind::send.
// Inbound, worker q: wg::Bind::receive batch -> classify: handshakes (types 1-3) go to the
//   control thread's bounded queue; transport messages -> wg::Device::open_batch (index,
//   keypair, AEAD, replay, confirmation, roaming, timers) -> allowed-IPs source check ->
//   TUN queue q write batch.
// Control: run_control() when control_fd() is readable and every ~100 ms: handshake
//   messages, handshakes the workers asked for, every peer's timers.
//
// Workers share read-mostly state published by the control thread: the routing snapshot
// (engine/routing.hpp) and the device's peers and keypairs (lock-free reads). No heap
// allocation, no lock and nothing above debug logging per packet in steady state.
//
// Buffers: each worker reads into its own fixed pool; packets waiting for a handshake are
// copies in the device's staging area (wg/staging.hpp), so peers that never answer cannot
// take the buffers a worker needs to read its queues. The handshake queue holds worker
// buffers (bounded by its capacity) and is emptied before the workers' pools go away.
//
// Thread safety: start/stop and every configuration method on the control thread only.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "base/counter.hpp"
#include "base/packet.hpp"
#include "engine/handshake_queue.hpp"
#include "engine/routing.hpp"
#include "tun/queue.hpp"
#include "wg/bind.hpp"
#include "wg/constants.hpp"
#include "wg/device.hpp"

namespace engine {

struct Options {
  std::size_t queues = 1;
  unsigned mtu = wg::kDefaultMtu;
  // Pooled packet buffers per worker: batches in flight plus handshake messages queued for the
  // control thread (at most HandshakeQueue::kCapacity in all).
  std::size_t buffers_per_queue = 2048;
  std::size_t buffer_size = base::PacketPool::kDefaultBufferSize;
  // Packets waiting for handshakes, all peers together (beyond it the oldest are dropped).
  std::size_t staged_packets = 1024;
  // What the TUN fds were opened with (tun::Tun::offloads()): reads may then carry TCP/UDP
  // super-packets, which the queues split, and writes are merged (GRO).
  tun::Offloads tun_offloads;
};

// Summed over workers when read.
struct Stats {
  std::uint64_t tun_packets_read = 0;
  std::uint64_t tun_packets_written = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t handshakes_queued = 0;
  std::uint64_t pool_exhausted = 0;  // batches or keepalives skipped: every buffer was in use
  std::uint64_t staged = 0;          // packets waiting for a handshake now
};

class Engine final : private wg::Outbox {
 public:
  static constexpr std::size_t kBatch = 128;

  // `tun_fds`: one non-blocking fd per queue, borrowed for the engine's lifetime.
  Engine(const Options& options, std::span<const int> tun_fds, wg::Bind& bind, base::Clock& clock);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  void stop();  // idempotent; joins the workers

  // --- control thread ---
  int control_fd() const noexcept { return control_wake_fd_; }
  void run_control();
  // Workers saw their TUN queue fail for good (the interface was deleted).
  bool tun_gone() const noexcept { return tun_gone_.load(std::memory_order_relaxed); }

  wg::Device& device() noexcept { return device_; }
  wg::Bind& bind() noexcept { return bind_; }

  // Sets or removes (nullopt) the private key. A peer whose public key is the new public
  // key is removed first, routes included (wireguard-go does the same).
  void set_private_key(const std::optional<base::PrivateKey>& key);

  // Peers and allowed IPs; call publish_routing() after a set of edits.
  std::shared_ptr<wg::Peer> add_peer(const base::NodePublicKey& key);
  bool remove_peer(const base::NodePublicKey& key);
  void remove_all_peers();
  void add_allowed_ip(wg::Peer& peer, const base::IpPrefix& prefix);
  bool remove_allowed_ip(wg::Peer& peer, const base::IpPrefix& prefix);
  void clear_allowed_ips(wg::Peer& peer);
  std::vector<base::IpPrefix> allowed_ips(wg::Peer& peer) const;
  void publish_routing();

  // The largest MTU whose packets fit the buffers both ways (TUN reads, and the outside
  // datagrams they become: transport header, padding and tag).
  unsigned max_mtu() const noexcept { return max_mtu_for(options_.buffer_size); }
  static unsigned max_mtu_for(std::size_t buffer_size) noexcept;
  // Sets the MTU used for padding, at most max_mtu(); returns the MTU now in effect. Larger
  // packets than that cannot be read from the TUN: they are dropped and counted (too_big).
  unsigned set_mtu(unsigned mtu) noexcept;
  unsigned mtu() const noexcept { return mtu_.load(std::memory_order_relaxed); }
  // After bind().rebind(): workers fetch the new fds to wait on.
  void wake_workers();
  // Turning persistent keepalive on sends one at once.
  void set_persistent_keepalive(wg::Peer& peer, std::uint16_t seconds);

  Stats stats() const noexcept;
  const wg::DropCounters& drops() const noexcept { return device_.drops(); }

 private:
  struct Worker;

  // wg::Outbox, control thread.
  void send_handshake(wg::Peer& peer, base::ConstByteSpan message) override;
  void send_cookie_reply(const wg::PeerEndpoint& to, base::ConstByteSpan message) override;
  void flush_staged(wg::Peer& peer, bool keepalive_if_empty) override;

  // What a thread that seals and sends brings along: a worker, or the control thread.
  struct Sender {
    std::size_t q;                    // the bind queue to send on
    base::PacketPool& pool;           // for keepalives
    wg::crypto::TransportAead& aead;  // this thread's cipher context
    base::Counter& sent;              // this thread's own counters
    base::Counter& pool_exhausted;
    bool wake = false;  // a handshake was requested: wake the control thread
  };

  void run_worker(Worker& w);
  void worker_outbound(Worker& w);
  void worker_inbound(Worker& w);
  // Seals and sends `packets` (all for `peer`); returns packets sent.
  std::size_t seal_and_send(Sender& s, wg::Peer& peer, std::span<base::PacketRef> packets,
                            base::TimePoint now);
  void flush_peer(Sender& s, wg::Peer& peer, bool keepalive_if_empty);
  void wake_control() noexcept;

  // Destruction runs bottom-up: everything holding a pooled buffer (the handshake queue, the
  // device's staging) goes before the pools it came from. ~Engine also empties the handshake
  // queue explicitly once the workers have stopped.
  const Options options_;
  wg::Bind& bind_;
  base::Clock& clock_;
  std::vector<std::unique_ptr<Worker>> workers_;  // their pools outlive everything below
  // Control thread's own buffers (keepalives) and cipher context.
  base::PacketPool control_pool_{256};
  wg::crypto::DefaultTransportAead control_aead_;
  base::Counter control_sent_;
  base::Counter control_pool_exhausted_;
  wg::Device device_;
  RoutingPublisher routing_;
  wg::AllowedIps<wg::Peer*> routes_;  // master copy, control thread only
  HandshakeQueue handshakes_;         // buffers of the workers' pools
  std::atomic<unsigned> mtu_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> tun_gone_{false};
  bool started_ = false;
  int control_wake_fd_ = -1;
};

}  // namespace engine
