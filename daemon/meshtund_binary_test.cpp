// SPDX-License-Identifier: MIT
// meshtund as a process, for what needs no privileges: --version.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <sys/wait.h>

#include "base/version.hpp"

#ifndef MESHTUN_MESHTUND_PATH
#error "MESHTUN_MESHTUND_PATH must name the meshtund binary"
#endif

namespace {

TEST_CASE("meshtund --version prints its name and the build's version, exit status 0") {
  FILE* p = ::popen(MESHTUN_MESHTUND_PATH " --version 2>&1", "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(out == "meshtund " + std::string(base::version()) + "\n");
  CHECK_FALSE(base::version().empty());
}

}  // namespace
