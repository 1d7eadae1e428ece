// SPDX-License-Identifier: MIT
// Tests that cannot run here say so: a test case that lacks what it needs (root, a TUN device,
// a tool) calls SKIP_TEST("needs root ..."), which prints the reason and returns. The binary
// then exits with kSkipExitCode after its other cases pass (tests/doctest_main.cpp), which
// ctest reports as "Skipped" (SKIP_RETURN_CODE), never as passed; scripts/test fails a CI run
// in which anything skipped.
#pragma once

#include <atomic>

#include "base/testing/netns.hpp"

namespace base::testing {

inline constexpr int kSkipExitCode = 77;

// Test cases that skipped in this process.
inline std::atomic<int> skipped_cases{0};

}  // namespace base::testing

#define SKIP_TEST(why)                         \
  do {                                         \
    base::testing::skipped_cases.fetch_add(1); \
    MESSAGE("skipped: " why);                  \
    return;                                    \
  } while (false)

// Skips the rest of the test case unless the process runs as root.
#define SKIP_UNLESS_ROOT(why)                                         \
  do {                                                                \
    if (!base::testing::is_root()) SKIP_TEST("needs root (" why ")"); \
  } while (false)

// Moves the calling thread into a fresh private network namespace (base/testing/netns.hpp)
// for the rest of the scope, or skips the test case when not root.
#define ENTER_PRIVATE_NETNS(ns, why) \
  SKIP_UNLESS_ROOT(why);             \
  base::testing::ScopedNetns ns;     \
  REQUIRE_MESSAGE(ns.ok(), ns.error())
