// SPDX-License-Identifier: MIT
#include "wg/staging.hpp"

#include <algorithm>
#include <array>

#include "base/bug.hpp"
#include "base/bytes.hpp"

namespace wg {

StagingArea::StagingArea(std::size_t capacity, std::size_t buffer_size)
    : capacity_(capacity), pool_(capacity, buffer_size) {
  base::MutexLock lock(mu_);
  slots_.resize(capacity);
  free_.reserve(capacity);
  for (std::size_t i = capacity; i > 0; --i) free_.push_back(static_cast<Index>(i - 1));
}

// Slots (and the buffers they hold) go before pool_, which is declared first.
StagingArea::~StagingArea() = default;

StagingArea::PushResult StagingArea::push(StagingQueue& q,
                                          std::span<const base::PacketRef> packets) {
  PushResult r;
  // Only the newest kMaxStagedPackets of a batch can stay: the ones before them would push
  // each other out at once.
  std::array<const base::PacketBuf*, kMaxStagedPackets> in;
  std::size_t m = 0;
  const std::size_t room =
      pool_.buffer_size() - base::PacketBuf::kHeadroom - base::PacketBuf::kTailroom;
  for (const base::PacketRef& p : packets) {
    if (!p) continue;
    if (p->size() > room) {
      ++r.refused;
      continue;
    }
    if (m == in.size()) {
      std::move(in.begin() + 1, in.end(), in.begin());
      --m;
      ++r.evicted_peer;
    }
    in[m++] = p.get();
  }
  if (m == 0) return r;

  // 1. Room: first in this peer's queue (its oldest go, their buffers are reused), then in
  //    the device (a free buffer, else the device's oldest staged packet gives up its own).
  std::array<base::PacketRef, kMaxStagedPackets> bufs;
  std::size_t have = 0;
  {
    base::MutexLock lock(mu_);
    if (q.closed_) {
      r.refused += m;
      return r;
    }
    while (q.count_ > 0 && q.count_ + m > kMaxStagedPackets) {
      const Index s = pop_head_locked(q);
      bufs[have++] = std::move(slots_[s].buf);
      free_.push_back(s);
      ++r.evicted_peer;
    }
  }
  for (; have < m; ++have) {
    bufs[have] = pool_.get();
    if (bufs[have]) continue;
    base::MutexLock lock(mu_);
    bufs[have] = evict_oldest_locked();
    if (!bufs[have]) break;  // every buffer is out being sent: refuse the oldest new ones
    ++r.evicted_device;
  }
  const std::size_t skip = m - have;
  r.refused += skip;

  // 2. Copies, outside the lock.
  for (std::size_t i = 0; i < have; ++i) {
    const base::PacketBuf& p = *in[skip + i];
    bufs[i]->reset();
    base::copy_into(bufs[i]->read_area(), p.data());
    bufs[i]->set_size(p.size());
  }

  // 3. Link. Another thread may have staged for this peer meanwhile: keep the bound.
  std::array<base::PacketRef, kMaxStagedPackets> dropped;  // released after the lock
  base::MutexLock lock(mu_);
  for (std::size_t i = 0; i < have; ++i) {
    if (q.closed_) {
      ++r.refused;
      dropped[i] = std::move(bufs[i]);
      continue;
    }
    if (q.count_ == kMaxStagedPackets) {
      const Index s = pop_head_locked(q);
      dropped[i] = std::move(slots_[s].buf);
      free_.push_back(s);
      ++r.evicted_peer;
    }
    link_locked(q, std::move(bufs[i]));
    ++r.staged;
  }
  return r;
}

std::size_t StagingArea::take(StagingQueue& q, std::span<base::PacketRef> out) {
  base::MutexLock lock(mu_);
  return drain_locked(q, out);
}

std::size_t StagingArea::clear(StagingQueue& q) {
  std::array<base::PacketRef, kMaxStagedPackets> dropped;  // released after the lock
  base::MutexLock lock(mu_);
  return drain_locked(q, dropped);
}

std::size_t StagingArea::close(StagingQueue& q) {
  std::array<base::PacketRef, kMaxStagedPackets> dropped;
  base::MutexLock lock(mu_);
  q.closed_ = true;
  return drain_locked(q, dropped);
}

std::size_t StagingArea::size(const StagingQueue& q) const {
  base::MutexLock lock(mu_);
  return q.count_;
}

std::size_t StagingArea::size() const {
  base::MutexLock lock(mu_);
  return staged_;
}

StagingArea::Index StagingArea::pop_head_locked(StagingQueue& q) {
  const Index s = q.head_;
  Slot& slot = slots_[s];
  q.head_ = slot.queue_next;
  if (q.head_ == kNone) q.tail_ = kNone;
  --q.count_;
  if (slot.prev != kNone) {
    slots_[slot.prev].next = slot.next;
  } else {
    oldest_ = slot.next;
  }
  if (slot.next != kNone) {
    slots_[slot.next].prev = slot.prev;
  } else {
    newest_ = slot.prev;
  }
  slot.prev = slot.next = slot.queue_next = kNone;
  slot.owner = nullptr;
  --staged_;
  return s;
}

base::PacketRef StagingArea::evict_oldest_locked() {
  if (oldest_ == kNone) return nullptr;
  // Queues are FIFO and the device-wide list is in staging order, so the device's oldest
  // packet is the head of its own peer's queue.
  const Index s = pop_head_locked(*slots_[oldest_].owner);
  free_.push_back(s);
  return std::move(slots_[s].buf);
}

void StagingArea::link_locked(StagingQueue& q, base::PacketRef buf) {
  // Every buffer is staged, free in the pool or held by a caller; this one is held, so fewer
  // than capacity are staged and a slot is free.
  if (free_.empty()) {
    WG_BUG("staging_slots", "no free staging slot for a buffer of the area's own pool");
    return;
  }
  const Index s = free_.back();
  free_.pop_back();
  Slot& slot = slots_[s];
  slot.buf = std::move(buf);
  slot.owner = &q;
  slot.prev = newest_;
  slot.next = kNone;
  slot.queue_next = kNone;
  if (newest_ != kNone) {
    slots_[newest_].next = s;
  } else {
    oldest_ = s;
  }
  newest_ = s;
  if (q.tail_ != kNone) {
    slots_[q.tail_].queue_next = s;
  } else {
    q.head_ = s;
  }
  q.tail_ = s;
  ++q.count_;
  ++staged_;
}

std::size_t StagingArea::drain_locked(StagingQueue& q, std::span<base::PacketRef> out) {
  std::size_t n = 0;
  while (n < out.size() && q.count_ > 0) {
    const Index s = pop_head_locked(q);
    out[n++] = std::move(slots_[s].buf);
    free_.push_back(s);
  }
  return n;
}

}  // namespace wg
