// SPDX-License-Identifier: MIT
#include "netcheck/netcheck.hpp"

#include <algorithm>

namespace netcheck {

namespace {

void keep_min(std::map<int, base::Duration>& m, int region, base::Duration d) {
  auto [it, added] = m.emplace(region, d);
  if (!added) it->second = std::min(it->second, d);
}

}  // namespace

Probe::Probe(std::vector<Region> regions, bool has_v4, bool has_v6, base::TimePoint now,
             const Timing& timing)
    : timing_(timing), start_(now) {
  for (const Region& r : regions) {
    for (const bool v6 : {false, true}) {
      if ((v6 && !has_v6) || (!v6 && !has_v4)) continue;
      std::vector<const Target*> nodes;
      for (const Target& t : r.nodes) {
        if (t.stun.valid() && t.stun.addr.is_v6() == v6) nodes.push_back(&t);
      }
      if (nodes.empty()) continue;
      for (int i = 0; i < timing_.tries; ++i) {
        const Target& to = *nodes[static_cast<std::size_t>(i) % nodes.size()];
        plan_.push_back(Planned{now + i * timing_.spacing, to, v6});
      }
    }
  }
  std::stable_sort(plan_.begin(), plan_.end(),
                   [](const Planned& a, const Planned& b) { return a.at < b.at; });
}

std::vector<StunRequest> Probe::due(base::TimePoint now) {
  std::vector<StunRequest> out;
  if (done(now)) return out;
  for (Planned& p : plan_) {
    if (p.sent || p.cancelled || p.at > now) continue;
    p.sent = true;
    StunRequest r{net::stun::new_tx_id(), p.to};
    in_flight_[r.txid] = InFlight{now, p.to.region, p.v6};
    out.push_back(std::move(r));
  }
  return out;
}

bool Probe::on_response(const net::stun::Response& response, base::TimePoint now) {
  const auto it = in_flight_.find(response.tx);
  if (it == in_flight_.end() || done(now)) return false;
  const InFlight f = it->second;
  in_flight_.erase(it);
  const base::Duration latency = now - f.sent;
  const base::Endpoint& mapped = response.addr;
  report_.udp = true;
  keep_min(report_.latency, f.region, latency);
  if (f.v6) {
    report_.ipv6 = true;
    report_.global_v6 = mapped;
    keep_min(report_.latency_v6, f.region, latency);
  } else {
    report_.ipv4 = true;
    keep_min(report_.latency_v4, f.region, latency);
    if (!report_.global_v4) {
      report_.global_v4 = mapped;
    } else if (mapped != *report_.global_v4) {
      report_.mapping_varies = true;  // another server saw another mapping: hard NAT
    } else if (!report_.mapping_varies) {
      report_.mapping_varies = false;
    }
  }
  // Mappings seen more than once are worth advertising too.
  if (++mappings_seen_[mapped] == 2 && mapped != report_.global_v4 && mapped != report_.global_v6)
    report_.extra_mappings.push_back(mapped);
  // The first reply of a region's set cancels the rest of it.
  for (Planned& p : plan_) {
    if (!p.sent && p.to.region == f.region && p.v6 == f.v6) p.cancelled = true;
  }
  // Enough regions: wait twice the slowest of their latencies, then end.
  if (!early_end_ && static_cast<int>(report_.latency.size()) >= timing_.enough_regions) {
    base::Duration slowest{0};
    for (const auto& [region, d] : report_.latency) slowest = std::max(slowest, d);
    early_end_ = now + 2 * slowest;
  }
  return true;
}

bool Probe::done(base::TimePoint now) const noexcept {
  if (now - start_ >= std::min(timing_.report, timing_.stun)) return true;
  if (early_end_ && now >= *early_end_) return true;
  const bool all_sent = std::all_of(plan_.begin(), plan_.end(),
                                    [](const Planned& p) { return p.sent || p.cancelled; });
  return all_sent && in_flight_.empty();
}

base::TimePoint Probe::next_event(base::TimePoint now) const noexcept {
  base::TimePoint next = start_ + std::min(timing_.report, timing_.stun);
  if (early_end_) next = std::min(next, *early_end_);
  for (const Planned& p : plan_) {
    if (!p.sent && !p.cancelled) next = std::min(next, std::max(p.at, now));
  }
  return next;
}

int PreferredRegion::update(const Report& report, base::TimePoint now,
                            const std::map<int, double>& region_score, bool heard_current) {
  history_.emplace_back(now, report.latency);
  std::erase_if(history_, [&](const auto& h) { return now - h.first > kHistory; });
  auto scaled = [&](int region, base::Duration d) {
    const auto s = region_score.find(region);
    if (s == region_score.end() || s->second <= 0) return d;
    return std::chrono::duration_cast<base::Duration>(d * s->second);
  };
  // The best of each region of this report over the history.
  int best = 0;
  base::Duration best_latency = base::Duration::max();
  for (const auto& [region, latest] : report.latency) {
    base::Duration lowest = latest;
    for (const auto& [at, past] : history_) {
      if (const auto it = past.find(region); it != past.end())
        lowest = std::min(lowest, it->second);
    }
    const base::Duration d = scaled(region, lowest);
    if (d < best_latency) {
      best = region;
      best_latency = d;
    }
  }
  if (best == 0) {
    // Nothing measured: keep the old home only if it was heard from lately.
    if (!heard_current) current_ = 0;
    return current_;
  }
  if (best != current_ && current_ != 0) {
    // Stickiness: the old region stays unless the new one is 10 ms and a third faster than
    // the old one's latency now (0 when only heard from through DERP: it stays).
    const auto old = report.latency.find(current_);
    if (old != report.latency.end() || heard_current) {
      const base::Duration old_now =
          old != report.latency.end() ? scaled(current_, old->second) : base::Duration{0};
      if (old_now - best_latency < 10ms || best_latency * 3 > old_now * 2) return current_;
    }
  }
  current_ = best;
  return current_;
}

}  // namespace netcheck
