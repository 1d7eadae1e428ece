// SPDX-License-Identifier: MIT
#include "derpserver/send_queue.hpp"

#include <cstring>
#include <new>

namespace derpserver {

void OutBuf::append(base::ConstByteSpan b) noexcept {
  if (!b.empty()) std::memcpy(data() + size, b.data(), b.size());
  size += static_cast<std::uint32_t>(b.size());
}

base::ByteSpan OutBuf::grow(std::size_t n) noexcept {
  base::ByteSpan s(data() + size, n);
  size += static_cast<std::uint32_t>(n);
  return s;
}

OutBuf* OutBuf::make(std::size_t cap) {
  void* mem = ::operator new(sizeof(OutBuf) + cap);
  auto* b = new (mem) OutBuf();
  b->cap = static_cast<std::uint32_t>(cap);
  return b;
}

void OutBuf::destroy(OutBuf* b) noexcept {
  if (b == nullptr) return;
  b->~OutBuf();
  ::operator delete(static_cast<void*>(b));
}

OutBufPtr make_out_buf(base::ConstByteSpan frame_bytes) {
  auto b = make_out_buf(frame_bytes.size());
  b->append(frame_bytes);
  return b;
}

void OutList::push(OutBufPtr b) noexcept {
  OutBuf* p = b.release();
  p->next = nullptr;
  if (tail_ != nullptr) {
    tail_->next = p;
  } else {
    head_ = p;
  }
  tail_ = p;
  ++count_;
}

OutBufPtr OutList::pop() noexcept {
  OutBuf* p = head_;
  if (p == nullptr) return nullptr;
  head_ = p->next;
  if (head_ == nullptr) tail_ = nullptr;
  p->next = nullptr;
  --count_;
  return OutBufPtr(p);
}

void OutList::splice(OutList& other) noexcept {
  if (other.head_ == nullptr) return;
  if (tail_ != nullptr) {
    tail_->next = other.head_;
  } else {
    head_ = other.head_;
  }
  tail_ = other.tail_;
  count_ += other.count_;
  other.head_ = other.tail_ = nullptr;
  other.count_ = 0;
}

void OutList::clear() noexcept {
  while (head_ != nullptr) pop();
}

OutBufPtr PacketRing::push(OutBufPtr b, std::size_t depth) {
  if (!ring_ || cap_ != depth) {
    // First packet since the ring was released (or the depth changed, which only tests do).
    OutList keep;
    while (!empty()) keep.push(pop());
    ring_ = std::make_unique<OutBuf*[]>(depth);
    cap_ = static_cast<std::uint32_t>(depth);
    head_ = 0;
    while (!keep.empty() && n_ < cap_) {
      ring_[(head_ + n_) % cap_] = keep.pop().release();
      ++n_;
    }
  }
  OutBufPtr evicted;
  if (n_ == cap_) evicted = pop();
  ring_[(head_ + n_) % cap_] = b.release();
  ++n_;
  return evicted;
}

OutBufPtr PacketRing::pop() noexcept {
  if (n_ == 0) return nullptr;
  OutBuf* p = ring_[head_];
  ring_[head_] = nullptr;
  head_ = (head_ + 1) % cap_;
  --n_;
  return OutBufPtr(p);
}

void PacketRing::clear() noexcept {
  while (n_ > 0) pop();
  ring_.reset();
  cap_ = 0;
  head_ = 0;
}

}  // namespace derpserver
