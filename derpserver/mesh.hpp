// SPDX-License-Identifier: MIT
// Mesh links: this server's connections to the other servers of its region
// (protocols/derp.md 6.8; SEEDS.md "packet paths" 3).
//
// For each --mesh-with peer a MeshLink keeps one MeshConn up: TCP (+TLS unless --dev), the
// HTTP upgrade, ServerKey, ClientInfo with this server's own node key and the mesh key, then
// WatchConns. The peer floods PeerPresent for every key connected to it; each becomes a
// forwarder entry in our registry pointing at this MeshConn, and PeerGone removes it.
// Packets for those keys go out as ForwardPacket frames on this connection's queue.
// These pieces are built from derp/ (ClientHandshake, FrameReader, the decoders), never from
// derpclient/.
//
// Failure handling, as Go's RunWatchConnectionLoop: when the connection breaks, every key it
// reported is removed first; the next attempt comes after the retry interval (5 s). A peer
// that turns out to be ourselves (its ServerKey is our key) is never retried. A peer that
// refuses our mesh key closes the connection on WatchConns; we keep retrying and count it.
//
// Threads: a MeshLink and its MeshConn live on one shard. forward() is called from any
// shard's thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include <boost/asio/ip/tcp.hpp>

#include "base/clock.hpp"
#include "derp/client_handshake.hpp"
#include "derp/frame_reader.hpp"
#include "derpserver/registry.hpp"
#include "derpserver/server.hpp"
#include "derpserver/stream.hpp"

namespace derpserver {

class MeshLink;

inline constexpr base::Duration kMeshConnectTimeout = std::chrono::seconds(10);
inline constexpr base::Duration kMeshReadTimeout = std::chrono::seconds(120);

class MeshConn final : public Stream, public Forwarder {
 public:
  MeshConn(Server& server, Shard& shard, boost::asio::ip::tcp::socket socket,
           std::shared_ptr<MeshLink> link);

  void start(SSL_CTX* tls, const std::string& sni);

  // Forwarder (any thread).
  bool forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
               base::ConstByteSpan data) override;
  std::string name() const override;

  bool logged_in() const noexcept { return logged_in_; }
  std::size_t keys() const noexcept { return keys_.size(); }
  void on_tick(base::TimePoint now) override;

 protected:
  bool on_bytes(base::ConstByteSpan bytes) override;
  void on_closed() override;
  void on_transport_ready() override;

 private:
  bool handle_frame(std::uint8_t type, base::ConstByteSpan payload);
  std::shared_ptr<MeshConn> self();

  Server& server_;
  std::shared_ptr<MeshLink> link_;
  derp::ClientHandshake handshake_;
  derp::FrameReader reader_;
  std::unordered_set<base::NodePublicKey> keys_;  // keys this connection reported present
  base::TimePoint last_rx_;
  bool logged_in_ = false;  // ServerInfo received
};

class MeshLink : public std::enable_shared_from_this<MeshLink> {
 public:
  MeshLink(Server& server, Shard& shard, MeshPeerConfig peer, SSL_CTX* tls);

  // Owner shard thread.
  void start();
  void stop();
  void on_tick(base::TimePoint now);

  const MeshPeerConfig& peer() const noexcept { return peer_; }
  Shard& shard() const noexcept { return shard_; }
  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
  bool is_self() const noexcept { return self_.load(std::memory_order_relaxed); }
  std::uint64_t attempts() const noexcept { return attempts_.load(std::memory_order_relaxed); }

  // Called by MeshConn (owner thread).
  void on_logged_in();
  void on_self_connect();
  void on_conn_closed(MeshConn* c);

 private:
  void connect();
  void schedule_retry();

  Server& server_;
  Shard& shard_;
  const MeshPeerConfig peer_;
  SSL_CTX* tls_;
  std::shared_ptr<MeshConn> conn_;
  std::unique_ptr<boost::asio::ip::tcp::socket> connecting_;
  std::unique_ptr<boost::asio::ip::tcp::resolver> resolver_;
  base::TimePoint attempt_started_{};
  std::optional<base::TimePoint> retry_at_;
  bool stopped_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<bool> self_{false};
  std::atomic<std::uint64_t> attempts_{0};
};

}  // namespace derpserver
