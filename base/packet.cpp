// SPDX-License-Identifier: MIT
#include "base/packet.hpp"

#include "base/bug.hpp"

namespace base {

void ReturnToPool::operator()(PacketBuf* p) const noexcept {
  if (p != nullptr) p->pool()->put(p);
}

PacketPool::PacketPool(std::size_t count, std::size_t buffer_size)
    : buffer_size_(buffer_size), slab_(new std::byte[count * buffer_size]) {
  bufs_.reserve(count);
  free_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    bufs_.emplace_back(slab_.get() + i * buffer_size, buffer_size, this);
  }
  for (std::size_t i = count; i > 0; --i) free_.push_back(&bufs_[i - 1]);
}

PacketPool::~PacketPool() {
  const std::size_t out = outstanding();
  if (out != 0) WG_BUG("pool_leak", "pool destroyed with {} buffers outstanding", out);
}

PacketRef PacketPool::get() noexcept {
  PacketBuf* p = nullptr;
  {
    MutexLock lock(mu_);
    if (free_.empty()) return nullptr;
    p = free_.back();
    free_.pop_back();
  }
  p->reset();
  return PacketRef(p);
}

std::size_t PacketPool::get_batch(std::span<PacketRef> out) noexcept {
  std::size_t n = 0;
  {
    MutexLock lock(mu_);
    n = std::min(out.size(), free_.size());
    for (std::size_t i = 0; i < n; ++i) {
      out[i].reset(free_.back());
      free_.pop_back();
    }
  }
  for (std::size_t i = 0; i < n; ++i) out[i]->reset();
  return n;
}

void PacketPool::put_batch(std::span<PacketRef> in) noexcept {
  MutexLock lock(mu_);
  for (PacketRef& r : in) {
    PacketBuf* p = r.release();
    if (p == nullptr) continue;
    if (p->pool() != this) {
      WG_BUG("pool_mixup", "buffer returned to a pool it does not belong to");
      r.reset(p);  // give it back to the caller's ref; its own pool takes it on destruction
      continue;
    }
    free_.push_back(p);
  }
}

std::size_t PacketPool::available() const noexcept {
  MutexLock lock(mu_);
  return free_.size();
}

void PacketPool::put(PacketBuf* p) noexcept {
  MutexLock lock(mu_);
  free_.push_back(p);
}

}  // namespace base
