// SPDX-License-Identifier: MIT
// Randomness from libsodium (getrandom(2) underneath). Safe from any thread.
#pragma once

#include <cstdint>

#include "base/bytes.hpp"

namespace base {

// Initialises libsodium once; every function here calls it, so callers need not.
void ensure_sodium() noexcept;

void random_bytes(ByteSpan out) noexcept;
std::uint32_t random_u32() noexcept;
std::uint64_t random_u64() noexcept;
// Uniform in [0, upper) without modulo bias; upper must be > 0.
std::uint32_t random_uniform(std::uint32_t upper) noexcept;

}  // namespace base
