// SPDX-License-Identifier: MIT
// PathState: one peer's path choice between direct UDP and DERP, as pure logic. State in,
// decisions out, time passed in: nothing here sends, reads a clock or takes a lock. The
// bind (magicsock::Conn, control thread) feeds it events, sends the pings and CallMeMaybes
// it asks for, and publishes route() for the workers.
//
// Tailscale's policy (disco-magicsock.md section 4, its constants the defaults of PathConfig):
//   route        trusted best address: UDP only; best address whose trust ran out: UDP and
//                DERP; no best address: DERP only.
//   trust        only disco pongs from the best address extend it (6.5 s), never data.
//   discovery    pings to every candidate not pinged in the last 5 s, when a send finds no
//                trusted path, on heartbeats that want it, and on a CallMeMaybe; a
//                CallMeMaybe goes out with it when at least one ping did.
//   heartbeat    every 3 s while app data was sent in the last 45 s: a ping to the best
//                address.
//   losing it    a ping to the best address that times out (5 s) after trust expired
//                clears it; so does "host unreachable".
//   best address betterAddr (better_addr below): latency with hysteresis and address-class
//                bonuses.
//
// Mesh mode's differences (PathConfig::mesh, mesh-mode.md sections 2 and 3), wire-compatible:
//   - CallMeMaybe without candidates: while we send and have no trusted path, at most one
//     per heartbeat even if we pinged nobody; a received one is answered with ours.
//   - Triggered checks: a ping from a candidate of a peer without a trusted path is answered
//     at once with a ping back (at most one per second per address).
//   - Suspicion from data: while we send on the best address, data that was coming back from
//     it and stopped for max(4 x srtt, 250 ms) (and no pong meanwhile) sends a probe ping
//     with a short timeout (max(3 x srtt, 200 ms)). A flow that never answered with data is
//     one-way, and the heartbeat below watches it instead.
//   - Hedging: from that probe on, packets go to DERP as well (duplicates die in WireGuard's
//     replay window). It is cheap and not a path change; it ends when the address answers.
//   - Abandonment only on strong evidence: 3 consecutive missed pings spanning at least 1 s
//     with nothing authenticated from the address meanwhile. A pong or authenticated data
//     from it clears suspicion. The abandoned address is probed every second while we send,
//     so a restored path is used again within about a second.
//   - One-way flows: while we send and hear no data back, heartbeat every 1 s and trust a
//     pong for 2.5 s; heartbeat pings then time out like probes.
//   The cost on a healthy path stays Tailscale's: one heartbeat ping per 3 s (1 s one-way).
//
// Thread safety: none; one owner (the control thread).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "base/clock.hpp"
#include "base/ip.hpp"

namespace magicsock {

using namespace std::chrono_literals;

struct PathConfig {
  base::Duration heartbeat = 3s;          // heartbeatInterval
  base::Duration trust = 6500ms;          // trustUDPAddrDuration
  base::Duration session_idle = 45s;      // sessionActiveTimeout
  base::Duration upgrade_interval = 60s;  // upgradeUDPDirectInterval
  base::Duration good_enough = 5ms;       // goodEnoughLatency
  base::Duration ping_timeout = 5s;       // pingTimeoutDuration
  base::Duration discovery_gate = 5s;     // discoPingInterval
  base::Duration reflexive_expiry = 45s;  // a candidate learned from pings, after the last
  std::size_t max_candidates = 100;

  bool mesh = true;  // the differences above; false: Tailscale's policy alone
  base::Duration one_way_heartbeat = 1s;
  base::Duration one_way_trust = 2500ms;
  base::Duration suspicion_floor = 250ms;      // max(4 x srtt, this)
  base::Duration probe_timeout_floor = 200ms;  // max(3 x srtt, this)
  int abandon_misses = 3;
  base::Duration abandon_span = 1s;
  base::Duration triggered_check_gap = 1s;  // per address
  base::Duration suspicion_horizon = 2s;    // data stopped longer ago than this: not suspicion
};

// A pong's quality, for better_addr(): the address pinged and the round trip it took.
struct AddrQuality {
  base::Endpoint addr;  // not valid(): none
  base::Duration latency{0};
  std::uint16_t wire_mtu = 0;
};

// Tailscale's betterAddr: whether `a` should replace `b` as the best address.
bool better_addr(const AddrQuality& a, const AddrQuality& b) noexcept;

using TxId = std::array<std::byte, 12>;

enum class PingPurpose : std::uint8_t { discovery, heartbeat, probe };

struct PingRequest {
  TxId txid;
  base::Endpoint to;
  PingPurpose purpose;
};

// What a call asks the owner to send.
struct PathActions {
  std::vector<PingRequest> pings;  // disco pings over UDP
  bool call_me_maybe = false;      // our endpoints to the peer, over DERP
};

// Where the workers send the peer's packets now.
struct Route {
  std::optional<base::Endpoint> direct;  // by UDP
  bool derp = false;                     // through DERP (as well, when direct is set)
  friend bool operator==(const Route&, const Route&) = default;
};

class PathState {
 public:
  explicit PathState(const PathConfig& config = {}) : config_(config) {}

