// SPDX-License-Identifier: MIT
// Queue: batched reads and writes on one TUN queue fd, for the worker that owns the queue.
//
// Outbound (inside -> engine): read_batch() fills caller-supplied pooled buffers, one IP
// packet each, reading into PacketBuf::read_area() so the engine can put the WireGuard header
// into the headroom and encrypt in place. Inbound (engine -> inside): write_batch() writes
// decrypted packets (a TUN fd takes one packet per write).
//
// With offloads (the fd was opened with IFF_VNET_HDR, see Tun::offloads()), every read and
// write carries a virtio_net_hdr, and:
//   read:  readv(hdr | first buffer's read area | 64 KiB scratch) -> a plain packet stays in
//          its buffer (its checksum completed if NEEDS_CSUM); a TSO/USO super-packet is made
//          contiguous in the scratch and cut into one packet per buffer (gso_split.hpp).
//          Segments that do not fit in this batch wait for the next call (has_pending()).
//   write: the batch is grouped by GroTable (gro.hpp); each group goes out with one writev:
//          a merged group as one GSO super-packet, a single packet behind an all-zero header.
//          If the kernel refuses a merged write (EINVAL: the 6.1.103-era bug of fact sheet
//          13.6), that kind of merging is switched off for this queue and the packets are
//          written one by one, so nothing is lost.
//
// The fd is borrowed: from tun::Tun::fd(q), or tun::testing::ChannelTun::fd(q) in tests (any
// fd with packet semantics works). It must be non-blocking and stay open while the Queue is
// used. Nothing here allocates after construction, throws, or blocks.
//
// Thread safety: one thread (the queue's worker) calls everything but stats(), which may be
// read from any thread. Not movable (hold it by unique_ptr if needed).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <system_error>

#include <sys/uio.h>

#include "base/bytes.hpp"
#include "base/counter.hpp"
#include "base/packet.hpp"
#include "tun/gro.hpp"
#include "tun/gso_split.hpp"

namespace tun {

// What a TUN fd was opened with.
struct Offloads {
  bool vnet_hdr = false;  // every read and write starts with a virtio_net_hdr
  bool tso = false;       // TUN_F_CSUM|TSO4|TSO6: TCP super-packets both ways
  bool uso = false;       // TUN_F_USO4|USO6 (Linux 6.2): UDP super-packets both ways

  friend bool operator==(const Offloads&, const Offloads&) = default;
};

// Run-time switches for the write side (fact sheet 13.6: kernels where merged writes break).
struct GroSwitches {
  bool tcp = true;
  bool udp = true;
};

// Statistics of one queue; written only by the owning worker.
struct QueueStats {
  base::Counter packets_read;    // packets handed to the caller (segments count one each)
  base::Counter bytes_read;      // their bytes
  base::Counter read_dropped;    // reads dropped: too long for the buffer, bad virtio header
  base::Counter read_errors;     // read() failures other than EAGAIN/EINTR
  base::Counter gso_read;        // super-packets read and split
  base::Counter csum_completed;  // NEEDS_CSUM packets whose checksum was finished here
  base::Counter packets_written;
  base::Counter bytes_written;   // IP bytes, without virtio headers
  base::Counter write_errors;    // packets the kernel refused (each one dropped)
  base::Counter gso_written;     // merged super-packets written
  base::Counter packets_merged;  // packets that went out inside them
  base::Counter gro_disabled;    // times a refused merged write switched merging off
};

// True when `ec` from a Queue call means the queue is gone for good (the interface was
// deleted, or the fd closed): the worker should stop.
bool is_fatal(const std::error_code& ec) noexcept;

class Queue {
 public:
  // Reads dropped per read_batch() call before it returns early; bounds the time one call
  // can spend on a flood of bad reads.
  static constexpr std::size_t kMaxDropsPerBatch = 64;
  // Largest packet a read can take with offloads (an IP packet is at most 64 KiB).
  static constexpr std::size_t kMaxSuperPacket = 65535;

  // offloads: what the fd was opened with (Tun::offloads(); all false for a plain fd).
  // Allocates the offload scratch (about 70 KiB) here when offloads.vnet_hdr is set.
  explicit Queue(int fd, const Offloads& offloads = {});
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  int fd() const noexcept { return fd_; }
  const Offloads& offloads() const noexcept { return offloads_; }

  // Reads up to out.size() packets. Every out[i] must hold a buffer (normally fresh from
  // PacketPool::get_batch); reading stops at the first null one. Packet k is placed at
  // out[k]->read_area() and out[k]->data() is set to it; buffers past the returned count
  // may have been written to and hold nothing of value.
  //
  // A packet must be shorter than its buffer's read area: one that fills it may have been
  // cut short (the kernel does not say) and is dropped and counted. With offloads, every
  // segment of a super-packet must fit as well, or the whole super-packet is dropped.
  //
  // Returns the number of packets. If has_pending() is true afterwards, segments of a
  // super-packet are waiting: call again before polling. Otherwise fewer than out.size()
  // means the fd had nothing more (EAGAIN), an error (`ec` set), or kMaxDropsPerBatch drops;
  // poll the fd level-triggered before calling again. `ec` is cleared on entry; is_fatal(ec)
  // means stop using this queue. The packets returned before an error are valid.
  std::size_t read_batch(std::span<base::PacketRef> out, std::error_code& ec) noexcept;

  // True when segments of a super-packet read earlier are waiting for the next read_batch.
  bool has_pending() const noexcept;

  // Writes every packets[i]->data() (an IP packet; entries must be non-null), in order
  // within each flow. Packets stay owned by the caller (return them to the pool afterwards)
  // and their bytes are not modified. A packet the kernel refuses is dropped and counted and
  // `ec` holds the last such error; a fatal error stops the batch. Returns the number of
  // packets written.
  std::size_t write_batch(std::span<const base::PacketRef> packets, std::error_code& ec) noexcept;

  // Writes one packet (for the control plane and tests). True if written; else `ec` says why.
  bool write(base::ConstByteSpan packet, std::error_code& ec) noexcept;

  // Write-side merging switches (only effective where the offload was negotiated).
  void set_gro(const GroSwitches& switches) noexcept { gro_ = switches; }
  const GroSwitches& gro() const noexcept { return gro_; }

  // Checks for the kernel bug of fact sheet 13.6 (merged TCP writes whose last segment is
  // shorter than gso_size refused with EINVAL) by writing such a two-segment packet with TTL
  // 0 from and to 127.0.0.1 (the stack drops it as martian). The link must be up. Returns
  // true if the kernel took it; on EINVAL switches TCP merging off and returns false;
  // nullopt-like false with `ec` set if it could not tell (e.g. EIO: link down).
  bool probe_tcp_gso_write(std::error_code& ec) noexcept;

  const QueueStats& stats() const noexcept { return stats_; }

 private:
  struct OffloadState;

  std::size_t read_plain(std::span<base::PacketRef> out, std::error_code& ec) noexcept;
  std::size_t read_vnet(std::span<base::PacketRef> out, std::error_code& ec) noexcept;
  std::size_t emit_pending(std::span<base::PacketRef> out) noexcept;
  std::size_t write_vnet(std::span<const base::PacketRef> packets, std::error_code& ec) noexcept;
  bool write_with_header(base::ConstByteSpan packet, std::error_code& ec) noexcept;
  int writev_all(const ::iovec* iov, int count) noexcept;

  int fd_;
  Offloads offloads_;
  GroSwitches gro_;
  std::unique_ptr<OffloadState> off_;  // only with offloads.vnet_hdr
  QueueStats stats_;
};

}  // namespace tun
