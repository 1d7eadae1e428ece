// SPDX-License-Identifier: MIT
// wg::Endpoint: where one peer's datagrams go, as the bind keeps it. The bind makes one per
// peer (Bind::make_endpoint) and the peer holds it; the device reports what it learns through
// it (the source of an authenticated message: roaming; a handshake retry: forget the local
// source address) and the engine hands it to Bind::send. The bind never sees the peer's
// handshake state, and decides alone how to reach the address: plain UDP (StaticEndpoint),
// or, in mesh mode, direct UDP or a DERP relay per peer.
//
// PeerEndpoint: an address: the peer's, plus the local address and interface it last
// reached us on ("sticky source"; unspecified = let the kernel choose).
//
// Thread safety: every method from any thread.
#pragma once

#include <optional>

#include "base/ip.hpp"
#include "base/thread_annotations.hpp"

namespace wg {

struct PeerEndpoint {
  base::Endpoint remote;
  base::IpAddr local;
  int ifindex = 0;

  friend bool operator==(const PeerEndpoint&, const PeerEndpoint&) = default;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // The address handshakes go to and `wg show` reports; nullopt when none is known.
  virtual std::optional<PeerEndpoint> address() const = 0;
  // Configuration (`wg set ... endpoint`), or nullopt to forget it.
  virtual void set_address(const std::optional<PeerEndpoint>& to) = 0;
  // An authenticated message came from `from` (roaming: the peer is there now). True if the
  // address the endpoint sends to changed.
  virtual bool authenticated_from(const PeerEndpoint& from) = 0;
  // Forget the local address we last sent from (it may be gone: before a handshake retry,
  // or when the kernel refused it).
  virtual void forget_source() = 0;
};

// The plain WireGuard endpoint: one address, replaced by configuration and by roaming.
class StaticEndpoint final : public Endpoint {
 public:
  std::optional<PeerEndpoint> address() const override EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    return address_;
  }
  void set_address(const std::optional<PeerEndpoint>& to) override EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    address_ = to;
  }
  bool authenticated_from(const PeerEndpoint& from) override EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    if (address_ == from) return false;
    // A new local address alone (the kernel chose another source) is no roaming.
    const bool moved = !address_ || address_->remote != from.remote;
    address_ = from;
    return moved;
  }
  void forget_source() override EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    if (address_) {
      address_->local = {};
      address_->ifindex = 0;
    }
  }

 private:
  mutable base::Mutex mu_;  // leaf lock
  std::optional<PeerEndpoint> address_ GUARDED_BY(mu_);
};

}  // namespace wg
