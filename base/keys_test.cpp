// SPDX-License-Identifier: MIT
#include "base/keys.hpp"

#include <doctest/doctest.h>

#include <unordered_set>

namespace {

TEST_CASE("private key derives its public key (RFC 7748 section 6.1, Alice)") {
  auto priv = base::PrivateKey::from_hex(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  REQUIRE(priv.ok());
  CHECK(priv->public_key().to_hex() ==
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST_CASE("base64 and hex round trips; malformed text is refused") {
  const auto k = base::PrivateKey::generate();
  CHECK(base::PrivateKey::from_base64(k.to_base64()).value() == k);
  CHECK(base::PrivateKey::from_hex(k.to_hex()).value() == k);
  const auto pub = k.public_key();
  CHECK(pub.to_base64().size() == 44);
  CHECK(base::NodePublicKey::from_base64(pub.to_base64()).value() == pub);
  CHECK_FALSE(base::NodePublicKey::from_base64("").ok());
  CHECK_FALSE(base::NodePublicKey::from_base64(pub.to_base64().substr(0, 43)).ok());
  CHECK_FALSE(base::NodePublicKey::from_base64(pub.to_base64() + "=").ok());
  CHECK_FALSE(base::NodePublicKey::from_base64(std::string(44, '!')).ok());
  CHECK_FALSE(base::NodePublicKey::from_hex(std::string(63, 'a')).ok());
}

TEST_CASE("generated private keys are clamped") {
  for (int i = 0; i < 16; ++i) {
    auto k = base::PrivateKey::generate();
    CHECK((static_cast<unsigned>(k.bytes()[0]) & 7u) == 0);
    CHECK((static_cast<unsigned>(k.bytes()[31]) & 0xc0u) == 0x40u);
  }
}

TEST_CASE("public keys hash and compare as values") {
  std::unordered_set<base::NodePublicKey> set;
  const auto a = base::PrivateKey::generate().public_key();
  const auto b = base::PrivateKey::generate().public_key();
  set.insert(a);
  set.insert(a);
  set.insert(b);
  CHECK(set.size() == 2);
  CHECK(a.short_string().size() == 7);
}

}  // namespace
