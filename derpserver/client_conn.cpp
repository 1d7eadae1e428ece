// SPDX-License-Identifier: MIT
#include "derpserver/client_conn.hpp"

#include <algorithm>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "base/log.hpp"
#include "base/random.hpp"
#include "derpserver/server.hpp"
#include "derpserver/shard.hpp"
#include "derpserver/tls.hpp"

namespace derpserver {
namespace {

base::Logger& log() {
  static base::Logger l = base::logger("derpserver");
  return l;
}

bool is_loopback(const base::IpAddr& a) {
  return a.is_loopback() || (a.is_v4_mapped() && a.unmap().is_loopback());
}

constexpr base::Duration kHomeMoveGrace = std::chrono::seconds(5);

}  // namespace

ClientConn::ClientConn(Server& server, Shard& shard, boost::asio::ip::tcp::socket socket,
                       SSL_CTX* tls, Site site)
    : Stream(shard, std::move(socket)),
      server_(server),
      tls_(tls),
      site_(site),
      reader_(&derp::server_read_limit) {
  set_queue_depths(server.config().queue_depth, server.config().disco_queue_depth);
  set_write_timeout(server.config().write_timeout.count() > 0 ? server.config().write_timeout
                                                              : std::chrono::hours(24 * 365));
}

ClientConn::~ClientConn() = default;

std::shared_ptr<ClientConn> ClientConn::self() {
  return std::static_pointer_cast<ClientConn>(shared_from_this());
}

void ClientConn::start() {
  phase_started_ = shard().clock().now();
  // As cmd/derper: TCP keepalives after 10 idle minutes, and a connection whose sent data
  // stays unacknowledged for 15 s is dropped by the kernel (TCP_USER_TIMEOUT).
  const int fd = transport().socket().native_handle();
  const int on = 1;
  const int idle_s = 600;
  const unsigned user_timeout_ms = 15000;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
  http_ = std::make_unique<HttpPhase>(
      is_loopback(remote().addr), site_,
      [this](HttpRoute r, const HttpRequest& req) { return server_.page(r, req); });
  if (tls_ != nullptr) {
    SSL* ssl = new_server_ssl(tls_, transport().socket().native_handle());
    if (ssl == nullptr) {
      close("SSL_new failed");
      return;
    }
    transport().set_ssl(ssl);
  }
  start_io();
}

std::uint8_t ClientConn::present_flags() const noexcept {
  std::uint8_t f = 0;
  if (is_prober_) f |= derp::peer_flags::kIsProber;
  if (can_mesh_) f |= derp::peer_flags::kIsMeshPeer;
  if (not_ideal_) f |= derp::peer_flags::kNotIdeal;
  return f == 0 ? derp::peer_flags::kIsRegular : f;
}

bool ClientConn::on_bytes(base::ConstByteSpan bytes) {
  if (phase_ != Phase::http) return feed_frames(bytes);
  auto step = http_->feed(bytes);
  if (!step) {
    server_.counters().bad_http.fetch_add(1, std::memory_order_relaxed);
    enqueue_control(make_out_buf(base::as_bytes(
        http_response(400, "text/plain; charset=utf-8", "400 Bad Request\n", false))));
    close_after_flush();
    return true;
  }
  server_.counters().http_requests.fetch_add(
      static_cast<std::uint64_t>(step->out.empty() ? 0 : 1) + (step->upgrade ? 1 : 0),
      std::memory_order_relaxed);
  if (!step->out.empty()) enqueue_control(make_out_buf(base::as_bytes(step->out)));
  if (step->close) {
    close_after_flush();
    return true;
  }
  if (!step->upgrade) return true;

  // DERP upgrade: greeting now, then the first frame must be ClientInfo.
  not_ideal_ = !step->ideal_node.empty();
  enqueue_control(make_out_buf(server_greeting(server_.public_key(), step->fast_start)));
  phase_ = Phase::client_info;
  phase_started_ = shard().clock().now();
  base::Bytes leftover = std::move(step->leftover);
  http_.reset();
  return leftover.empty() || feed_frames(leftover);
}

bool ClientConn::feed_frames(base::ConstByteSpan bytes) {
  // A frame handler can close this connection (a write error while flushing to ourselves);
  // the route cache it is using is cleared only after the handler returns.
  in_feed_ = true;
  auto st = reader_.feed(bytes, [this](std::uint8_t type, base::ConstByteSpan payload) {
    return !closed() && handle_frame(type, payload);
  });
  in_feed_ = false;
  if (closed()) cache_.clear();
  if (!st) {
    if (closed()) return true;  // closed from inside a handler
    server_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log()->debug("client protocol error remote={} key={}: {}", remote().to_string(),
                 key_.short_string(), st.error().to_string());
    return false;
  }
  return true;
}

bool ClientConn::handle_client_info(base::ConstByteSpan payload) {
  auto decoded =
      derp::decode_from_client(static_cast<std::uint8_t>(derp::FrameType::client_info), payload);
  if (!decoded) {
    server_.counters().bad_client_info.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto accepted = accept_client_info(server_.private_key(), server_.config().mesh_key, payload);
  if (!accepted) {
    server_.counters().bad_client_info.fetch_add(1, std::memory_order_relaxed);
    log()->debug("bad client info remote={}: {}", remote().to_string(),
                 accepted.error().to_string());
    return false;
  }
  key_ = accepted->key;
  can_mesh_ = accepted->can_mesh;
  is_prober_ = accepted->info.is_prober;
  app_name_ = accepted->info.app_name.substr(0, 64);
  connected_at_ = shard().clock().wall();
  if (accepted->info.mesh_key && !can_mesh_) {
    server_.counters().mesh_auth_refused.fetch_add(1, std::memory_order_relaxed);
    log()->info("client presented a wrong mesh key remote={} key={}", remote().to_string(),
                key_.short_string());
  }
  reader_.set_handshake_done(true);
  phase_ = Phase::running;

  const ServerConfig& cfg = server_.config();
  if (can_mesh_) set_write_timeout(cfg.mesh_write_timeout);
  if (!can_mesh_ && cfg.rate_limit_bytes_per_sec > 0) {
    rate_bps_ = static_cast<double>(cfg.rate_limit_bytes_per_sec);
    rate_burst_ = static_cast<double>(std::max(cfg.rate_limit_burst_bytes, kMinRateLimitBurst));
    rate_tokens_ = rate_burst_;
    rate_refill_ = shard().clock().now();
  }
  // ServerInfo is queued before registration makes us visible, so it precedes any packet.
  enqueue_control(make_out_buf(server_info_frame(server_.private_key(), key_)));
  const auto now = shard().clock().now();
  keepalive_jitter_ =
      cfg.keepalive_jitter.count() > 0
          ? base::Duration(static_cast<std::int64_t>(
                base::random_u64() % static_cast<std::uint64_t>(cfg.keepalive_jitter.count())))
          : base::Duration(0);
  next_keepalive_ = now + cfg.keepalive + keepalive_jitter_;
  not_here_refill_ = now;
  server_.registry().register_conn(self());
  registered_ = true;
  server_.counters().current_connections.fetch_add(1, std::memory_order_relaxed);
  if (not_ideal_) {
    server_.counters().current_notideal_connections.fetch_add(1, std::memory_order_relaxed);
  }
  log()->debug("client registered key={} remote={} mesh={}", key_.short_string(),
               remote().to_string(), can_mesh_);
  return true;
}

void ClientConn::charge_rate_limit(std::size_t frame_len) {
  if (rate_bps_ <= 0) return;
  const auto now = shard().clock().now();
  rate_tokens_ =
      std::min(rate_burst_, rate_tokens_ + base::to_seconds(now - rate_refill_) * rate_bps_);
  rate_refill_ = now;
  rate_tokens_ -= static_cast<double>(std::min<std::uint64_t>(frame_len, kMinRateLimitBurst));
  if (rate_tokens_ < 0) {
    // Stop reading until the bucket is back at zero: TCP pushes back on the sender.
    resume_at_ = now + std::chrono::duration_cast<base::Duration>(
                           std::chrono::duration<double>(-rate_tokens_ / rate_bps_));
    server_.counters().rate_limited_waits.fetch_add(1, std::memory_order_relaxed);
    pause_reading();
  }
}

bool ClientConn::handle_frame(std::uint8_t type, base::ConstByteSpan payload) {
  if (phase_ == Phase::client_info) return handle_client_info(payload);
  charge_rate_limit(payload.size());
  if (is_dup.load(std::memory_order_relaxed)) server_.registry().note_activity(this);
  auto decoded = derp::decode_from_client(type, payload);
  if (!decoded) return false;
  return std::visit(
      [this](const auto& f) -> bool {
        using T = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<T, derp::SendPacketFrame>) {
          handle_send(f.dst, f.data);
          return true;
        } else if constexpr (std::is_same_v<T, derp::ForwardPacketFrame>) {
          if (!can_mesh_) return false;  // insufficient permissions
          handle_forward(f.src, f.dst, f.data);
          return true;
        } else if constexpr (std::is_same_v<T, derp::NotePreferredFrame>) {
          set_preferred(f.preferred);
          return true;
        } else if constexpr (std::is_same_v<T, derp::WatchConnsFrame>) {
          if (!can_mesh_) return false;
          watcher_.store(true, std::memory_order_relaxed);
          server_.registry().add_watcher(self());
          return true;
        } else if constexpr (std::is_same_v<T, derp::ClosePeerFrame>) {
          if (!can_mesh_) return false;
          server_.counters().close_peer_requests.fetch_add(1, std::memory_order_relaxed);
          server_.registry().close_peer(f.peer);
          return true;
        } else if constexpr (std::is_same_v<T, derp::PingFrame>) {
          server_.counters().got_ping.fetch_add(1, std::memory_order_relaxed);
          // One-slot pong queue: a ping arriving while a pong waits is ignored.
          if (pongs_queued() == 0) {
            base::Bytes pong;
            derp::encode_pong(pong, f.data);
            auto b = make_out_buf(pong);
            b->is_pong = true;
            note_pong_queued();
            enqueue_control(std::move(b));
            server_.counters().sent_pong.fetch_add(1, std::memory_order_relaxed);
          }
          return true;
        } else {
          return true;  // unknown types (Pong, repeated ClientInfo, ...) are skipped
        }
      },
      *decoded);
}

ClientConn::CacheEntry& ClientConn::route_for(const base::NodePublicKey& src,
                                              const base::NodePublicKey& dst, bool forwarded) {
  Registry& reg = server_.registry();
  for (std::size_t i = 0; i < cache_.size(); ++i) {
    CacheEntry& e = cache_[i];
    if (e.dst != dst || e.src != src) continue;
    if (!reg.still_valid(e.route)) {
      e.route = reg.lookup(src, dst, forwarded);
      if (e.flow == nullptr && e.route.kind != Route::Kind::unknown) {
        e.flow = server_.flows().get(src, dst);
      }
    }
    if (i != 0) std::swap(cache_[0], cache_[i]);  // hot flows stay near the front
    return cache_[0];
  }
  // Flow records only for destinations that exist: keys to nowhere cost the sender nothing,
  // so they must cost the table nothing either (flows.hpp).
  CacheEntry e{src, dst, reg.lookup(src, dst, forwarded), nullptr};
  if (e.route.kind != Route::Kind::unknown) e.flow = server_.flows().get(src, dst);
  if (cache_.size() >= kRouteCacheSize) cache_.pop_back();
  cache_.insert(cache_.begin(), std::move(e));
  return cache_[0];
}

bool ClientConn::deliver(const base::NodePublicKey& src, base::ConstByteSpan data,
                         PacketKind kind) {
  // v2 RecvPacket (src || data); the Go server sends the v1 form for a zero source.
  const bool v1 = src.is_zero();
  const std::size_t len = (v1 ? 0 : derp::kKeyLen) + data.size();
  OutBufPtr b = make_out_buf(derp::kFrameHeaderLen + len);
  auto hdr = b->grow(derp::kFrameHeaderLen);
  derp::write_frame_header(std::span<std::byte, derp::kFrameHeaderLen>(hdr),
                           derp::FrameType::recv_packet, static_cast<std::uint32_t>(len));
  if (!v1) b->append(src.bytes());
  b->append(data);
  b->kind = kind;
  return enqueue_packet(std::move(b));
}

void ClientConn::maybe_not_here(const base::NodePublicKey& dst, base::ConstByteSpan data) {
  if (!derp::looks_like_disco(data)) return;
  const auto now = shard().clock().now();
  not_here_tokens_ = std::min(3.0, not_here_tokens_ + base::to_seconds(now - not_here_refill_));
  not_here_refill_ = now;
  if (not_here_tokens_ < 1.0) return;
  not_here_tokens_ -= 1.0;
  base::Bytes f;
  derp::encode_peer_gone(f, dst, derp::PeerGoneReason::not_here);
  enqueue_control(make_out_buf(f));
  server_.counters().peer_gone_not_here_frames.fetch_add(1, std::memory_order_relaxed);
}

void ClientConn::deliver_local(ClientConn& to, const base::NodePublicKey& src,
                               base::ConstByteSpan data, PacketKind kind, Flow* flow) {
  if (to.deliver(src, data, kind)) {
    if (flow != nullptr) {
      flow->packets_local.fetch_add(1, std::memory_order_relaxed);
      flow->bytes_local.fetch_add(data.size(), std::memory_order_relaxed);
    }
    return;
  }
  shard().counters().drop(DropReason::gone_disconnected, kind, data.size());
  if (flow != nullptr) flow->drops_gone.fetch_add(1, std::memory_order_relaxed);
}

void ClientConn::handle_send(const base::NodePublicKey& dst, base::ConstByteSpan data) {
  ShardCounters& sc = shard().counters();
  const PacketKind kind = derp::looks_like_disco(data) ? PacketKind::disco : PacketKind::other;
  sc.packets_received.fetch_add(1, std::memory_order_relaxed);
  sc.bytes_received.fetch_add(data.size(), std::memory_order_relaxed);
  (kind == PacketKind::disco ? sc.packets_received_disco : sc.packets_received_other)
      .fetch_add(1, std::memory_order_relaxed);
  packets_from_.fetch_add(1, std::memory_order_relaxed);

  CacheEntry& e = route_for(key_, dst, false);
  Flow* flow = e.flow.get();
  if (flow != nullptr) flow->touch(shard().coarse_now());
  switch (e.route.kind) {
    case Route::Kind::local:
      deliver_local(*e.route.conn, key_, data, kind, flow);
      return;
    case Route::Kind::forward:
      sc.packets_forwarded_out.fetch_add(1, std::memory_order_relaxed);
      if (e.route.fwd->forward(key_, dst, data) && flow != nullptr) {
        flow->packets_forwarded.fetch_add(1, std::memory_order_relaxed);
        flow->bytes_forwarded.fetch_add(data.size(), std::memory_order_relaxed);
      }
      return;
    case Route::Kind::dup_disabled:
      sc.drop(DropReason::dup_client, kind, data.size());
      return;
    case Route::Kind::unknown:
      sc.drop(DropReason::unknown_dest, kind, data.size());
      if (flow != nullptr) flow->drops_unknown_dest.fetch_add(1, std::memory_order_relaxed);
      maybe_not_here(dst, data);
      return;
  }
}

void ClientConn::handle_forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                                base::ConstByteSpan data) {
  ShardCounters& sc = shard().counters();
  const PacketKind kind = derp::looks_like_disco(data) ? PacketKind::disco : PacketKind::other;
  sc.packets_forwarded_in.fetch_add(1, std::memory_order_relaxed);
  CacheEntry& e = route_for(src, dst, true);
  Flow* flow = e.flow.get();
  if (flow != nullptr) flow->touch(shard().coarse_now());
  switch (e.route.kind) {
    case Route::Kind::local:
      deliver_local(*e.route.conn, src, data, kind, flow);
      return;
    case Route::Kind::dup_disabled:
      sc.drop(DropReason::dup_client, kind, data.size());
      return;
    case Route::Kind::forward:  // never: lookup() does not forward forwarded packets
    case Route::Kind::unknown:
      sc.drop(DropReason::unknown_dest_on_fwd, kind, data.size());
      if (flow != nullptr) flow->drops_unknown_dest.fetch_add(1, std::memory_order_relaxed);
      maybe_not_here(dst, data);
      return;
  }
}

