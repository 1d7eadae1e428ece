// SPDX-License-Identifier: MIT
#include "derpserver/mesh.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include "base/log.hpp"
#include "derp/frame.hpp"
#include "derp/info.hpp"
#include "derpserver/shard.hpp"
#include "derpserver/tls.hpp"

namespace derpserver {
namespace {

base::Logger& log() {
  static base::Logger l = base::logger("derpmesh");
  return l;
}

derp::ClientInfo mesh_client_info(const Server& s) {
  derp::ClientInfo info = derp::default_client_info();
  info.mesh_key = s.config().mesh_key;
  return info;
}

}  // namespace

// ---------------------------------------------------------------- MeshConn

MeshConn::MeshConn(Server& server, Shard& shard, boost::asio::ip::tcp::socket socket,
                   std::shared_ptr<MeshLink> link)
    : Stream(shard, std::move(socket)),
      server_(server),
      link_(std::move(link)),
      handshake_(server.private_key(), mesh_client_info(server)),
      reader_(&derp::client_read_limit),
      last_rx_(shard.clock().now()) {
  const auto depth = static_cast<std::uint16_t>(std::min<std::size_t>(
      server.config().mesh_queue_depth, std::numeric_limits<std::uint16_t>::max()));
  set_queue_depths(depth, depth);
  set_write_timeout(server.config().mesh_write_timeout_out);
  reader_.set_handshake_done(true);  // the ServerKey frame is read by handshake_
}

std::shared_ptr<MeshConn> MeshConn::self() {
  return std::static_pointer_cast<MeshConn>(shared_from_this());
}

void MeshConn::start(SSL_CTX* tls, const std::string& sni) {
  if (tls != nullptr) {
    SSL* ssl = new_client_ssl(tls, transport().socket().native_handle(), sni);
    if (ssl == nullptr) {
      close("SSL_new failed");
      return;
    }
    transport().set_ssl(ssl);
  }
  start_io();
}

void MeshConn::on_transport_ready() {
  const MeshPeerConfig& p = link_->peer();
  derp::UpgradeRequest req;
  const std::uint16_t default_port = p.tls ? 443 : 80;
  req.host = p.port == default_port ? p.host : p.host + ":" + std::to_string(p.port);
  enqueue_control(make_out_buf(handshake_.initial_bytes(req)));
}

std::string MeshConn::name() const {
  return link_->peer().host;
}

bool MeshConn::forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                       base::ConstByteSpan data) {
  const std::size_t len = 2 * derp::kKeyLen + data.size();
  OutBufPtr b = make_out_buf(derp::kFrameHeaderLen + len);
  auto hdr = b->grow(derp::kFrameHeaderLen);
  derp::write_frame_header(std::span<std::byte, derp::kFrameHeaderLen>(hdr),
                           derp::FrameType::forward_packet, static_cast<std::uint32_t>(len));
  b->append(src.bytes());
  b->append(dst.bytes());
  b->append(data);
  b->kind = derp::looks_like_disco(data) ? PacketKind::disco : PacketKind::other;
  const PacketKind kind = b->kind;
  if (enqueue_packet(std::move(b))) return true;
  shard().counters().drop(DropReason::gone_disconnected, kind, data.size());
  return false;
}

bool MeshConn::on_bytes(base::ConstByteSpan bytes) {
  last_rx_ = shard().clock().now();
  if (!handshake_.done()) {
    auto out = handshake_.feed(bytes);
    if (!out) {
      log()->warn("mesh peer {}: {}", name(), out.error().to_string());
      return false;
    }
    if (!handshake_.done()) return true;
    if (handshake_.server_key() == server_.public_key()) {
      link_->on_self_connect();
      close("connected to ourselves");
      return true;
    }
    base::Bytes login = std::move(*out);
    derp::encode_watch_conns(login);
    enqueue_control(make_out_buf(login));
    const base::Bytes rest = handshake_.take_remaining();
    if (rest.empty()) return true;
    bytes = rest;
    auto st = reader_.feed(
        bytes, [this](std::uint8_t t, base::ConstByteSpan p) { return handle_frame(t, p); });
    return st.ok() || closed();
  }
  auto st = reader_.feed(
      bytes, [this](std::uint8_t t, base::ConstByteSpan p) { return handle_frame(t, p); });
  if (!st && !closed()) {
    log()->warn("mesh peer {}: {}", name(), st.error().to_string());
    return false;
  }
  return true;
}

bool MeshConn::handle_frame(std::uint8_t type, base::ConstByteSpan payload) {
  auto f = derp::decode_from_server(type, payload);
  if (!f) return false;
  if (const auto* present = std::get_if<derp::PeerPresentFrame>(&*f)) {
    keys_.insert(present->peer);
    server_.registry().add_forwarder(present->peer, self());
  } else if (const auto* gone = std::get_if<derp::PeerGoneFrame>(&*f)) {
    if (keys_.erase(gone->peer) > 0) server_.registry().remove_forwarder(gone->peer, this);
  } else if (const auto* info = std::get_if<derp::ServerInfoFrame>(&*f)) {
    auto si = derp::open_server_info(server_.private_key(), handshake_.server_key(), info->payload);
    if (!si) return false;
    if (!logged_in_) {
      logged_in_ = true;
      link_->on_logged_in();
    }
  } else if (const auto* ping = std::get_if<derp::PingFrame>(&*f)) {
    base::Bytes pong;
    derp::encode_pong(pong, ping->data);
    enqueue_control(make_out_buf(pong));
  }
  // KeepAlive, RecvPacket (to our own key), Health, Restarting, unknown: nothing to do.
  return true;
}

