// SPDX-License-Identifier: MIT
// Byte spans, endian loads/stores with named offsets, hex and constant-time helpers.
//
// Wire code reads and writes through these functions; it never casts a struct over packet
// bytes. All functions take spans that are at least as long as the value they touch
// (checked with assert in debug builds); callers check lengths at dispatch.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace base {

using ByteSpan = std::span<std::byte>;
using ConstByteSpan = std::span<const std::byte>;
using Bytes = std::vector<std::byte>;

// For C APIs (libsodium, OpenSSL, libb2) that take unsigned char.
inline unsigned char* uc(ByteSpan s) noexcept {
  return reinterpret_cast<unsigned char*>(s.data());
}
inline const unsigned char* uc(ConstByteSpan s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}

inline ConstByteSpan as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view as_chars(ConstByteSpan s) noexcept {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

namespace detail {
template <class T>
T load_native(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store_native(std::byte* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}
template <class T>
constexpr T bswap(T v) noexcept {
  if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(v));
  if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(v));
  if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(v));
}
template <class T>
T load_le(ConstByteSpan s) noexcept {
  assert(s.size() >= sizeof(T));
  T v = load_native<T>(s.data());
  if constexpr (std::endian::native == std::endian::big) v = bswap(v);
  return v;
}
template <class T>
T load_be(ConstByteSpan s) noexcept {
  assert(s.size() >= sizeof(T));
  T v = load_native<T>(s.data());
  if constexpr (std::endian::native == std::endian::little) v = bswap(v);
  return v;
}
template <class T>
void store_le(ByteSpan s, T v) noexcept {
  assert(s.size() >= sizeof(T));
  if constexpr (std::endian::native == std::endian::big) v = bswap(v);
  store_native(s.data(), v);
}
template <class T>
void store_be(ByteSpan s, T v) noexcept {
  assert(s.size() >= sizeof(T));
  if constexpr (std::endian::native == std::endian::little) v = bswap(v);
  store_native(s.data(), v);
}
}  // namespace detail

inline std::uint16_t load_le16(ConstByteSpan s) noexcept {
  return detail::load_le<std::uint16_t>(s);
}
inline std::uint32_t load_le32(ConstByteSpan s) noexcept {
  return detail::load_le<std::uint32_t>(s);
}
inline std::uint64_t load_le64(ConstByteSpan s) noexcept {
  return detail::load_le<std::uint64_t>(s);
}
inline std::uint16_t load_be16(ConstByteSpan s) noexcept {
  return detail::load_be<std::uint16_t>(s);
}
inline std::uint32_t load_be32(ConstByteSpan s) noexcept {
  return detail::load_be<std::uint32_t>(s);
}
inline std::uint64_t load_be64(ConstByteSpan s) noexcept {
  return detail::load_be<std::uint64_t>(s);
}
inline void store_le16(ByteSpan s, std::uint16_t v) noexcept {
  detail::store_le(s, v);
}
inline void store_le32(ByteSpan s, std::uint32_t v) noexcept {
  detail::store_le(s, v);
}
inline void store_le64(ByteSpan s, std::uint64_t v) noexcept {
  detail::store_le(s, v);
}
inline void store_be16(ByteSpan s, std::uint16_t v) noexcept {
  detail::store_be(s, v);
}
inline void store_be32(ByteSpan s, std::uint32_t v) noexcept {
  detail::store_be(s, v);
}
inline void store_be64(ByteSpan s, std::uint64_t v) noexcept {
  detail::store_be(s, v);
}

// Copies `src` to the front of `dst`; dst must be at least as long.
inline void copy_into(ByteSpan dst, ConstByteSpan src) noexcept {
  assert(dst.size() >= src.size());
  if (!src.empty()) std::memmove(dst.data(), src.data(), src.size());
}

inline bool equal_bytes(ConstByteSpan a, ConstByteSpan b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Constant time in the contents (not the lengths) of a and b.
bool constant_time_equal(ConstByteSpan a, ConstByteSpan b) noexcept;
bool is_all_zero(ConstByteSpan a) noexcept;  // constant time
void secure_wipe(ByteSpan s) noexcept;

// Lowercase hex.
std::string to_hex(ConstByteSpan s);
// Accepts upper and lower case; exactly out.size() bytes must be encoded, nothing else.
bool from_hex(std::string_view hex, ByteSpan out) noexcept;
// For tests and fixed vectors: returns nullopt on bad input.
std::optional<Bytes> hex_bytes(std::string_view hex);

}  // namespace base
