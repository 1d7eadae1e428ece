// SPDX-License-Identifier: MIT
#include "base/random.hpp"

#include <cstdlib>
#include <sodium.h>

namespace base {

void ensure_sodium() noexcept {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no randomness source: nothing secure can be done
}

void random_bytes(ByteSpan out) noexcept {
  ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

std::uint32_t random_u32() noexcept {
  ensure_sodium();
  return randombytes_random();
}

std::uint64_t random_u64() noexcept {
  std::byte b[8];
  random_bytes(b);
  return load_le64(b);
}

std::uint32_t random_uniform(std::uint32_t upper) noexcept {
  ensure_sodium();
  return randombytes_uniform(upper);
}

}  // namespace base
