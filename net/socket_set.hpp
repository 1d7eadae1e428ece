// SPDX-License-Identifier: MIT
// SocketSet: the UDP sockets of one listen port. For each of N queues an IPv4 and an IPv6
// socket, all bound to the same port with SO_REUSEPORT, so worker i owns its own pair and the
// kernel spreads incoming datagrams over the queues by 4-tuple hash (one peer's flow always
// lands on one socket, fact sheet 14.3).
//
// Port 0 picks one port for all sockets: the first IPv4 socket gets it from the kernel and the
// others join it; if the IPv6 bind then collides with somebody else's socket, everything is
// closed and tried again (at most kMaxPortAttempts times, like wireguard-go). If the namespace
// has no IPv6 (socket() says EAFNOSUPPORT) the set is IPv4-only, with a log line; likewise
// IPv6-only without IPv4.
//
// Changing the port (wg set listen-port): open a new SocketSet, then swap it in and destroy
// the old one; a failed open changes nothing. With SO_REUSEPORT even the same port can be
// opened again while the old set is still bound.
//
// Thread safety: immutable after open() except set_fwmark(), which may run concurrently with
// the sockets' I/O. Movable; the UdpSocket objects do not move (references stay valid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "net/udp_socket.hpp"

namespace net {

struct SocketSetOptions {
  std::size_t queues = 1;  // 1..kMaxQueues
  std::uint16_t port = 0;  // 0: the kernel picks one for all
  std::uint32_t fwmark = 0;
  bool ipv4 = true;  // false: do not even try (tests, v6-only setups)
  bool ipv6 = true;
  int buffer_bytes = kSocketBufferBytes;
  bool gso = true;  // UdpOptions::gso for every socket
  bool gro = true;  // UdpOptions::gro for every socket
  SocketHooks hooks;
};

class SocketSet {
 public:
  static constexpr std::size_t kMaxQueues = 256;
  static constexpr int kMaxPortAttempts = 100;

  // Errors: invalid_argument, address_in_use (an explicit port is taken), or the failing
  // socket call's errno; nothing stays open after a failure.
  static base::Result<SocketSet> open(const SocketSetOptions& options);

  SocketSet(SocketSet&&) noexcept = default;
  SocketSet& operator=(SocketSet&&) noexcept = default;

  std::uint16_t port() const noexcept { return port_; }
  std::size_t queue_count() const noexcept { return queues_; }
  bool has_v4() const noexcept { return !v4_.empty(); }
  bool has_v6() const noexcept { return !v6_.empty(); }
  // Queue q's sockets (q < queue_count()); null when that family is unavailable.
  UdpSocket* v4(std::size_t q) const noexcept { return has_v4() ? v4_[q].get() : nullptr; }
  UdpSocket* v6(std::size_t q) const noexcept { return has_v6() ? v6_[q].get() : nullptr; }
  // The socket of queue q that can reach `dest`, or null.
  UdpSocket* for_destination(std::size_t q, const base::Endpoint& dest) const noexcept {
    return dest.addr.is_v4() ? v4(q) : dest.addr.is_v6() ? v6(q) : nullptr;
  }

  // Sets (or clears, 0) SO_MARK on every socket; stops at the first failure.
  base::Status set_fwmark(std::uint32_t mark);
  // The run-time UDP GSO switch (UdpSocket::set_gso) for every socket.
  void set_gso(bool on) noexcept;

 private:
  SocketSet() = default;

  std::uint16_t port_ = 0;
  std::size_t queues_ = 0;
  std::vector<std::unique_ptr<UdpSocket>> v4_;
  std::vector<std::unique_ptr<UdpSocket>> v6_;
};

}  // namespace net
