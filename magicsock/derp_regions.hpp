// SPDX-License-Identifier: MIT
// DerpRegions: which DERP regions to hold connections to, and through which one to reach a
// peer, as pure logic (disco-magicsock.md 5.4-5.6, mesh-mode.md section 3). The bind owns the
// derpclient connections; it reports what they do and asks this where to send.
//
//   Sending to node K homed in region R:
//     1. a connection to R is open: R;
//     2. else K recently sent us something through another open connection (the reverse
//        route; forgotten on PeerGone from that region or when that connection fails): that
//        region;
//     3. else R (the bind opens it); with no R either, no route.
//   Connections wanted: the home region always; a region written to in the last 60 s
//   (derpInactiveCleanupTime); and, in mesh mode, the home region of every peer we sent to
//   within the session idle time (45 s), so that a failover to DERP does not wait for TCP,
//   TLS and a DERP login.
//
// Thread safety: none; one owner (the control thread).
#pragma once

#include <map>
#include <optional>
#include <set>

#include "base/clock.hpp"
#include "base/keys.hpp"

namespace magicsock {

using namespace std::chrono_literals;

struct DerpRegionsConfig {
  base::Duration idle_close = 60s;   // a non-home region without writes for this long
  base::Duration active_peer = 45s;  // a peer sent to this recently is active
  bool warm_peer_regions = true;     // mesh: keep active peers' home regions open
};

class DerpRegions {
 public:
  explicit DerpRegions(const DerpRegionsConfig& config = {}) : config_(config) {}

  void set_home(int region) noexcept { home_ = region; }
  int home() const noexcept { return home_; }

  // --- what the connections did ---
  void on_connected(int region);
  // The connection failed or was closed: reverse routes through it are forgotten.
  void on_disconnected(int region);
  // A packet from `peer` arrived through `region`.
  void on_received(int region, const base::NodePublicKey& peer);
  // The region's server says `peer` is gone from it.
  void on_peer_gone(int region, const base::NodePublicKey& peer);

  // --- sending ---
  // The region to send to `peer` (home region `peer_home`, 0: unknown) through, or nullopt.
  // Records the write (for idle cleanup) and the peer's activity (for warm regions).
  std::optional<int> route(const base::NodePublicKey& peer, int peer_home, base::TimePoint now);

  // --- connections ---
  // The regions that should have a connection now; the bind opens the missing ones and
  // closes the others.
  std::set<int> wanted(base::TimePoint now) const;
  bool connected(int region) const noexcept { return open_.contains(region); }
  std::optional<int> reverse_route(const base::NodePublicKey& peer) const;

 private:
  const DerpRegionsConfig config_;
  int home_ = 0;
  std::set<int> open_;
  std::map<int, base::TimePoint> last_write_;
  std::map<base::NodePublicKey, int> reverse_;
  // Active peers' home regions: region -> last send to a peer homed there.
  std::map<int, base::TimePoint> peer_home_active_;
};

}  // namespace magicsock
