// SPDX-License-Identifier: MIT
// Stream: one TCP (optionally TLS) connection of the relay, the part shared by accepted
// client connections (ClientConn) and the server's outgoing mesh links (MeshConn).
//
// Threads: a Stream belongs to one Shard (one io_context, one thread). Reading, writing,
// timers and close() run on that thread only. enqueue_*() and close_async() may be called
// from any thread: they take queue_mu_ (a leaf lock) and post a wake-up to the owner.
//
// Read path: wait for readability (no buffer held while idle), read into the shard's scratch
// buffer until the socket would block, hand the bytes to on_bytes().
// Write path: control frames, then disco packets, then other packets are moved from the
// queues to an in-flight list and written with writev (TLS: coalesced SSL_write); a write
// that blocks waits for writability. A batch that is not fully written within the write
// timeout closes the stream. An enqueue on the owner's own thread that finds its queue full
// writes right away instead of dropping (the socket, not the 32-packet queue, is then the
// limit); from other threads a full queue drops its oldest packet.
// Close: idempotent; stops both paths, frees the queues (queued packets count as
// gone_disconnected drops) and calls on_closed() once. The object lives on until the last
// pending handler lets go of it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/ip.hpp"
#include "base/thread_annotations.hpp"
#include "derpserver/metrics.hpp"
#include "derpserver/send_queue.hpp"

using SSL = struct ssl_st;
struct iovec;

namespace derpserver {

class Shard;

// A non-blocking socket, optionally with an SSL object on top of it.
class Transport {
 public:
  enum class Status : std::uint8_t { ok, want_read, want_write, eof, error };
  struct Io {
    std::size_t n = 0;
    Status status = Status::ok;
  };

  explicit Transport(boost::asio::ip::tcp::socket socket);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  void set_ssl(SSL* ssl) noexcept { ssl_ = ssl; }  // takes ownership
  SSL* ssl() const noexcept { return ssl_; }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

  Status handshake();
  Io read(base::ByteSpan out);
  // TLS: writes a coalesced prefix of at most 16 KiB; after want_write the retry must offer
  // at least the same bytes (the caller keeps them in flight), as OpenSSL requires.
  Io writev(const ::iovec* iov, int count);
  void close() noexcept;

 private:
  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  std::uint32_t tls_retry_len_ = 0;
};

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(Shard& shard, boost::asio::ip::tcp::socket socket);
  virtual ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Shard& shard() const noexcept { return shard_; }
  std::uint64_t id() const noexcept { return id_; }
  const base::Endpoint& remote() const noexcept { return remote_; }
  bool closing() const noexcept { return closing_.load(std::memory_order_acquire); }

  // ---- any thread ----
  // Queues a relayed packet frame. Returns false when the stream is closing (the caller
  // counts a gone_disconnected drop); a full queue drops its oldest packet (counted here).
  bool enqueue_packet(OutBufPtr b) EXCLUDES(queue_mu_);
  // Queues a control frame (never dropped while open; freed if closing).
  void enqueue_control(OutBufPtr b) EXCLUDES(queue_mu_);
  void close_async(std::string reason);
  // Pong frames queued and not yet written (the server keeps at most one).
  int pongs_queued() const noexcept { return pongs_queued_.load(std::memory_order_acquire); }

  // ---- owner thread ----
  void close(std::string_view reason);
  // Called by the shard's housekeeping with the current time.
  virtual void on_tick(base::TimePoint now);

  // Intrusive links in the shard's list (owner thread only).
  Stream* shard_prev_ = nullptr;
  Stream* shard_next_ = nullptr;
  bool shard_linked_ = false;

 protected:
  // Bytes read from the socket; return false to close (reason in close_reason_hint()).
  virtual bool on_bytes(base::ConstByteSpan bytes) = 0;
  virtual void on_closed() = 0;
  // The TLS handshake finished (or there is none): the stream may start its protocol.
  virtual void on_transport_ready() {}

  // Starts the TLS handshake (if an SSL object is set) and then reading.
  void start_io();
  Transport& transport() noexcept { return transport_; }
  void set_remote(base::Endpoint ep) { remote_ = ep; }
  void set_queue_depths(std::uint16_t data, std::uint16_t disco) noexcept {
    data_depth_ = data;
    disco_depth_ = disco;
  }
  void set_write_timeout(base::Duration d) noexcept { write_timeout_ = d; }
  // Closes once everything queued has been written (HTTP "Connection: close").
  void close_after_flush();
  void note_pong_queued() noexcept { pongs_queued_.fetch_add(1, std::memory_order_acq_rel); }
  // Reading pauses (rate limit) until resume_reading().
  void pause_reading() noexcept { read_paused_ = true; }
  void resume_reading();
  bool read_paused() const noexcept { return read_paused_; }
  bool closed() const noexcept { return closed_; }
  base::TimePoint started() const noexcept { return started_; }
  bool write_stalled(base::TimePoint now) const noexcept;

 private:
  void do_tls_handshake();
  void wait_readable();
  void on_readable();
  void wake_writer();
  void do_write();
  bool collect_locked() REQUIRES(queue_mu_);
  void wait_writable();

  Shard& shard_;
  Transport transport_;
  const std::uint64_t id_;
  base::Endpoint remote_;
  base::TimePoint started_;

  mutable base::Mutex queue_mu_;  // guards the queues below; a leaf lock
  PacketRing data_q_ GUARDED_BY(queue_mu_);
  PacketRing disco_q_ GUARDED_BY(queue_mu_);
  OutList ctrl_q_ GUARDED_BY(queue_mu_);
  bool write_scheduled_ GUARDED_BY(queue_mu_) = false;  // a wake is posted or the writer runs
  std::atomic<bool> closing_{false};                    // written under queue_mu_ by close()
  std::atomic<int> pongs_queued_{0};  // +1 by the reader (owner), -1 by the writer (owner)

  // Owner thread only.
  OutList inflight_;
  std::size_t inflight_off_ = 0;  // bytes of inflight_.front() already written
  std::optional<base::TimePoint> batch_blocked_since_;
  base::Duration write_timeout_ = std::chrono::seconds(2);
  std::uint16_t data_depth_ = 32;
  std::uint16_t disco_depth_ = 32;
  bool waiting_writable_ = false;
  bool waiting_readable_ = false;
  bool read_paused_ = false;
  bool handshaking_ = false;
  bool close_after_flush_ = false;
  bool closed_ = false;
};

}  // namespace derpserver
