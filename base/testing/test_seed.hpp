// SPDX-License-Identifier: MIT
// Seeds for randomised (differential) tests. A run picks a fresh seed unless
// MESHTUN_TEST_SEED is set, and the test logs it, so a failure seen once can be replayed:
//   MESHTUN_TEST_SEED=1234 build/release/wg/wg_test -tc='*differential*'
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace base::testing {

inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("MESHTUN_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::stoull(s, nullptr, 0);
  }
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) | rd();
}

}  // namespace base::testing
