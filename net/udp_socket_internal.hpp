// SPDX-License-Identifier: MIT
// Internal to net/: UdpSocket's state and the helpers its send and receive paths share
// (udp_socket.cpp, udp_send.cpp, udp_recv.cpp). Not for use outside net/.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

#include <netinet/in.h>
#include <sys/socket.h>

#include "base/ip.hpp"
#include "net/udp_socket.hpp"

namespace net::detail {

constexpr int kMaxEintr = 8;

// Control buffer room per message: one IPv6 pktinfo plus one UDP GRO/GSO value, rounded up.
constexpr std::size_t kCtrlLen = 128;
static_assert(CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) <= kCtrlLen);

struct alignas(cmsghdr) Ctrl {
  std::byte b[kCtrlLen];
};

union SockAddr {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

inline std::error_code sys_code(int err) {
  return std::error_code(err, std::system_category());
}

// Fills `out` for `ep`; returns its length.
socklen_t fill_sockaddr(const base::Endpoint& ep, SockAddr& out) noexcept;

// GRO receive scratch: kGroSlots messages per recvmmsg, each landing first in the caller's
// buffer (up to kGroLead bytes) and then in a 64 KiB tail; kGroLead bytes in front of each
// tail take the first part back so a coalesced buffer becomes contiguous.
constexpr std::size_t kGroSlots = 16;
constexpr std::size_t kGroLead = 4096;
constexpr std::size_t kGroTail = 65536;  // > the largest UDP payload: a full tail means "cut"
constexpr std::size_t kGroSlotSize = kGroLead + kGroTail;

}  // namespace net::detail

namespace net {

struct UdpSocket::State {
  UdpStats stats;
  SocketHooks hooks;
  std::size_t gso_max_bytes = kGsoMaxBytesV4;
  bool gso_supported = false;
  std::atomic<bool> gso_on{false};  // written by set_gso() and by a send that saw EIO
  bool gro_on = false;              // immutable after open()

  // recv_batch() scratch: one reader at a time.
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<iovec, 2 * kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  std::array<detail::Ctrl, kMaxBatch> ctrl;

  // GRO: coalesced buffers (or, after an overflow, whole datagrams) whose datagrams did not
  // fit the caller's batch wait here, in receive order.
  std::unique_ptr<std::byte[]> gro_scratch;  // kGroSlots * kGroSlotSize, only with GRO
  struct Pending {
    std::size_t start = 0;  // offset in gro_scratch
    std::size_t len = 0;
    std::size_t seg = 0;   // segment size (len for a single datagram)
    std::size_t next = 0;  // offset of the next datagram, relative to start
    RecvMeta meta;
  };
  std::array<Pending, detail::kGroSlots> pending;
  std::size_t pending_first = 0;
  std::size_t pending_count = 0;
  // Largest number of datagrams one message held in the previous call: sizes the next
  // recvmmsg so its datagrams usually fit the caller's batch.
  std::size_t seg_estimate = 1;

  std::byte* slot(std::size_t i) const noexcept {
    return gro_scratch.get() + i * detail::kGroSlotSize;
  }
};

}  // namespace net
