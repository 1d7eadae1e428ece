// SPDX-License-Identifier: MIT
#include "derpserver/flows.hpp"

#include <algorithm>
#include <cstring>
#include <sodium.h>

#include "base/random.hpp"

namespace derpserver {

static_assert(sizeof(std::array<unsigned char, 16>) == crypto_shorthash_KEYBYTES);

FlowTable::PairKey FlowTable::pair_key(const base::NodePublicKey& src,
                                       const base::NodePublicKey& dst) const noexcept {
  unsigned char in[64];
  std::memcpy(in, src.bytes().data(), 32);
  std::memcpy(in + 32, dst.bytes().data(), 32);
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, in, sizeof in, hash_key_.data());
  std::uint64_t h;
  std::memcpy(&h, out, sizeof h);
  return PairKey{src, dst, static_cast<std::size_t>(h)};
}

std::size_t FlowTable::SourceHash::operator()(const base::NodePublicKey& k) const noexcept {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(k.bytes().data()), 32, key->data());
  std::uint64_t h;
  std::memcpy(&h, out, sizeof h);
  return static_cast<std::size_t>(h);
}

FlowTable::FlowTable(base::Clock& clock, std::size_t max_flows, base::Duration idle_timeout,
                     std::size_t max_per_source)
    : clock_(clock),
      max_flows_(max_flows),
      idle_timeout_(idle_timeout),
      max_per_source_(max_per_source) {
  base::random_bytes(
      base::ByteSpan(reinterpret_cast<std::byte*>(hash_key_.data()), hash_key_.size()));
  stripes_.reserve(kFlowStripes);
  for (std::size_t i = 0; i < kFlowStripes; ++i) {
    stripes_.push_back(std::make_unique<Stripe>(&hash_key_));
  }
}

FlowTable::Stripe& FlowTable::stripe_for(const base::NodePublicKey& src) const noexcept {
  // The source hash picks the stripe; the stripe's per-source map buckets by the same hash,
  // modulo a prime bucket count, so all sources of a stripe still spread over its buckets.
  return *stripes_[SourceHash{&hash_key_}(src) % kFlowStripes];
}

std::shared_ptr<Flow> FlowTable::get(const base::NodePublicKey& src,
                                     const base::NodePublicKey& dst) {
  const base::TimePoint now = clock_.now();
  Stripe& s = stripe_for(src);
  const PairKey key = pair_key(src, dst);
  for (int attempt = 0;; ++attempt) {
    {
      base::MutexLock lock(s.mu);
      if (auto it = s.map.find(key); it != s.map.end()) {
        it->second->touch(now);
        return it->second;
      }
      if (attempt == 0) {
        // Two eviction checks per insertion keep cleanup in step with creation.
        check_one_locked(s, now);
        check_one_locked(s, now);
      }
      std::size_t& held = s.per_source[src];
      if (held >= max_per_source_) {
        refused_per_source_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
      if (count_.fetch_add(1, std::memory_order_relaxed) < max_flows_) {
        ++held;
        auto f = std::make_shared<Flow>(src, dst, now, clock_.wall());
        f->index = s.all.size();
        s.all.push_back(f);
        s.map.emplace(key, f);
        created_.fetch_add(1, std::memory_order_relaxed);
        return f;
      }
      count_.fetch_sub(1, std::memory_order_relaxed);
      if (held == 0) s.per_source.erase(src);
      if (attempt == 1) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
    }
    // Full: the idle records may be in other stripes. Two checks in each of them (one lock
    // at a time, so bounded work), then one more try.
    for (const auto& other : stripes_) {
      if (other.get() == &s) continue;
      base::MutexLock lock(other->mu);
      check_one_locked(*other, now);
      check_one_locked(*other, now);
    }
  }
}

void FlowTable::check_one_locked(Stripe& s, base::TimePoint now) {
  if (s.all.empty()) return;
  if (s.next_check >= s.all.size()) s.next_check = 0;
  const std::size_t i = s.next_check;
  Flow& f = *s.all[i];
  // use_count 2: only map and all hold it, no connection's cache does.
  if (now - f.last_activity() <= idle_timeout_ || s.all[i].use_count() > 2) {
    ++s.next_check;
    return;
  }
  if (auto it = s.per_source.find(f.src); it != s.per_source.end() && --it->second == 0) {
    s.per_source.erase(it);
  }
  s.map.erase(pair_key(f.src, f.dst));
  if (i + 1 != s.all.size()) {
    s.all[i] = std::move(s.all.back());
    s.all[i]->index = i;
  }
  s.all.pop_back();
  count_.fetch_sub(1, std::memory_order_relaxed);
  evicted_.fetch_add(1, std::memory_order_relaxed);
  // next_check stays: the record moved into slot i is checked next.
}

void FlowTable::sweep(std::size_t n) {
  const base::TimePoint now = clock_.now();
  // Stripes in turn from a rotating start, so a large stripe cannot starve the others.
  const std::size_t first = next_sweep_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t k = 0; k < kFlowStripes && n > 0; ++k) {
    Stripe& s = *stripes_[(first + k) % kFlowStripes];
    base::MutexLock lock(s.mu);
    for (std::size_t m = std::min(n, s.all.size()); m > 0; --m, --n) check_one_locked(s, now);
  }
}

