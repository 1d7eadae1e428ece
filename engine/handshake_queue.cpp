// SPDX-License-Identifier: MIT
#include "engine/handshake_queue.hpp"

namespace engine {

bool HandshakeQueue::push(Item item, bool& was_empty) {
  base::MutexLock lock(mu_);
  was_empty = count_ == 0;
  if (count_ == kCapacity) return false;  // `item` goes back to its pool on return
  ring_[(head_ + count_) % kCapacity] = std::move(item);
  ++count_;
  return true;
}

std::size_t HandshakeQueue::pop(std::span<Item> out) {
  base::MutexLock lock(mu_);
  const std::size_t n = std::min(out.size(), count_);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = std::move(ring_[head_]);
    head_ = (head_ + 1) % kCapacity;
  }
  count_ -= n;
  return n;
}

std::size_t HandshakeQueue::size() const {
  base::MutexLock lock(mu_);
  return count_;
}

}  // namespace engine
