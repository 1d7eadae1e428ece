// SPDX-License-Identifier: MIT
// One WireGuard peer's protocol state. Members are grouped by who may touch them:
//   immutable after construction: the public key
//   control thread only:          identity (psk, static-static DH), handshake, cookies
//   any thread, internally safe:  keypairs, staging, timers, endpoint, statistics
// Device owns the logic; Peer holds state and the few accessors the engine needs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/ip.hpp"
#include "base/keys.hpp"
#include "wg/cookie.hpp"
#include "wg/endpoint.hpp"
#include "wg/keypair.hpp"
#include "wg/noise.hpp"
#include "wg/staging.hpp"
#include "wg/timers.hpp"

namespace wg {

class Peer : public std::enable_shared_from_this<Peer> {
 public:
  // `endpoint`: the bind's handle for this peer (Bind::make_endpoint); a StaticEndpoint when
  // none is given (tests, the protocol demo).
  explicit Peer(const base::NodePublicKey& key, std::shared_ptr<Endpoint> endpoint = nullptr)
      : endpoint_(endpoint ? std::move(endpoint) : std::make_shared<StaticEndpoint>()) {
    identity.public_key = key;
    cookies.set_peer(key);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const base::NodePublicKey& public_key() const noexcept { return identity.public_key; }

  // --- any thread ---
  // Where the peer is reached, as its bind keeps it (wg/endpoint.hpp).
  Endpoint& bind_endpoint() const noexcept { return *endpoint_; }
  std::optional<PeerEndpoint> endpoint() const { return endpoint_->address(); }
  bool has_endpoint() const { return endpoint_->address().has_value(); }
  void set_endpoint(const PeerEndpoint& e) { endpoint_->set_address(e); }
  void clear_endpoint() { endpoint_->set_address(std::nullopt); }
  // Forget the sticky source (before a handshake retry, in case the address went away).
  void clear_endpoint_source() { endpoint_->forget_source(); }

  void add_tx_bytes(std::uint64_t n) noexcept { tx_bytes_.fetch_add(n, std::memory_order_relaxed); }
  void add_rx_bytes(std::uint64_t n) noexcept { rx_bytes_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t tx_bytes() const noexcept { return tx_bytes_.load(std::memory_order_relaxed); }
  std::uint64_t rx_bytes() const noexcept { return rx_bytes_.load(std::memory_order_relaxed); }
  // Wall-clock time of the last completed handshake; nullopt if never.
  std::optional<base::WallTime> last_handshake() const noexcept {
    const std::int64_t ns = last_handshake_ns_.load(std::memory_order_relaxed);
    if (ns == 0) return std::nullopt;
    return base::WallTime(base::Duration(ns));
  }
  void set_last_handshake(base::WallTime t) noexcept {
    last_handshake_ns_.store(t.time_since_epoch().count(), std::memory_order_relaxed);
  }

  // Set by workers when a handshake should start (no keypair, or keep-key-fresh); consumed
  // by Device::tick on the control thread.
  void request_handshake() noexcept { handshake_wanted_.store(true, std::memory_order_release); }
  bool take_handshake_request() noexcept {
    return handshake_wanted_.exchange(false, std::memory_order_acq_rel);
  }

  KeypairSet keypairs;
  StagingQueue staging;  // its packets live in the Device's StagingArea
  Timers timers;
  // "Keep key fresh on receive" fires once per keypair epoch; reset on handshake complete.
  std::atomic<bool> sent_lastminute_handshake{false};

  // --- control thread only ---
  PeerIdentity identity;
  Handshake handshake;
  CookieGenerator cookies;
  std::optional<base::TimePoint> last_sent_handshake;  // initiation or response
  std::uint64_t internal_id = 0;                       // insertion order, for stable listings

 private:
  const std::shared_ptr<Endpoint> endpoint_;
  std::atomic<std::uint64_t> tx_bytes_{0};
  std::atomic<std::uint64_t> rx_bytes_{0};
  std::atomic<std::int64_t> last_handshake_ns_{0};
  std::atomic<bool> handshake_wanted_{false};
};

}  // namespace wg
