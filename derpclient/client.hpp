// SPDX-License-Identifier: MIT
// derpclient::Client: one connection to one DERP server, kept up (protocols/derp.md 2.3 to
// 2.5, 4, 7.1; magicsock keeps one per region).
//
// Connect: resolve, TCP, TLS (SNI = host; no ALPN; system roots or a CA file, or a
// "sha256-raw:<hex>" pin of the leaf; insecure only for tests), the HTTP upgrade on /derp
// (fast start when TLS 1.3 shows the server's meta certificate), ServerKey, ClientInfo,
// then NotePreferred if preferred and WatchConns if watching. Sending starts right after
// ClientInfo; the ServerInfo that follows marks the connection "connected".
//
// Sending: send() queues into a bounded queue (32 by default) with a small separate disco
// queue (8), both dropping from the head when full, so a stalled connection holds the newest
// packets. Packets queued while (re)connecting go out once logged in.
//
// Receiving: frames go to the callbacks (packet, peer gone, peer present, health,
// restarting); Pings are answered; ServerKey after the handshake and unknown frames are
// skipped; a frame over 1 MiB or a ServerInfo that does not open ends the connection.
//
// Liveness and reconnects: no frame for 65 s (a missed server keepalive) sends a Ping;
// no answer within 5 s, or nothing at all for 120 s, drops the connection. Every failure
// reconnects after min(n^2 * 10 ms, 5 s) x a random factor in [0.5, 1.5), n = failures in a
// row (reset by a ServerInfo). All deadlines come from the Clock; an asio timer only wakes
// the client, and check_timers() re-evaluates them at once (tests with a manual clock).
//
// Threads: the client has no thread; it runs on the io_context it is given. send(),
// forward(), close_peer(), set_preferred() and stats() may be called from any thread;
// everything else, and every callback, runs on the io_context's thread. After close() no
// callback is called; the object lives until its pending handlers have run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/keys.hpp"
#include "derp/frame.hpp"
#include "derp/info.hpp"
#include "derp/keys.hpp"

namespace derpclient {

struct Options {
  // Where: the name used for SNI, the Host header and certificate checks; where to dial
  // (an IP literal or a name; defaults to host); the port (443 for TLS, 3340 plain).
  std::string host;
  std::string dial_host;
  std::uint16_t port = 443;
  bool tls = true;
  // Certificate checks: cert_name overrides the name checked ("sha256-raw:<64 hex>" pins
  // the leaf instead); ca_file adds trust anchors (self-signed leaves included);
  // insecure_for_tests turns verification off.
  std::string cert_name;
  std::string ca_file;
  bool insecure_for_tests = false;
  bool fast_start = true;  // use the TLS meta certificate when the server offers it
  std::string ideal_node;  // sent as Ideal-Node when not empty

  base::NodePrivateKey key;
  std::optional<derp::MeshKey> mesh_key;  // mesh login (servers only)
  bool watch_conns = false;               // send WatchConns after login (needs the mesh key)
  bool is_prober = false;
  bool preferred = false;  // send NotePreferred(true) after login
  // A mesh watcher stops for good when the server turns out to have this key (itself).
  std::optional<base::NodePublicKey> ignore_server_key;

  std::size_t send_queue_depth = 32;
  std::size_t disco_queue_depth = 8;
  base::Duration connect_timeout = std::chrono::seconds(10);
  base::Duration read_timeout = std::chrono::seconds(120);
  base::Duration idle_ping_after = std::chrono::seconds(65);
  base::Duration ping_timeout = std::chrono::seconds(5);
  base::Duration max_backoff = std::chrono::seconds(5);
  bool reconnect = true;
  base::Clock* clock = nullptr;  // null: the system clock
};

struct Callbacks {
  std::function<void(const base::NodePublicKey& src, base::ConstByteSpan data)> on_packet;
  std::function<void(const base::NodePublicKey& peer, derp::PeerGoneReason reason)> on_peer_gone;
  std::function<void(const derp::PeerPresentFrame& present)> on_peer_present;
  std::function<void(const derp::ServerInfo& info)> on_connected;
  std::function<void(const std::string& why)> on_disconnected;
  std::function<void(std::string_view problem)> on_health;
  std::function<void(std::uint32_t reconnect_in_ms, std::uint32_t try_for_ms)> on_restarting;
};

enum class State : std::uint8_t { idle, connecting, logged_in, connected, closed };

struct Stats {
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t dropped_queue_head = 0;  // evicted from a full send queue
  std::uint64_t dropped_rate_limit = 0;  // over the server's advertised token bucket
  std::uint64_t connects = 0;            // successful logins (ServerInfo)
  std::uint64_t failures = 0;
  bool fast_start_used = false;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(boost::asio::io_context& io, Options options,
                                        Callbacks callbacks);
  virtual ~Client();

  // io thread.
  virtual void start() = 0;
  virtual void close() = 0;
  virtual void check_timers() = 0;
  using PingDone = std::function<void(bool ok, base::Duration rtt)>;
  // Sends a Ping with 8 random bytes; `done` runs on the matching Pong, or with false after
  // ping_timeout or when the connection ends.
  virtual void ping(PingDone done) = 0;
  virtual State state() const = 0;
  virtual base::NodePublicKey server_key() const = 0;
  // Increments on every login.
  virtual std::uint64_t generation() const = 0;

  // Any thread. send() returns false when the packet was not queued (client closed, or
  // data over 64 KiB); a full queue evicts its oldest packet instead.
  virtual bool send(const base::NodePublicKey& dst, base::ConstByteSpan data) = 0;
  virtual bool forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                       base::ConstByteSpan data) = 0;
  virtual void close_peer(const base::NodePublicKey& peer) = 0;
  virtual void set_preferred(bool preferred) = 0;
  virtual Stats stats() const = 0;

 protected:
  Client() = default;
};

// Reconnect delay after `failures` failures in a row: min(n^2 * 10 ms, cap) x (0.5 + r),
// r uniform in [0, 1).
base::Duration backoff_delay(std::uint32_t failures, double r, base::Duration cap);

}  // namespace derpclient
