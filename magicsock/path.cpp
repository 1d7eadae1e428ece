// SPDX-License-Identifier: MIT
#include "magicsock/path.hpp"

#include <algorithm>

#include "base/random.hpp"

namespace magicsock {

namespace {

base::IpPrefix prefix(const char* text) {
  return *base::IpPrefix::parse(text);
}

bool link_local(const base::IpAddr& a) {
  static const base::IpPrefix v4 = prefix("169.254.0.0/16"), v6 = prefix("fe80::/10");
  return v4.contains(a) || v6.contains(a);
}

bool private_range(const base::IpAddr& a) {
  static const std::array<base::IpPrefix, 4> ranges = {
      prefix("10.0.0.0/8"), prefix("172.16.0.0/12"), prefix("192.168.0.0/16"), prefix("fc00::/7")};
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const base::IpPrefix& p) { return p.contains(a); });
}

// betterAddr's address-class bonus: loopback, else link-local, else private (RFC 1918 and
// fc00::/7; 100.64/10 is not private here); and IPv6.
std::int64_t class_points(const base::IpAddr& raw) {
  const base::IpAddr a = raw.unmap();
  const std::int64_t v6 = a.is_v6() ? 10 : 0;
  if (a.is_loopback()) return 50 + v6;
  if (link_local(a)) return 30 + v6;
  if (private_range(a)) return 20 + v6;
  return v6;
}

}  // namespace

bool better_addr(const AddrQuality& a, const AddrQuality& b) noexcept {
  if (a.addr == b.addr) return a.wire_mtu > b.wire_mtu;
  if (!b.addr.valid()) return true;
  if (!a.addr.valid()) return false;
  // Latency points, on nanoseconds with integer division: the slower side gets nothing.
  const std::int64_t la = a.latency.count();
  const std::int64_t lb = b.latency.count();
  std::int64_t ap = 0, bp = 0;
  if (la > lb && la > 0) {
    bp = 100 - lb * 100 / la;
  } else if (lb > 0) {
    ap = 100 - la * 100 / lb;
  }
  ap += class_points(a.addr.addr);
  bp += class_points(b.addr.addr);
  if (ap <= 1 && bp == 0) return false;  // hysteresis: 1 % is no reason to move
  return ap > bp;
}

// --- candidates ---

void PathState::set_configured(std::span<const base::Endpoint> endpoints) {
  for (auto& [addr, c] : candidates_) c.configured = false;
  for (const auto& e : endpoints) {
    if (candidates_.size() >= config_.max_candidates && !candidates_.contains(e)) break;
    candidates_[e].configured = true;
  }
  std::erase_if(candidates_, [](const auto& kv) {
    const Candidate& c = kv.second;
    return !c.configured && !c.listed_at && !c.ping_received;
  });
}

void PathState::on_call_me_maybe(std::span<const base::Endpoint> endpoints, base::TimePoint now,
                                 PathActions& out) {
  for (auto& [addr, c] : candidates_) c.listed_at.reset();
  for (const auto& e : endpoints) {
    if (!e.valid() || (e.addr.is_v6() && link_local(e.addr))) continue;
    if (candidates_.size() >= config_.max_candidates && !candidates_.contains(e)) break;
    candidates_[e].listed_at = now;
  }
  std::erase_if(candidates_, [&](const auto& kv) { return deletable(kv.second, now); });
  // Ping everything now, whatever the 5 s spacing says; no CallMeMaybe back (Tailscale).
  for (auto& [addr, c] : candidates_) c.ping_sent.reset();
  discovery(now, false, out);
  // Mesh: without a trusted path, tell the peer where we are too (it may know nothing).
  if (config_.mesh && !trusted(now)) maybe_call_me_maybe(now, out);
}

bool PathState::deletable(const Candidate& c, base::TimePoint now) const noexcept {
  if (c.configured || c.listed_at) return false;
  return !c.ping_received || now - *c.ping_received > config_.reflexive_expiry;
}

// --- events ---

void PathState::on_send(base::TimePoint now, PathActions& out) {
  last_send_ = now;
  if (!next_heartbeat_) next_heartbeat_ = now + config_.heartbeat;
  if (!trusted(now)) discovery(now, true, out);
}

