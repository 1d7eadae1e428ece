// SPDX-License-Identifier: MIT
#include "magicsock/derp_regions.hpp"

#include <iterator>

namespace magicsock {

void DerpRegions::on_connected(int region) {
  open_.insert(region);
}

void DerpRegions::on_disconnected(int region) {
  open_.erase(region);
  std::erase_if(reverse_, [&](const auto& kv) { return kv.second == region; });
}

void DerpRegions::on_received(int region, const base::NodePublicKey& peer) {
  reverse_[peer] = region;
}

void DerpRegions::on_peer_gone(int region, const base::NodePublicKey& peer) {
  if (const auto it = reverse_.find(peer); it != reverse_.end() && it->second == region)
    reverse_.erase(it);
}

std::optional<int> DerpRegions::route(const base::NodePublicKey& peer, int peer_home,
                                      base::TimePoint now) {
  std::optional<int> via;
  if (peer_home != 0 && open_.contains(peer_home)) {
    via = peer_home;
  } else if (const auto r = reverse_.find(peer); r != reverse_.end() && open_.contains(r->second)) {
    via = r->second;  // answer through the region it reached us on
  } else if (peer_home != 0) {
    via = peer_home;  // to be opened
  } else if (r != reverse_.end()) {
    via = r->second;
  }
  if (via) last_write_[*via] = now;
  if (peer_home != 0) peer_home_active_[peer_home] = now;
  return via;
}

std::set<int> DerpRegions::wanted(base::TimePoint now) const {
  std::set<int> w;
  if (home_ != 0) w.insert(home_);
  for (const auto& [region, at] : last_write_) {
    if (now - at < config_.idle_close) w.insert(region);
  }
  if (config_.warm_peer_regions) {
    for (const auto& [region, at] : peer_home_active_) {
      if (now - at < config_.active_peer) w.insert(region);
    }
  }
  return w;
}

std::optional<int> DerpRegions::reverse_route(const base::NodePublicKey& peer) const {
  const auto it = reverse_.find(peer);
  if (it == reverse_.end()) return std::nullopt;
  return it->second;
}

}  // namespace magicsock
