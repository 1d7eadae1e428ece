// SPDX-License-Identifier: MIT
#include "wg/noise.hpp"

#include "wg/constants.hpp"

namespace wg {

using base::ByteSpan;
using base::ConstByteSpan;
using crypto::Hash;
using crypto::Key;

namespace {

// C0 = HASH(CONSTRUCTION), H0 = HASH(C0 || IDENTIFIER): computed once.
struct InitialState {
  Hash chaining_key;
  Hash hash;
  InitialState() noexcept {
    crypto::hash(chaining_key, {base::as_bytes(kConstruction)});
    crypto::hash(hash, {chaining_key, base::as_bytes(kIdentifier)});
  }
};
const InitialState& initial() noexcept {
  static const InitialState s;
  return s;
}

void mix_hash(Hash& h, ConstByteSpan data) noexcept {
  crypto::hash(h, {h, data});
}

void mix_key(Hash& c, ConstByteSpan data) noexcept {
  crypto::kdf(c, {}, {}, c, data);
}

// (C, k) = KDF2(C, data)
void mix_key2(Hash& c, Key& k, ConstByteSpan data) noexcept {
  crypto::kdf(c, k, {}, c, data);
}

// C, H after "<- s": the responder's static public key mixed into the initial hash.
void start(Hash& c, Hash& h, const base::NodePublicKey& responder) noexcept {
  c = initial().chaining_key;
  h = initial().hash;
  mix_hash(h, responder.bytes());
}

struct Wipe {
  ByteSpan s;
  ~Wipe() { base::secure_wipe(s); }
};

}  // namespace

StaticIdentity StaticIdentity::from_private(const base::PrivateKey& key) noexcept {
  StaticIdentity id;
  id.private_key = key;
  id.private_key.clamp();
  id.public_key = id.private_key.public_key();
  return id;
}

void PeerIdentity::recompute(const StaticIdentity& self) noexcept {
  static_static_valid = crypto::dh(static_static, self.private_key.bytes(), public_key.bytes());
  if (!static_static_valid) base::secure_wipe(static_static);
}

void Handshake::clear() noexcept {
  state = State::zeroed;
  base::secure_wipe(hash);
  base::secure_wipe(chaining_key);
  base::secure_wipe(ephemeral_private);
  base::secure_wipe(remote_ephemeral);
  local_index = 0;
  remote_index = 0;
}

std::optional<Initiation> create_initiation(const StaticIdentity& self, const PeerIdentity& peer,
                                            Handshake& hs, std::uint32_t local_index,
                                            const Tai64n& timestamp,
                                            base::KeySpan ephemeral_private) noexcept {
  if (!peer.static_static_valid) return std::nullopt;
  Initiation m;
  Hash c, h;
  Key k, shared;
  Wipe w1{k}, w2{shared}, w3{c};
  start(c, h, peer.public_key);

  // e
  std::copy(ephemeral_private.begin(), ephemeral_private.end(), hs.ephemeral_private.begin());
  const base::PrivateKey eph(ephemeral_private);
  const base::NodePublicKey eph_pub = eph.public_key();
  std::copy(eph_pub.bytes().begin(), eph_pub.bytes().end(), m.ephemeral.begin());
  mix_key(c, m.ephemeral);
  mix_hash(h, m.ephemeral);

  // es
  if (!crypto::dh(shared, ephemeral_private, peer.public_key.bytes())) return std::nullopt;
  mix_key2(c, k, shared);
  // s
  crypto::aead_seal(m.encrypted_static, k, 0, self.public_key.bytes(), h);
  mix_hash(h, m.encrypted_static);
  // ss
  mix_key2(c, k, peer.static_static);
  // {t}
  crypto::aead_seal(m.encrypted_timestamp, k, 0, timestamp, h);
  mix_hash(h, m.encrypted_timestamp);

  m.sender = local_index;
  hs.local_index = local_index;
  hs.chaining_key = c;
  hs.hash = h;
  hs.state = Handshake::State::initiation_created;
  return m;
}

std::optional<OpenedInitiation> open_initiation(const StaticIdentity& self, const Initiation& msg,
                                                DropReason& why) noexcept {
  OpenedInitiation o;
  Key k, shared;
  Wipe w1{k}, w2{shared};
  start(o.chaining_key, o.hash, self.public_key);
  mix_hash(o.hash, msg.ephemeral);
  mix_key(o.chaining_key, msg.ephemeral);
  if (!crypto::dh(shared, self.private_key.bytes(), msg.ephemeral)) {
    why = DropReason::invalid_public_key;
    return std::nullopt;
  }
  mix_key2(o.chaining_key, k, shared);
  base::KeyBytes initiator{};
  if (!crypto::aead_open(initiator, k, 0, msg.encrypted_static, o.hash)) {
    why = DropReason::handshake_decrypt;
    return std::nullopt;
  }
  mix_hash(o.hash, msg.encrypted_static);
  o.initiator = base::NodePublicKey(initiator);
  o.remote_ephemeral = msg.ephemeral;
  o.sender = msg.sender;
  o.encrypted_timestamp = msg.encrypted_timestamp;
  return o;
}

bool consume_initiation(const OpenedInitiation& opened, const PeerIdentity& peer, Handshake& hs,
                        base::TimePoint now, DropReason& why) noexcept {
  if (!peer.static_static_valid) {
    why = DropReason::invalid_public_key;
    return false;
  }
  Hash c = opened.chaining_key;
  Hash h = opened.hash;
  Key k;
  Wipe w1{k}, w2{c};
  mix_key2(c, k, peer.static_static);
  Tai64n ts;
  if (!crypto::aead_open(ts, k, 0, opened.encrypted_timestamp, h)) {
    why = DropReason::handshake_decrypt;
    return false;
  }
  mix_hash(h, opened.encrypted_timestamp);

  if (!tai64n_after(ts, hs.latest_timestamp)) {
    why = DropReason::replayed_initiation;
    return false;
  }
  if (hs.last_initiation_consumed &&
      now - *hs.last_initiation_consumed < kHandshakeInitiationRate) {
    why = DropReason::initiation_flood;
    return false;
  }

  hs.clear();
  hs.chaining_key = c;
  hs.hash = h;
  hs.remote_ephemeral = opened.remote_ephemeral;
  hs.remote_index = opened.sender;
  hs.latest_timestamp = ts;
  hs.last_initiation_consumed = now;
  hs.state = Handshake::State::initiation_consumed;
  return true;
}

std::optional<Response> create_response(const PeerIdentity& peer, Handshake& hs,
                                        std::uint32_t local_index, base::KeySpan ephemeral_private,
                                        DropReason& why) noexcept {
  if (hs.state != Handshake::State::initiation_consumed) {
    why = DropReason::unexpected_state;
    return std::nullopt;
  }
  Response m;
  Hash c = hs.chaining_key;
  Hash h = hs.hash;
  Key k, shared, tau;
  Wipe w1{k}, w2{shared}, w3{tau}, w4{c};

  // e
  const base::PrivateKey eph(ephemeral_private);
  const base::NodePublicKey eph_pub = eph.public_key();
  std::copy(eph_pub.bytes().begin(), eph_pub.bytes().end(), m.ephemeral.begin());
  mix_hash(h, m.ephemeral);
  mix_key(c, m.ephemeral);
  // ee
  if (!crypto::dh(shared, ephemeral_private, hs.remote_ephemeral)) {
    why = DropReason::invalid_public_key;
    return std::nullopt;
  }
  mix_key(c, shared);
  // se
  if (!crypto::dh(shared, ephemeral_private, peer.public_key.bytes())) {
    why = DropReason::invalid_public_key;
    return std::nullopt;
  }
  mix_key(c, shared);
  // psk
  crypto::kdf(c, tau, k, c, peer.preshared_key.bytes());
  mix_hash(h, tau);
  // {}
  crypto::aead_seal(m.encrypted_nothing, k, 0, {}, h);
  mix_hash(h, m.encrypted_nothing);

  m.sender = local_index;
  m.receiver = hs.remote_index;
  hs.local_index = local_index;
  hs.chaining_key = c;
  hs.hash = h;
  std::copy(ephemeral_private.begin(), ephemeral_private.end(), hs.ephemeral_private.begin());
  hs.state = Handshake::State::response_created;
  return m;
}

bool consume_response(const StaticIdentity& self, const PeerIdentity& peer, Handshake& hs,
                      const Response& msg, DropReason& why) noexcept {
  if (hs.state != Handshake::State::initiation_created || hs.local_index != msg.receiver) {
    why = DropReason::unexpected_state;
    return false;
  }
  Hash c = hs.chaining_key;
  Hash h = hs.hash;
  Key k, shared, tau;
  Wipe w1{k}, w2{shared}, w3{tau}, w4{c};

  mix_hash(h, msg.ephemeral);
  mix_key(c, msg.ephemeral);
  // ee
  if (!crypto::dh(shared, hs.ephemeral_private, msg.ephemeral)) {
    why = DropReason::invalid_public_key;
    return false;
  }
  mix_key(c, shared);
  // se
  if (!crypto::dh(shared, self.private_key.bytes(), msg.ephemeral)) {
    why = DropReason::invalid_public_key;
    return false;
  }
  mix_key(c, shared);
  // psk
  crypto::kdf(c, tau, k, c, peer.preshared_key.bytes());
  mix_hash(h, tau);
  // {}
  std::array<std::byte, 0> nothing{};
  if (!crypto::aead_open(nothing, k, 0, msg.encrypted_nothing, h)) {
    why = DropReason::handshake_decrypt;
    return false;
  }
  mix_hash(h, msg.encrypted_nothing);

  hs.chaining_key = c;
  hs.hash = h;
  hs.remote_index = msg.sender;
  hs.state = Handshake::State::response_consumed;
  return true;
}

std::optional<SessionKeys> derive_session(Handshake& hs) noexcept {
  const bool initiator = hs.state == Handshake::State::response_consumed;
  if (!initiator && hs.state != Handshake::State::response_created) return std::nullopt;
  SessionKeys s;
  Key t1, t2;
  Wipe w1{t1}, w2{t2};
  crypto::kdf(t1, t2, {}, hs.chaining_key, {});
  s.send = initiator ? t1 : t2;
  s.receive = initiator ? t2 : t1;
  s.local_index = hs.local_index;
  s.remote_index = hs.remote_index;
  s.initiator = initiator;
  hs.clear();
  return s;
}

}  // namespace wg
