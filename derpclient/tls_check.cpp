// SPDX-License-Identifier: MIT
#include "derpclient/tls_check.hpp"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/ip.hpp"

namespace derpclient {
namespace {

constexpr std::string_view kMetaPrefix = "derpkey";

std::string common_name(X509* x) {
  char buf[256] = {};
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

base::Error tls_fail(std::string what) {
  return base::make_error(std::errc::permission_denied, "tls: " + std::move(what));
}

}  // namespace

std::optional<base::NodePublicKey> meta_cert_key(SSL* ssl) {
  if (SSL_version(ssl) != TLS1_3_VERSION) return std::nullopt;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr) return std::nullopt;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* x = sk_X509_value(chain, i);
    const std::string cn = common_name(x);
    if (!cn.starts_with(kMetaPrefix)) continue;
    auto key = base::NodePublicKey::from_hex(std::string_view(cn).substr(kMetaPrefix.size()));
    if (!key) continue;
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr);
    if (bn == nullptr) continue;
    const int bits = BN_num_bits(bn);
    const BN_ULONG version = BN_get_word(bn);
    BN_free(bn);
    if (bits > 8 || version == 0) continue;
    return *key;
  }
  return std::nullopt;
}

base::Status check_pinned(SSL* ssl, std::string_view pin_hex, const std::string& name) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr) return tls_fail("no peer certificate");
  X509* leaf = nullptr;
  int non_meta = 0;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* x = sk_X509_value(chain, i);
    if (common_name(x).starts_with(kMetaPrefix)) continue;
    ++non_meta;
    leaf = x;
  }
  if (non_meta != 1 || leaf == nullptr) {
    return tls_fail("a pinned server must present exactly one certificate");
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(leaf, EVP_sha256(), md, &len) != 1) return tls_fail("hashing the certificate");
  const std::string got = base::to_hex(base::ConstByteSpan(reinterpret_cast<std::byte*>(md), len));
  std::string want(pin_hex);
  for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (got != want) return tls_fail("certificate does not match the pinned hash");
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0 ||
      X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    return tls_fail("pinned certificate is not valid now");
  }
  if (!name.empty()) {
    const bool ok = base::IpAddr::parse(name)
                        ? X509_check_ip_asc(leaf, name.c_str(), 0) == 1
                        : X509_check_host(leaf, name.c_str(), name.size(), 0, nullptr) == 1;
    if (!ok) return tls_fail("pinned certificate is not valid for " + name);
  }
  return {};
}

}  // namespace derpclient
