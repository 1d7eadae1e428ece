// SPDX-License-Identifier: MIT
// UdpBind: wg::Bind over plain UDP, what a WireGuard interface without DERP uses. Queue q owns
// an IPv4 and an IPv6 socket on the listen port (SO_REUSEPORT), so the kernel spreads peers
// over workers by 4-tuple and each peer's flow stays on one worker.
//
// Sending goes to the peer's endpoint from the local address it last reached us on (sticky
// source); when the kernel refuses that address, the peer's stored source is forgotten.
// rebind() opens the new socket set before it retires the old one, so a taken port changes
// nothing; workers holding the old set finish their batch on it.
//
// Back-pressure: when a socket's send buffer is full, send() waits for room (at most
// kSendWaitBudget per call) and goes on with the rest of the batch, so a burst slows the
// worker (and through the TUN queue, the senders inside) instead of turning into loss. What
// still does not fit after the wait is dropped and counted (send_buffer_full()).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "base/atomic_shared_ptr.hpp"
#include "net/socket_set.hpp"
#include "wg/bind.hpp"

namespace magicsock {

struct UdpBindOptions {
  std::size_t queues = 1;
  bool ipv4 = true;
  bool ipv6 = true;
  bool gso = true;         // UDP_SEGMENT on send where the kernel has it
  bool gro = true;         // UDP_GRO on receive where the kernel has it
  net::SocketHooks hooks;  // syscall seam for tests
};

class UdpBind final : public wg::Bind {
 public:
  // Longest one send() call waits for send-buffer room, in all.
  static constexpr std::chrono::milliseconds kSendWaitBudget{10};

  explicit UdpBind(const UdpBindOptions& options);

  std::uint64_t generation() const noexcept override {
    return generation_.load(std::memory_order_acquire);
  }
  std::size_t wait_fds(std::size_t q, std::span<int, kMaxWaitFds> out) const noexcept override;
  std::size_t receive(std::size_t q, std::span<base::PacketRef> bufs,
                      std::span<wg::PeerEndpoint> sources) noexcept override;
  bool has_pending(std::size_t q) const noexcept override;
  std::shared_ptr<wg::Endpoint> make_endpoint(const base::NodePublicKey& peer) override;
  std::size_t send(std::size_t q, wg::Endpoint& to,
                   std::span<const base::PacketRef> packets) noexcept override;
  bool send_message(wg::Endpoint& to, base::ConstByteSpan message) noexcept override;
  bool send_to(const wg::PeerEndpoint& to, base::ConstByteSpan message) noexcept override;
  std::uint16_t port() const noexcept override;
  std::uint64_t datagrams_dropped() const noexcept override;
  base::Status rebind(std::uint16_t port, std::uint32_t fwmark) override;

  std::uint32_t fwmark() const noexcept { return fwmark_.load(std::memory_order_relaxed); }
  // Datagrams the bind could not send (no socket for the family, full buffers, errors).
  std::uint64_t send_failures() const noexcept {
    return send_failures_.load(std::memory_order_relaxed);
  }
  // Of those, datagrams dropped because the send buffer stayed full past kSendWaitBudget.
  std::uint64_t send_buffer_full() const noexcept {
    return send_buffer_full_.load(std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<net::SocketSet> sockets() const noexcept { return sockets_.load(); }

  const UdpBindOptions options_;
  base::AtomicSharedPtr<net::SocketSet> sockets_;  // replaced by rebind()
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint32_t> fwmark_{0};
  std::atomic<std::uint64_t> send_failures_{0};
  std::atomic<std::uint64_t> send_buffer_full_{0};
  std::atomic<std::uint64_t> retired_drops_{0};  // receive drops of socket sets rebind() retired
};

}  // namespace magicsock
