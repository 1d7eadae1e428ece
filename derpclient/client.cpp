// SPDX-License-Identifier: MIT
// One connection attempt is a Conn and a session coroutine:
//   resolve -> TCP -> [TLS, pin/meta-cert checks] -> upgrade + ServerKey + ClientInfo
//   -> NotePreferred / WatchConns -> writer coroutine + read loop
// When the session ends (error, timeout, close) the client schedules the next attempt.
#include "derpclient/client.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/ip.hpp"
#include "base/log.hpp"
#include "base/random.hpp"
#include "base/thread_annotations.hpp"
#include "derp/client_handshake.hpp"
#include "derp/frame_reader.hpp"
#include "derpclient/send_queue.hpp"
#include "derpclient/tls_check.hpp"

namespace derpclient {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadBuf = 64 * 1024;
constexpr std::size_t kMaxFramesPerWrite = 64;

base::Logger& log() {
  static base::Logger l = base::logger("derpclient");
  return l;
}

struct Conn {
  Conn(asio::io_context& io, ssl::context& ctx, bool use_tls)
      : stream(io, ctx), wake(io), tls(use_tls) {}

  ssl::stream<tcp::socket> stream;
  asio::steady_timer wake;  // the idle writer waits on it; cancel() wakes it
  bool tls;
  bool closed = false;
  bool writer_idle = false;
  std::string abort_reason;

  template <class Buffers>
  asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(Buffers b) {
    if (tls) co_return co_await stream.async_read_some(b, nothrow);
    co_return co_await stream.next_layer().async_read_some(b, nothrow);
  }
  template <class Buffers>
  asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write(const Buffers& b) {
    if (tls) co_return co_await asio::async_write(stream, b, nothrow);
    co_return co_await asio::async_write(stream.next_layer(), b, nothrow);
  }
  void close(std::string why) {
    if (closed) return;
    closed = true;
    abort_reason = std::move(why);
    boost::system::error_code ec;
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream.next_layer().close(ec);
    wake.cancel();
  }
};

// A token bucket on our own sends, when the server advertises one (it never does today).
class SendLimiter {
 public:
  void set(double rate, double burst, base::TimePoint now) EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    rate_ = rate;
    burst_ = burst;
    tokens_ = burst;
    last_ = now;
  }
  bool allow(double cost, base::TimePoint now) EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    if (rate_ <= 0) return true;
    tokens_ = std::min(burst_, tokens_ + base::to_seconds(now - last_) * rate_);
    last_ = now;
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

 private:
  base::Mutex mu_;
  double rate_ GUARDED_BY(mu_) = 0;
  double burst_ GUARDED_BY(mu_) = 0;
  double tokens_ GUARDED_BY(mu_) = 0;
  base::TimePoint last_ GUARDED_BY(mu_){};
};

class ClientImpl final : public Client {
 public:
  ClientImpl(asio::io_context& io, Options o, Callbacks cb)
      : io_(io),
        opts_(std::move(o)),
        cb_(std::move(cb)),
        clock_(opts_.clock != nullptr ? *opts_.clock : base::SystemClock::instance()),
        ssl_ctx_(ssl::context::tls_client),
        queue_(opts_.send_queue_depth, opts_.disco_queue_depth),
        timer_(io),
        preferred_(opts_.preferred) {
    if (opts_.dial_host.empty()) opts_.dial_host = opts_.host;
    SSL_CTX* ctx = ssl_ctx_.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    boost::system::error_code ec;
    ssl_ctx_.set_default_verify_paths(ec);
    if (!opts_.ca_file.empty()) {
      ssl_ctx_.load_verify_file(opts_.ca_file, ec);
      if (ec) log()->warn("loading {}: {}", opts_.ca_file, ec.message());
      X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
    }
  }

  void start() override {
    if (started_ || closed_) return;
    started_ = true;
    begin_attempt();
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    state_.store(State::closed);
    reconnect_at_.reset();
    if (conn_) conn_->close("client closed");
    conn_.reset();
    fail_pings();
    queue_.clear();
    timer_.cancel();
  }

  State state() const override { return state_.load(); }
  base::NodePublicKey server_key() const override {
    base::MutexLock lock(key_mu_);
    return server_key_;
  }
  std::uint64_t generation() const override { return generation_.load(); }

