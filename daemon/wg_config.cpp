// SPDX-License-Identifier: MIT
#include "daemon/wg_config.hpp"

#include <cerrno>

#include "base/log.hpp"

namespace meshtund {

namespace {
const base::Logger& log() {
  static const base::Logger lg = base::logger("config");
  return lg;
}
}  // namespace

ipc::DeviceState WgConfig::get() {
  ipc::DeviceState s;
  wg::Device& dev = engine_.device();
  if (dev.identity()) s.private_key = dev.identity()->private_key;
  s.listen_port = engine_.bind().port();
  s.fwmark = fwmark_;
  for (const auto& peer : dev.peers()) {
    ipc::PeerState p;
    p.public_key = peer->public_key();
    p.preshared_key = peer->identity.preshared_key;
    if (const auto ep = peer->endpoint()) p.endpoint = ep->remote;
    if (const auto t = peer->last_handshake()) {
      const std::int64_t ns = t->time_since_epoch().count();
      p.last_handshake_time_sec = ns / 1'000'000'000;
      p.last_handshake_time_nsec = ns % 1'000'000'000;
    }
    p.tx_bytes = peer->tx_bytes();
    p.rx_bytes = peer->rx_bytes();
    p.persistent_keepalive_interval = peer->timers.persistent_keepalive();
    p.allowed_ips = engine_.allowed_ips(*peer);
    s.peers.push_back(std::move(p));
  }
  return s;
}

int WgConfig::set(const ipc::SetRequest& request) {
  // 1. The only step that can fail: new sockets for a new port or fwmark.
  const std::uint16_t port = request.listen_port.value_or(engine_.bind().port());
  const std::uint32_t fwmark = request.fwmark.value_or(fwmark_);
  if ((request.listen_port && *request.listen_port != engine_.bind().port()) ||
      (request.fwmark && *request.fwmark != fwmark_)) {
    if (auto st = engine_.bind().rebind(port, fwmark); !st) {
      log()->warn("set refused: cannot listen on port {} with fwmark {}: {}", port, fwmark,
                  st.error().to_string());
      return -EADDRINUSE;
    }
    fwmark_ = fwmark;
    engine_.wake_workers();
  }
  // 2. Everything else cannot fail.
  if (request.private_key) engine_.set_private_key(*request.private_key);
  if (request.replace_peers) engine_.remove_all_peers();
  for (const ipc::PeerChange& change : request.peers) apply_peer(change);
  engine_.publish_routing();
  return 0;
}

void WgConfig::apply_peer(const ipc::PeerChange& change) {
  wg::Device& dev = engine_.device();
  // A peer with our own public key is ignored, lines and all (wireguard-go's dummy peer).
  if (dev.identity() && change.public_key == dev.identity()->public_key) return;
  if (change.remove) {
    engine_.remove_peer(change.public_key);
    return;
  }
  std::shared_ptr<wg::Peer> peer = dev.find_peer(change.public_key);
  if (!peer) {
    if (change.update_only) return;
    peer = engine_.add_peer(change.public_key);
    if (!peer) return;
  }
  if (change.preshared_key) dev.set_preshared_key(*peer, *change.preshared_key);
  if (change.endpoint) peer->set_endpoint({*change.endpoint, {}, 0});
  if (change.replace_allowed_ips) engine_.clear_allowed_ips(*peer);
  for (const ipc::AllowedIpChange& a : change.allowed_ips) {
    if (a.remove) {
      engine_.remove_allowed_ip(*peer, a.prefix.masked());
    } else {
      engine_.add_allowed_ip(*peer, a.prefix);
    }
  }
  // Last, so that a keepalive switched on here already has the peer's endpoint.
  if (change.persistent_keepalive_interval) {
    engine_.set_persistent_keepalive(*peer, *change.persistent_keepalive_interval);
  }
}

}  // namespace meshtund
