// SPDX-License-Identifier: MIT
#include "derpserver/flows.hpp"

#include <algorithm>

namespace derpserver {

std::shared_ptr<Flow> FlowTable::get(const base::NodePublicKey& src,
                                     const base::NodePublicKey& dst) {
  const base::TimePoint now = clock_.now();
  base::MutexLock lock(mu_);
  const PairKey key{src, dst};
  if (auto it = map_.find(key); it != map_.end()) {
    it->second->touch(now);
    return it->second;
  }
  // Two eviction checks per insertion keep cleanup in step with creation.
  check_one_locked(now);
  check_one_locked(now);
  if (map_.size() >= max_flows_) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto f = std::make_shared<Flow>(src, dst, now, clock_.wall());
  f->index = all_.size();
  all_.push_back(f);
  map_.emplace(key, f);
  created_.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void FlowTable::check_one_locked(base::TimePoint now) {
  if (all_.empty()) return;
  if (next_check_ >= all_.size()) next_check_ = 0;
  const std::size_t i = next_check_;
  Flow& f = *all_[i];
  // use_count 2: only map_ and all_ hold it, no connection's cache does.
  if (now - f.last_activity() <= idle_timeout_ || all_[i].use_count() > 2) {
    ++next_check_;
    return;
  }
  map_.erase(PairKey{f.src, f.dst});
  if (i + 1 != all_.size()) {
    all_[i] = std::move(all_.back());
    all_[i]->index = i;
  }
  all_.pop_back();
  evicted_.fetch_add(1, std::memory_order_relaxed);
  // next_check_ stays: the record moved into slot i is checked next.
}

void FlowTable::sweep(std::size_t n) {
  const base::TimePoint now = clock_.now();
  base::MutexLock lock(mu_);
  for (std::size_t i = 0; i < n && !all_.empty(); ++i) check_one_locked(now);
}

std::size_t FlowTable::size() const {
  base::MutexLock lock(mu_);
  return map_.size();
}

std::vector<FlowSnapshot> FlowTable::top(std::size_t limit) const {
  const base::TimePoint now = clock_.now();
  std::vector<FlowSnapshot> out;
  {
    base::MutexLock lock(mu_);
    out.reserve(all_.size());
    for (const auto& f : all_) {
      FlowSnapshot s;
      s.src = f->src;
      s.dst = f->dst;
      s.created = f->created_wall;
      s.idle = now - f->last_activity();
      s.packets_local = f->packets_local.load(std::memory_order_relaxed);
      s.bytes_local = f->bytes_local.load(std::memory_order_relaxed);
      s.packets_forwarded = f->packets_forwarded.load(std::memory_order_relaxed);
      s.bytes_forwarded = f->bytes_forwarded.load(std::memory_order_relaxed);
      s.drops_unknown_dest = f->drops_unknown_dest.load(std::memory_order_relaxed);
      s.drops_gone = f->drops_gone.load(std::memory_order_relaxed);
      out.push_back(s);
    }
  }
  const auto bytes = [](const FlowSnapshot& s) { return s.bytes_local + s.bytes_forwarded; };
  const std::size_t n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [&](const FlowSnapshot& a, const FlowSnapshot& b) {
                      if (bytes(a) != bytes(b)) return bytes(a) > bytes(b);
                      return a.drops_unknown_dest + a.drops_gone >
                             b.drops_unknown_dest + b.drops_gone;
                    });
  out.resize(n);
  return out;
}

}  // namespace derpserver
