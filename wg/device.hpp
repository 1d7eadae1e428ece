// SPDX-License-Identifier: MIT
// wg::Device: WireGuard for one interface as pure protocol logic. No sockets, no threads, no
// clock: callers pass `now` (monotonic) and `wall` (for TAI64N and last-handshake times).
//
// Control thread (handshakes, timers, configuration):
//   receive_handshake()  types 1-3: mac1, under-load cookies and rate limit, Noise, keypairs
//   initiate()           a new initiation for a peer unless one went out < REKEY_TIMEOUT ago
//   tick()               every peer's timers, and handshakes requested by the data path
// Data path (any worker thread, concurrently):
//   seal()               a batch of inner packets for one peer -> transport messages in place,
//                        or copied into the device's staging area (and a handshake requested)
//                        when there is no usable keypair; dropped when the peer has no endpoint
//   open_batch()         transport messages -> inner packets in place: receiver index,
//                        keypair age, AEAD, replay window (one lock per run), key confirmation,
//                        roaming, timers, inner IP sanity. The allowed-IPs source check is the
//                        caller's, which owns the routing table.
// Everything the device wants sent goes through the Outbox the caller passes in.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/keys.hpp"
#include "base/packet.hpp"
#include "wg/cookie.hpp"
#include "wg/crypto.hpp"
#include "wg/drop_reason.hpp"
#include "wg/index_table.hpp"
#include "wg/noise.hpp"
#include "wg/peer.hpp"
#include "wg/ratelimiter.hpp"
#include "wg/staging.hpp"

namespace wg {

// What the device asks its owner to send. Called on the control thread, during the call
// that caused it; spans are borrowed until return.
class Outbox {
 public:
  virtual ~Outbox() = default;
  // A handshake message (initiation or response) for `peer`, to its endpoint.
  virtual void send_handshake(Peer& peer, base::ConstByteSpan message) = 0;
  // A cookie reply, to the source of the message it answers.
  virtual void send_cookie_reply(const PeerEndpoint& to, base::ConstByteSpan message) = 0;
  // Send `peer`'s staged packets now through Device::seal; if none are staged and
  // `keepalive_if_empty`, send a keepalive (an empty packet) instead.
  virtual void flush_staged(Peer& peer, bool keepalive_if_empty) = 0;
};

struct SealResult {
  std::size_t sealed = 0;     // packets[0, sealed) are now transport messages
  std::size_t staged = 0;     // copied into the peer's staging queue (the originals stay put)
  bool wake_control = false;  // a handshake was requested: run tick() soon
};

struct OpenResult {
  DropReason drop = DropReason::none;
  Peer* peer = nullptr;    // who sent it; kept alive by the OpenBatch until its reset()
  bool keepalive = false;  // authenticated but empty: nothing to deliver
};

// Per-worker scratch for open_batch(): fixed capacity, reused batch after batch, so the data
// path allocates nothing. Holds the peers that results point to until reset().
class OpenBatch {
 public:
  static constexpr std::size_t kMaxBatch = 128;
  void reset() noexcept;

  bool wake_control = false;  // a handshake was requested: run tick() soon
  // Peers whose next keypair was just confirmed: send their staged packets (no keepalive).
  std::array<Peer*, kMaxBatch> flush{};
  std::size_t flush_count = 0;

