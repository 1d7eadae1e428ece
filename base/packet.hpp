// SPDX-License-Identifier: MIT
// PacketBuf: one packet in a pooled buffer with headroom and tailroom, so protocol layers add
// headers and trailers in place. PacketPool: a fixed set of such buffers.
//
// Layout of a buffer (capacity bytes):
//
//   | headroom ............ | data (size bytes) ............ | tailroom ............ |
//   0                  headroom()                  headroom()+size()           capacity()
//
// TUN reads land at kHeadroom, so the 16-byte WireGuard transport header is written in front
// (push_front) and padding plus the AEAD tag go behind (push_back) while the ciphertext
// overwrites the plaintext. kHeadroom also leaves room for DERP's SendPacket framing
// (5-byte frame header + 32-byte destination key) in front of a transport message, and for a
// 10-byte virtio_net_hdr in front of a decrypted packet.
//
// Ownership: a PacketRef owns one buffer and returns it to its pool when destroyed. The pool
// must outlive every PacketRef it handed out. Pools are thread safe; get_batch/put_batch take
// the pool's lock once per batch, so workers never lock per packet.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/thread_annotations.hpp"

namespace base {

class PacketPool;

class PacketBuf {
 public:
  static constexpr std::size_t kHeadroom = 64;
  static constexpr std::size_t kTailroom = 32;  // padding (< 16) + Poly1305 tag (16)

  PacketBuf(std::byte* storage, std::size_t capacity, PacketPool* pool) noexcept
      : buf_(storage), cap_(capacity), pool_(pool) {}

  std::span<std::byte> data() noexcept { return {buf_ + head_, len_}; }
  std::span<const std::byte> data() const noexcept { return {buf_ + head_, len_}; }
  std::size_t size() const noexcept { return len_; }
  bool empty() const noexcept { return len_ == 0; }
  std::size_t headroom() const noexcept { return head_; }
  std::size_t tailroom() const noexcept { return cap_ - head_ - len_; }
  std::size_t capacity() const noexcept { return cap_; }
  PacketPool* pool() const noexcept { return pool_; }

  // Claims n bytes of headroom; returns them (the new front of data()).
  std::span<std::byte> push_front(std::size_t n) noexcept {
    assert(n <= head_);
    head_ -= n;
    len_ += n;
    return {buf_ + head_, n};
  }
  // Gives n bytes at the front back to the headroom.
  void pull_front(std::size_t n) noexcept {
    assert(n <= len_);
    head_ += n;
    len_ -= n;
  }
  // Claims n bytes of tailroom; returns them (the new back of data()).
  std::span<std::byte> push_back(std::size_t n) noexcept {
    assert(n <= tailroom());
    std::byte* p = buf_ + head_ + len_;
    len_ += n;
    return {p, n};
  }
  // Shortens data() to n bytes (n <= size()).
  void trim(std::size_t n) noexcept {
    assert(n <= len_);
    len_ = n;
  }

  // Empties the buffer and places its start `headroom` bytes in.
  void reset(std::size_t headroom = kHeadroom) noexcept {
    assert(headroom <= cap_);
    head_ = headroom;
    len_ = 0;
  }
  // Where a read should land: from the start of data() to capacity minus kTailroom.
  std::span<std::byte> read_area() noexcept {
    const std::size_t end = cap_ > kTailroom ? cap_ - kTailroom : 0;
    return {buf_ + head_, end > head_ ? end - head_ : 0};
  }
  // After a read into read_area(): the packet is its first n bytes.
  void set_size(std::size_t n) noexcept {
    assert(head_ + n <= cap_);
    len_ = n;
  }

 private:
  std::byte* buf_;
  std::size_t cap_;
  std::size_t head_ = kHeadroom;
  std::size_t len_ = 0;
  PacketPool* pool_;
};

struct ReturnToPool {
  void operator()(PacketBuf* p) const noexcept;
};
using PacketRef = std::unique_ptr<PacketBuf, ReturnToPool>;

class PacketPool {
 public:
  // Room for one 1420-byte inner packet plus headers, tag and padding, rounded up.
  static constexpr std::size_t kDefaultBufferSize = 2048;

  // `count` buffers of `buffer_size` bytes each, allocated once here.
  PacketPool(std::size_t count, std::size_t buffer_size = kDefaultBufferSize);
  ~PacketPool();  // WG_BUG if a buffer is still out
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A reset buffer, or null when the pool is empty (back-pressure: the caller drops).
  PacketRef get() noexcept EXCLUDES(mu_);
  // Fills out[0..k) with reset buffers, k = min(out.size(), available); returns k.
  std::size_t get_batch(std::span<PacketRef> out) noexcept EXCLUDES(mu_);
  // Returns every non-null buffer in `in` (they may come from this pool only); leaves nulls.
  void put_batch(std::span<PacketRef> in) noexcept EXCLUDES(mu_);

  std::size_t capacity() const noexcept { return bufs_.size(); }
  std::size_t buffer_size() const noexcept { return buffer_size_; }
  std::size_t available() const noexcept EXCLUDES(mu_);
  std::size_t outstanding() const noexcept { return capacity() - available(); }

 private:
  friend struct ReturnToPool;
  void put(PacketBuf* p) noexcept EXCLUDES(mu_);

  const std::size_t buffer_size_;
  std::unique_ptr<std::byte[]> slab_;
  std::vector<PacketBuf> bufs_;  // immutable after construction
  mutable Mutex mu_;             // guards free_; leaf lock
  std::vector<PacketBuf*> free_ GUARDED_BY(mu_);
};

}  // namespace base
