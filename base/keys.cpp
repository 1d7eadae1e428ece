// SPDX-License-Identifier: MIT
#include "base/keys.hpp"

#include <sodium.h>

#include "base/random.hpp"

namespace base::detail {

std::string key_to_base64(KeySpan k) {
  constexpr std::size_t kLen = sodium_base64_ENCODED_LEN(kKeySize, sodium_base64_VARIANT_ORIGINAL);
  char out[kLen];
  sodium_bin2base64(out, kLen, uc(k), k.size(), sodium_base64_VARIANT_ORIGINAL);
  return std::string(out);
}

bool key_from_base64(std::string_view text, std::span<std::byte, kKeySize> out) noexcept {
  // 32 bytes encode to exactly 44 characters ending in one '='.
  if (text.size() != 44 || text[43] != '=') return false;
  std::size_t written = 0;
  const char* end = nullptr;
  KeyBytes tmp{};
  if (sodium_base642bin(uc(ByteSpan(tmp)), tmp.size(), text.data(), text.size(), nullptr, &written,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  if (written != kKeySize || end != text.data() + text.size()) return false;
  std::copy(tmp.begin(), tmp.end(), out.begin());
  secure_wipe(tmp);
  return true;
}

bool key_from_hex(std::string_view text, std::span<std::byte, kKeySize> out) noexcept {
  return from_hex(text, out);
}

void clamp_private(std::span<std::byte, kKeySize> k) noexcept {
  k[0] &= std::byte{248};
  k[31] = (k[31] & std::byte{127}) | std::byte{64};
}

bool derive_public(KeySpan priv, std::span<std::byte, kKeySize> pub) noexcept {
  ensure_sodium();
  return crypto_scalarmult_curve25519_base(uc(ByteSpan(pub)), uc(priv)) == 0;
}

void fill_random(std::span<std::byte, kKeySize> out) noexcept {
  random_bytes(out);
}

}  // namespace base::detail
