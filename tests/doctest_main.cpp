// SPDX-License-Identifier: MIT
// The main() of every unit-test binary: doctest's, except that a run in which some test case
// skipped (base/testing/skip.hpp) and nothing failed exits with kSkipExitCode, so ctest shows
// "Skipped" rather than "Passed".
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "base/testing/skip.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit() || rc != 0) return rc;
  if (const int skipped = base::testing::skipped_cases.load(); skipped > 0) {
    std::fprintf(stderr, "%d test case(s) skipped: exit %d\n", skipped,
                 base::testing::kSkipExitCode);
    return base::testing::kSkipExitCode;
  }
  return 0;
}
