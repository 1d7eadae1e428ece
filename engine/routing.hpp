// SPDX-License-Identifier: MIT
// The routing snapshot workers read: allowed IPs -> peer, plus owning references to those
// peers so a raw Peer* from a lookup stays valid while the snapshot is held. The control
// thread edits a master copy and publishes an immutable copy after each configuration change;
// workers load it once per batch (one atomic shared_ptr load, no lock on the table itself).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "base/atomic_shared_ptr.hpp"
#include "wg/allowed_ips.hpp"
#include "wg/peer.hpp"

namespace engine {

struct Routing {
  wg::AllowedIps<wg::Peer*> table;
  std::vector<std::shared_ptr<wg::Peer>> peers;

  // The peer for the destination of the IP packet `packet` (outbound), or null.
  wg::Peer* by_destination(base::ConstByteSpan packet) const noexcept;
  // The peer owning the source address of the IP packet `packet` (inbound check), or null.
  wg::Peer* by_source(base::ConstByteSpan packet) const noexcept;
};

class RoutingPublisher {
 public:
  RoutingPublisher() : current_(std::make_shared<const Routing>()) {}
  // Any thread.
  std::shared_ptr<const Routing> load() const noexcept { return current_.load(); }
  // Control thread.
  void publish(std::shared_ptr<const Routing> r) noexcept { current_.store(std::move(r)); }

 private:
  base::AtomicSharedPtr<const Routing> current_;
};

}  // namespace engine