void MeshConn::on_tick(base::TimePoint now) {
  if (closed()) return;
  if (!handshake_.done() && now - started() > kMeshConnectTimeout) {
    close("mesh login timeout");
    return;
  }
  if (now - last_rx_ > kMeshReadTimeout) {
    close("mesh peer silent");
    return;
  }
  if (write_stalled(now)) {
    server_.counters().write_timeouts.fetch_add(1, std::memory_order_relaxed);
    close("mesh write timeout");
  }
}

void MeshConn::on_closed() {
  // As Go's watcher loop: forget everything this connection reported before retrying.
  for (const auto& k : keys_) server_.registry().remove_forwarder(k, this);
  keys_.clear();
  link_->on_conn_closed(this);
}

// ---------------------------------------------------------------- MeshLink

MeshLink::MeshLink(Server& server, Shard& shard, MeshPeerConfig peer, SSL_CTX* tls)
    : server_(server), shard_(shard), peer_(std::move(peer)), tls_(tls) {}

void MeshLink::start() {
  connect();
}

void MeshLink::stop() {
  stopped_ = true;
  retry_at_.reset();
  if (resolver_) resolver_->cancel();
  if (connecting_) {
    boost::system::error_code ec;
    connecting_->close(ec);
  }
  if (conn_) conn_->close("server stopping");
}

void MeshLink::connect() {
  if (stopped_ || self_) return;
  attempts_.fetch_add(1, std::memory_order_relaxed);
  attempt_started_ = shard_.clock().now();
  retry_at_.reset();
  resolver_ = std::make_unique<boost::asio::ip::tcp::resolver>(shard_.io());
  resolver_->async_resolve(
      peer_.dial_host, std::to_string(peer_.port),
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  boost::asio::ip::tcp::resolver::results_type results) {
        if (self->stopped_) return;
        if (ec) {
          log()->warn("mesh peer {}: resolving {}: {}", self->peer_.host, self->peer_.dial_host,
                      ec.message());
          self->schedule_retry();
          return;
        }
        self->connecting_ = std::make_unique<boost::asio::ip::tcp::socket>(self->shard_.io());
        boost::asio::async_connect(
            *self->connecting_, results,
            [self](const boost::system::error_code& cec, const boost::asio::ip::tcp::endpoint&) {
              if (self->stopped_ || !self->connecting_) return;
              if (cec) {
                log()->warn("mesh peer {}: connect: {}", self->peer_.host, cec.message());
                self->connecting_.reset();
                self->schedule_retry();
                return;
              }
              auto sock = std::move(*self->connecting_);
              self->connecting_.reset();
              self->conn_ =
                  std::make_shared<MeshConn>(self->server_, self->shard_, std::move(sock), self);
              self->conn_->start(self->peer_.tls ? self->tls_ : nullptr, self->peer_.host);
            });
      });
}

void MeshLink::schedule_retry() {
  if (stopped_ || self_) return;
  retry_at_ = shard_.clock().now() + server_.config().mesh_retry;
}

void MeshLink::on_tick(base::TimePoint now) {
  if (stopped_) return;
  if (connecting_ && now - attempt_started_ > kMeshConnectTimeout) {
    boost::system::error_code ec;
    connecting_->close(ec);  // the connect handler sees the error and schedules a retry
  }
  if (retry_at_ && now >= *retry_at_) connect();
}

void MeshLink::on_logged_in() {
  connected_.store(true, std::memory_order_relaxed);
  server_.counters().mesh_connects.fetch_add(1, std::memory_order_relaxed);
  server_.counters().mesh_peers_connected.fetch_add(1, std::memory_order_relaxed);
  log()->info("mesh peer {}: connected, watching its clients", peer_.host);
}

void MeshLink::on_self_connect() {
  self_.store(true, std::memory_order_relaxed);
  log()->info("mesh peer {} is this server; not meshing with it", peer_.host);
}

void MeshLink::on_conn_closed(MeshConn* c) {
  if (conn_.get() != c) return;
  if (connected_.exchange(false, std::memory_order_relaxed)) {
    server_.counters().mesh_disconnects.fetch_add(1, std::memory_order_relaxed);
    server_.counters().mesh_peers_connected.fetch_sub(1, std::memory_order_relaxed);
    log()->warn("mesh peer {}: connection lost; retrying", peer_.host);
  }
  // Break the link <-> conn cycle once the conn's handlers are done with it.
  boost::asio::post(shard_.io(), [self = shared_from_this(), c] {
    if (self->conn_.get() == c) self->conn_.reset();
  });
  schedule_retry();
}

}  // namespace derpserver
