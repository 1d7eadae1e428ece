// SPDX-License-Identifier: MIT
#include "base/result.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

base::Result<int> half(int x) {
  if (x % 2 != 0) return base::make_error(std::errc::invalid_argument, "odd number");
  return x / 2;
}

TEST_CASE("result carries a value or an error") {
  auto ok = half(4);
  REQUIRE(ok.ok());
  CHECK(*ok == 2);
  auto bad = half(3);
  CHECK_FALSE(bad.ok());
  CHECK((bad.error().code == std::errc::invalid_argument));
  CHECK(bad.error().to_string() == "odd number");
  base::Status s;
  CHECK(s.ok());
  base::Status e = base::make_error(std::errc::io_error, "");
  CHECK_FALSE(e.ok());
  CHECK_FALSE(e.error().to_string().empty());
}

}  // namespace
