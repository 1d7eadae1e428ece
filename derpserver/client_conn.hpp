// SPDX-License-Identifier: MIT
// ClientConn: the server's side of one accepted connection, from the first HTTP byte to the
// end of the DERP session (protocols/derp.md sections 4 and 6).
//
//   http     HttpPhase: probes, 204, debug pages; "GET /derp" upgrades
//   greeting 101 (unless fast start) + ServerKey; 10 s to receive ClientInfo
//   running  frames from the client: SendPacket (routed), ForwardPacket / WatchConns /
//            ClosePeer (mesh peers only), NotePreferred, Ping; unknown types skipped
//
// Routing a SendPacket, in order: the per-connection route cache (up to 100 destinations,
// each with its flow record if it exists, used without any lock while its generation holds), else
// the registry (global lock). Local destinations get a RecvPacket frame in their queue; keys on a
// mesh peer are forwarded once; unknown keys are dropped, with a rate-limited PeerGone NotHere back
// to the sender for disco packets (1/s, burst 3).
//
// Threads: everything runs on the owning shard's thread except the accessors marked "any
// thread" (used by other connections to deliver packets and by the registry).
// Identity (key, flags) is set once, before registration, and never changes afterwards.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/keys.hpp"
#include "derp/frame.hpp"
#include "derp/frame_reader.hpp"
#include "derpserver/flows.hpp"
#include "derpserver/registry.hpp"
#include "derpserver/server_handshake.hpp"
#include "derpserver/stream.hpp"

using SSL_CTX = struct ssl_ctx_st;

namespace derpserver {

class Server;

inline constexpr std::size_t kRouteCacheSize = 100;
inline constexpr base::Duration kHttpPhaseTimeout = std::chrono::seconds(30);
inline constexpr base::Duration kClientInfoTimeout = std::chrono::seconds(10);
// Rate-limit charge per frame is capped at the largest legal frame (Go's minimum burst).
inline constexpr std::uint64_t kMinRateLimitBurst = derp::kMaxPacketSize + derp::kKeyLen;

class ClientConn final : public Stream {
 public:
  ClientConn(Server& server, Shard& shard, boost::asio::ip::tcp::socket socket, SSL_CTX* tls,
             Site site);
  ~ClientConn() override;

  // Owner thread: begins the TLS handshake (if any) and reading.
  void start();

  // ---- any thread, valid once registered ----
  const base::NodePublicKey& key() const noexcept { return key_; }
  bool can_mesh() const noexcept { return can_mesh_; }
  bool is_prober() const noexcept { return is_prober_; }
  bool not_ideal() const noexcept { return not_ideal_; }
  std::uint8_t present_flags() const noexcept;
  const std::string& app_name() const noexcept { return app_name_; }
  base::WallTime connected_at() const noexcept { return connected_at_; }
  bool preferred() const noexcept { return preferred_.load(std::memory_order_relaxed); }
  bool watcher() const noexcept { return watcher_.load(std::memory_order_relaxed); }
  std::uint64_t packets_from() const noexcept {
    return packets_from_.load(std::memory_order_relaxed);
  }

  // Queues a RecvPacket frame from `src`; false when this connection is closing.
  bool deliver(const base::NodePublicKey& src, base::ConstByteSpan data, PacketKind kind);

  // Duplicate-client state, written under the registry lock.
  std::atomic<bool> is_dup{false};
  std::atomic<bool> is_disabled{false};

  void on_tick(base::TimePoint now) override;

 protected:
  bool on_bytes(base::ConstByteSpan bytes) override;
  void on_closed() override;

 private:
  enum class Phase : std::uint8_t { http, client_info, running };
  struct CacheEntry {
    base::NodePublicKey src;
    base::NodePublicKey dst;
    Route route;
    std::shared_ptr<Flow> flow;
  };

  bool feed_frames(base::ConstByteSpan bytes);
  bool handle_frame(std::uint8_t type, base::ConstByteSpan payload);
  bool handle_client_info(base::ConstByteSpan payload);
  void handle_send(const base::NodePublicKey& dst, base::ConstByteSpan data);
  // Hands a packet from src to a client on this server, counting it on the flow or as a drop.
  void deliver_local(ClientConn& to, const base::NodePublicKey& src, base::ConstByteSpan data,
                     PacketKind kind, Flow* flow);
  void handle_forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                      base::ConstByteSpan data);
  void set_preferred(bool v);
  void charge_rate_limit(std::size_t frame_len);
  CacheEntry& route_for(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                        bool forwarded);
  void maybe_not_here(const base::NodePublicKey& dst, base::ConstByteSpan data);
  std::shared_ptr<ClientConn> self();

  Server& server_;
  SSL_CTX* tls_;
  const Site site_;
  Phase phase_ = Phase::http;
  std::unique_ptr<HttpPhase> http_;  // only during the http phase
  derp::FrameReader reader_;
  base::TimePoint phase_started_;

  // Identity, fixed before registration.
  base::NodePublicKey key_;
  std::string app_name_;
  base::WallTime connected_at_{};
  bool can_mesh_ = false;
  bool is_prober_ = false;
  bool not_ideal_ = false;
  bool registered_ = false;
  bool in_feed_ = false;  // inside reader_.feed(): the route cache is in use

  std::atomic<bool> preferred_{false};
  std::atomic<bool> watcher_{false};
  std::atomic<std::uint64_t> packets_from_{0};

  // Owner thread.
  std::vector<CacheEntry> cache_;
  base::TimePoint next_keepalive_{};
  base::Duration keepalive_jitter_{};
  double not_here_tokens_ = 3;
  base::TimePoint not_here_refill_{};
  // Receive rate limit (0 = off): token bucket in bytes.
  double rate_bps_ = 0;
  double rate_burst_ = 0;
  double rate_tokens_ = 0;
  base::TimePoint rate_refill_{};
  base::TimePoint resume_at_{};
};

}  // namespace derpserver
