// SPDX-License-Identifier: MIT
#include "derpserver/go_flags.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using Args = std::vector<std::string>;

TEST_CASE("normalize_derper_args rewrites derper's Go-style flags into ours") {
  struct Row {
    Args in;
    Args want;
  };
  const Row rows[] = {
      /* 1 */ {{"-hostname=x"}, {"--hostname=x"}},
      /* 2 */ {{"-a", ":443"}, {"--addr=:443"}},
      /* 3 */ {{"-a=:443"}, {"--addr=:443"}},
      /* 4 */ {{"-certmode", "manual"}, {"--certmode=manual"}},
      /* 5 */ {{"-certdir", "/d", "-c", "/k"}, {"--certdir=/d", "--config=/k"}},
      /* 6 */ {{"-c=/k"}, {"--config=/k"}},
      /* 7 */ {{"-stun-port", "3479", "-http-port", "-1"}, {"--stun-port=3479", "--http-port=-1"}},
      /* 8 */
      {{"-mesh-psk-file", "/m", "-mesh-with", "a,b"}, {"--mesh-psk-file=/m", "--mesh-with=a,b"}},
      /* 9 */ {{"-dev"}, {"--dev"}},
      /* 10 */ {{"-dev=false"}, {"--dev=false"}},
      /* 11 */ {{"-stun"}, {"--stun=true"}},
      /* 12 */ {{"-stun=false"}, {"--stun=false"}},
      /* 13 */ {{"--stun", "false"}, {"--stun=false"}},
      /* 14 */ {{"--hostname", "x"}, {"--hostname=x"}},
      /* 15 */ {{"-metrics-addr", "127.0.0.1:9090"}, {"--metrics-addr", "127.0.0.1:9090"}},
      /* 16 */ {{"-h"}, {"-h"}},
      /* 17 */ {{"-help"}, {"--help"}},
      /* 18 */ {{"-version"}, {"--version"}},
      /* 19 */ {{"--", "-derp"}, {"--", "-derp"}},
      /* 20 */ {{"stray"}, {"stray"}},
      /* 21 */ {{"-a"}, {"--addr"}},
  };
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    CAPTURE(i + 1);
    Args in{"meshtun-derper"};
    in.insert(in.end(), rows[i].in.begin(), rows[i].in.end());
    Args want{"meshtun-derper"};
    want.insert(want.end(), rows[i].want.begin(), rows[i].want.end());
    auto got = derpserver::normalize_derper_args(in);
    REQUIRE(got);
    CHECK(*got == want);
  }
}

TEST_CASE("normalize_derper_args refuses derper flags meshtun-derper does not implement") {
  for (const auto& info : derpserver::derper_flags()) {
    if (!info.ours.empty()) continue;
    for (const std::string& form :
         {"-" + std::string(info.derper), "--" + std::string(info.derper) + "=1"}) {
      CAPTURE(form);
      auto got = derpserver::normalize_derper_args({"meshtun-derper", form});
      REQUIRE_FALSE(got);
      CHECK(got.error().to_string().find("-" + std::string(info.derper) + " is not implemented") !=
            std::string::npos);
    }
  }
}

}  // namespace