 private:
  friend class Device;
  std::array<std::shared_ptr<Peer>, kMaxBatch> hold_{};
  std::size_t held_ = 0;
  std::array<std::uint64_t, kMaxBatch> counters_{};
  std::array<bool, kMaxBatch> accepted_{};
  std::array<std::size_t, kMaxBatch> opened_{};
};

struct DeviceOptions {
  // Staged packets for all peers together (wg/staging.hpp), and the size of their buffers.
  std::size_t staged_packets = 1024;
  std::size_t buffer_size = base::PacketPool::kDefaultBufferSize;
};

class Device {
 public:
  explicit Device(const DeviceOptions& options = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // --- configuration (control thread) ---
  // Sets or (nullopt / all-zero) removes the private key. Peers whose public key equals the
  // new public key are removed; every handshake restarts and current keypairs stop sending.
  void set_private_key(const std::optional<base::PrivateKey>& key);
  const std::optional<StaticIdentity>& identity() const noexcept { return identity_; }

  // nullptr if `key` is our own public key (wireguard-go ignores such a peer). `endpoint`:
  // the bind's handle for the peer (a StaticEndpoint when null); an existing peer keeps its own.
  std::shared_ptr<Peer> add_peer(const base::NodePublicKey& key,
                                 std::shared_ptr<Endpoint> endpoint = nullptr);
  bool remove_peer(const base::NodePublicKey& key);
  void remove_all_peers();
  std::shared_ptr<Peer> find_peer(const base::NodePublicKey& key) const;
  // Peers in the order they were added.
  std::vector<std::shared_ptr<Peer>> peers() const;
  std::size_t peer_count() const noexcept { return peers_.size(); }

  void set_preshared_key(Peer& peer, const base::PresharedKey& psk);
  // Turning persistent keepalive on sends a keepalive at once, as wireguard-go does.
  void set_persistent_keepalive(Peer& peer, std::uint16_t seconds, base::TimePoint now,
                                Outbox& out);

  // --- control thread ---
  // A message of type 1, 2 or 3 from `from`. `handshake_queue_busy`: the caller's handshake
  // queue is at or above 1/8 full, which puts the device under load for a second.
  void receive_handshake(base::ConstByteSpan message, const PeerEndpoint& from, base::TimePoint now,
                         base::WallTime wall, bool handshake_queue_busy, Outbox& out);
  void initiate(Peer& peer, base::TimePoint now, base::WallTime wall, bool is_retry, Outbox& out);
  void tick(base::TimePoint now, base::WallTime wall, Outbox& out);
  bool under_load(base::TimePoint now) const noexcept;

  // --- data path (any thread) ---
  // Seals packets (inner IP packets, or empty for keepalives) for `peer` in place. Without a
  // usable keypair they are copied into staging (the refs stay the caller's) and a handshake
  // is requested; without an endpoint they are dropped (no_endpoint), as the kernel's wg_xmit
  // does (drivers/net/wireguard/device.c). A
  // packet whose sealing fails is dropped (seal_failed) and its ref reset: packets[0, sealed)
  // are the transport messages, in their original order.
  SealResult seal(Peer& peer, std::span<base::PacketRef> packets, base::TimePoint now, unsigned mtu,
                  crypto::TransportAead& aead);
  // Opens transport messages in place; results[i] for packets[i], sources[i] its source.
  void open_batch(std::span<base::PacketBuf* const> packets, std::span<const PeerEndpoint> sources,
                  base::TimePoint now, base::WallTime wall, crypto::TransportAead& aead,
                  OpenBatch& batch, std::span<OpenResult> results);

  // Staged packets (any thread): take_staged() moves up to out.size() of `peer`'s, oldest
  // first; they return to the staging pool when released.
  std::size_t take_staged(Peer& peer, std::span<base::PacketRef> out);
  std::size_t staged(const Peer& peer) const { return staging_.size(peer.staging); }
  std::size_t staged() const { return staging_.size(); }

  DropCounters& drops() noexcept { return drops_; }
  const DropCounters& drops() const noexcept { return drops_; }
  IndexTable& index_table() noexcept { return index_; }

 private:
  void drop_handshake_index(Peer& peer);
  void clear_keys(Peer& peer);
  std::size_t drop_staged(Peer& peer, DropReason why);  // returns how many
  SealResult stage(Peer& peer, std::span<base::PacketRef> packets);
  void receive_initiation(base::ConstByteSpan message, const PeerEndpoint& from,
                          base::TimePoint now, base::WallTime wall, Outbox& out);
  void receive_response(base::ConstByteSpan message, const PeerEndpoint& from, base::TimePoint now,
                        base::WallTime wall, Outbox& out);
  void receive_cookie_reply(base::ConstByteSpan message, base::TimePoint now);
  void authenticated_from(Peer& peer, const PeerEndpoint& from, base::TimePoint now);
  void open_run(std::span<base::PacketBuf* const> packets, std::span<const PeerEndpoint> sources,
                base::TimePoint now, base::WallTime wall, crypto::TransportAead& aead,
                OpenBatch& batch, std::span<OpenResult> results);

  // Control thread only.
  std::optional<StaticIdentity> identity_;
  CookieChecker cookie_checker_;
  RateLimiter rate_limiter_;
  std::optional<base::TimePoint> last_under_load_;
  std::optional<base::TimePoint> last_ratelimiter_gc_;
  std::unordered_map<base::NodePublicKey, std::shared_ptr<Peer>> peers_;
  std::uint64_t next_peer_id_ = 1;
  // Any thread.
  StagingArea staging_;
  IndexTable index_;
  DropCounters drops_;
};

// Random jitter for the handshake timers: uniform in [0, 333] ms.
base::Duration rekey_jitter() noexcept;

}  // namespace wg
