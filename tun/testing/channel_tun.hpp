// SPDX-License-Identifier: MIT
// ChannelTun: a fake multi-queue TUN for in-process engine tests.
//
// Each queue is a socketpair(AF_UNIX, SOCK_SEQPACKET): fd(q) is the worker's end, used
// exactly like tun::Tun::fd(q) (through tun::Queue), so the worker code under test is the
// real one; the test holds the other end and plays the kernel: inject() makes a packet
// readable on fd(q), receive() takes a packet the worker wrote to fd(q). Both ends are
// non-blocking and close-on-exec. SOCK_SEQPACKET keeps packet boundaries like a TUN.
//
// To stand in for a TUN opened with offloads, give tun::Queue an Offloads{true, true, true}
// and inject packets that start with a virtio_net_hdr (super-packets included); what the
// worker writes then starts with one too (merged runs as GSO super-packets).
//
// Differences from a real TUN: no flow-hash queue
// choice (the test picks the queue); closing the ChannelTun makes the worker's reads fail with
// ECONNRESET and its writes with EPIPE (both tun::is_fatal), as a deleted interface makes them
// fail with EBADFD; such a write also raises SIGPIPE, which meshtund and tests ignore.
//
// Thread safety: inject/receive on one queue from one thread at a time; the worker uses
// fd(q) concurrently (the kernel socket does the locking). Not movable (fds are handed out).
#pragma once

#include <cerrno>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include <sys/socket.h>

#include "base/bytes.hpp"

namespace tun::testing {

class ChannelTun {
 public:
  // Largest packet receive() takes; a 64 KiB GSO super-packet plus a virtio_net_hdr fits.
  static constexpr std::size_t kMaxPacket = 65536 + 64;

  explicit ChannelTun(std::size_t queues) {
    for (std::size_t q = 0; q < queues; ++q) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        close_all();
        throw std::runtime_error("ChannelTun: socketpair failed errno=" + std::to_string(errno));
      }
      worker_.push_back(sv[0]);
      test_.push_back(sv[1]);
      // Room for bursts of super-packets in either direction.
      const int buf = 4 << 20;
      for (const int fd : sv) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
      }
    }
  }
  ~ChannelTun() { close_all(); }
  ChannelTun(const ChannelTun&) = delete;
  ChannelTun& operator=(const ChannelTun&) = delete;

  std::size_t queue_count() const noexcept { return worker_.size(); }
  // The worker's end of queue q.
  int fd(std::size_t q) const noexcept { return worker_[q]; }
  // The test's end of queue q ("the kernel"), for polling or raw use.
  int peer_fd(std::size_t q) const noexcept { return test_[q]; }

  // The worker will read `packet` from fd(q). False if the socket buffer is full.
  bool inject(std::size_t q, base::ConstByteSpan packet) {
    const ssize_t r = ::send(test_[q], packet.data(), packet.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return r == static_cast<ssize_t>(packet.size());
  }

  // The oldest packet the worker wrote to fd(q), or nullopt if there is none now.
  std::optional<base::Bytes> receive(std::size_t q) {
    base::Bytes buf(kMaxPacket);
    const ssize_t r = ::recv(test_[q], buf.data(), buf.size(), MSG_DONTWAIT);
    if (r < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(r));
    return buf;
  }

  // Every packet pending on queue q.
  std::vector<base::Bytes> receive_all(std::size_t q) {
    std::vector<base::Bytes> out;
    while (auto p = receive(q)) out.push_back(std::move(*p));
    return out;
  }

  // Closes the test's ends: the worker's next read of an empty queue reports ECONNRESET.
  void close_peer() {
    for (int& fd : test_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }

 private:
  void close_all() noexcept {
    for (const int fd : worker_) ::close(fd);
    for (const int fd : test_)
      if (fd >= 0) ::close(fd);
    worker_.clear();
    test_.clear();
  }

  std::vector<int> worker_;
  std::vector<int> test_;
};

}  // namespace tun::testing
