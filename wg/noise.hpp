// SPDX-License-Identifier: MIT
// The Noise_IKpsk2 handshake (fact sheet section 3), as functions over explicit state.
//
//   initiator: create_initiation ------ msg 1 -----> responder: open_initiation
//                                                               consume_initiation
//              consume_response  <----- msg 2 ------            create_response
//   both:      derive_session (transport keys; the handshake state is wiped)
//
// Nothing here allocates an index, stamps macs or reads a clock: the caller passes indices,
// ephemeral keys, the timestamp and `now`, which is what makes the published test vectors
// reproducible. Thread safety: none; handshakes belong to the control thread.
#pragma once

#include <cstdint>
#include <optional>

#include "base/clock.hpp"
#include "base/keys.hpp"
#include "wg/crypto.hpp"
#include "wg/drop_reason.hpp"
#include "wg/messages.hpp"
#include "wg/tai64n.hpp"

namespace wg {

// Our static key pair and the keys derived from it.
struct StaticIdentity {
  base::PrivateKey private_key;
  base::NodePublicKey public_key;

  static StaticIdentity from_private(const base::PrivateKey& key) noexcept;
};

// What we know of one peer: its public key, the preshared key, and DH(our static, its
// static), precomputed when either key changes.
struct PeerIdentity {
  base::NodePublicKey public_key;
  base::PresharedKey preshared_key;  // all zero when none is configured
  crypto::Key static_static{};
  bool static_static_valid = false;  // false: X25519 gave zero, no handshake is possible

  void recompute(const StaticIdentity& self) noexcept;
  ~PeerIdentity() { base::secure_wipe(static_static); }
};

// One peer's handshake in progress, plus the initiation replay and flood guards.
struct Handshake {
  enum class State : std::uint8_t {
    zeroed,
    initiation_created,
    initiation_consumed,
    response_created,
    response_consumed,
  };

  State state = State::zeroed;
  crypto::Hash hash{};
  crypto::Hash chaining_key{};
  crypto::Key ephemeral_private{};
  base::KeyBytes remote_ephemeral{};
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;
  // Kept across handshakes: the greatest timestamp accepted and when.
  Tai64n latest_timestamp{};
  std::optional<base::TimePoint> last_initiation_consumed;

  // Wipes the in-flight state and returns to `zeroed`; the replay guards stay.
  void clear() noexcept;
  ~Handshake() { clear(); }
};

// Transport keys from a completed handshake.
struct SessionKeys {
  crypto::Key send{};
  crypto::Key receive{};
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;
  bool initiator = false;
  ~SessionKeys() {
    base::secure_wipe(send);
    base::secure_wipe(receive);
  }
};

// Initiator, message 1 (macs left zero). Fails only when the static-static DH is invalid.
std::optional<Initiation> create_initiation(const StaticIdentity& self, const PeerIdentity& peer,
                                            Handshake& hs, std::uint32_t local_index,
                                            const Tai64n& timestamp,
                                            base::KeySpan ephemeral_private) noexcept;

// Responder, first half: decrypts the initiator's static key with our identity alone.
struct OpenedInitiation {
  base::NodePublicKey initiator;
  crypto::Hash hash{};
  crypto::Hash chaining_key{};
  base::KeyBytes remote_ephemeral{};
  std::uint32_t sender = 0;
  std::array<std::byte, kEncryptedTimestampSize> encrypted_timestamp{};
  ~OpenedInitiation() { base::secure_wipe(chaining_key); }
};
std::optional<OpenedInitiation> open_initiation(const StaticIdentity& self, const Initiation& msg,
                                                DropReason& why) noexcept;

// Responder, second half, once the peer is known: decrypts the timestamp, applies the
// replay and flood guards and, only if all pass, stores the state in `hs`.
bool consume_initiation(const OpenedInitiation& opened, const PeerIdentity& peer, Handshake& hs,
                        base::TimePoint now, DropReason& why) noexcept;

// Responder, message 2 (macs left zero). Requires state initiation_consumed.
std::optional<Response> create_response(const PeerIdentity& peer, Handshake& hs,
                                        std::uint32_t local_index, base::KeySpan ephemeral_private,
                                        DropReason& why) noexcept;

// Initiator: consumes message 2 for the handshake it has in flight (state
// initiation_created, local index = msg.receiver). On failure `hs` is untouched.
bool consume_response(const StaticIdentity& self, const PeerIdentity& peer, Handshake& hs,
                      const Response& msg, DropReason& why) noexcept;

// After create_response (responder) or consume_response (initiator): the transport keys.
// Wipes the handshake (state zeroed). nullopt if the state is not one of those two.
std::optional<SessionKeys> derive_session(Handshake& hs) noexcept;

}  // namespace wg
