// SPDX-License-Identifier: MIT
#include "base/bytes.hpp"

#include <sodium.h>

namespace base {

bool constant_time_equal(ConstByteSpan a, ConstByteSpan b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_all_zero(ConstByteSpan a) noexcept {
  return a.empty() || sodium_is_zero(uc(a), a.size()) == 1;
}

void secure_wipe(ByteSpan s) noexcept {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
}

std::string to_hex(ConstByteSpan s) {
  if (s.empty()) return {};
  std::string out(s.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), uc(s), s.size());
  out.pop_back();
  return out;
}

bool from_hex(std::string_view hex, ByteSpan out) noexcept {
  if (hex.size() != out.size() * 2) return false;
  if (out.empty()) return true;
  std::size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(uc(out), out.size(), hex.data(), hex.size(), nullptr, &written, &end) != 0) {
    return false;
  }
  return written == out.size() && end == hex.data() + hex.size();
}

std::optional<Bytes> hex_bytes(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  if (!from_hex(hex, out)) return std::nullopt;
  return out;
}

}  // namespace base
