// SPDX-License-Identifier: MIT
#include "derpserver/tls.hpp"

#include <cerrno>
#include <cstdint>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include "base/atomic_shared_ptr.hpp"
#include "base/ip.hpp"

namespace derpserver {
namespace {

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

base::Error ssl_error(std::string what) {
  const unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    what += ": ";
    what += buf;
  }
  ERR_clear_error();
  return base::make_error(std::errc::io_error, std::move(what));
}

std::string bio_string(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

bool add_ext(X509* x, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// ---- a socket BIO that never raises SIGPIPE ----
int sock_write(BIO* b, const char* data, int len) {
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  const ssize_t n = ::send(fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
    return -1;
  }
  return static_cast<int>(n);
}

int sock_read(BIO* b, char* data, int len) {
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  const ssize_t n = ::recv(fd, data, static_cast<std::size_t>(len), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(b);
    return -1;
  }
  return static_cast<int>(n);
}

long sock_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int sock_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* sock_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "meshtun-sock");
    BIO_meth_set_write(meth, sock_write);
    BIO_meth_set_read(meth, sock_read);
    BIO_meth_set_ctrl(meth, sock_ctrl);
    BIO_meth_set_create(meth, sock_create);
    return meth;
  }();
  return m;
}

SSL* new_ssl(SSL_CTX* ctx, int fd) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return nullptr;
  BIO* bio = BIO_new(sock_method());
  if (bio == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  SSL_set_bio(ssl, bio, bio);
  SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ssl;
}

}  // namespace

void SslCtxFree::operator()(SSL_CTX* c) const noexcept {
  SSL_CTX_free(c);
}

base::Result<PemPair> make_self_signed(std::string_view hostname) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return ssl_error("generating a P-256 key");
  X509Ptr x(X509_new());
  if (!x) return ssl_error("X509_new");
  X509_set_version(x.get(), X509_VERSION_3);
  std::uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  const std::string cn(hostname.empty() ? "meshtun-derper" : hostname);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  const bool is_ip = base::IpAddr::parse(cn).has_value();
  if (!add_ext(x.get(), NID_subject_alt_name, (is_ip ? "IP:" : "DNS:") + cn) ||
      !add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(x.get(), NID_key_usage, "critical,digitalSignature") ||
      !add_ext(x.get(), NID_ext_key_usage, "serverAuth")) {
    return ssl_error("adding certificate extensions");
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) return ssl_error("signing certificate");
  BioPtr cb(BIO_new(BIO_s_mem()));
  BioPtr kb(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cb.get(), x.get()) != 1 ||
      PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ssl_error("writing PEM");
  }
  return PemPair{bio_string(cb.get()), bio_string(kb.get())};
}

base::Result<std::string> cert_sha256_hex(std::string_view cert_pem) {
  BioPtr b(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr x(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!x) return ssl_error("reading certificate");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(x.get(), EVP_sha256(), md, &len) != 1) return ssl_error("hashing certificate");
  return base::to_hex(base::ConstByteSpan(reinterpret_cast<const std::byte*>(md), len));
}

X509* make_meta_cert(const base::NodePublicKey& server) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return nullptr;
  X509Ptr x(X509_new());
  if (!x) return nullptr;
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 2);  // = DERP protocol version
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -30L * 24 * 3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 30L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  // 71 characters: longer than X.509's 64-character bound for CN, which OpenSSL enforces for
  // MBSTRING input. Go's x509 writes it anyway (as a PrintableString); so do we, by giving
  // the ASN.1 type directly.
  const std::string cn = "derpkey" + server.to_hex();
  X509_NAME* name = X509_get_subject_name(x.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_PRINTABLESTRING,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return nullptr;
  }
  X509_set_issuer_name(x.get(), name);
  if (!add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE")) return nullptr;
  if (X509_sign(x.get(), key.get(), nullptr) == 0) return nullptr;  // Ed25519: no digest
  return x.release();
}

namespace {

// A certificate chain and key read by reload(); `chain` ends with the meta certificate.
struct ServedCert {
  X509Ptr leaf;
  PkeyPtr key;
  STACK_OF(X509) * chain = sk_X509_new_null();
  ServedCert() = default;
  ServedCert(const ServedCert&) = delete;
  ServedCert& operator=(const ServedCert&) = delete;
  ~ServedCert() { sk_X509_pop_free(chain, X509_free); }
};

}  // namespace

struct TlsContext::Reloaded {
  X509Ptr meta;  // written by add_meta_cert() before serving, then only read
  base::AtomicSharedPtr<const ServedCert> current;  // null until the first reload()
};

namespace {

// SSL_CTX_set_cert_cb: runs in every server handshake, on the thread accepting it. Until a
// reload() the SSL_CTX's own certificate is served.
int use_reloaded_cert(SSL* ssl, void* arg) {
  const auto* r = static_cast<const TlsContext::Reloaded*>(arg);
  const auto served = r->current.load();
  if (!served) return 1;
  // Takes references of its own: `served` may be replaced and freed right after.
  return SSL_use_cert_and_key(ssl, served->leaf.get(), served->key.get(), served->chain, 1) == 1
             ? 1
             : 0;
}

}  // namespace

