// SPDX-License-Identifier: MIT
#include "wg/device.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "base/random.hpp"
#include "wg/constants.hpp"
#include "wg/messages.hpp"
#include "wg/transport.hpp"

namespace wg {

using base::ConstByteSpan;
using base::TimePoint;

namespace {

// Logs name peers by their public key, as `wg show` does. Handshakes and state changes are
// logged, never single packets: a handshake at most every 5 s per peer, roaming rate-limited.
const base::Logger& log() {
  static const base::Logger lg = base::logger("wg");
  return lg;
}

std::string name(const Peer& peer) {
  return peer.public_key().to_base64();
}

}  // namespace

// Formats nothing (not even the peer's name) unless the level is on: tick() and the data
// path must not allocate for lines nobody reads.
#define WG_LOG(lvl, ...)                                                \
  do {                                                                  \
    if (log()->should_log(spdlog::level::lvl)) log()->lvl(__VA_ARGS__); \
  } while (false)

base::Duration rekey_jitter() noexcept {
  return std::chrono::milliseconds(base::random_uniform(kRekeyTimeoutJitterMaxMs + 1));
}

void OpenBatch::reset() noexcept {
  for (std::size_t i = 0; i < held_; ++i) hold_[i].reset();
  held_ = 0;
  flush_count = 0;
  wake_control = false;
}

Device::Device(const DeviceOptions& options)
    : staging_(options.staged_packets, options.buffer_size) {}

Device::~Device() {
  remove_all_peers();
}

// --- configuration ---

void Device::set_private_key(const std::optional<base::PrivateKey>& key) {
  std::optional<StaticIdentity> next;
  if (key && !key->is_zero()) next = StaticIdentity::from_private(*key);
  if (next && identity_ && next->private_key == identity_->private_key) return;
  identity_ = std::move(next);
  if (identity_) {
    cookie_checker_.set_identity(identity_->public_key);
    remove_peer(identity_->public_key);
  }
  for (auto& [k, peer] : peers_) {
    if (identity_) {
      peer->identity.recompute(*identity_);
    } else {
      peer->identity.static_static_valid = false;
    }
    drop_handshake_index(*peer);
    peer->handshake.clear();
    peer->last_sent_handshake.reset();
    peer->keypairs.revoke_sending();
  }
}

std::shared_ptr<Peer> Device::add_peer(const base::NodePublicKey& key,
                                       std::shared_ptr<Endpoint> endpoint) {
  if (identity_ && key == identity_->public_key) return nullptr;
  if (auto existing = find_peer(key)) return existing;
  auto peer = std::make_shared<Peer>(key, std::move(endpoint));
  peer->internal_id = next_peer_id_++;
  if (identity_) peer->identity.recompute(*identity_);
  peers_.emplace(key, peer);
  return peer;
}

bool Device::remove_peer(const base::NodePublicKey& key) {
  auto it = peers_.find(key);
  if (it == peers_.end()) return false;
  Peer& peer = *it->second;
  peer.timers.stop();
  staging_.close(peer.staging);
  clear_keys(peer);
  peers_.erase(it);
  return true;
}

void Device::remove_all_peers() {
  while (!peers_.empty()) remove_peer(peers_.begin()->first);
}

std::shared_ptr<Peer> Device::find_peer(const base::NodePublicKey& key) const {
  auto it = peers_.find(key);
  return it == peers_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Peer>> Device::peers() const {
  std::vector<std::shared_ptr<Peer>> out;
  out.reserve(peers_.size());
  for (const auto& [k, p] : peers_) out.push_back(p);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->internal_id < b->internal_id; });
  return out;
}

void Device::set_preshared_key(Peer& peer, const base::PresharedKey& psk) {
  peer.identity.preshared_key = psk;
}

void Device::set_persistent_keepalive(Peer& peer, std::uint16_t seconds, TimePoint now,
                                      Outbox& out) {
  const bool was_off = peer.timers.persistent_keepalive() == 0;
  peer.timers.set_persistent_keepalive(seconds);
  if (seconds > 0) {
    peer.timers.traversal(now);
    if (was_off && identity_) out.flush_staged(peer, true);
  }
}

void Device::drop_handshake_index(Peer& peer) {
  // An index is the handshake's only while the handshake is in flight; after
  // derive_session it belongs to a keypair and the handshake's copy is zero.
  if (peer.handshake.local_index != 0) index_.remove(peer.handshake.local_index);
}

void Device::clear_keys(Peer& peer) {
  drop_handshake_index(peer);
  peer.handshake.clear();
  index_.remove(peer.keypairs.clear());
}

