// SPDX-License-Identifier: MIT
// Queue: batched reads and writes on one TUN queue fd, for the worker that owns the queue.
//
// Outbound (inside -> engine): read_batch() fills caller-supplied pooled buffers, one IP
// packet each, reading into PacketBuf::read_area() so the engine can put the WireGuard header
// into the headroom and encrypt in place. Inbound (engine -> inside): write_batch() writes
// decrypted packets, one write() each (a TUN fd takes no batched writes).
//
// The fd is borrowed: from tun::Tun::fd(q), or tun::testing::ChannelTun::fd(q) in tests (any
// fd with packet semantics works). It must be non-blocking and stay open while the Queue is
// used. Nothing here allocates after construction, throws, or blocks.
//
// Thread safety: one thread (the queue's worker) calls read_batch/write_batch; stats() may be
// read from any thread.
#pragma once

#include <cstddef>
#include <span>
#include <system_error>

#include "base/bytes.hpp"
#include "base/counter.hpp"
#include "base/packet.hpp"

namespace tun {

// Statistics of one queue; written only by the owning worker.
struct QueueStats {
  base::Counter packets_read;  // packets handed to the caller
  base::Counter bytes_read;    // their bytes
  base::Counter read_dropped;  // reads dropped: too long for the buffer
  base::Counter read_errors;   // read() failures other than EAGAIN/EINTR
  base::Counter packets_written;
  base::Counter bytes_written;
  base::Counter write_errors;  // packets the kernel refused (each one dropped)
};

// True when `ec` from a Queue call means the queue is gone for good (the interface was
// deleted, or the fd closed): the worker should stop.
bool is_fatal(const std::error_code& ec) noexcept;

class Queue {
 public:
  // Reads dropped (too long) per read_batch() call before it returns early; bounds the time
  // one call can spend on a flood of bad reads.
  static constexpr std::size_t kMaxDropsPerBatch = 64;

  explicit Queue(int fd) noexcept : fd_(fd) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  int fd() const noexcept { return fd_; }

  // Reads up to out.size() packets. Every out[i] must hold a buffer (normally fresh from
  // PacketPool::get_batch); reading stops at the first null one. Packet k is read into
  // out[k]->read_area() and out[k]->data() is set to it; buffers past the returned count are
  // left as they were (their contents may be overwritten).
  //
  // Returns the number of packets read. Fewer than out.size() means the fd had nothing more
  // (EAGAIN), an error (`ec` set), or kMaxDropsPerBatch drops; poll the fd level-triggered
  // before calling again. A packet must be shorter than its buffer's read area: one that
  // fills it may have been cut short (the kernel does not say) and is dropped and counted.
  // `ec` is cleared on entry; is_fatal(ec) means stop using this queue. The packets read
  // before an error are valid.
  std::size_t read_batch(std::span<base::PacketRef> out, std::error_code& ec) noexcept;

  // Writes packets[i]->data() for each i, in order, one write() each. Every entry must be
  // non-null. Packets stay owned by the caller (return them to the pool afterwards); their
  // bytes are not modified. A packet the kernel refuses is dropped and counted, and `ec` holds
  // the last such error; a fatal error stops the batch. Returns the number written.
  std::size_t write_batch(std::span<const base::PacketRef> packets, std::error_code& ec) noexcept;

  // Writes one packet (for the control plane and tests). True if written; else `ec` says why.
  bool write(base::ConstByteSpan packet, std::error_code& ec) noexcept;

  const QueueStats& stats() const noexcept { return stats_; }

 private:
  int fd_;
  QueueStats stats_;
};

}  // namespace tun
