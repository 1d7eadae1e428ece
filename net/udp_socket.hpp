// SPDX-License-Identifier: MIT
// UdpSocket: one non-blocking UDP socket (IPv4, or IPv6 with IPV6_V6ONLY) read and written
// in batches with recvmmsg/sendmmsg, carrying the local address of every datagram
// (IP_PKTINFO / IPV6_PKTINFO) so replies can leave from it ("sticky source", fact sheet 14.5).
//
// Receive: recv_batch() fills caller-supplied pooled buffers, one datagram each, read into
// PacketBuf::read_area() so the engine decrypts in place; with UDP GRO, coalesced buffers
// are split back into datagrams (fact sheet 14.1-14.2).
// Send: send_batch() takes spans (borrowed until it returns) plus a destination each, and
// sends them with as few syscalls as it can: sendmmsg, runs of equal-size datagrams to one
// destination as one UDP GSO message, looping over partial sends.
//
// Thread safety: recv_batch()/has_pending() from one thread at a time (per-socket scratch);
// send_batch(), set_fwmark(), set_gso() and the accessors from any thread, concurrently.
// Nothing on the data path allocates, throws or blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <poll.h>
#include <span>
#include <system_error>

#include <sys/socket.h>

#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "base/packet.hpp"
#include "base/result.hpp"