bool PathState::on_ping(const base::Endpoint& from, const TxId& txid, base::TimePoint now,
                        PathActions& out) {
  const bool known = candidates_.contains(from);
  if (!known && candidates_.size() >= config_.max_candidates) {
    std::erase_if(candidates_, [&](const auto& kv) { return deletable(kv.second, now); });
  }
  Candidate& c = candidates_[from];
  c.ping_received = now;
  if (c.last_txid == txid) return false;  // the same ping twice: one pong
  c.last_txid = txid;
  // Mesh: a triggered check, so that both directions go direct as soon as one does.
  if (config_.mesh && !trusted(now) &&
      (!c.triggered || now - *c.triggered >= config_.triggered_check_gap)) {
    c.triggered = now;
    c.ping_sent = now;
    ping(from, PingPurpose::discovery, config_.ping_timeout, now, out);
  }
  return true;
}

bool PathState::on_pong(const TxId& txid, bool via_derp, base::TimePoint now) {
  const auto it = sent_.find(txid);
  if (it == sent_.end()) return false;
  const SentPing sent = it->second;
  sent_.erase(it);
  if (via_derp) return true;  // completes the ping; paths come from UDP pongs only
  const base::Duration latency = now - sent.at;
  if (auto c = candidates_.find(sent.to); c != candidates_.end()) c->second.latency = latency;
  const AddrQuality pong{sent.to, latency, 0};
  if (better_addr(pong, best_) || !trusted(now)) {
    if (best_.addr != pong.addr) clear_best();  // what we knew of the old address goes
    best_ = pong;
  }
  if (best_.addr == pong.addr) {
    best_.latency = latency;
    trust_until_ = now + (one_way(now) ? config_.one_way_trust : config_.trust);
    pong_from_best_ = now;
    heard(now);
    lost_ = base::Endpoint{};
    // Smoothed RTT, as TCP's (1/8 gain).
    srtt_ = srtt_.count() == 0 ? latency : srtt_ + (latency - srtt_) / 8;
  }
  return true;
}

void PathState::on_authenticated(const base::Endpoint& from, base::TimePoint now) {
  if (!best_.addr.valid() || from != best_.addr) return;
  data_from_best_ = now;
  heard(now);  // clears suspicion; trust stays the pongs' alone
}

void PathState::heard(base::TimePoint) noexcept {
  suspect_ = false;
  misses_ = 0;
  first_miss_.reset();
}

void PathState::on_unreachable(const base::Endpoint& to) {
  if (best_.addr == to) clear_best();
  if (auto c = candidates_.find(to); c != candidates_.end()) {
    c->second.latency.reset();
    c->second.ping_sent.reset();
  }
}

void PathState::reset() {
  clear_best();
  sent_.clear();
  for (auto& [addr, c] : candidates_) {
    c.latency.reset();
    c.ping_sent.reset();
    c.triggered.reset();
  }
  last_full_discovery_.reset();
}

void PathState::tick(base::TimePoint now, PathActions& out) {
  // Pings that timed out.
  for (auto it = sent_.begin(); it != sent_.end();) {
    const SentPing& s = it->second;
    if (now - s.at < s.timeout) {
      ++it;
      continue;
    }
    const bool to_best = best_.addr.valid() && s.to == best_.addr;
    it = sent_.erase(it);
    if (!to_best) continue;
    if (config_.mesh) {
      miss(now);
    } else if (!trusted(now)) {
      clear_best();  // Tailscale since v1.98: a timed-out ping after trust expired
    }
  }
  const bool sending = last_send_ && now - *last_send_ <= config_.session_idle;
  if (config_.mesh && sending) {
    // Suspicion from data: probe, and hedge meanwhile.
    if (suspicious(now) && !probing()) {
      suspect_ = true;
      ping(best_.addr, PingPurpose::probe, probe_timeout(), now, out);
    }
    // A lost address may come back: ask it every second while there is something to send.
    if (lost_.valid() && !best_.addr.valid() &&
        (!lost_probed_ || now - *lost_probed_ >= config_.one_way_heartbeat)) {
      lost_probed_ = now;
      ping(lost_, PingPurpose::probe, probe_timeout(), now, out);
    }
  }
  // Heartbeat.
  if (next_heartbeat_ && now >= *next_heartbeat_) {
    if (!sending) {
      next_heartbeat_.reset();  // the session went idle: idle peers cost nothing
      lost_ = base::Endpoint{};
      return;
    }
    const bool fast = one_way(now);
    if (best_.addr.valid()) {
      ping(best_.addr, PingPurpose::heartbeat, fast ? probe_timeout() : config_.ping_timeout, now,
           out);
    }
    if (wants_full_discovery(now)) discovery(now, true, out);
    next_heartbeat_ = now + (fast ? config_.one_way_heartbeat : config_.heartbeat);
  }
}