std::vector<FlowSnapshot> FlowTable::top(std::size_t limit) const {
  const base::TimePoint now = clock_.now();
  const auto bytes = [](const FlowSnapshot& s) { return s.bytes_local + s.bytes_forwarded; };
  const auto before = [&](const FlowSnapshot& a, const FlowSnapshot& b) {
    if (bytes(a) != bytes(b)) return bytes(a) > bytes(b);
    return a.drops_unknown_dest + a.drops_gone > b.drops_unknown_dest + b.drops_gone;
  };
  // Keeps the best `limit` of `out` once it has grown well past them: memory stays small
  // however big the table is.
  const auto trim = [&](std::vector<FlowSnapshot>& out) {
    if (out.size() < limit + 4 * kFlowScrapeChunk) return;
    const auto nth = out.begin() + static_cast<std::ptrdiff_t>(limit);
    std::nth_element(out.begin(), nth, out.end(), before);
    out.erase(nth, out.end());
  };
  std::vector<FlowSnapshot> out;
  out.reserve(limit + 5 * kFlowScrapeChunk);
  for (const auto& sp : stripes_) {
    const Stripe& s = *sp;
    // A short hold at a time; evictions between holds move a record from the back into
    // a freed slot, so one can be missed, never copied twice.
    for (std::size_t i = 0;;) {
      {
        base::MutexLock lock(s.mu);
        const std::size_t end = std::min(s.all.size(), i + kFlowScrapeChunk);
        if (i >= end) break;
        for (; i < end; ++i) {
          const Flow& f = *s.all[i];
          FlowSnapshot x;
          x.src = f.src;
          x.dst = f.dst;
          x.created = f.created_wall;
          x.idle = now - f.last_activity();
          x.packets_local = f.packets_local.load(std::memory_order_relaxed);
          x.bytes_local = f.bytes_local.load(std::memory_order_relaxed);
          x.packets_forwarded = f.packets_forwarded.load(std::memory_order_relaxed);
          x.bytes_forwarded = f.bytes_forwarded.load(std::memory_order_relaxed);
          x.drops_unknown_dest = f.drops_unknown_dest.load(std::memory_order_relaxed);
          x.drops_gone = f.drops_gone.load(std::memory_order_relaxed);
          out.push_back(x);
        }
      }
      trim(out);
      if (scrape_pause_) scrape_pause_();
    }
  }
  const std::size_t n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), before);
  out.resize(n);
  return out;
}

std::size_t FlowTable::largest_bucket() const {
  std::size_t most = 0;
  for (const auto& sp : stripes_) {
    base::MutexLock lock(sp->mu);
    for (std::size_t b = 0; b < sp->map.bucket_count(); ++b) {
      most = std::max(most, sp->map.bucket_size(b));
    }
  }
  return most;
}

}  // namespace derpserver
