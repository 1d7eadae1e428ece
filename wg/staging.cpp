// SPDX-License-Identifier: MIT
#include "wg/staging.hpp"

namespace wg {

bool StagingQueue::push(base::PacketRef p) {
  base::PacketRef evicted;  // returned to its pool after the lock is released
  bool dropped = false;
  {
    base::MutexLock lock(mu_);
    if (count_ == ring_.size()) {
      evicted = std::move(ring_[head_]);
      head_ = (head_ + 1) % ring_.size();
      --count_;
      dropped = true;
    }
    ring_[(head_ + count_) % ring_.size()] = std::move(p);
    ++count_;
  }
  return dropped;
}

std::size_t StagingQueue::take(std::span<base::PacketRef> out) {
  base::MutexLock lock(mu_);
  const std::size_t n = std::min(out.size(), count_);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = std::move(ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
  }
  count_ -= n;
  return n;
}

std::size_t StagingQueue::clear() {
  std::array<base::PacketRef, kMaxStagedPackets> drop;
  const std::size_t n = take(drop);
  return n;  // `drop` returns the buffers to their pools here, outside the lock
}

std::size_t StagingQueue::size() const {
  base::MutexLock lock(mu_);
  return count_;
}

}  // namespace wg
