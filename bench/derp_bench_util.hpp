// SPDX-License-Identifier: MIT
// Helpers shared by the DERP benchmarks: a relay server in a child process (so its memory
// and CPU are its own), blocking bare clients built from derp/ pieces (plain or TLS), and
// /proc readings.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "derpserver/server.hpp"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;

namespace derpbench {

// Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit.
std::uint64_t raise_fd_limit();

struct ServerProcess {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::uint16_t metrics_port = 0;  // Prometheus text at /metrics
  std::string cert_pem;            // TLS servers: the self-signed certificate
};

struct ServerSpec {
  unsigned threads = 2;
  bool tls = false;
  std::optional<derp::MeshKey> mesh_key;
  std::vector<std::uint16_t> mesh_with;  // ports of plain-HTTP peers on 127.0.0.1
  std::uint16_t queue_depth = 32;
};

// Forks a child running a Server on 127.0.0.1:<any port>; returns once it listens.
// Call before the parent starts threads.
ServerProcess start_server(const ServerSpec& spec);
void stop_server(ServerProcess& p);
// The child's metrics lines whose names start with `prefix` (a plain blocking HTTP GET).
std::string server_metrics(const ServerProcess& p, const std::string& prefix);

// Resident memory of a process, in KiB: VmRSS and RssAnon from /proc/<pid>/status.
struct Rss {
  std::uint64_t vm_rss_kib = 0;
  std::uint64_t anon_kib = 0;
};
Rss read_rss(pid_t pid);

// A blocking DERP client on loopback (optionally TLS, verification off: it is our own
// server). Logged in after login().
class BareClient {
 public:
  explicit BareClient(base::NodePrivateKey key = base::NodePrivateKey::generate());
  ~BareClient();
  BareClient(BareClient&& o) noexcept;
  BareClient(const BareClient&) = delete;
  BareClient& operator=(const BareClient&) = delete;

  bool login(std::uint16_t port, SSL_CTX* tls = nullptr);
  base::NodePublicKey key() const { return key_.public_key(); }
  int fd() const { return fd_; }
  // Writes all of `b`; false on error.
  bool write_all(base::ConstByteSpan b);
  // Reads some bytes; 0 on EOF/error.
  std::size_t read_some(base::ByteSpan out);
  void set_receive_timeout_ms(int ms);

 private:
  base::NodePrivateKey key_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

SSL_CTX* insecure_client_tls();

}  // namespace derpbench
