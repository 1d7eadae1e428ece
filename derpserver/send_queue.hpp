// SPDX-License-Identifier: MIT
// What a connection has to write: OutBufs (whole frames, ready for the socket), an intrusive
// FIFO of them, and the bounded packet ring with drop-from-head (protocols/derp.md 6.3).
//
// Why drop at the head: the oldest packet is the most likely to be useless by the time a
// slow reader gets to it (WireGuard and disco both retransmit), and dropping it keeps the
// newest ones flowing; a sender never blocks on a slow destination.
//
// Memory: an idle connection holds no ring (it is allocated on the first packet and freed
// whenever the queue drains) and no OutBuf.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "derpserver/metrics.hpp"

namespace derpserver {

// One or more whole frames in a single allocation: [OutBuf header][cap bytes].
struct OutBuf {
  OutBuf* next = nullptr;      // intrusive FIFO link
  base::TimePoint enqueued{};  // for the queue-time histogram (packets only)
  std::uint32_t size = 0;      // bytes of frames in data()
  std::uint32_t cap = 0;
  PacketKind kind = PacketKind::other;
  bool is_packet = false;  // a relayed packet (counts as sent, has a queue time)
  bool is_pong = false;    // a Pong frame (the one-slot pong queue)

  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
  base::ByteSpan span() noexcept { return {data(), size}; }
  // Appends bytes (must fit in cap).
  void append(base::ConstByteSpan b) noexcept;
  // Claims n more bytes and returns them (must fit in cap).
  base::ByteSpan grow(std::size_t n) noexcept;

  static OutBuf* make(std::size_t cap);
  static void destroy(OutBuf* b) noexcept;
};
static_assert(alignof(OutBuf) <= alignof(std::max_align_t));

struct OutBufDeleter {
  void operator()(OutBuf* b) const noexcept { OutBuf::destroy(b); }
};
using OutBufPtr = std::unique_ptr<OutBuf, OutBufDeleter>;
inline OutBufPtr make_out_buf(std::size_t cap) {
  return OutBufPtr(OutBuf::make(cap));
}
OutBufPtr make_out_buf(base::ConstByteSpan frame_bytes);

// Intrusive singly linked FIFO; owns its elements.
class OutList {
 public:
  OutList() = default;
  OutList(OutList&& o) noexcept : head_(o.head_), tail_(o.tail_), count_(o.count_) {
    o.head_ = o.tail_ = nullptr;
    o.count_ = 0;
  }
  OutList& operator=(OutList&&) = delete;
  OutList(const OutList&) = delete;
  ~OutList() { clear(); }

  void push(OutBufPtr b) noexcept;
  OutBufPtr pop() noexcept;
  void splice(OutList& other) noexcept;  // moves all of `other` to the back
  OutBuf* front() const noexcept { return head_; }
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return count_; }
  void clear() noexcept;

 private:
  OutBuf* head_ = nullptr;
  OutBuf* tail_ = nullptr;
  std::size_t count_ = 0;
};

// Bounded FIFO of packets. Not locked: the owner (a Stream) holds its queue lock around it.
class PacketRing {
 public:
  PacketRing() = default;
  PacketRing(const PacketRing&) = delete;
  PacketRing& operator=(const PacketRing&) = delete;
  ~PacketRing() { clear(); }

  // Adds `b`; when `depth` packets are already queued, the oldest is removed and returned
  // (the caller counts it as a queue_head drop).
  OutBufPtr push(OutBufPtr b, std::size_t depth);
  OutBufPtr pop() noexcept;
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  // Frees every queued packet and the ring storage.
  void clear() noexcept;
  template <class F>
  void drain(F&& f) {  // f(OutBufPtr) for each, oldest first; ring released afterwards
    while (!empty()) f(pop());
    ring_.reset();
    cap_ = 0;
  }

 private:
  std::unique_ptr<OutBuf*[]> ring_;
  std::uint32_t cap_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t n_ = 0;
};

}  // namespace derpserver
