// SPDX-License-Identifier: MIT
// Curve25519 keys as distinct types (STYLE.md section 8).
//
//   NodePublicKey / NodePrivateKey   WireGuard static key = Tailscale node key = DERP address
//   DiscoPublicKey / DiscoPrivateKey disco key, new on every start
//   PresharedKey                     WireGuard's optional symmetric key
//
// Public keys are plain values (hashable, ordered). Secret keys wipe themselves when
// destroyed or overwritten and compare in constant time. Text forms: WireGuard base64
// (44 chars) and lowercase hex (64 chars, what the wg(8) config socket speaks).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace base {

inline constexpr std::size_t kKeySize = 32;
using KeyBytes = std::array<std::byte, kKeySize>;
using KeySpan = std::span<const std::byte, kKeySize>;

namespace detail {
std::string key_to_base64(KeySpan k);
bool key_from_base64(std::string_view text, std::span<std::byte, kKeySize> out) noexcept;
bool key_from_hex(std::string_view text, std::span<std::byte, kKeySize> out) noexcept;
void clamp_private(std::span<std::byte, kKeySize> k) noexcept;
// X25519(priv, basepoint). Returns false only if libsodium refuses.
bool derive_public(KeySpan priv, std::span<std::byte, kKeySize> pub) noexcept;
void fill_random(std::span<std::byte, kKeySize> out) noexcept;
}  // namespace detail

template <class Tag>
class PublicKey {
 public:
  constexpr PublicKey() = default;
  explicit PublicKey(KeySpan raw) noexcept { std::copy(raw.begin(), raw.end(), b_.begin()); }

  static Result<PublicKey> from_base64(std::string_view text) {
    PublicKey k;
    if (!detail::key_from_base64(text, k.b_)) {
      return make_error(std::errc::invalid_argument, "key is not 32 bytes of base64");
    }
    return k;
  }
  static Result<PublicKey> from_hex(std::string_view text) {
    PublicKey k;
    if (!detail::key_from_hex(text, k.b_)) {
      return make_error(std::errc::invalid_argument, "key is not 64 hex digits");
    }
    return k;
  }

  KeySpan bytes() const noexcept { return KeySpan(b_); }
  bool is_zero() const noexcept { return is_all_zero(b_); }
  std::string to_base64() const { return detail::key_to_base64(b_); }
  std::string to_hex() const { return base::to_hex(b_); }
  // "[abcde]": the first five base64 characters, Tailscale's short form for logs.
  std::string short_string() const { return "[" + to_base64().substr(0, 5) + "]"; }

  friend bool operator==(const PublicKey&, const PublicKey&) = default;
  friend auto operator<=>(const PublicKey&, const PublicKey&) = default;

 private:
  KeyBytes b_{};
};

template <class Tag>
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(KeySpan raw) noexcept { std::copy(raw.begin(), raw.end(), b_.begin()); }
  SecretKey(const SecretKey& o) noexcept = default;
  SecretKey& operator=(const SecretKey& o) noexcept {
    if (this != &o) b_ = o.b_;
    return *this;
  }
  ~SecretKey() { secure_wipe(b_); }

  // A fresh random key, clamped for X25519 when Tag is a Curve25519 key kind.
  static SecretKey generate() noexcept {
    SecretKey k;
    detail::fill_random(k.b_);
    if constexpr (Tag::kCurve25519) detail::clamp_private(k.b_);
    return k;
  }
  static Result<SecretKey> from_base64(std::string_view text) {
    SecretKey k;
    if (!detail::key_from_base64(text, k.b_)) {
      return make_error(std::errc::invalid_argument, "key is not 32 bytes of base64");
    }
    return k;
  }
  static Result<SecretKey> from_hex(std::string_view text) {
    SecretKey k;
    if (!detail::key_from_hex(text, k.b_)) {
      return make_error(std::errc::invalid_argument, "key is not 64 hex digits");
    }
    return k;
  }

  // X25519 clamping, as wg(8) and wireguard-go store private keys.
  void clamp() noexcept requires(Tag::kCurve25519) { detail::clamp_private(b_); }
  PublicKey<Tag> public_key() const noexcept requires(Tag::kCurve25519) {
    KeyBytes pub{};
    detail::derive_public(b_, pub);
    return PublicKey<Tag>(pub);
  }

  KeySpan bytes() const noexcept { return KeySpan(b_); }
  bool is_zero() const noexcept { return is_all_zero(b_); }
  std::string to_base64() const { return detail::key_to_base64(b_); }
  std::string to_hex() const { return base::to_hex(b_); }

  friend bool operator==(const SecretKey& a, const SecretKey& b) noexcept {
    return constant_time_equal(a.b_, b.b_);
  }

 private:
  KeyBytes b_{};
};

struct NodeKeyTag {
  static constexpr bool kCurve25519 = true;
};
struct DiscoKeyTag {
  static constexpr bool kCurve25519 = true;
};
struct PresharedKeyTag {
  static constexpr bool kCurve25519 = false;
};

using NodePublicKey = PublicKey<NodeKeyTag>;
using NodePrivateKey = SecretKey<NodeKeyTag>;
using PrivateKey = NodePrivateKey;
using DiscoPublicKey = PublicKey<DiscoKeyTag>;
using DiscoPrivateKey = SecretKey<DiscoKeyTag>;
using PresharedKey = SecretKey<PresharedKeyTag>;

struct KeyHash {
  template <class Tag>
  std::size_t operator()(const PublicKey<Tag>& k) const noexcept {
    // Keys are uniformly random: any 8 bytes make a good hash.
    return static_cast<std::size_t>(load_le64(k.bytes()));
  }
};

}  // namespace base

template <class Tag>
struct std::hash<base::PublicKey<Tag>> : base::KeyHash {};