std::size_t Device::drop_staged(Peer& peer, DropReason why) {
  const std::size_t n = staging_.clear(peer.staging);
  drops_.add(why, n);
  return n;
}

std::size_t Device::take_staged(Peer& peer, std::span<base::PacketRef> out) {
  return staging_.take(peer.staging, out);
}

// --- handshakes ---

bool Device::under_load(TimePoint now) const noexcept {
  return last_under_load_ && now - *last_under_load_ < kUnderLoadAfterTime;
}

void Device::receive_handshake(ConstByteSpan message, const PeerEndpoint& from, TimePoint now,
                               base::WallTime wall, bool handshake_queue_busy, Outbox& out) {
  DropReason why = DropReason::none;
  const auto type = classify(message, why);
  if (!type || *type == MessageType::transport) {
    drops_.add(type ? DropReason::unknown_type : why);
    return;
  }
  if (*type == MessageType::cookie_reply) {
    receive_cookie_reply(message, now);
    return;
  }
  if (!identity_) {
    drops_.add(DropReason::no_private_key);
    return;
  }
  if (!cookie_checker_.check_mac1(message)) {
    drops_.add(DropReason::bad_mac1);
    return;
  }
  if (handshake_queue_busy) {
    if (!under_load(now))
      WG_LOG(info, "under load: answering handshake initiations with cookie replies");
    last_under_load_ = now;
  }
  if (under_load(now)) {
    if (!cookie_checker_.check_mac2(message, from.remote, now)) {
      const std::uint32_t sender =
          base::load_le32(message.subspan(4));  // same offset in types 1, 2
      const CookieReply reply = cookie_checker_.make_reply(message, sender, from.remote, now);
      std::array<std::byte, kCookieReplySize> bytes;
      write_cookie_reply(reply, bytes);
      out.send_cookie_reply(from, bytes);
      drops_.add(DropReason::cookie_required);
      return;
    }
    if (!last_ratelimiter_gc_ || now - *last_ratelimiter_gc_ >= std::chrono::seconds(1)) {
      rate_limiter_.collect(now);
      last_ratelimiter_gc_ = now;
    }
    if (!rate_limiter_.allow(from.remote.addr, now)) {
      drops_.add(DropReason::rate_limited);
      return;
    }
  }
  if (*type == MessageType::initiation) {
    receive_initiation(message, from, now, wall, out);
  } else {
    receive_response(message, from, now, wall, out);
  }
}

void Device::authenticated_from(Peer& peer, const PeerEndpoint& from, TimePoint now) {
  if (peer.bind_endpoint().authenticated_from(from)) {
    log()->info("peer={} endpoint={} (roamed)", name(peer), from.remote.to_string());
  }
  peer.timers.authenticated_received();
  peer.timers.traversal(now);
}

void Device::receive_initiation(ConstByteSpan message, const PeerEndpoint& from, TimePoint now,
                                base::WallTime wall, Outbox& out) {
  (void)wall;
  DropReason why = DropReason::none;
  const auto msg = parse_initiation(message);
  auto opened = msg ? open_initiation(*identity_, *msg, why) : std::nullopt;
  if (!opened) {
    drops_.add(msg ? why : DropReason::bad_length);
    return;
  }
  const std::shared_ptr<Peer> peer = find_peer(opened->initiator);
  if (!peer) {
    drops_.add(DropReason::unknown_peer);
    return;
  }
  const std::uint32_t old_index = peer->handshake.local_index;
  if (!consume_initiation(*opened, peer->identity, peer->handshake, now, why)) {
    drops_.add(why);
    return;
  }
  if (old_index != 0) index_.remove(old_index);  // our own initiation in flight is abandoned
  peer->add_rx_bytes(message.size());
  authenticated_from(*peer, from, now);

  // Respond at once: message 2, and the responder's keypair goes into `next`.
  const std::uint32_t index = index_.insert_handshake(peer);
  const auto eph = base::PrivateKey::generate();
  auto response = create_response(peer->identity, peer->handshake, index, eph.bytes(), why);
  auto keys = response ? derive_session(peer->handshake) : std::nullopt;
  if (!keys) {
    index_.remove(index);
    peer->handshake.clear();
    drops_.add(why == DropReason::none ? DropReason::unexpected_state : why);
    return;
  }
  auto keypair = std::make_shared<Keypair>(keys->send, keys->receive, keys->local_index,
                                           keys->remote_index, false, now);
  index_.bind_keypair(index, keypair);
  index_.remove(peer->keypairs.install_responder(std::move(keypair)));
  peer->timers.session_derived(now);

  std::array<std::byte, kResponseSize> bytes;
  write_response(*response, bytes);
  peer->cookies.stamp(bytes, now);
  peer->last_sent_handshake = now;
  peer->timers.authenticated_sent();
  peer->timers.traversal(now);
  out.send_handshake(*peer, bytes);
  WG_LOG(debug, "peer={} handshake initiation received; response sent", name(*peer));
}

