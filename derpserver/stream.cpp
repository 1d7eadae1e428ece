// SPDX-License-Identifier: MIT
#include "derpserver/stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <boost/asio/post.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/log.hpp"
#include "derpserver/shard.hpp"

namespace derpserver {
namespace {

constexpr int kMaxIov = 64;
constexpr std::size_t kTlsChunk = 16 * 1024;
// Per wake-up budgets, so one busy stream cannot starve the others on its shard (see
// kScratchSize for why reads stay small).
constexpr int kMaxReadsPerWake = 2;
constexpr std::size_t kMaxWriteBytesPerWake = 512 * 1024;

Transport::Status ssl_status(SSL* ssl, int ret) {
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      return Transport::Status::want_read;
    case SSL_ERROR_WANT_WRITE:
      return Transport::Status::want_write;
    case SSL_ERROR_ZERO_RETURN:
      return Transport::Status::eof;
    default:
      ERR_clear_error();
      return Transport::Status::error;
  }
}

base::Logger& log() {
  static base::Logger l = base::logger("derpserver");
  return l;
}

}  // namespace

// ---------------------------------------------------------------- Transport

Transport::Transport(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
}

Transport::~Transport() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

Transport::Status Transport::handshake() {
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) return Status::ok;
  return ssl_status(ssl_, r);
}

Transport::Io Transport::read(base::ByteSpan out) {
  if (ssl_ != nullptr) {
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, out.data(), out.size(), &n);
    if (r == 1) return {n, Status::ok};
    return {0, ssl_status(ssl_, r)};
  }
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), out.data(), out.size(), 0);
    if (n > 0) return {static_cast<std::size_t>(n), Status::ok};
    if (n == 0) return {0, Status::eof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, Status::want_read};
    return {0, Status::error};
  }
}

Transport::Io Transport::writev(const ::iovec* iov, int count) {
  if (ssl_ != nullptr) {
    // Coalesce into one record-sized chunk. The chunk lives per thread; a retry rebuilds the
    // same bytes from the same in-flight data (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    thread_local std::unique_ptr<std::byte[]> chunk =
        std::make_unique_for_overwrite<std::byte[]>(kTlsChunk);
    std::size_t total = 0;
    for (int i = 0; i < count && total < kTlsChunk; ++i) {
      const std::size_t n = std::min(iov[i].iov_len, kTlsChunk - total);
      std::memcpy(chunk.get() + total, iov[i].iov_base, n);
      total += n;
    }
    if (tls_retry_len_ != 0) total = std::min<std::size_t>(total, tls_retry_len_);
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_, chunk.get(), total, &n);
    if (r == 1) {
      tls_retry_len_ = 0;
      return {n, Status::ok};
    }
    const Status st = ssl_status(ssl_, r);
    if (st == Status::want_write || st == Status::want_read) {
      tls_retry_len_ = static_cast<std::uint32_t>(total);
    }
    return {0, st};
  }
  ::msghdr msg{};
  msg.msg_iov = const_cast<::iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(count);
  for (;;) {
    const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
    if (n >= 0) return {static_cast<std::size_t>(n), Status::ok};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, Status::want_write};
    return {0, Status::error};
  }
}

