// SPDX-License-Identifier: MIT
// wg::Bind: how the engine reaches the network outside. The engine never knows whether a peer
// is reached by direct UDP or through a DERP relay: each peer has an Endpoint the bind made
// for it (wg/endpoint.hpp); the engine hands sealed transport messages for that endpoint to
// send(), and takes received datagrams from receive(). The bind never sees a peer's handshake
// state. magicsock implements it (magicsock::UdpBind for plain WireGuard, magicsock::Conn for
// mesh mode).
//
// Queues: one per engine worker. Worker q sleeps until one of wait_fds(q) is readable, then
// calls receive(q, ...). When the fds change (listen port changed), generation() moves on and
// the engine has each worker fetch them again.
//
// Thread safety: receive(q) is called by worker q only; send() and send_to() from any thread
// (workers and the control thread), concurrently; rebind() from the control thread.
// Nothing on the data path allocates, throws or blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "base/packet.hpp"
#include "base/result.hpp"
#include "wg/endpoint.hpp"

namespace wg {

class Bind {
 public:
  static constexpr std::size_t kMaxWaitFds = 8;

  virtual ~Bind() = default;

  // Changes whenever the fds to wait on change.
  virtual std::uint64_t generation() const noexcept = 0;
  // Writes the fds queue q waits on into `out` (at most kMaxWaitFds); returns how many.
  virtual std::size_t wait_fds(std::size_t q, std::span<int, kMaxWaitFds> out) const noexcept = 0;

  // Receives up to bufs.size() datagrams for queue q without blocking. Every bufs[i] holds a
  // pooled buffer on entry; datagram i lands in bufs[i] (read into read_area()), its source in
  // sources[i]. Returns how many; buffers past that hold nothing of value.
  virtual std::size_t receive(std::size_t q, std::span<base::PacketRef> bufs,
                              std::span<PeerEndpoint> sources) noexcept = 0;
  // True when queue q has datagrams already in user space (the rest of a GRO buffer): call
  // receive() again before waiting on the fds.
  virtual bool has_pending(std::size_t q) const noexcept = 0;

  // The endpoint of a new peer with public key `peer`: the bind's own kind, which send()
  // takes back. Control thread.
  virtual std::shared_ptr<Endpoint> make_endpoint(const base::NodePublicKey& peer) = 0;

  // Sends the transport messages packets[i]->data() to `to`, an endpoint this bind made; the
  // packets stay the caller's. Returns how many went out; the rest were dropped (no address,
  // socket full or refusing).
  virtual std::size_t send(std::size_t q, Endpoint& to,
                           std::span<const base::PacketRef> packets) noexcept = 0;
  // Sends one message (a handshake) to `to`, an endpoint this bind made.
  virtual bool send_message(Endpoint& to, base::ConstByteSpan message) noexcept = 0;
  // Sends one message to an explicit address (cookie replies go to a datagram's source).
  virtual bool send_to(const PeerEndpoint& to, base::ConstByteSpan message) noexcept = 0;

  // Datagrams dropped before the engine saw them (too long for a buffer), since start.
  virtual std::uint64_t datagrams_dropped() const noexcept = 0;

  // The UDP port in use (0: none yet).
  virtual std::uint16_t port() const noexcept = 0;
  // Listen on `port` (0: pick one) with SO_MARK `fwmark` (0: none). On failure nothing
  // changes and the error says why (address_in_use for a taken port).
  virtual base::Status rebind(std::uint16_t port, std::uint32_t fwmark) = 0;
};

}  // namespace wg
