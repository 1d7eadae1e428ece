// SPDX-License-Identifier: MIT
#include "base/log.hpp"

#include <doctest/doctest.h>

namespace {

TEST_CASE("parse_log_level knows spdlog's and wireguard-go's names, and nothing else") {
  struct Row {
    const char* name;
    std::optional<spdlog::level::level_enum> want;
  };
  const Row rows[] = {
      /* 1 */ {"trace", spdlog::level::trace},
      /* 2 */ {"debug", spdlog::level::debug},
      /* 3 */ {"verbose", spdlog::level::debug},
      /* 4 */ {"info", spdlog::level::info},
      /* 5 */ {"warn", spdlog::level::warn},
      /* 6 */ {"error", spdlog::level::err},
      /* 7 */ {"off", spdlog::level::off},
      /* 8 */ {"silent", spdlog::level::off},
      /* 9 */ {"loud", std::nullopt},
      /* 10 */ {"", std::nullopt},
      /* 11 */ {"INFO", std::nullopt},
      /* 12 */ {"info ", std::nullopt},
  };
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    CAPTURE(i + 1);
    CHECK(base::parse_log_level(rows[i].name) == rows[i].want);
  }
}

}  // namespace
