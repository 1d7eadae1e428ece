// SPDX-License-Identifier: MIT
#include "tun/checksum.hpp"

#include <bit>
#include <cstring>

namespace tun {

namespace {

// Adds with end-around carry in 64 bits.
inline std::uint64_t add_carry(std::uint64_t a, std::uint64_t b) noexcept {
  const std::uint64_t s = a + b;
  return s + (s < a ? 1 : 0);
}

// Folds a 64-bit one's-complement accumulator to 16 bits.
inline std::uint16_t fold(std::uint64_t s) noexcept {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

}  // namespace

// The one's-complement sum does not depend on byte order (RFC 1071 section 2(B)): words are
// summed as loaded in native order, eight bytes at a time, and the folded result is swapped
// to big-endian meaning at the end.
std::uint16_t ones_sum(base::ConstByteSpan data, std::uint16_t initial) noexcept {
  const std::byte* p = data.data();
  std::size_t n = data.size();
  // Four independent end-around-carry sums, so the CPU can run the additions in parallel
  // instead of waiting on one carry chain; one's-complement addition is associative, so they
  // combine at the end.
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (n >= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, sizeof w);
    a0 = add_carry(a0, w[0]);
    a1 = add_carry(a1, w[1]);
    a2 = add_carry(a2, w[2]);
    a3 = add_carry(a3, w[3]);
    p += 32;
    n -= 32;
  }
  std::uint64_t acc = add_carry(add_carry(a0, a1), add_carry(a2, a3));
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    acc = add_carry(acc, w);
    p += 8;
    n -= 8;
  }
  // The tail, zero-padded to eight bytes: keeps every byte at its position within the word.
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    acc = add_carry(acc, w);
  }
  std::uint16_t s = fold(acc);
  if constexpr (std::endian::native == std::endian::little) {
    s = static_cast<std::uint16_t>((s >> 8) | (s << 8));
  }
  return ones_add(s, initial);
}

std::uint16_t pseudo_header_sum(base::ConstByteSpan src, base::ConstByteSpan dst,
                                std::uint8_t protocol, std::uint32_t l4_length) noexcept {
  std::uint16_t s = ones_sum(src);
  s = ones_sum(dst, s);
  s = ones_add(s, protocol);
  s = ones_add(s, static_cast<std::uint16_t>(l4_length >> 16));
  return ones_add(s, static_cast<std::uint16_t>(l4_length & 0xffff));
}

void set_ipv4_header_checksum(base::ByteSpan header) noexcept {
  base::store_be16(header.subspan(10), 0);
  base::store_be16(header.subspan(10), static_cast<std::uint16_t>(~ones_sum(header)));
}

bool ipv4_header_checksum_ok(base::ConstByteSpan header) noexcept {
  return ones_sum(header) == 0xffff;
}

std::uint16_t l4_checksum(base::ConstByteSpan src, base::ConstByteSpan dst, std::uint8_t protocol,
                          base::ConstByteSpan l4_with_zero_field) noexcept {
  const std::uint16_t pseudo =
      pseudo_header_sum(src, dst, protocol, static_cast<std::uint32_t>(l4_with_zero_field.size()));
  return static_cast<std::uint16_t>(~ones_sum(l4_with_zero_field, pseudo));
}

bool l4_checksum_ok(base::ConstByteSpan src, base::ConstByteSpan dst, std::uint8_t protocol,
                    base::ConstByteSpan l4) noexcept {
  const std::uint16_t pseudo =
      pseudo_header_sum(src, dst, protocol, static_cast<std::uint32_t>(l4.size()));
  return ones_sum(l4, pseudo) == 0xffff;
}

}  // namespace tun