void Transport::close() noexcept {
  boost::system::error_code ec;
  socket_.cancel(ec);
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

// ---------------------------------------------------------------- Stream

Stream::Stream(Shard& shard, boost::asio::ip::tcp::socket socket)
    : shard_(shard),
      transport_(std::move(socket)),
      id_(Shard::next_stream_id()),
      started_(shard.clock().now()) {
  boost::system::error_code ec;
  const auto ep = transport_.socket().remote_endpoint(ec);
  if (!ec) {
    remote_.addr =
        ep.address().is_v4()
            ? base::IpAddr::v4(ep.address().to_v4().to_uint())
            : base::IpAddr::v6(std::span<const std::byte, 16>(
                  reinterpret_cast<const std::byte*>(ep.address().to_v6().to_bytes().data()), 16));
    remote_.port = ep.port();
  }
}

Stream::~Stream() {
  // Normally close() has unlinked us already; only then may the shard be gone.
  if (shard_linked_) shard_.remove(this);
}

void Stream::start_io() {
  shard_.add(this);
  if (transport_.ssl() != nullptr) {
    handshaking_ = true;
    do_tls_handshake();
    return;
  }
  on_transport_ready();
  if (!closed_) wait_readable();
}

void Stream::do_tls_handshake() {
  if (closed_) return;
  switch (transport_.handshake()) {
    case Transport::Status::ok:
      handshaking_ = false;
      on_transport_ready();
      if (closed_) return;
      wait_readable();
      wake_writer();  // anything queued during the handshake
      return;
    case Transport::Status::want_read:
      transport_.socket().async_wait(
          boost::asio::socket_base::wait_read,
          [self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->do_tls_handshake();
          });
      return;
    case Transport::Status::want_write:
      transport_.socket().async_wait(
          boost::asio::socket_base::wait_write,
          [self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->do_tls_handshake();
          });
      return;
    default:
      close("tls handshake failed");
  }
}

void Stream::wait_readable() {
  if (closed_ || waiting_readable_ || read_paused_ || handshaking_) return;
  waiting_readable_ = true;
  transport_.socket().async_wait(boost::asio::socket_base::wait_read,
                                 [self = shared_from_this()](const boost::system::error_code& ec) {
                                   self->waiting_readable_ = false;
                                   if (ec || self->closed_) return;
                                   self->on_readable();
                                 });
}

void Stream::resume_reading() {
  if (!read_paused_) return;
  read_paused_ = false;
  wait_readable();
}

void Stream::on_readable() {
  const base::ByteSpan buf = shard_.scratch();
  for (int i = 0; i < kMaxReadsPerWake; ++i) {
    if (closed_ || read_paused_) return;
    const auto r = transport_.read(buf);
    switch (r.status) {
      case Transport::Status::ok:
        if (!on_bytes(buf.first(r.n))) {
          close("protocol error");
          return;
        }
        continue;
      case Transport::Status::want_read:
        wait_readable();
        return;
      case Transport::Status::want_write:
        // TLS wants to write before it can read further: retry when writable.
        transport_.socket().async_wait(
            boost::asio::socket_base::wait_write,
            [self = shared_from_this()](const boost::system::error_code& ec) {
              if (!ec && !self->closed_) self->on_readable();
            });
        return;
      case Transport::Status::eof:
        close("eof");
        return;
      case Transport::Status::error:
        close("read error");
        return;
    }
  }
  // Budget spent: let the shard's other streams run, then continue.
  boost::asio::post(shard_.io(), [self = shared_from_this()] {
    if (!self->closed_) self->on_readable();
  });
}

bool Stream::enqueue_packet(OutBufPtr b) {
  // On our own thread with a full queue and a writable socket, write now instead of
  // dropping: the reader of a fast sender on this shard would otherwise fill the queue
  // faster than the posted writer gets to run. Drops then happen only when the socket
  // itself is full (or when another shard's writer falls behind).
  // (The owner-thread flags are read only after the thread check has passed.)
  if (shard_.io().get_executor().running_in_this_thread() && !closed_ && !waiting_writable_ &&
      !handshaking_) {
    bool full = false;
    {
      base::MutexLock lock(queue_mu_);
      full = b->kind == PacketKind::disco ? disco_q_.size() >= disco_depth_
                                          : data_q_.size() >= data_depth_;
      if (full) write_scheduled_ = true;
    }
    if (full) do_write();
  }
  OutBufPtr evicted;
  bool post = false;
  {
    base::MutexLock lock(queue_mu_);
    if (closing_.load(std::memory_order_relaxed)) return false;
    b->is_packet = true;
    b->enqueued = shard_.clock().now();
    if (b->kind == PacketKind::disco) {
      evicted = disco_q_.push(std::move(b), disco_depth_);
    } else {
      evicted = data_q_.push(std::move(b), data_depth_);
    }
    if (!write_scheduled_) {
      write_scheduled_ = true;
      post = true;
    }
  }
  // Drop counters are atomic adds, so counting from the enqueuing thread is fine.
  if (evicted) shard_.counters().drop(DropReason::queue_head, evicted->kind, evicted->size);
  if (post) boost::asio::post(shard_.io(), [self = shared_from_this()] { self->do_write(); });
  return true;
}

void Stream::enqueue_control(OutBufPtr b) {
  bool post = false;
  {
    base::MutexLock lock(queue_mu_);
    if (closing_.load(std::memory_order_relaxed)) return;
    ctrl_q_.push(std::move(b));
    if (!write_scheduled_) {
      write_scheduled_ = true;
      post = true;
    }
  }
  if (post) boost::asio::post(shard_.io(), [self = shared_from_this()] { self->do_write(); });
}

void Stream::close_after_flush() {
  close_after_flush_ = true;
  {
    base::MutexLock lock(queue_mu_);
    if (write_scheduled_) return;  // the running writer will see the flag
    write_scheduled_ = true;
  }
  do_write();
}

void Stream::wake_writer() {
  {
    base::MutexLock lock(queue_mu_);
    if (write_scheduled_) return;
    write_scheduled_ = true;
  }
  do_write();
}

bool Stream::collect_locked() {
  inflight_.splice(ctrl_q_);  // control frames first: ServerInfo must precede any packet
  // Then alternate disco and other packets so neither starves the other.
  int budget = kMaxIov * 2;
  while (budget-- > 0 && (!disco_q_.empty() || !data_q_.empty())) {
    if (!disco_q_.empty()) inflight_.push(disco_q_.pop());
    if (!data_q_.empty()) inflight_.push(data_q_.pop());
  }
  if (disco_q_.empty()) disco_q_.clear();  // release ring storage while idle
  if (data_q_.empty()) data_q_.clear();
  return !inflight_.empty();
}

void Stream::do_write() {
  if (closed_ || waiting_writable_ || handshaking_) return;
  ShardCounters& c = shard_.counters();
  std::size_t written_this_wake = 0;
  for (;;) {
    if (inflight_.empty()) {
      bool have = false;
      {
        base::MutexLock lock(queue_mu_);
        have = collect_locked();
        if (!have) write_scheduled_ = false;
      }
      if (!have) {
        if (close_after_flush_) close("closed after response");
        return;
      }
    }
    if (written_this_wake >= kMaxWriteBytesPerWake) {
      boost::asio::post(shard_.io(), [self = shared_from_this()] { self->do_write(); });
      return;
    }
    ::iovec iov[kMaxIov];
    int n = 0;
    std::size_t off = inflight_off_;
    for (OutBuf* b = inflight_.front(); b != nullptr && n < kMaxIov; b = b->next) {
      iov[n].iov_base = b->data() + off;
      iov[n].iov_len = b->size - off;
      off = 0;
      ++n;
    }
    const auto r = transport_.writev(iov, n);
    if (r.status == Transport::Status::ok) {
      c.writes.fetch_add(1, std::memory_order_relaxed);
      written_this_wake += r.n;
      std::size_t left = r.n;
      const base::TimePoint now = shard_.clock().now();
      while (left > 0 && !inflight_.empty()) {
        OutBuf* b = inflight_.front();
        const std::size_t rest = b->size - inflight_off_;
        if (left < rest) {
          inflight_off_ += left;
          left = 0;
          break;
        }
        left -= rest;
        inflight_off_ = 0;
        OutBufPtr done = inflight_.pop();
        c.frames_written.fetch_add(1, std::memory_order_relaxed);
        if (done->is_pong) pongs_queued_.fetch_sub(1, std::memory_order_acq_rel);
        if (done->is_packet) {
          c.packets_sent.fetch_add(1, std::memory_order_relaxed);
          c.bytes_sent.fetch_add(done->size, std::memory_order_relaxed);
          const auto q = now - done->enqueued;
          c.note_queue_time(q.count() > 0 ? static_cast<std::uint64_t>(q.count() / 1000) : 0);
        }
      }
      if (inflight_.empty()) batch_blocked_since_.reset();
      continue;
    }
    if (r.status == Transport::Status::want_write || r.status == Transport::Status::want_read) {
      if (!batch_blocked_since_) batch_blocked_since_ = shard_.clock().now();
      waiting_writable_ = true;
      transport_.socket().async_wait(
          r.status == Transport::Status::want_write ? boost::asio::socket_base::wait_write
                                                    : boost::asio::socket_base::wait_read,
          [self = shared_from_this()](const boost::system::error_code& ec) {
            self->waiting_writable_ = false;
            if (!ec) self->do_write();
          });
      return;
    }
    // A failed write: what was in flight is lost.
    for (OutBuf* b = inflight_.front(); b != nullptr; b = b->next) {
      if (b->is_packet) c.drop(DropReason::write_error, b->kind, b->size);
    }
    close("write error");
    return;
  }
}

bool Stream::write_stalled(base::TimePoint now) const noexcept {
  return batch_blocked_since_ && now - *batch_blocked_since_ > write_timeout_;
}

void Stream::on_tick(base::TimePoint now) {
  (void)now;
}

void Stream::close_async(std::string reason) {
  boost::asio::post(shard_.io(), [self = shared_from_this(), reason = std::move(reason)] {
    self->close(reason);
  });
}

void Stream::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  log()->debug("stream closed id={} remote={} reason={}", id_, remote_.to_string(), reason);
  OutList ctrl;
  {
    base::MutexLock lock(queue_mu_);
    closing_.store(true, std::memory_order_release);
    data_q_.drain([&](OutBufPtr b) {
      shard_.counters().drop(DropReason::gone_disconnected, b->kind, b->size);
    });
    disco_q_.drain([&](OutBufPtr b) {
      shard_.counters().drop(DropReason::gone_disconnected, b->kind, b->size);
    });
    ctrl.splice(ctrl_q_);
  }
  for (OutBuf* b = inflight_.front(); b != nullptr; b = b->next) {
    if (b->is_packet) shard_.counters().drop(DropReason::gone_disconnected, b->kind, b->size);
  }
  inflight_.clear();
  transport_.close();
  shard_.remove(this);
  on_closed();
}

}  // namespace derpserver