// --- state ---

Route PathState::route(base::TimePoint now) const {
  Route r;
  if (!best_.addr.valid()) {
    r.derp = true;
    return r;
  }
  r.direct = best_.addr;
  r.derp = !trusted(now) || (config_.mesh && (suspect_ || misses_ > 0));
  return r;
}

// --- helpers ---

void PathState::discovery(base::TimePoint now, bool call_me_maybe, PathActions& out) {
  last_full_discovery_ = now;
  std::erase_if(candidates_, [&](const auto& kv) { return deletable(kv.second, now); });
  bool pinged = false;
  for (auto& [addr, c] : candidates_) {
    if (c.ping_sent && now - *c.ping_sent < config_.discovery_gate) continue;
    c.ping_sent = now;
    ping(addr, PingPurpose::discovery, config_.ping_timeout, now, out);
    pinged = true;
  }
  if (!call_me_maybe) return;
  if (pinged) {
    out.call_me_maybe = true;
    last_call_me_maybe_ = now;
  } else if (config_.mesh) {
    maybe_call_me_maybe(now, out);  // even knowing none of its endpoints
  }
}

void PathState::maybe_call_me_maybe(base::TimePoint now, PathActions& out) {
  if (last_call_me_maybe_ && now - *last_call_me_maybe_ < config_.heartbeat) return;
  out.call_me_maybe = true;
  last_call_me_maybe_ = now;
}

void PathState::ping(const base::Endpoint& to, PingPurpose purpose, base::Duration timeout,
                     base::TimePoint now, PathActions& out) {
  TxId txid;
  base::random_bytes(txid);
  sent_[txid] = SentPing{to, now, timeout, purpose};
  out.pings.push_back({txid, to, purpose});
}

bool PathState::wants_full_discovery(base::TimePoint now) const noexcept {
  if (!best_.addr.valid() || !last_full_discovery_ || !trusted(now)) return true;
  if (best_.latency <= config_.good_enough) return false;
  return now - *last_full_discovery_ >= config_.upgrade_interval;
}

bool PathState::one_way(base::TimePoint now) const noexcept {
  if (!config_.mesh || !last_send_ || now - *last_send_ > config_.one_way_heartbeat) return false;
  return !data_from_best_ || now - *data_from_best_ > config_.one_way_heartbeat;
}

bool PathState::suspicious(base::TimePoint now) const noexcept {
  if (!best_.addr.valid() || !last_send_ || !data_from_best_) return false;
  const base::Duration window = suspicion_window();
  if (now - *last_send_ > window) return false;  // not sending on it now
  const base::Duration silent = now - *data_from_best_;
  if (silent <= window || silent > window + config_.suspicion_horizon) return false;
  return !pong_from_best_ || now - *pong_from_best_ > window;
}

bool PathState::probing() const noexcept {
  return std::any_of(sent_.begin(), sent_.end(), [&](const auto& kv) {
    return kv.second.purpose == PingPurpose::probe && kv.second.to == best_.addr;
  });
}

void PathState::clear_best() noexcept {
  best_ = AddrQuality{};
  trust_until_ = base::TimePoint{};
  data_from_best_.reset();
  pong_from_best_.reset();
  suspect_ = false;
  misses_ = 0;
  first_miss_.reset();
}

void PathState::miss(base::TimePoint now) {
  if (misses_ == 0) first_miss_ = now;
  ++misses_;
  // Strong evidence only: several misses, over a span, nothing heard meanwhile (any pong or
  // authenticated packet from the address would have reset the count).
  if (misses_ >= config_.abandon_misses && now - *first_miss_ >= config_.abandon_span) {
    lost_ = best_.addr;
    lost_probed_ = now;
    clear_best();
  }
}

base::Duration PathState::suspicion_window() const noexcept {
  return std::max<base::Duration>(4 * srtt_, config_.suspicion_floor);
}

base::Duration PathState::probe_timeout() const noexcept {
  return std::max<base::Duration>(3 * srtt_, config_.probe_timeout_floor);
}

}  // namespace magicsock
