// SPDX-License-Identifier: MIT
#include "derp/keys.hpp"

#include <doctest/doctest.h>

namespace {

TEST_CASE("mesh key parsing (Tailscale's TestDERPMeshIsValid)") {
  const std::string lower = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // 1. lowercase, 2. uppercase normalised, 3. surrounding whitespace trimmed
  CHECK(derp::MeshKey::parse(lower)->to_string() == lower);
  CHECK(derp::MeshKey::parse(upper)->to_string() == lower);
  CHECK(derp::MeshKey::parse("  \t" + lower + "\n")->to_string() == lower);
  // 4. too short, too long, not hex, empty
  CHECK_FALSE(derp::MeshKey::parse(lower.substr(1)).ok());
  CHECK_FALSE(derp::MeshKey::parse(lower + "0").ok());
  CHECK_FALSE(derp::MeshKey::parse(std::string(64, 'g')).ok());
  CHECK_FALSE(derp::MeshKey::parse("").ok());
  // Equality against itself and a different key; zero = none.
  CHECK(*derp::MeshKey::parse(lower) == *derp::MeshKey::parse(upper));
  CHECK_FALSE(*derp::MeshKey::parse(lower) == derp::MeshKey::generate());
  CHECK(derp::MeshKey::parse(std::string(64, '0'))->is_zero());
}

TEST_CASE("typed text forms round trip and refuse the wrong prefix") {
  const auto priv = base::NodePrivateKey::generate();
  const auto pub = priv.public_key();
  const auto t = derp::node_key_text(pub);
  CHECK(t.starts_with("nodekey:"));
  CHECK(t.size() == 8 + 64);
  CHECK(derp::parse_node_key_text(t).value() == pub);
  CHECK_FALSE(derp::parse_node_key_text("discokey:" + pub.to_hex()).ok());
  CHECK(derp::parse_private_key_text(derp::private_key_text(priv)).value() == priv);
  const auto disco = base::DiscoPrivateKey::generate().public_key();
  CHECK(derp::parse_disco_key_text(derp::disco_key_text(disco)).value() == disco);
  // Upper-case hex is accepted.
  std::string upper = "nodekey:" + pub.to_hex();
  for (std::size_t i = 8; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  CHECK(derp::parse_node_key_text(upper).value() == pub);
}

}  // namespace