void ClientConn::set_preferred(bool v) {
  if (preferred_.exchange(v, std::memory_order_relaxed) == v) return;
  auto& c = server_.counters();
  c.current_home_connections.fetch_add(v ? 1 : -1, std::memory_order_relaxed);
  // Only moves after the first seconds count: a fresh connection always says where home is.
  if (shard().clock().now() - phase_started_ > kHomeMoveGrace) {
    (v ? c.home_moves_in : c.home_moves_out).fetch_add(1, std::memory_order_relaxed);
  }
}

void ClientConn::on_tick(base::TimePoint now) {
  if (closed()) return;
  switch (phase_) {
    case Phase::http:
      if (now - phase_started_ > kHttpPhaseTimeout) {
        close("http phase timeout");
      }
      return;
    case Phase::client_info:
      if (now - phase_started_ > kClientInfoTimeout) {
        server_.counters().handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
        close("no ClientInfo in time");
      }
      return;
    case Phase::running:
      break;
  }
  if (write_stalled(now)) {
    server_.counters().write_timeouts.fetch_add(1, std::memory_order_relaxed);
    close("write timeout");
    return;
  }
  if (now >= next_keepalive_) {
    base::Bytes ka;
    derp::encode_keep_alive(ka);
    enqueue_control(make_out_buf(ka));
    next_keepalive_ = now + server_.config().keepalive + keepalive_jitter_;
  }
  if (read_paused() && now >= resume_at_) resume_reading();
}

void ClientConn::on_closed() {
  if (!in_feed_) cache_.clear();  // drop references to other connections (breaks cycles)
  http_.reset();
  if (!registered_) return;
  registered_ = false;
  server_.registry().unregister_conn(this);
  auto& c = server_.counters();
  c.current_connections.fetch_sub(1, std::memory_order_relaxed);
  if (preferred()) c.current_home_connections.fetch_sub(1, std::memory_order_relaxed);
  if (not_ideal_) c.current_notideal_connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace derpserver
