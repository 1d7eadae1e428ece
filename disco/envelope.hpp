// SPDX-License-Identifier: MIT
// The disco envelope: how a message travels on UDP and inside DERP frames (fact sheet
// sections 2.1 and 2.2; Tailscale's disco/disco.go and types/key/disco.go).
//
//   offset  len  field
//   0       6    magic 54 53 f0 9f 92 ac ("TS" and U+1F4AC in UTF-8)
//   6       32   sender's disco public key
//   38      24   nonce, random per message
//   62      16   Poly1305 tag          \  crypto_box_easy_afternm(plaintext, nonce, shared key)
//   78      N    XSalsa20 ciphertext   /  of the plaintext (disco/message.hpp)
//
// The shared key is crypto_box_beforenm(peer public, own private), computed once per peer
// by SharedKeyCache. Nothing here touches sockets, threads or clocks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "disco/drop_reason.hpp"
#include "disco/message.hpp"

namespace disco {

inline constexpr std::size_t kMagicLen = 6;
inline constexpr std::array<std::byte, kMagicLen> kMagic = {std::byte{0x54}, std::byte{0x53},
                                                            std::byte{0xf0}, std::byte{0x9f},
                                                            std::byte{0x92}, std::byte{0xac}};
inline constexpr std::size_t kNonceLen = 24;
inline constexpr std::size_t kBoxTagLen = 16;
inline constexpr std::size_t kSharedKeyLen = 32;

namespace off {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kSender = 6;
inline constexpr std::size_t kNonce = 38;
inline constexpr std::size_t kBox = 62;
}  // namespace off

// Magic + sender key: what magicsock requires before it calls a packet disco.
inline constexpr std::size_t kHeaderLen = kMagicLen + kKeyLen;
// Magic + sender key + nonce: the shortest packet that can be opened (ignoring the tag).
inline constexpr std::size_t kSealedHeaderLen = kHeaderLen + kNonceLen;
// Everything a sealed message adds to its plaintext.
inline constexpr std::size_t kOverhead = kSealedHeaderLen + kBoxTagLen;
static_assert(off::kSender == kMagicLen && off::kNonce == kHeaderLen);
static_assert(off::kBox == kSealedHeaderLen);
static_assert(kOverhead == 78);
static_assert(kOverhead + kPingLen == 124);  // an unpadded ping with its node key

using Nonce = std::array<std::byte, kNonceLen>;

// At least kHeaderLen bytes starting with the magic. No crypto.
bool looks_like_disco(base::ConstByteSpan packet) noexcept;
// The sender's disco key of a packet that looks_like_disco(); nullopt otherwise.
std::optional<base::DiscoPublicKey> sender_key(base::ConstByteSpan packet) noexcept;

// The precomputed NaCl box key for one (own private, peer public) pair. Wiped on destruction.
class SharedKey {
 public:
  // Computes crypto_box_beforenm(peer, mine); nullopt when libsodium refuses the pair (the
  // peer key is a low-order point, so the key would be all zero).
  static std::optional<SharedKey> compute(const base::DiscoPrivateKey& mine,
                                          const base::DiscoPublicKey& peer) noexcept;
  base::KeySpan bytes() const noexcept { return k_.bytes(); }

 private:
  SharedKey() = default;
  struct Tag {
    static constexpr bool kCurve25519 = false;
  };
  base::SecretKey<Tag> k_;
};

// Shared keys by peer disco key, each computed on first use and reused until forgotten.
// Not thread-safe: one owner (the control thread). Pointers from get() stay valid until
// that key is forgotten or the cache is destroyed.
class SharedKeyCache {
 public:
  explicit SharedKeyCache(base::DiscoPrivateKey mine);

  const base::DiscoPublicKey& public_key() const noexcept { return public_; }
  // The shared key with `peer`; nullptr if it cannot be computed, which the caller counts as
  // DropReason::bad_sender_key. A refusal is not cached: callers look up only keys of known
  // peers, so a refused key is not worth remembering.
  const SharedKey* get(const base::DiscoPublicKey& peer);
  void forget(const base::DiscoPublicKey& peer) noexcept;
  // Forgets every peer for which keep(peer) is false (peers that left the netmap).
  template <class Keep>
  void retain_if(Keep keep) {
    std::erase_if(keys_, [&](const auto& kv) { return !keep(kv.first); });
  }
  std::size_t size() const noexcept { return keys_.size(); }
  // How many times crypto_box_beforenm ran: lets tests see the cache work.
  std::uint64_t computations() const noexcept { return computations_; }

 private:
  base::DiscoPrivateKey mine_;
  base::DiscoPublicKey public_;
  std::unordered_map<base::DiscoPublicKey, SharedKey> keys_;
  std::uint64_t computations_ = 0;
};

// Appends magic || sender || nonce || box(plaintext) to `out`. `sender` is our own disco
// public key, `key` the shared key with the recipient. Pure: the nonce is an argument.
void seal(base::Bytes& out, const SharedKey& key, const base::DiscoPublicKey& sender,
          const Nonce& nonce, base::ConstByteSpan plaintext);
// seal() of append_message(m).
void seal_message(base::Bytes& out, const SharedKey& key, const base::DiscoPublicKey& sender,
                  const Nonce& nonce, const Message& m);
// A fresh random nonce (base::random_bytes) for each message.
Nonce random_nonce() noexcept;

// Opens a packet that looks_like_disco() with the shared key of its sender (sender_key()).
// Replaces the contents of `plaintext`. On failure returns false and sets `why` to not_disco,
// short_nonce or bad_box; `plaintext` is then empty.
bool open(base::ConstByteSpan packet, const SharedKey& key, base::Bytes& plaintext,
          DropReason& why);
// open() then parse_message(); `why` also takes parse_message()'s reasons.
std::optional<Message> open_message(base::ConstByteSpan packet, const SharedKey& key,
                                    DropReason& why);

}  // namespace disco
