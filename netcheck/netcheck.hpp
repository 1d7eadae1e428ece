// SPDX-License-Identifier: MIT
// netcheck: what the network looks like from here, measured with STUN (disco-magicsock.md
// section 6), as pure logic. The owner (magicsock's control thread) sends the requests a
// Probe asks for from the same UDP sockets WireGuard uses (the mapping learned must be that
// socket's), hands back the STUN replies it demultiplexes off them, and reads the Report.
//
//   Probe (one report): for every region, 3 requests per address family at 0, 100 and
//   200 ms to nodes[i % n] (a full report); the first reply of a region's set cancels the
//   rest of it. Done when 5 s have passed, when the STUN phase (3 s) is over, or once 3
//   regions answered and the slowest of their latencies has passed twice more.
//   Report: UDP works (any reply), per family working and mapped address (the first IPv4
//   mapping, the latest IPv6 one), whether the IPv4 mapping varies by destination (hard
//   NAT: two servers saw different ip:port), the minimum latency per region and family.
//   PreferredRegion: Tailscale's choice of home region with hysteresis over 5 minutes of
//   reports (section 5.3).
//
// Thread safety: none; one owner.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/ip.hpp"
#include "net/stun.hpp"

namespace netcheck {

using namespace std::chrono_literals;

// One STUN server: a DERP node's STUN address of one family.
struct Target {
  int region = 0;
  std::string node;
  base::Endpoint stun;
};

// A region to measure: its STUN servers in priority order (both families mixed).
struct Region {
  int id = 0;
  std::vector<Target> nodes;
};

struct Report {
  bool udp = false;  // any STUN reply at all
  bool ipv4 = false;
  bool ipv6 = false;
  std::optional<base::Endpoint> global_v4;  // first IPv4 mapping seen
  std::optional<base::Endpoint> global_v6;  // latest IPv6 mapping seen
  std::optional<bool> mapping_varies;       // IPv4: unknown until two servers answered
  std::map<int, base::Duration> latency;    // region -> minimum, either family
  std::map<int, base::Duration> latency_v4;
  std::map<int, base::Duration> latency_v6;
  // IPv4 and IPv6 mappings seen more than once (advertised besides the globals).
  std::vector<base::Endpoint> extra_mappings;
};

struct StunRequest {
  net::stun::TxId txid;
  Target to;
};

class Probe {
 public:
  struct Timing {
    base::Duration report = 5s;      // the whole report
    base::Duration stun = 3s;        // the STUN phase
    base::Duration spacing = 100ms;  // between a region's tries
    int tries = 3;                   // per region and family
    int enough_regions = 3;          // answered regions after which the end comes early
  };

  // Starts a full report at `now` over `regions`, for the families the host can use.
  Probe(std::vector<Region> regions, bool has_v4, bool has_v6, base::TimePoint now)
      : Probe(std::move(regions), has_v4, has_v6, now, Timing{}) {}
  Probe(std::vector<Region> regions, bool has_v4, bool has_v6, base::TimePoint now,
        const Timing& timing);

  // The requests due by `now` (each with a fresh transaction id), in order.
  std::vector<StunRequest> due(base::TimePoint now);
  // A STUN reply that arrived at `now`. False if it answers none of our requests.
  bool on_response(const net::stun::Response& response, base::TimePoint now);
  // Whether the report is complete at `now`; once it is, nothing more is due.
  bool done(base::TimePoint now) const noexcept;
  // When the next request is due or the report may be done, whichever comes first.
  base::TimePoint next_event(base::TimePoint now) const noexcept;

  const Report& report() const noexcept { return report_; }

 private:
  struct Planned {
    base::TimePoint at;
    Target to;
    bool v6 = false;
    bool sent = false;
    bool cancelled = false;
  };
  struct InFlight {
    base::TimePoint sent;
    int region;
    bool v6;
  };

  const Timing timing_;
  const base::TimePoint start_;
  std::vector<Planned> plan_;
  std::map<net::stun::TxId, InFlight> in_flight_;
  std::map<base::Endpoint, int> mappings_seen_;
  std::optional<base::TimePoint> early_end_;  // once enough regions answered
  Report report_;
};

// Tailscale's preferred DERP region with hysteresis (disco-magicsock.md 5.3): the region of
// the current report with the lowest latency over the last 5 minutes (scaled by the map's
// RegionScore), except that the previous choice stays unless the new one is both 10 ms and a
// third faster than the previous one's current latency. In mesh mode it is reported; the
// configured home region does not move with it.
class PreferredRegion {
 public:
  static constexpr base::Duration kHistory = 5min + 5s;

  // Adds `report` taken at `now`; returns the preferred region (0: none). `heard_current`:
  // a DERP frame came from the current region lately (it still counts as reachable).
  int update(const Report& report, base::TimePoint now,
             const std::map<int, double>& region_score = {}, bool heard_current = false);
  int current() const noexcept { return current_; }

 private:
  std::vector<std::pair<base::TimePoint, std::map<int, base::Duration>>> history_;
  int current_ = 0;
};

}  // namespace netcheck
