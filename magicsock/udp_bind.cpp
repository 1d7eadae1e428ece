// SPDX-License-Identifier: MIT
#include "magicsock/udp_bind.hpp"

#include <array>
#include <chrono>
#include <optional>

namespace magicsock {

namespace {
net::SendMsg to_send_msg(const wg::PeerEndpoint& ep, base::ConstByteSpan data) noexcept {
  return net::SendMsg{data, ep.remote, ep.local, ep.ifindex};
}
}  // namespace

UdpBind::UdpBind(const UdpBindOptions& options) : options_(options) {}

std::size_t UdpBind::wait_fds(std::size_t q, std::span<int, kMaxWaitFds> out) const noexcept {
  const auto set = sockets();
  std::size_t n = 0;
  if (!set || q >= set->queue_count()) return 0;
  if (auto* s = set->v4(q)) out[n++] = s->fd();
  if (auto* s = set->v6(q)) out[n++] = s->fd();
  return n;
}

std::size_t UdpBind::receive(std::size_t q, std::span<base::PacketRef> bufs,
                             std::span<wg::PeerEndpoint> sources) noexcept {
  const auto set = sockets();
  if (!set || q >= set->queue_count()) return 0;
  std::array<net::RecvMeta, net::kMaxBatch> meta;
  std::size_t total = 0;
  for (net::UdpSocket* s : {set->v4(q), set->v6(q)}) {
    if (s == nullptr || total == bufs.size()) continue;
    const std::size_t room = std::min(bufs.size() - total, meta.size());
    std::error_code ec;
    const std::size_t n = s->recv_batch(bufs.subspan(total, room), std::span(meta).first(room), ec);
    for (std::size_t i = 0; i < n; ++i) {
      sources[total + i] = wg::PeerEndpoint{meta[i].source, meta[i].local, meta[i].ifindex};
    }
    total += n;
  }
  return total;
}

bool UdpBind::has_pending(std::size_t q) const noexcept {
  const auto set = sockets();
  if (!set || q >= set->queue_count()) return false;
  for (const net::UdpSocket* s : {set->v4(q), set->v6(q)}) {
    if (s != nullptr && s->has_pending()) return true;
  }
  return false;
}

std::shared_ptr<wg::Endpoint> UdpBind::make_endpoint(const base::NodePublicKey&) {
  return std::make_shared<wg::StaticEndpoint>();
}

std::size_t UdpBind::send(std::size_t q, wg::Endpoint& to,
                          std::span<const base::PacketRef> packets) noexcept {
  const auto ep = to.address();
  const auto set = sockets();
  net::UdpSocket* s =
      ep && set ? set->for_destination(q % std::max<std::size_t>(1, set->queue_count()), ep->remote)
                : nullptr;
  if (s == nullptr) {
    send_failures_.fetch_add(packets.size(), std::memory_order_relaxed);
    return 0;
  }
  std::array<net::SendMsg, net::kMaxBatch> msgs;
  std::array<net::SendStatus, net::kMaxBatch> status;
  std::size_t sent = 0;
  bool stale = false;
  std::optional<std::chrono::steady_clock::time_point> give_up;  // set when first blocked
  for (std::size_t at = 0; at < packets.size();) {
    const std::size_t n = std::min(packets.size() - at, msgs.size());
    for (std::size_t i = 0; i < n; ++i) msgs[i] = to_send_msg(*ep, packets[at + i]->data());
    const net::SendResult r = s->send_batch(std::span(msgs).first(n), std::span(status).first(n));
    sent += r.sent;
    for (std::size_t i = 0; i < r.handled; ++i) stale = stale || status[i].source_stale;
    at += r.handled;
    if (r.handled == n) continue;
    // The send buffer is full: wait for room, within the budget, then go on from there.
    const auto now = std::chrono::steady_clock::now();
    if (!give_up) give_up = now + kSendWaitBudget;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*give_up - now);
    if (left.count() <= 0 || !s->wait_writable(left)) {
      send_buffer_full_.fetch_add(packets.size() - at, std::memory_order_relaxed);
      break;
    }
  }
  if (stale) to.forget_source();
  if (sent < packets.size())
    send_failures_.fetch_add(packets.size() - sent, std::memory_order_relaxed);
  return sent;
}

bool UdpBind::send_message(wg::Endpoint& to, base::ConstByteSpan message) noexcept {
  const auto ep = to.address();
  if (!ep) {
    send_failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return send_to(*ep, message);
}

bool UdpBind::send_to(const wg::PeerEndpoint& to, base::ConstByteSpan message) noexcept {
  const auto set = sockets();
  net::UdpSocket* s = set ? set->for_destination(0, to.remote) : nullptr;
  if (s == nullptr) {
    send_failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const net::SendMsg msg = to_send_msg(to, message);
  const net::SendResult r = s->send_batch(std::span(&msg, 1));
  if (r.sent != 1) send_failures_.fetch_add(1, std::memory_order_relaxed);
  return r.sent == 1;
}

namespace {
std::uint64_t receive_drops(const net::SocketSet& set) noexcept {
  std::uint64_t n = 0;
  for (std::size_t q = 0; q < set.queue_count(); ++q) {
    for (const net::UdpSocket* s : {set.v4(q), set.v6(q)}) {
      if (s != nullptr) n += s->stats().receive_dropped.load(std::memory_order_relaxed);
    }
  }
  return n;
}
}  // namespace

std::uint64_t UdpBind::datagrams_dropped() const noexcept {
  const auto set = sockets();
  return retired_drops_.load(std::memory_order_relaxed) + (set ? receive_drops(*set) : 0);
}

std::uint16_t UdpBind::port() const noexcept {
  const auto set = sockets();
  return set ? set->port() : 0;
}

base::Status UdpBind::rebind(std::uint16_t port, std::uint32_t fwmark) {
  net::SocketSetOptions o;
  o.queues = options_.queues;
  o.port = port;
  o.fwmark = fwmark;
  o.ipv4 = options_.ipv4;
  o.ipv6 = options_.ipv6;
  o.gso = options_.gso;
  o.gro = options_.gro;
  o.hooks = options_.hooks;
  auto set = net::SocketSet::open(o);
  if (!set) return set.error();
  auto old = sockets_.exchange(std::make_shared<net::SocketSet>(std::move(set.value())));
  if (old) retired_drops_.fetch_add(receive_drops(*old), std::memory_order_relaxed);
  fwmark_.store(fwmark, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

}  // namespace magicsock