void Device::receive_response(ConstByteSpan message, const PeerEndpoint& from, TimePoint now,
                              base::WallTime wall, Outbox& out) {
  const auto msg = parse_response(message);
  if (!msg) {
    drops_.add(DropReason::bad_length);
    return;
  }
  const auto entry = index_.lookup(msg->receiver);
  if (!entry || entry->keypair) {
    drops_.add(DropReason::unknown_index);
    return;
  }
  Peer& peer = *entry->peer;
  DropReason why = DropReason::none;
  if (!consume_response(*identity_, peer.identity, peer.handshake, *msg, why)) {
    drops_.add(why);
    return;
  }
  auto keys = derive_session(peer.handshake);
  if (!keys) {
    drops_.add(DropReason::unexpected_state);
    return;
  }
  peer.add_rx_bytes(message.size());
  authenticated_from(peer, from, now);
  const bool was_down = peer.keypairs.current() == nullptr;
  auto keypair = std::make_shared<Keypair>(keys->send, keys->receive, keys->local_index,
                                           keys->remote_index, true, now);
  index_.bind_keypair(keys->local_index, keypair);
  index_.remove(peer.keypairs.install_initiator(std::move(keypair)));
  peer.timers.session_derived(now);
  peer.timers.handshake_complete();
  peer.set_last_handshake(wall);
  peer.sent_lastminute_handshake.store(false, std::memory_order_relaxed);
  if (was_down) {
    WG_LOG(info, "peer={} session established (handshake we initiated)", name(peer));
  } else {
    WG_LOG(debug, "peer={} new session (handshake we initiated)", name(peer));
  }
  // Key confirmation for the responder: staged packets, or a keepalive.
  out.flush_staged(peer, true);
}

void Device::receive_cookie_reply(ConstByteSpan message, TimePoint now) {
  const auto msg = parse_cookie_reply(message);
  if (!msg) {
    drops_.add(DropReason::bad_length);
    return;
  }
  const auto entry = index_.lookup(msg->receiver);
  if (!entry) {
    drops_.add(DropReason::unknown_index);
    return;
  }
  DropReason why = DropReason::none;
  if (!entry->peer->cookies.consume_reply(*msg, now, why)) drops_.add(why);
}

void Device::initiate(Peer& peer, TimePoint now, base::WallTime wall, bool is_retry, Outbox& out) {
  if (!is_retry) peer.timers.reset_attempts();
  if (!identity_ || !peer.identity.static_static_valid) return;
  if (peer.last_sent_handshake && now - *peer.last_sent_handshake < kRekeyTimeout) return;

  drop_handshake_index(peer);
  const std::uint32_t index = index_.insert_handshake(peer.shared_from_this());
  const auto eph = base::PrivateKey::generate();
  auto msg = create_initiation(*identity_, peer.identity, peer.handshake, index, tai64n(wall),
                               eph.bytes());
  if (!msg) {
    index_.remove(index);
    return;
  }
  std::array<std::byte, kInitiationSize> bytes;
  write_initiation(*msg, bytes);
  peer.cookies.stamp(bytes, now);
  peer.last_sent_handshake = now;
  peer.timers.traversal(now);
  peer.timers.authenticated_sent();
  peer.timers.handshake_initiated(now, rekey_jitter());
  out.send_handshake(peer, bytes);
  WG_LOG(debug, "peer={} handshake initiation sent (try {})", name(peer),
         peer.timers.attempts() + 1);
}