  // --- candidates ---
  // The addresses the configuration lists for the peer (replacing the previous list).
  void set_configured(std::span<const base::Endpoint> endpoints);
  // A CallMeMaybe from the peer listing `endpoints` (disco-magicsock.md 4.10).
  void on_call_me_maybe(std::span<const base::Endpoint> endpoints, base::TimePoint now,
                        PathActions& out);

  // --- events ---
  // App (WireGuard) data is being sent to the peer.
  void on_send(base::TimePoint now, PathActions& out);
  // A disco ping arrived from `from` by UDP. False: the same ping was seen already (no
  // second pong); true: answer it with a pong.
  bool on_ping(const base::Endpoint& from, const TxId& txid, base::TimePoint now, PathActions& out);
  // A disco pong with `txid`. False if it answers no ping of ours. `via_derp`: it came
  // through a DERP relay (completes a ping, changes no path).
  bool on_pong(const TxId& txid, bool via_derp, base::TimePoint now);
  // Something authenticated (WireGuard data or disco) arrived by UDP from `from`.
  void on_authenticated(const base::Endpoint& from, base::TimePoint now);
  // A send to `to` failed with "host unreachable".
  void on_unreachable(const base::Endpoint& to);
  // The network changed (rebind): forget the best address and what was learned of each
  // candidate; keep the candidates.
  void reset();
  // Timers: ping timeouts, heartbeats, suspicion probes. Call at least every 100 ms while
  // anything is in flight.
  void tick(base::TimePoint now, PathActions& out);

  // --- state ---
  Route route(base::TimePoint now) const;
  bool trusted(base::TimePoint now) const noexcept {
    return best_.addr.valid() && now <= trust_until_;
  }
  const AddrQuality& best() const noexcept { return best_; }
  std::size_t candidate_count() const noexcept { return candidates_.size(); }
  std::size_t pings_in_flight() const noexcept { return sent_.size(); }
  bool heartbeating() const noexcept { return next_heartbeat_.has_value(); }
  int misses() const noexcept { return misses_; }
  bool suspect() const noexcept { return suspect_; }
  base::Duration srtt() const noexcept { return srtt_; }

 private:
  struct Candidate {
    bool configured = false;
    std::optional<base::TimePoint> listed_at;      // in the peer's last CallMeMaybe
    std::optional<base::TimePoint> ping_received;  // learned from its pings
    std::optional<TxId> last_txid;                 // of the last ping received
    std::optional<base::TimePoint> ping_sent;      // our last ping to it
    std::optional<base::TimePoint> triggered;      // our last triggered check to it
    std::optional<base::Duration> latency;         // of its last pong
  };
  struct SentPing {
    base::Endpoint to;
    base::TimePoint at;
    base::Duration timeout;
    PingPurpose purpose;
  };

  void discovery(base::TimePoint now, bool call_me_maybe, PathActions& out);
  void ping(const base::Endpoint& to, PingPurpose purpose, base::Duration timeout,
            base::TimePoint now, PathActions& out);
  bool wants_full_discovery(base::TimePoint now) const noexcept;
  bool deletable(const Candidate& c, base::TimePoint now) const noexcept;
  bool one_way(base::TimePoint now) const noexcept;
  void maybe_call_me_maybe(base::TimePoint now, PathActions& out);
  void clear_best() noexcept;
  void miss(base::TimePoint now);
  void heard(base::TimePoint now) noexcept;
  bool suspicious(base::TimePoint now) const noexcept;
  bool probing() const noexcept;
  base::Duration suspicion_window() const noexcept;
  base::Duration probe_timeout() const noexcept;

  const PathConfig config_;
  std::map<base::Endpoint, Candidate> candidates_;
  std::map<TxId, SentPing> sent_;
  AddrQuality best_;
  base::TimePoint trust_until_{};
  std::optional<base::TimePoint> last_send_;
  std::optional<base::TimePoint> last_full_discovery_;
  std::optional<base::TimePoint> next_heartbeat_;
  std::optional<base::TimePoint> last_call_me_maybe_;
  // Mesh failover: when the best address last sent us data and a pong, whether we suspect
  // it, consecutive missed pings and when the first of them happened, the smoothed RTT, and
  // the address abandoned last (probed while we send).
  std::optional<base::TimePoint> data_from_best_;
  std::optional<base::TimePoint> pong_from_best_;
  bool suspect_ = false;
  int misses_ = 0;
  std::optional<base::TimePoint> first_miss_;
  base::Duration srtt_{0};
  base::Endpoint lost_;
  std::optional<base::TimePoint> lost_probed_;
};

}  // namespace magicsock
