// SPDX-License-Identifier: MIT
// TLS for the relay: server contexts (certificate files or a generated self-signed one), the
// DERP "meta certificate" appended to every chain for fast start, client contexts for mesh
// links, and SSL objects bound to non-blocking sockets (protocols/derp.md 2.2, 2.5).
//
// Per-connection memory matters here (10,000 idle clients): SSL objects are created with
// SSL_MODE_RELEASE_BUFFERS so OpenSSL frees its record buffers while a connection is idle,
// and the server keeps no session cache (clients resume with stateless tickets).
//
// SSL objects read and write the socket through a BIO that uses recv/send with
// MSG_NOSIGNAL, so a peer that vanished never raises SIGPIPE.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/keys.hpp"
#include "base/result.hpp"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;
using X509 = struct x509_st;

namespace derpserver {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const noexcept;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

struct PemPair {
  std::string cert_pem;
  std::string key_pem;
};

// A fresh self-signed certificate (ECDSA P-256, one year, SAN = hostname as DNS name or IP
// address) for --certmode=selfsigned, tests and labs.
base::Result<PemPair> make_self_signed(std::string_view hostname);

// SHA-256 over the DER of the first certificate in `cert_pem`, as 64 lowercase hex: the
// value a client pins with "sha256-raw:<hex>".
base::Result<std::string> cert_sha256_hex(std::string_view cert_pem);

// The meta certificate: Ed25519, CN "derpkey<hex of server key>", serial 2 (the protocol
// version), valid now-30d .. now+30d, only Basic Constraints (CA:FALSE). Caller frees.
X509* make_meta_cert(const base::NodePublicKey& server);

class TlsContext {
 public:
  // Minimum TLS 1.2, no ALPN (so never h2), the certificate chain from PEM text.
  static base::Result<TlsContext> server(const PemPair& pem);
  static base::Result<TlsContext> server_from_files(const std::string& cert_path,
                                                    const std::string& key_path);
  // For mesh links: verifies against the system roots, or only against `ca_file` (a
  // certificate or bundle trusted as an anchor, self-signed leaves included) when set;
  // `insecure` disables verification (tests and labs only).
  static base::Result<TlsContext> client(const std::string& ca_file, bool insecure);

  // Appends the meta certificate to the chain served on every handshake.
  base::Status add_meta_cert(const base::NodePublicKey& server);

  // Server side (SIGHUP): new handshakes get `pem`'s certificate chain and key, followed by
  // the meta certificate if one was added; established connections keep theirs. On error
  // (unreadable PEM, key not matching) nothing changes. Safe to call while other threads
  // accept; call add_meta_cert() before the first reload.
  base::Status reload(const PemPair& pem);

  SSL_CTX* get() const noexcept { return ctx_.get(); }

  struct Reloaded;  // what reload() installed; tls.cpp

 private:
  SslCtxPtr ctx_;
  // Kept at a fixed address for the certificate callback, which every handshake runs.
  std::shared_ptr<Reloaded> reloaded_;
};

// A server- or client-side SSL object reading and writing `fd` (non-blocking). `sni` (client
// side) also sets the name checked against the certificate unless empty. Null on failure.
SSL* new_server_ssl(SSL_CTX* ctx, int fd);
SSL* new_client_ssl(SSL_CTX* ctx, int fd, const std::string& sni);

// "TLSv1.3" etc. for an established connection.
std::string tls_version(SSL* ssl);

}  // namespace derpserver
