// SPDX-License-Identifier: MIT
// Server: the DERP relay behind meshtun-derper. It owns the shards (one io_context each),
// the listeners, the registry, the flow table, the mesh links and the STUN server, and
// renders /debug/ and the Prometheus metrics.
//
// Threads: the Server runs on io_contexts its owner provides and runs (meshtun-derper: one
// per core, each on its own thread; tests: one, on the test thread). Accepted connections
// are spread over the shards round-robin; there is no thread per client.
//
// Lifecycle: construct, listen*(), add_mesh_peer(), start(); stop() closes listeners, mesh
// links and every connection. After stop(), run the io_contexts until they return (no work
// is left), then destroy the Server, then the io_contexts.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/clock.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"
#include "derp/keys.hpp"
#include "derpserver/flows.hpp"
#include "derpserver/http.hpp"
#include "derpserver/metrics.hpp"
#include "derpserver/registry.hpp"
#include "derpserver/shard.hpp"
#include "derpserver/tls.hpp"

namespace derpserver {

class Listener;
class MeshLink;
class StunServer;

struct ServerConfig {
  base::NodePrivateKey private_key;
  std::optional<derp::MeshKey> mesh_key;  // none: no connection is ever a mesh peer
  std::string hostname;                   // for logs and the home page
  DupPolicy dup_policy = DupPolicy::last_writer_is_active;
  base::Duration write_timeout = std::chrono::seconds(2);  // 0 disables
  base::Duration mesh_write_timeout = std::chrono::seconds(30);
  base::Duration keepalive = std::chrono::seconds(60);
  base::Duration keepalive_jitter = std::chrono::seconds(5);  // uniform in [0, jitter)
  std::uint16_t queue_depth = 32;                             // per destination, non-disco packets
  std::uint16_t disco_queue_depth = 32;                       // per destination, disco packets
  // Per-client receive pacing (protocols/derp.md 6.6); 0 = off. Mesh peers are exempt.
  std::uint64_t rate_limit_bytes_per_sec = 0;
  std::uint64_t rate_limit_burst_bytes = 0;
  std::size_t max_flows = kDefaultMaxFlows;
  std::size_t flow_metrics_limit = 100;  // flows exported as labelled metrics
  // Mesh links.
  bool mesh_allow_plain_http = false;  // only meshtun-derper --dev sets this
  std::string mesh_ca_file;            // trust anchor for peers' certificates
  bool mesh_insecure_tls = false;      // tests and labs only
  std::size_t mesh_queue_depth = 4096;
  base::Duration mesh_retry = std::chrono::seconds(5);
  base::Duration mesh_write_timeout_out = std::chrono::seconds(5);
  // Real-time housekeeping timer; tests with a manual clock turn it off and call
  // housekeep_now() instead.
  bool housekeeping_timer = true;
};

// One entry of --mesh-with: "host[:port]" or "host[:port]/dialhost".
struct MeshPeerConfig {
  std::string host;       // name used for SNI and the Host header
  std::string dial_host;  // where to connect (defaults to host)
  std::uint16_t port = 443;
  bool tls = true;
  // Parses one --mesh-with entry; `dev` means plain HTTP on default port 3340.
  static base::Result<MeshPeerConfig> parse(std::string_view entry, bool dev);
};

class Server {
 public:
  Server(ServerConfig config, std::vector<boost::asio::io_context*> ios, base::Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "host:port" ("127.0.0.1:0" picks a port). `tls` (optional) must outlive the server.
  // Returns the bound port.
  base::Result<std::uint16_t> listen(std::string_view addr, const TlsContext* tls);
  // Prometheus metrics; refuses a non-loopback address.
  base::Result<std::uint16_t> listen_metrics(std::string_view addr);
  base::Result<std::uint16_t> listen_stun(std::string_view addr);
  // Port 80 beside a TLS listener: /generate_204, /debug/, redirects to https.
  base::Result<std::uint16_t> listen_redirect(std::string_view addr);
  void add_mesh_peer(const MeshPeerConfig& peer);

  void start();
  void stop();
  // Tests with a manual clock: one housekeeping pass on every shard (posted).
  void housekeep_now();

  // ---- used by connections and mesh links (any thread) ----
  const ServerConfig& config() const noexcept { return config_; }
  const base::NodePrivateKey& private_key() const noexcept { return config_.private_key; }
  const base::NodePublicKey& public_key() const noexcept { return public_key_; }
  Registry& registry() noexcept { return registry_; }
  FlowTable& flows() noexcept { return flows_; }
  ServerCounters& counters() noexcept { return counters_; }
  const ServerCounters& counters() const noexcept { return counters_; }
  base::Clock& clock() const noexcept { return clock_; }
  Shard& next_shard() noexcept;
  const std::vector<std::unique_ptr<Shard>>& shards() const noexcept { return shards_; }
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  // Bodies of the pages served over HTTP.
  std::string page(HttpRoute route, const HttpRequest& req) const;
  std::string prometheus_text() const;
  std::string debug_text() const;
  std::string flows_text() const;

  // Summed over shards.
  std::uint64_t packets_received() const noexcept;
  std::uint64_t packets_sent() const noexcept;
  std::uint64_t drops(DropReason r) const noexcept;
  std::size_t mesh_links_connected() const noexcept;

 private:
  ServerConfig config_;
  const base::NodePublicKey public_key_;
  base::Clock& clock_;
  ServerCounters counters_;
  Registry registry_;
  FlowTable flows_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::size_t> next_shard_{0};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::shared_ptr<MeshLink>> mesh_links_;
  std::unique_ptr<TlsContext> mesh_tls_;
  std::unique_ptr<StunServer> stun_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace derpserver