void Device::tick(TimePoint now, base::WallTime wall, Outbox& out) {
  if (!last_ratelimiter_gc_ || now - *last_ratelimiter_gc_ >= std::chrono::seconds(1)) {
    rate_limiter_.collect(now);
    last_ratelimiter_gc_ = now;
  }
  for (const auto& [key, p] : peers_) {  // no copy: tick() allocates nothing
    Peer& peer = *p;
    const TimerActions a = peer.timers.poll(now);
    if (a.retry_initiation || a.send_initiation) {
      peer.clear_endpoint_source();
      initiate(peer, now, wall, a.retry_initiation, out);
    }
    if (a.give_up) {
      const std::size_t dropped = drop_staged(peer, DropReason::no_keypair);
      WG_LOG(info,
             "peer={} handshake did not complete after {} tries; giving up until there is "
             "traffic for it again ({} staged packets dropped)",
             name(peer), kMaxTimerHandshakes + 2, dropped);
    }
    if (a.send_keepalive) {
      out.flush_staged(peer, true);
      if (a.rearm_keepalive) peer.timers.rearm_keepalive(now);
    }
    if (a.zero_key_material) {
      // Keys and whatever waited for them, as wireguard-go's ZeroAndFlushAll (device/peer.go).
      clear_keys(peer);
      drop_staged(peer, DropReason::no_keypair);
      WG_LOG(debug, "peer={} keys zeroed: no new session for {} s", name(peer),
             std::chrono::duration_cast<std::chrono::seconds>(kZeroKeyMaterialAfter).count());
    }
    if (peer.take_handshake_request()) initiate(peer, now, wall, false, out);
  }
}

// --- data path ---

SealResult Device::seal(Peer& peer, std::span<base::PacketRef> packets, TimePoint now, unsigned mtu,
                        crypto::TransportAead& aead) {
  SealResult r;
  if (packets.empty()) return r;
  const KeypairPtr kp = peer.keypairs.current();
  std::optional<std::uint64_t> first;
  if (kp && !kp->expired(now)) first = kp->reserve_counters(packets.size());
  if (!first) return stage(peer, packets);
  // Seal in place; a packet that fails is dropped and the rest move up to keep [0, sealed)
  // dense. Its counter stays unused, which the receiver's replay window does not mind.
  bool any_data = false;
  std::size_t sealed = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    base::PacketBuf& p = *packets[i];
    const bool data = !p.empty();
    if (!seal_transport(p, kp->send_key(), kp->remote_index(), *first + i, mtu, aead)) {
      drops_.add(DropReason::seal_failed);
      packets[i].reset();
      continue;
    }
    any_data = any_data || data;
    if (sealed != i) packets[sealed] = std::move(packets[i]);
    ++sealed;
  }
  r.sealed = sealed;
  if (sealed == 0) return r;
  peer.timers.authenticated_sent();
  peer.timers.traversal(now);
  if (any_data && !peer.timers.armed(Timers::Kind::new_handshake)) {
    peer.timers.data_sent(now, rekey_jitter());
  }
  // Keep key fresh on send.
  if (kp->send_counter() > kRekeyAfterMessages ||
      (kp->initiator() && now - kp->created() > kRekeyAfterTime)) {
    peer.request_handshake();
    r.wake_control = true;
  }
  return r;
}

SealResult Device::stage(Peer& peer, std::span<base::PacketRef> packets) {
  SealResult r;
  if (!peer.has_endpoint()) {
    // Nowhere to send a handshake, so nothing to wait for: dropped, as the kernel does
    // (drivers/net/wireguard/device.c, wg_xmit: -EDESTADDRREQ).
    for (const auto& p : packets) {
      if (p) drops_.add(DropReason::no_endpoint);
    }
    return r;
  }
  const StagingArea::PushResult pushed = staging_.push(peer.staging, packets);
  drops_.add(DropReason::staging_overflow, pushed.evicted_peer);
  drops_.add(DropReason::staging_full, pushed.evicted_device + pushed.refused);
  r.staged = pushed.staged;
  peer.request_handshake();
  r.wake_control = true;
  return r;
}

void Device::open_batch(std::span<base::PacketBuf* const> packets,
                        std::span<const PeerEndpoint> sources, TimePoint now, base::WallTime wall,
                        crypto::TransportAead& aead, OpenBatch& batch,
                        std::span<OpenResult> results) {
  std::size_t i = 0;
  while (i < packets.size()) {
    // A run: consecutive packets with the same receiver index (normally the whole batch).
    const std::uint32_t index = transport_receiver(packets[i]->data());
    std::size_t j = i + 1;
    while (j < packets.size() && j - i < OpenBatch::kMaxBatch &&
           transport_receiver(packets[j]->data()) == index) {
      ++j;
    }
    open_run(packets.subspan(i, j - i), sources.subspan(i, j - i), now, wall, aead, batch,
             results.subspan(i, j - i));
    i = j;
  }
}

