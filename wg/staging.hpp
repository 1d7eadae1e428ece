// SPDX-License-Identifier: MIT
// Packets waiting for a peer's keypair, for every peer of one device.
//
// Staged packets are copies, in buffers of the area's own pool: staging never holds a buffer
// that a worker reads its TUN queue or its sockets into, so peers that never answer cannot
// starve the data path (a worker pool drained by staged packets could no longer read the
// handshake response that would release them).
//
// Bounds, both counted by the caller from PushResult. A push makes room in this order:
//   per peer:   kMaxStagedPackets; beyond it that peer's oldest packets are dropped (the
//               kernel's wg_xmit in drivers/net/wireguard/device.c, wireguard-go's
//               StagePackets in device/send.go), and their buffers take the new ones.
//   per device: `capacity` packets in all; when no buffer is free, the oldest staged packet
//               of any peer is dropped to make room. If there is none to drop (every buffer
//               is out being sent), the oldest new packets are refused.
//
// Layout: `capacity` slots, each holding one staged buffer. A slot is on two lists: the
// device-wide list in staging order (doubly linked: a peer's packets leave from anywhere in
// it) and its peer's queue (singly linked: packets leave a queue only from its head, and the
// oldest packet of the device is always the head of its peer's queue).
//
// Thread safety: every method from any thread; one mutex (a leaf lock) guards the lists and
// every StagingQueue's fields. Staging is the slow path (a peer without a usable keypair);
// copies happen outside the lock. Nothing allocates after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/packet.hpp"
#include "base/thread_annotations.hpp"
#include "wg/constants.hpp"

namespace wg {

class StagingArea;

// One peer's place in a StagingArea. Its fields belong to the area (guarded by its mutex).
class StagingQueue {
 public:
  StagingQueue() = default;
  StagingQueue(const StagingQueue&) = delete;
  StagingQueue& operator=(const StagingQueue&) = delete;

 private:
  friend class StagingArea;
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  std::uint32_t head_ = kNone;
  std::uint32_t tail_ = kNone;
  std::uint32_t count_ = 0;
  bool closed_ = false;  // the peer was removed: push() refuses
};

class StagingArea {
 public:
  // What push() did with a batch.
  struct PushResult {
    std::size_t staged = 0;          // copies of this batch's packets now in the queue
    std::size_t evicted_peer = 0;    // older packets of this peer dropped (per-peer bound)
    std::size_t evicted_device = 0;  // older packets of any peer dropped (device-wide bound)
    std::size_t refused = 0;         // not staged: no buffer to be had, or the queue is closed
  };

  // `capacity` buffers of `buffer_size` bytes, allocated here.
  StagingArea(std::size_t capacity, std::size_t buffer_size);
  ~StagingArea();
  StagingArea(const StagingArea&) = delete;
  StagingArea& operator=(const StagingArea&) = delete;

  // Copies every non-null packets[i]->data() to the back of `q`; the originals stay the
  // caller's. A packet longer than a staging buffer's read area is refused. Of a batch longer
  // than kMaxStagedPackets only the newest kMaxStagedPackets can stay (evicted_peer counts
  // the rest).
  PushResult push(StagingQueue& q, std::span<const base::PacketRef> packets) EXCLUDES(mu_);
  // Moves up to out.size() packets of `q`, oldest first, into `out`; returns how many. They
  // go back to the area's pool when the caller releases them.
  std::size_t take(StagingQueue& q, std::span<base::PacketRef> out) EXCLUDES(mu_);
  // Drops every packet of `q`; returns how many.
  std::size_t clear(StagingQueue& q) EXCLUDES(mu_);
  // clear(), and push() refuses from now on (the peer is being removed).
  std::size_t close(StagingQueue& q) EXCLUDES(mu_);

  std::size_t size(const StagingQueue& q) const EXCLUDES(mu_);
  std::size_t size() const EXCLUDES(mu_);  // staged packets, all peers
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  using Index = std::uint32_t;
  static constexpr Index kNone = StagingQueue::kNone;
  struct Slot {
    base::PacketRef buf;
    StagingQueue* owner = nullptr;
    Index prev = kNone;  // device-wide list, towards older
    Index next = kNone;  // device-wide list, towards newer
    Index queue_next = kNone;
  };

  // Unlinks the head of `q` (which must not be empty); returns its slot, now free.
  Index pop_head_locked(StagingQueue& q) REQUIRES(mu_);
  // Drops the oldest staged packet of the device; its buffer is returned. Null if none.
  base::PacketRef evict_oldest_locked() REQUIRES(mu_);
  void link_locked(StagingQueue& q, base::PacketRef buf) REQUIRES(mu_);
  std::size_t drain_locked(StagingQueue& q, std::span<base::PacketRef> out) REQUIRES(mu_);

  const std::size_t capacity_;
  base::PacketPool pool_;
  mutable base::Mutex mu_;  // leaf lock
  std::vector<Slot> slots_ GUARDED_BY(mu_);
  std::vector<Index> free_ GUARDED_BY(mu_);
  Index oldest_ GUARDED_BY(mu_) = kNone;
  Index newest_ GUARDED_BY(mu_) = kNone;
  std::size_t staged_ GUARDED_BY(mu_) = 0;
};

}  // namespace wg