namespace net {

// Most datagrams one recv_batch() or one sendmmsg() call handles.
inline constexpr std::size_t kMaxBatch = 128;
// Socket buffer size asked for (wireguard-go's 7 MiB; Linux reports twice this).
inline constexpr int kSocketBufferBytes = 7 << 20;

// UDP GSO (fact sheet 14.1): segments per send (UDP_MAX_SEGMENTS is 64 up to Linux 6.8,
// 128 from 6.9; 64 works everywhere) and bytes per send (65535 minus IP and UDP headers).
inline constexpr std::size_t kGsoMaxSegments = 64;
inline constexpr std::size_t kGsoMaxBytesV4 = 65535 - 20 - 8;
inline constexpr std::size_t kGsoMaxBytesV6 = 65535 - 8;

// Seam for tests: the syscalls UdpSocket makes that a test may want to fail.
struct SocketHooks {
  int (*socket)(int domain, int type, int protocol) = ::socket;
  int (*bind)(int fd, const sockaddr* addr, socklen_t len) = ::bind;
  int (*sendmmsg)(int fd, mmsghdr* msgs, unsigned count, int flags) = ::sendmmsg;
  int (*poll)(pollfd* fds, nfds_t count, int timeout_ms) = ::poll;
};

struct UdpOptions {
  base::IpAddr::Family family = base::IpAddr::Family::v4;
  base::IpAddr bind_addr;  // not valid (default) or unspecified: every local address
  std::uint16_t port = 0;  // 0: the kernel picks
  bool reuse_port = false;
  std::uint32_t fwmark = 0;  // SO_MARK; 0: none. Needs CAP_NET_ADMIN.
  int buffer_bytes = kSocketBufferBytes;
  // UDP GSO on send (UDP_SEGMENT, Linux 4.18) if the kernel has it; see UdpSocket::set_gso.
  bool gso = true;
  // UDP GRO on receive (UDP_GRO, usable from Linux 5.12) if the kernel has it. Costs about
  // 1 MiB of receive scratch per socket.
  bool gro = true;
  SocketHooks hooks;
};

// Per received datagram.
struct RecvMeta {
  base::Endpoint source;  // who sent it
  base::IpAddr local;     // our address it came to (in_pktinfo.ipi_spec_dst, in6_pktinfo.addr):
                          // pass it as SendMsg::source to answer from the same address
  int ifindex = 0;        // the interface it arrived on
};

// One datagram to send. `data` is borrowed until send_batch() returns.
struct SendMsg {
  base::ConstByteSpan data;
  base::Endpoint dest;  // same family as the socket
  base::IpAddr source;  // not valid or unspecified: the kernel chooses
  int ifindex = 0;      // with `source`: the interface to send from (0: any)
};

// What happened to one SendMsg.
struct SendStatus {
  std::error_code error;      // empty when sent
  bool source_stale = false;  // the kernel refused `source` (no longer ours) and the datagram
                              // went without it: the caller should forget that source
};

struct SendResult {
  std::size_t handled = 0;   // messages from the front that were sent or failed
  std::size_t sent = 0;      // of those, how many were sent
  bool would_block = false;  // stopped early: the send buffer is full (EAGAIN); messages
                             // [handled, size) were not tried, the caller decides
};

// Counters; senders on several threads add once per batch.
struct UdpStats {
  std::atomic<std::uint64_t> datagrams_received{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> receive_dropped{0};  // truncated (too long for the buffer)
  std::atomic<std::uint64_t> receive_errors{0};
  std::atomic<std::uint64_t> datagrams_sent{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> send_errors{0};    // datagrams that failed
  std::atomic<std::uint64_t> stale_sources{0};  // sends retried without their source
  std::atomic<std::uint64_t> send_syscalls{0};
  std::atomic<std::uint64_t> send_waits{0};    // wait_writable() calls: the send buffer was full
  std::atomic<std::uint64_t> gso_sends{0};     // messages carrying 2+ datagrams
  std::atomic<std::uint64_t> gso_disabled{0};  // times EIO switched GSO off
  std::atomic<std::uint64_t> gro_buffers{0};   // coalesced buffers received and split
  std::atomic<std::uint64_t> receive_syscalls{0};
};

class UdpSocket {
 public:
  // Creates, configures and binds the socket. Buffer-size failures are logged at debug and
  // ignored; everything else (including SO_MARK) is an error.
  static base::Result<UdpSocket> open(const UdpOptions& options);

  UdpSocket(UdpSocket&&) noexcept;
  UdpSocket& operator=(UdpSocket&&) noexcept;
  ~UdpSocket();

  int fd() const noexcept { return fd_; }
  base::IpAddr::Family family() const noexcept { return family_; }
  std::uint16_t port() const noexcept { return port_; }
  const UdpStats& stats() const noexcept;

  // Sets or clears (0) SO_MARK, e.g. for `wg set fwmark`.
  base::Status set_fwmark(std::uint32_t mark);

  // GSO: probed at open(); set_gso(false) is the run-time switch (fact sheet 14.1: kernels
  // and NICs that mangle GSO sends), set_gso(true) turns it back on if the kernel has it.
  // An EIO on a GSO send turns it off by itself (the egress path cannot segment).
  bool gso_supported() const noexcept;
  bool gso_enabled() const noexcept;
  void set_gso(bool on) noexcept;
  // GRO: decided at open() (UDP_GRO set and read back as 1).
  bool gro_enabled() const noexcept;

  // Receives up to min(bufs.size(), meta.size(), kMaxBatch) datagrams without blocking.
  // Every bufs[i] must hold a buffer (normally fresh from the pool); receiving stops at the
  // first null one. Datagram k is in bufs[k]->data() (placed at its read_area()), meta[k]
  // describes it. Buffers may be reordered among the slots; those past the returned count
  // hold nothing of value. A datagram too long for its buffer's read area is dropped
  // (counted).
  //
  // With GRO, the kernel may hand over one buffer holding many datagrams of one flow (all of
  // gso_size bytes but the last); they come out as separate datagrams in order, with the same
  // meta. Datagrams that do not fit this call's buffers are kept and returned first by the
  // next call: if has_pending() is true, call again before polling the fd.
  //
  // Returns the number received; 0 with `ec` clear when nothing is queued. `ec` is set on a
  // socket error (the datagrams returned before it are valid).
  std::size_t recv_batch(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                         std::error_code& ec) noexcept;
  bool has_pending() const noexcept;

  // Sends msgs in order. `status`, if not empty, must be at least msgs.size() long and gets
  // one entry per handled message. Errors of one message (unreachable, refused, too big, wrong
  // family) are reported there and the rest still go; a refused source is retried without it
  // (SendStatus::source_stale). Never throws; never blocks.
  //
  // With GSO, a run of consecutive messages to one destination from one source, all of one
  // size except a shorter last one, goes out as one sendmmsg entry with a UDP_SEGMENT cmsg
  // (at most kGsoMaxSegments datagrams and kGsoMaxBytes*): callers get the most from it by
  // passing each peer's datagrams together. If such a send fails, its datagrams are retried
  // one by one so each gets its own status.
  SendResult send_batch(std::span<const SendMsg> msgs, std::span<SendStatus> status = {}) noexcept;

  // After a send_batch() that would block: waits up to `timeout` for room in the send buffer.
  // True when there is room (or an error to collect); false on timeout.
  bool wait_writable(std::chrono::milliseconds timeout) noexcept;

  // Opaque outside net/ (defined in udp_socket_internal.hpp).
  struct State;

 private:
  UdpSocket(int fd, base::IpAddr::Family family, std::uint16_t port, std::unique_ptr<State> st);
  void close() noexcept;
  std::size_t recv_plain(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                         std::error_code& ec) noexcept;
  std::size_t recv_gro(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                       std::error_code& ec) noexcept;

  int fd_ = -1;
  base::IpAddr::Family family_ = base::IpAddr::Family::v4;
  std::uint16_t port_ = 0;
  std::unique_ptr<State> st_;  // stats and receive scratch; stable across moves
};

}  // namespace net
