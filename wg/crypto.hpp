// SPDX-License-Identifier: MIT
// The cryptographic primitives WireGuard uses, behind one small facade (fact sheet 1, 16):
//
//   hash     BLAKE2s-256                      (libb2)
//   mac      keyed BLAKE2s, 16-byte digest    (libb2; digest length is a BLAKE2 parameter,
//                                              not a truncation)
//   hmac     HMAC-BLAKE2s (RFC 2104)          (built on libb2)
//   kdf      HKDF-style KDF1..3
//   dh       X25519, failing on an all-zero result (libsodium)
//   aead     ChaCha20-Poly1305 one-shot for handshakes (libsodium)
//   xaead    XChaCha20-Poly1305 for cookie replies (libsodium)
//   TransportAead  ChaCha20-Poly1305 in place for data packets: OpenSslAead (2x to 3.5x
//                  libsodium at 1420 bytes on AVX-512 machines), SodiumAead (faster for tiny
//                  packets), and SizeSplitAead, the default, which picks by size.
//
// Every function is thread safe. A TransportAead object is not: keep one per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

#include "base/bytes.hpp"
#include "base/keys.hpp"

namespace wg::crypto {

inline constexpr std::size_t kHashSize = 32;
inline constexpr std::size_t kMacSize = 16;
inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kXNonceSize = 24;

using Hash = std::array<std::byte, kHashSize>;
using Key = std::array<std::byte, kKeySize>;
using Mac = std::array<std::byte, kMacSize>;
using XNonce = std::array<std::byte, kXNonceSize>;

// BLAKE2s-256 of the concatenation of `parts`.
void hash(std::span<std::byte, kHashSize> out,
          std::initializer_list<base::ConstByteSpan> parts) noexcept;
// Keyed BLAKE2s with a 16-byte digest; key is 1..32 bytes.
void mac(std::span<std::byte, kMacSize> out, base::ConstByteSpan key,
         base::ConstByteSpan data) noexcept;
// HMAC-BLAKE2s-256 over the concatenation of `parts`.
void hmac(std::span<std::byte, kHashSize> out, base::ConstByteSpan key,
          std::initializer_list<base::ConstByteSpan> parts) noexcept;
// KDFn: T1 = HMAC(PRK, 1), T2 = HMAC(PRK, T1 || 2), T3 = HMAC(PRK, T2 || 3) with
// PRK = HMAC(chaining_key, input). Pass empty spans for outputs not wanted (t2, t3).
void kdf(std::span<std::byte, kHashSize> t1, std::span<std::byte> t2, std::span<std::byte> t3,
         base::ConstByteSpan chaining_key, base::ConstByteSpan input) noexcept;

// X25519. False if the result is all zero (a low-order public key): callers must abort.
[[nodiscard]] bool dh(std::span<std::byte, kKeySize> out, base::KeySpan private_key,
                      base::KeySpan public_key) noexcept;

// ChaCha20-Poly1305 (RFC 8439) with an explicit 12-byte nonce. out.size() == in.size() + 16.
void aead_seal_nonce(base::ByteSpan out, base::ConstByteSpan key,
                     std::span<const std::byte, 12> nonce, base::ConstByteSpan plaintext,
                     base::ConstByteSpan ad) noexcept;

// ChaCha20-Poly1305 with nonce = 4 zero bytes || counter (LE). out.size() == in.size() + 16.
void aead_seal(base::ByteSpan out, base::ConstByteSpan key, std::uint64_t counter,
               base::ConstByteSpan plaintext, base::ConstByteSpan ad) noexcept;
// out.size() == in.size() - 16. False if authentication fails (out is then unspecified).
[[nodiscard]] bool aead_open(base::ByteSpan out, base::ConstByteSpan key, std::uint64_t counter,
                             base::ConstByteSpan ciphertext, base::ConstByteSpan ad) noexcept;
// XChaCha20-Poly1305 with a 24-byte nonce. Same size rules.
void xaead_seal(base::ByteSpan out, base::ConstByteSpan key,
                std::span<const std::byte, kXNonceSize> nonce, base::ConstByteSpan plaintext,
                base::ConstByteSpan ad) noexcept;
[[nodiscard]] bool xaead_open(base::ByteSpan out, base::ConstByteSpan key,
                              std::span<const std::byte, kXNonceSize> nonce,
                              base::ConstByteSpan ciphertext, base::ConstByteSpan ad) noexcept;

// In-place transport AEAD, empty associated data. `data` is encrypted or decrypted where it
// lies; the 16-byte tag is written to / read from `tag`. One object per thread.
// seal() returns false if the cipher failed; `data` is then zeroed and must not be sent.
class TransportAead {
 public:
  virtual ~TransportAead() = default;
  [[nodiscard]] virtual bool seal(const Key& key, std::uint64_t counter, base::ByteSpan data,
                                  std::span<std::byte, kTagSize> tag) noexcept = 0;
  [[nodiscard]] virtual bool open(const Key& key, std::uint64_t counter, base::ByteSpan data,
                                  std::span<const std::byte, kTagSize> tag) noexcept = 0;
};

// OpenSSL libcrypto EVP, one cipher context reused for every packet.
class OpenSslAead final : public TransportAead {
 public:
  OpenSslAead();
  ~OpenSslAead() override;
  OpenSslAead(const OpenSslAead&) = delete;
  OpenSslAead& operator=(const OpenSslAead&) = delete;
  bool seal(const Key& key, std::uint64_t counter, base::ByteSpan data,
            std::span<std::byte, kTagSize> tag) noexcept override;
  bool open(const Key& key, std::uint64_t counter, base::ByteSpan data,
            std::span<const std::byte, kTagSize> tag) noexcept override;

 private:
  struct Contexts;
  std::unique_ptr<Contexts> ctx_;
};

// libsodium's detached ChaCha20-Poly1305 IETF.
class SodiumAead final : public TransportAead {
 public:
  bool seal(const Key& key, std::uint64_t counter, base::ByteSpan data,
            std::span<std::byte, kTagSize> tag) noexcept override;
  bool open(const Key& key, std::uint64_t counter, base::ByteSpan data,
            std::span<const std::byte, kTagSize> tag) noexcept override;
};

// Chooses by payload size: libsodium up to kSmallMax bytes, where OpenSSL's fixed per-call
// cost dominates (TCP ACKs, keepalives), OpenSSL above. Both compute the same function, so
// the choice never shows on the wire. Measured crossover: about 128 bytes (bench_aead).
class SizeSplitAead final : public TransportAead {
 public:
  static constexpr std::size_t kSmallMax = 128;
  bool seal(const Key& key, std::uint64_t counter, base::ByteSpan data,
            std::span<std::byte, kTagSize> tag) noexcept override {
    return data.size() <= kSmallMax ? small_.seal(key, counter, data, tag)
                                    : large_.seal(key, counter, data, tag);
  }
  bool open(const Key& key, std::uint64_t counter, base::ByteSpan data,
            std::span<const std::byte, kTagSize> tag) noexcept override {
    return data.size() <= kSmallMax ? small_.open(key, counter, data, tag)
                                    : large_.open(key, counter, data, tag);
  }

 private:
  SodiumAead small_;
  OpenSslAead large_;
};

// The backend the data path uses.
using DefaultTransportAead = SizeSplitAead;

}  // namespace wg::crypto
