// SPDX-License-Identifier: MIT
#include "derpserver/tls.hpp"

#include <doctest/doctest.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace {

TEST_CASE("meta certificate: serial 2, CN derpkey<hex>, only Basic Constraints (TestMetaCert)") {
  const auto key = base::NodePrivateKey::generate().public_key();
  X509* x = derpserver::make_meta_cert(key);
  REQUIRE(x != nullptr);
  CHECK(ASN1_INTEGER_get(X509_get_serialNumber(x)) == 2);
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "derpkey" + key.to_hex());
  CHECK(X509_get_ext_count(x) == 1);
  CHECK(X509_get_ext_by_NID(x, NID_basic_constraints, -1) == 0);
  CHECK(X509_check_ca(x) == 0);
  X509_free(x);
}

TEST_CASE("self-signed certificate loads into a server context; pin is a SHA-256") {
  auto pem = derpserver::make_self_signed("127.0.0.1");
  REQUIRE(pem.ok());
  auto ctx = derpserver::TlsContext::server(*pem);
  REQUIRE(ctx.ok());
  CHECK(ctx->add_meta_cert(base::NodePrivateKey::generate().public_key()).ok());
  auto pin = derpserver::cert_sha256_hex(pem->cert_pem);
  REQUIRE(pin.ok());
  CHECK(pin->size() == 64);
  // A key that does not match is refused.
  auto other = derpserver::make_self_signed("example.com");
  REQUIRE(other.ok());
  CHECK_FALSE(derpserver::TlsContext::server({pem->cert_pem, other->key_pem}).ok());
}

}  // namespace