void Device::open_run(std::span<base::PacketBuf* const> packets,
                      std::span<const PeerEndpoint> sources, TimePoint now, base::WallTime wall,
                      crypto::TransportAead& aead, OpenBatch& batch,
                      std::span<OpenResult> results) {
  auto fail_all = [&](DropReason why) {
    for (auto& r : results) r = OpenResult{why, nullptr, false};
    drops_.add(why, results.size());
  };
  const auto entry = index_.lookup(transport_receiver(packets[0]->data()));
  if (!entry || !entry->keypair) return fail_all(DropReason::unknown_index);
  Keypair& kp = *entry->keypair;
  if (kp.expired(now)) return fail_all(DropReason::keypair_expired);
  if (batch.held_ == batch.hold_.size()) return fail_all(DropReason::queue_full);  // cannot happen
  batch.hold_[batch.held_++] = entry->peer;
  Peer& peer = *entry->peer;

  // Authenticate and decrypt each packet; remember the counters of those that opened.
  std::size_t opened = 0;
  for (std::size_t k = 0; k < packets.size(); ++k) {
    base::PacketBuf& p = *packets[k];
    const std::uint64_t counter = base::load_le64(p.data().subspan(off::data::kCounter));
    if (!open_transport(p, kp.receive_key(), counter, aead)) {
      results[k] = OpenResult{DropReason::bad_tag, nullptr, false};
      drops_.add(DropReason::bad_tag);
      continue;
    }
    batch.counters_[opened] = counter;
    batch.opened_[opened] = k;
    ++opened;
    results[k] = OpenResult{DropReason::none, &peer, false};
  }
  if (opened == 0) return;

  // Replay check after authentication, one lock for the run.
  kp.accept_counters(std::span(batch.counters_).first(opened),
                     std::span(batch.accepted_).first(opened));
  std::size_t last_good = packets.size();
  bool any_data = false;
  std::uint64_t rx = 0;
  for (std::size_t m = 0; m < opened; ++m) {
    const std::size_t k = batch.opened_[m];
    OpenResult& r = results[k];
    if (!batch.accepted_[m]) {
      r = OpenResult{DropReason::replayed, nullptr, false};
      drops_.add(DropReason::replayed);
      continue;
    }
    base::PacketBuf& p = *packets[k];
    rx += kTransportHeaderSize + p.size() + crypto::kTagSize;
    last_good = k;
    if (p.empty()) {
      r.keepalive = true;
      continue;
    }
    any_data = true;  // as wireguard-go: any authenticated non-empty payload, valid or not
    const auto len = inner_packet_length(p.data());
    if (!len) {
      r = OpenResult{DropReason::invalid_inner, &peer, false};
      drops_.add(DropReason::invalid_inner);
      continue;
    }
    p.trim(*len);
  }
  if (last_good == packets.size()) return;

  peer.add_rx_bytes(rx);
  // Key confirmation: the initiator used our `next` keypair, so it is now current.
  if (peer.keypairs.is_next(&kp)) {
    const bool was_down = peer.keypairs.current() == nullptr;
    bool rotated = false;
    index_.remove(peer.keypairs.confirm(&kp, rotated));
    if (rotated) {
      if (was_down) {
        WG_LOG(info, "peer={} session established (handshake they initiated)", name(peer));
      } else {
        WG_LOG(debug, "peer={} new session (handshake they initiated)", name(peer));
      }
      peer.timers.handshake_complete();
      peer.set_last_handshake(wall);
      peer.sent_lastminute_handshake.store(false, std::memory_order_relaxed);
      if (batch.flush_count < batch.flush.size()) batch.flush[batch.flush_count++] = &peer;
    }
  }
  // Roaming and timers, once per run, from the last packet that passed.
  if (peer.bind_endpoint().authenticated_from(sources[last_good])) {
    MT_LOG_EVERY(log(), std::chrono::seconds(1), spdlog::level::info,
                 "peer={} endpoint={} (roamed)", name(peer), sources[last_good].remote.to_string());
  }
  peer.timers.authenticated_received();
  peer.timers.traversal(now);
  if (any_data) peer.timers.data_received(now);
  // Keep key fresh on receive: once per keypair, close to the end of life of the keypair we
  // send with (the current one, not `kp`: a late packet under the previous keypair says
  // nothing about the age of the session), as wireguard-go's keepKeyFreshReceiving.
  if (!peer.sent_lastminute_handshake.load(std::memory_order_relaxed)) {
    const KeypairPtr current = peer.keypairs.current();
    if (current && current->initiator() && now - current->created() > kRekeyOnReceiveAge &&
        !peer.sent_lastminute_handshake.exchange(true, std::memory_order_relaxed)) {
      peer.request_handshake();
      batch.wake_control = true;
    }
  }
}

}  // namespace wg