  bool send(const base::NodePublicKey& dst, base::ConstByteSpan data) override {
    if (closed_.load() || data.size() > derp::kMaxPacketSize) return false;
    if (!limiter_.allow(static_cast<double>(derp::kSendPacketOverhead + data.size()),
                        clock_.now())) {
      dropped_rate_.fetch_add(1, std::memory_order_relaxed);
      return true;  // dropped silently, as Go's client does
    }
    base::Bytes f;
    f.reserve(derp::kSendPacketOverhead + data.size());
    derp::encode_send_packet(f, dst, data);
    enqueue_packet(std::move(f), derp::looks_like_disco(data));
    return true;
  }

  bool forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
               base::ConstByteSpan data) override {
    if (closed_.load() || data.size() > derp::kMaxPacketSize) return false;
    base::Bytes f;
    derp::encode_forward_packet(f, src, dst, data);
    enqueue_packet(std::move(f), derp::looks_like_disco(data));
    return true;
  }

  void close_peer(const base::NodePublicKey& peer) override {
    base::Bytes f;
    derp::encode_close_peer(f, peer);
    enqueue_control(std::move(f));
  }

  void set_preferred(bool preferred) override {
    if (preferred_.exchange(preferred) == preferred) return;
    const auto s = state_.load();
    if (s == State::logged_in || s == State::connected) {
      base::Bytes f;
      derp::encode_note_preferred(f, preferred);
      enqueue_control(std::move(f));
    }
  }

  Stats stats() const override {
    Stats s;
    s.packets_sent = packets_sent_.load();
    s.packets_received = packets_received_.load();
    s.dropped_queue_head = dropped_head_.load();
    s.dropped_rate_limit = dropped_rate_.load();
    s.connects = connects_.load();
    s.failures = failures_total_.load();
    s.fast_start_used = fast_start_used_.load();
    return s;
  }

  void ping(PingDone done) override {
    const auto s = state_.load();
    if (!conn_ || (s != State::logged_in && s != State::connected)) {
      done(false, {});
      return;
    }
    send_ping(std::move(done), false);
  }

  void check_timers() override {
    const base::TimePoint now = clock_.now();
    if (conn_ && state_.load() == State::connecting && now >= attempt_deadline_) {
      conn_->close("connect timeout");
    }
    if (conn_ && logged_in_conn_ == conn_.get()) {
      if (now - last_rx_ >= opts_.read_timeout) {
        conn_->close("read timeout");
      } else if (now - last_rx_ >= opts_.idle_ping_after && !liveness_ping_outstanding_) {
        liveness_ping_outstanding_ = true;
        send_ping({}, true);
      }
    }
    for (auto it = pings_.begin(); it != pings_.end();) {
      if (now < it->second.deadline) {
        ++it;
        continue;
      }
      Pending p = std::move(it->second);
      it = pings_.erase(it);
      if (p.liveness) {
        liveness_ping_outstanding_ = false;
        if (conn_) conn_->close("ping timeout");
      } else if (p.done) {
        p.done(false, {});
      }
    }
    if (!conn_ && reconnect_at_ && now >= *reconnect_at_) {
      reconnect_at_.reset();
      begin_attempt();
      return;
    }
    arm_timer();
  }

 private:
  struct Pending {
    base::TimePoint sent{};
    base::TimePoint deadline{};
    PingDone done;
    bool liveness = false;
  };

  void enqueue_packet(base::Bytes frame, bool disco) {
    if (queue_.push_packet(std::move(frame), disco)) {
      dropped_head_.fetch_add(1, std::memory_order_relaxed);
    }
    wake_writer();
  }
  void enqueue_control(base::Bytes frame) {
    queue_.push_control(std::move(frame));
    wake_writer();
  }
  void wake_writer() {
    if (wake_pending_.exchange(true)) return;
    asio::post(io_, [weak = weak_from_this()] {
      auto self = std::static_pointer_cast<ClientImpl>(weak.lock());
      if (!self) return;
      self->wake_pending_.store(false);
      if (self->conn_ && self->conn_->writer_idle) self->conn_->wake.cancel();
    });
  }

  void send_ping(PingDone done, bool liveness) {
    std::array<std::byte, derp::kPingLen> data{};
    base::random_bytes(data);
    const auto now = clock_.now();
    pings_[data] = Pending{now, now + opts_.ping_timeout, std::move(done), liveness};
    base::Bytes f;
    derp::encode_ping(f, data);
    enqueue_control(std::move(f));
    arm_timer();
  }

  void fail_pings() {
    auto pings = std::move(pings_);
    pings_.clear();
    liveness_ping_outstanding_ = false;
    for (auto& [k, p] : pings) {
      if (p.done) p.done(false, {});
    }
  }

  void arm_timer() {
    if (closed_) return;
    std::optional<base::TimePoint> next;
    auto consider = [&next](base::TimePoint t) {
      if (!next || t < *next) next = t;
    };
    if (conn_ && state_.load() == State::connecting) consider(attempt_deadline_);
    if (conn_ && logged_in_conn_ == conn_.get()) {
      consider(last_rx_ + opts_.read_timeout);
      if (!liveness_ping_outstanding_) consider(last_rx_ + opts_.idle_ping_after);
    }
    for (const auto& [k, p] : pings_) consider(p.deadline);
    if (!conn_ && reconnect_at_) consider(*reconnect_at_);
    if (!next) {
      timer_.cancel();
      return;
    }
    const auto wait = std::max(base::Duration(0), *next - clock_.now());
    timer_.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(wait) +
                         std::chrono::milliseconds(1));
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->check_timers();
    });
  }

  void begin_attempt() {
    if (closed_) return;
    conn_ = std::make_shared<Conn>(io_, ssl_ctx_, opts_.tls);
    logged_in_conn_ = nullptr;
    attempt_deadline_ = clock_.now() + opts_.connect_timeout;
    state_.store(State::connecting);
    arm_timer();
    auto self = std::static_pointer_cast<ClientImpl>(shared_from_this());
    asio::co_spawn(
        io_,
        [self, c = conn_]() -> asio::awaitable<void> {
          std::string why = co_await self->session(c);
          self->on_session_end(c, why);
        },
        asio::detached);
  }

  std::string host_header() const {
    const std::uint16_t default_port = opts_.tls ? 443 : 80;
    std::string h = opts_.host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
    if (opts_.port != default_port) h += ":" + std::to_string(opts_.port);
    return h;
  }

  asio::awaitable<std::string> tls_setup(const std::shared_ptr<Conn>& c,
                                         std::optional<base::NodePublicKey>& fast_key) {
    SSL* ssl = c->stream.native_handle();
    const bool ip_host = base::IpAddr::parse(opts_.host).has_value();
    if (!ip_host) SSL_set_tlsext_host_name(ssl, opts_.host.c_str());
    const bool pinned = opts_.cert_name.starts_with(kPinPrefix);
    if (opts_.insecure_for_tests || pinned) {
      c->stream.set_verify_mode(ssl::verify_none);
    } else {
      c->stream.set_verify_mode(ssl::verify_peer);
      const std::string name = opts_.cert_name.empty() ? opts_.host : opts_.cert_name;
      if (base::IpAddr::parse(name)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
      } else {
        SSL_set1_host(ssl, name.c_str());
      }
    }
    auto [ec] = co_await c->stream.async_handshake(ssl::stream_base::client, nothrow);
    if (ec) co_return "tls handshake: " + ec.message();
    if (pinned) {
      auto st = check_pinned(ssl, std::string_view(opts_.cert_name).substr(kPinPrefix.size()),
                             opts_.host);
      if (!st) co_return st.error().to_string();
    }
    if (opts_.fast_start) fast_key = meta_cert_key(ssl);
    co_return std::string();
  }

  // One attempt, from DNS to the end of the connection. Returns why it ended.
  asio::awaitable<std::string> session(std::shared_ptr<Conn> c) {
    tcp::resolver resolver(io_);
    auto [rec, results] =
        co_await resolver.async_resolve(opts_.dial_host, std::to_string(opts_.port), nothrow);
    if (c->closed) co_return c->abort_reason;
    if (rec) co_return "resolve " + opts_.dial_host + ": " + rec.message();
    auto [cec, ep] = co_await asio::async_connect(c->stream.next_layer(), results, nothrow);
    if (c->closed) co_return c->abort_reason;
    if (cec) co_return "connect: " + cec.message();
    boost::system::error_code ignored;
    c->stream.next_layer().set_option(tcp::no_delay(true), ignored);

    std::optional<base::NodePublicKey> fast_key;
    if (opts_.tls) {
      std::string err = co_await tls_setup(c, fast_key);
      if (c->closed) co_return c->abort_reason;
      if (!err.empty()) co_return err;
    }
    derp::ClientInfo info = derp::default_client_info();
    info.mesh_key = opts_.mesh_key;
    info.is_prober = opts_.is_prober;
    derp::ClientHandshake hs(opts_.key, std::move(info), fast_key);
    derp::UpgradeRequest req;
    req.host = host_header();
    req.ideal_node = opts_.ideal_node;
    const base::Bytes init = hs.initial_bytes(req);
    fast_start_used_.store(fast_key.has_value());
    if (auto [wec, n] = co_await c->write(asio::buffer(init)); wec) {
      co_return c->closed ? c->abort_reason : "write: " + wec.message();
    }

    std::vector<std::byte> buf(kReadBuf);
    while (!hs.done()) {
      auto [ec, n] = co_await c->read_some(asio::buffer(buf));
      if (c->closed) co_return c->abort_reason;
      if (ec) co_return "read during handshake: " + ec.message();
      auto out = hs.feed(base::ConstByteSpan(buf.data(), n));
      if (!out) co_return out.error().to_string();
      if (!out->empty()) {
        if (auto [wec, wn] = co_await c->write(asio::buffer(*out)); wec) {
          co_return c->closed ? c->abort_reason : "write: " + wec.message();
        }
      }
    }
    {
      base::MutexLock lock(key_mu_);
      server_key_ = hs.server_key();
    }
    if (opts_.ignore_server_key && hs.server_key() == *opts_.ignore_server_key) {
      self_connect_ = true;
      co_return "connected to ourselves";
    }
    base::Bytes after;
    if (preferred_.load()) derp::encode_note_preferred(after, true);
    if (opts_.watch_conns) derp::encode_watch_conns(after);
    if (!after.empty()) {
      if (auto [wec, wn] = co_await c->write(asio::buffer(after)); wec) {
        co_return c->closed ? c->abort_reason : "write: " + wec.message();
      }
    }
    state_.store(State::logged_in);
    logged_in_conn_ = c.get();
    last_rx_ = clock_.now();
    arm_timer();
    auto self = std::static_pointer_cast<ClientImpl>(shared_from_this());
    asio::co_spawn(io_, self->writer(c), asio::detached);

    derp::FrameReader reader(&derp::client_read_limit);
    reader.set_handshake_done(true);
    std::string why;
    auto on_frame = [&](std::uint8_t type, base::ConstByteSpan payload) {
      return handle_frame(c, type, payload, why);
    };
    const base::Bytes rest = hs.take_remaining();
    if (!rest.empty()) {
      if (auto st = reader.feed(rest, on_frame); !st) {
        co_return why.empty() ? st.error().to_string() : why;
      }
    }
    for (;;) {
      auto [ec, n] = co_await c->read_some(asio::buffer(buf));
      if (c->closed) co_return c->abort_reason;
      if (ec)
        co_return ec == asio::error::eof ? "server closed the connection" : "read: " + ec.message();
      last_rx_ = clock_.now();
      if (auto st = reader.feed(base::ConstByteSpan(buf.data(), n), on_frame); !st) {
        if (c->closed) co_return c->abort_reason;
        co_return why.empty() ? st.error().to_string() : why;
      }
      if (c->closed) co_return c->abort_reason;
    }
  }

  asio::awaitable<void> writer(std::shared_ptr<Conn> c) {
    std::vector<base::Bytes> frames;
    std::vector<asio::const_buffer> bufs;
    while (!c->closed) {
      frames.clear();
      if (queue_.take(frames, kMaxFramesPerWrite) == 0) {
        c->writer_idle = true;
        c->wake.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake.async_wait(nothrow);
        c->writer_idle = false;
        continue;
      }
      bufs.clear();
      std::uint64_t packets = 0;
      for (const auto& f : frames) {
        bufs.emplace_back(f.data(), f.size());
        const auto t = static_cast<derp::FrameType>(f[0]);
        if (t == derp::FrameType::send_packet || t == derp::FrameType::forward_packet) ++packets;
      }
      auto [ec, n] = co_await c->write(bufs);
      if (ec) {
        c->close("write: " + ec.message());
        co_return;
      }
      packets_sent_.fetch_add(packets, std::memory_order_relaxed);
    }
  }

  bool handle_frame(const std::shared_ptr<Conn>& c, std::uint8_t type, base::ConstByteSpan p,
                    std::string& why) {
    auto f = derp::decode_from_server(type, p);
    if (!f) {
      why = f.error().to_string();
      return false;
    }
    std::visit(
        [&](const auto& fr) {
          using T = std::decay_t<decltype(fr)>;
          if constexpr (std::is_same_v<T, derp::RecvPacketFrame>) {
            packets_received_.fetch_add(1, std::memory_order_relaxed);
            if (cb_.on_packet) cb_.on_packet(fr.src, fr.data);
          } else if constexpr (std::is_same_v<T, derp::ServerInfoFrame>) {
            auto si = derp::open_server_info(opts_.key, server_key(), fr.payload);
            if (!si) {
              why = "server info: " + si.error().to_string();
              c->close(why);
              return;
            }
            if (si->token_bucket_bytes_per_second > 0) {
              limiter_.set(static_cast<double>(si->token_bucket_bytes_per_second),
                           static_cast<double>(si->token_bucket_bytes_burst), clock_.now());
            }
            state_.store(State::connected);
            failures_ = 0;
            connects_.fetch_add(1, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_relaxed);
            if (cb_.on_connected) cb_.on_connected(*si);
          } else if constexpr (std::is_same_v<T, derp::PeerGoneFrame>) {
            if (cb_.on_peer_gone) cb_.on_peer_gone(fr.peer, fr.reason);
          } else if constexpr (std::is_same_v<T, derp::PeerPresentFrame>) {
            if (cb_.on_peer_present) cb_.on_peer_present(fr);
          } else if constexpr (std::is_same_v<T, derp::PingFrame>) {
            base::Bytes pong;
            derp::encode_pong(pong, fr.data);
            enqueue_control(std::move(pong));
          } else if constexpr (std::is_same_v<T, derp::PongFrame>) {
            auto it = pings_.find(fr.data);
            if (it != pings_.end()) {
              Pending pend = std::move(it->second);
              pings_.erase(it);
              if (pend.liveness) liveness_ping_outstanding_ = false;
              if (pend.done) pend.done(true, clock_.now() - pend.sent);
            }
          } else if constexpr (std::is_same_v<T, derp::HealthFrame>) {
            if (cb_.on_health) cb_.on_health(fr.problem);
          } else if constexpr (std::is_same_v<T, derp::RestartingFrame>) {
            if (cb_.on_restarting) cb_.on_restarting(fr.reconnect_in_ms, fr.try_for_ms);
          }
          // KeepAlive, ServerKey after the handshake, unknown: nothing.
        },
        *f);
    return !c->closed;
  }

  void on_session_end(const std::shared_ptr<Conn>& c, const std::string& why) {
    c->close(why);
    if (conn_ != c) return;  // a stale attempt
    conn_.reset();
    logged_in_conn_ = nullptr;
    fail_pings();
    queue_.clear_control();
    if (closed_) return;
    ++failures_;
    failures_total_.fetch_add(1, std::memory_order_relaxed);
    log()->debug("derp {}: {}", opts_.host, why);
    if (cb_.on_disconnected) cb_.on_disconnected(why);
    if (closed_) return;  // the callback may have closed us
    if (self_connect_ || !opts_.reconnect) {
      state_.store(State::idle);
      return;
    }
    state_.store(State::connecting);
    reconnect_at_ =
        clock_.now() + backoff_delay(failures_,
                                     base::random_uniform(1u << 30) / static_cast<double>(1u << 30),
                                     opts_.max_backoff);
    arm_timer();
  }

  asio::io_context& io_;
  Options opts_;
  Callbacks cb_;
  base::Clock& clock_;
  ssl::context ssl_ctx_;
  SendQueue queue_;
  SendLimiter limiter_;
  asio::steady_timer timer_;

  // io thread only.
  std::shared_ptr<Conn> conn_;
  const Conn* logged_in_conn_ = nullptr;
  base::TimePoint attempt_deadline_{};
  base::TimePoint last_rx_{};
  std::optional<base::TimePoint> reconnect_at_;
  std::map<std::array<std::byte, derp::kPingLen>, Pending> pings_;
  std::uint32_t failures_ = 0;
  bool liveness_ping_outstanding_ = false;
  bool started_ = false;
  bool self_connect_ = false;

  // Any thread.
  std::atomic<bool> closed_{false};
  std::atomic<State> state_{State::idle};
  std::atomic<bool> preferred_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> packets_sent_{0};
  std::atomic<std::uint64_t> packets_received_{0};
  std::atomic<std::uint64_t> dropped_head_{0};
  std::atomic<std::uint64_t> dropped_rate_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> failures_total_{0};
  std::atomic<bool> fast_start_used_{false};
  mutable base::Mutex key_mu_;  // guards server_key_ (leaf)
  base::NodePublicKey server_key_ GUARDED_BY(key_mu_);
};

}  // namespace

Client::~Client() = default;

std::shared_ptr<Client> Client::create(boost::asio::io_context& io, Options options,
                                       Callbacks callbacks) {
  return std::make_shared<ClientImpl>(io, std::move(options), std::move(callbacks));
}

base::Duration backoff_delay(std::uint32_t failures, double r, base::Duration cap) {
  const double n = static_cast<double>(failures);
  const base::Duration base_delay =
      std::min<base::Duration>(cap, std::chrono::duration_cast<base::Duration>(
                                        std::chrono::duration<double, std::milli>(n * n * 10.0)));
  return std::chrono::duration_cast<base::Duration>(base_delay * (0.5 + r));
}

}  // namespace derpclient
