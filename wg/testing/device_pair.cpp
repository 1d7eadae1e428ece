// SPDX-License-Identifier: MIT
#include "wg/testing/device_pair.hpp"

#include <array>

namespace wg::testing {

base::Bytes ipv4_packet(std::string_view payload, std::uint8_t src, std::uint8_t dst) {
  base::Bytes p(20 + payload.size());
  p[0] = std::byte{0x45};
  base::store_be16(std::span(p).subspan(2), static_cast<std::uint16_t>(p.size()));
  p[8] = std::byte{64};  // TTL
  p[9] = std::byte{17};  // UDP, not that anything here parses it
  const std::uint8_t s[4] = {10, 0, 0, src};
  const std::uint8_t d[4] = {10, 0, 0, dst};
  std::memcpy(&p[12], s, 4);
  std::memcpy(&p[16], d, 4);
  std::memcpy(&p[20], payload.data(), payload.size());
  return p;
}

DevicePair::DevicePair(bool with_psk)
    : a(*this, "a", *base::Endpoint::parse("192.0.2.1:51820")),
      b(*this, "b", *base::Endpoint::parse("192.0.2.2:51820")) {
  a.other = &b;
  b.other = &a;
  const auto ka = base::PrivateKey::generate();
  const auto kb = base::PrivateKey::generate();
  a.device.set_private_key(ka);
  b.device.set_private_key(kb);
  a.peer = a.device.add_peer(kb.public_key());
  b.peer = b.device.add_peer(ka.public_key());
  a.peer->set_endpoint({b.address, {}, 0});
  b.peer->set_endpoint({a.address, {}, 0});
  if (with_psk) {
    const auto psk = base::PresharedKey::generate();
    a.device.set_preshared_key(*a.peer, psk);
    b.device.set_preshared_key(*b.peer, psk);
  }
}

void DevicePair::Side::transmit(base::ConstByteSpan bytes) {
  other->inbox.push_back({base::Bytes(bytes.begin(), bytes.end()), {address, {}, 0}});
}

void DevicePair::Side::send_handshake(Peer& p, base::ConstByteSpan message) {
  ++handshakes_sent;
  p.add_tx_bytes(message.size());
  transmit(message);
}

void DevicePair::Side::send_cookie_reply(const PeerEndpoint&, base::ConstByteSpan message) {
  transmit(message);
}

void DevicePair::Side::flush_staged(Peer& p, bool keepalive_if_empty) {
  std::array<base::PacketRef, kMaxStagedPackets> batch;
  std::size_t n = device.take_staged(p, batch);
  if (n == 0 && keepalive_if_empty) batch[n++] = pair_.pool.get();
  if (n == 0) return;
  const SealResult r =
      device.seal(p, std::span(batch).first(n), pair_.clock.now(), kMtu, pair_.aead);
  for (std::size_t i = 0; i < r.sealed; ++i) {
    p.add_tx_bytes(batch[i]->size());
    transmit(batch[i]->data());
  }
}

SealResult DevicePair::Side::send(base::ConstByteSpan inner) {
  base::PacketRef p = pair_.pool.get();
  base::copy_into(p->read_area(), inner);
  p->set_size(inner.size());
  std::array<base::PacketRef, 1> batch{std::move(p)};
  const SealResult r = device.seal(*peer, batch, pair_.clock.now(), kMtu, pair_.aead);
  if (r.sealed == 1) {
    peer->add_tx_bytes(batch[0]->size());
    transmit(batch[0]->data());
  }
  if (r.wake_control) device.tick(pair_.clock.now(), pair_.clock.wall(), *this);
  return r;
}

std::size_t DevicePair::Side::receive_all() {
  std::size_t n = 0;
  while (!inbox.empty()) {
    Datagram d = std::move(inbox.front());
    inbox.pop_front();
    ++n;
    DropReason why{};
    const auto type = classify(d.bytes, why);
    if (type == MessageType::transport) {
      base::PacketRef p = pair_.pool.get();
      base::copy_into(p->read_area(), d.bytes);
      p->set_size(d.bytes.size());
      base::PacketBuf* ptrs[1] = {p.get()};
      OpenResult result;
      OpenBatch batch;
      device.open_batch(ptrs, std::span(&d.from, 1), pair_.clock.now(), pair_.clock.wall(),
                        pair_.aead, batch, std::span(&result, 1));
      if (result.drop == DropReason::none) {
        if (result.keepalive) {
          ++keepalives_received;
        } else {
          delivered.emplace_back(p->data().begin(), p->data().end());
        }
      }
      for (std::size_t i = 0; i < batch.flush_count; ++i) flush_staged(*batch.flush[i], false);
      if (batch.wake_control) device.tick(pair_.clock.now(), pair_.clock.wall(), *this);
      batch.reset();
    } else {
      device.receive_handshake(d.bytes, d.from, pair_.clock.now(), pair_.clock.wall(),
                               handshake_queue_busy, *this);
    }
  }
  return n;
}

void DevicePair::settle() {
  for (int round = 0; round < 64 && (!a.inbox.empty() || !b.inbox.empty()); ++round) {
    a.receive_all();
    b.receive_all();
  }
}

void DevicePair::tick() {
  a.device.tick(clock.now(), clock.wall(), a);
  b.device.tick(clock.now(), clock.wall(), b);
}

}  // namespace wg::testing