base::Result<TlsContext> TlsContext::server(const PemPair& pem) {
  TlsContext t;
  t.ctx_.reset(SSL_CTX_new(TLS_server_method()));
  if (!t.ctx_) return ssl_error("SSL_CTX_new");
  SSL_CTX* ctx = t.ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_num_tickets(ctx, 0);

  BioPtr cb(BIO_new_mem_buf(pem.cert_pem.data(), static_cast<int>(pem.cert_pem.size())));
  X509Ptr leaf(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!leaf) return ssl_error("reading the certificate");
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) return ssl_error("using the certificate");
  while (X509* extra = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return ssl_error("adding a chain certificate");
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  BioPtr kb(BIO_new_mem_buf(pem.key_pem.data(), static_cast<int>(pem.key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!key) return ssl_error("reading the private key");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return ssl_error("using the private key");
  if (SSL_CTX_check_private_key(ctx) != 1) return ssl_error("key does not match certificate");
  t.reloaded_ = std::make_shared<Reloaded>();
  SSL_CTX_set_cert_cb(ctx, use_reloaded_cert, t.reloaded_.get());
  return t;
}

base::Status TlsContext::reload(const PemPair& pem) {
  if (!reloaded_) return base::make_error(std::errc::invalid_argument, "not a server context");
  auto served = std::make_shared<ServedCert>();
  if (served->chain == nullptr) return ssl_error("sk_X509_new_null");
  BioPtr cb(BIO_new_mem_buf(pem.cert_pem.data(), static_cast<int>(pem.cert_pem.size())));
  served->leaf.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!served->leaf) return ssl_error("reading the certificate");
  while (X509* extra = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) {
    if (sk_X509_push(served->chain, extra) == 0) {
      X509_free(extra);
      return ssl_error("adding a chain certificate");
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  BioPtr kb(BIO_new_mem_buf(pem.key_pem.data(), static_cast<int>(pem.key_pem.size())));
  served->key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!served->key) return ssl_error("reading the private key");
  if (X509_check_private_key(served->leaf.get(), served->key.get()) != 1) {
    return ssl_error("key does not match certificate");
  }
  if (reloaded_->meta) {
    X509_up_ref(reloaded_->meta.get());
    if (sk_X509_push(served->chain, reloaded_->meta.get()) == 0) {
      X509_free(reloaded_->meta.get());
      return ssl_error("adding the meta certificate");
    }
  }
  reloaded_->current.store(std::move(served));
  return {};
}

base::Result<TlsContext> TlsContext::server_from_files(const std::string& cert_path,
                                                       const std::string& key_path) {
  auto read = [](const std::string& path) -> base::Result<std::string> {
    BioPtr b(BIO_new_file(path.c_str(), "r"));
    if (!b) return ssl_error("opening " + path);
    std::string out;
    char buf[4096];
    int n = 0;
    while ((n = BIO_read(b.get(), buf, sizeof buf)) > 0)
      out.append(buf, static_cast<std::size_t>(n));
    return out;
  };
  auto cert = read(cert_path);
  if (!cert) return cert.error();
  auto key = read(key_path);
  if (!key) return key.error();
  return server(PemPair{std::move(*cert), std::move(*key)});
}

base::Result<TlsContext> TlsContext::client(const std::string& ca_file, bool insecure) {
  TlsContext t;
  t.ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!t.ctx_) return ssl_error("SSL_CTX_new");
  SSL_CTX* ctx = t.ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return t;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
      return ssl_error("loading " + ca_file);
    }
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return ssl_error("loading the system trust store");
  }
  return t;
}

base::Status TlsContext::add_meta_cert(const base::NodePublicKey& server) {
  X509* meta = make_meta_cert(server);
  if (meta == nullptr) return ssl_error("making the meta certificate");
  if (SSL_CTX_add0_chain_cert(ctx_.get(), meta) != 1) {
    X509_free(meta);
    return ssl_error("adding the meta certificate");
  }
  if (reloaded_) {
    X509_up_ref(meta);
    reloaded_->meta.reset(meta);
  }
  return {};
}

SSL* new_server_ssl(SSL_CTX* ctx, int fd) {
  SSL* ssl = new_ssl(ctx, fd);
  if (ssl != nullptr) SSL_set_accept_state(ssl);
  return ssl;
}

SSL* new_client_ssl(SSL_CTX* ctx, int fd, const std::string& sni) {
  SSL* ssl = new_ssl(ctx, fd);
  if (ssl == nullptr) return nullptr;
  SSL_set_connect_state(ssl);
  if (!sni.empty()) {
    if (base::IpAddr::parse(sni)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, sni.c_str());
      SSL_set1_host(ssl, sni.c_str());
    }
  }
  return ssl;
}

std::string tls_version(SSL* ssl) {
  return ssl != nullptr ? SSL_get_version(ssl) : "";
}

}  // namespace derpserver
