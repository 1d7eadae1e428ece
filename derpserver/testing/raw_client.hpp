// SPDX-License-Identifier: MIT
// RawClient: a bare DERP client for tests of the server, built from derp/ pieces on a
// non-blocking loopback socket. Whenever it has to wait for the server it calls `pump`, which
// runs the server's io_context for a moment on the same thread, so a test needs no threads
// and no sleeps; every wait has a real-time bound (default 5 s) so a broken server fails the
// test instead of hanging it.
//
// It can also misbehave on purpose: send raw bytes, never read, or stop mid-frame.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "derp/frame.hpp"
#include "derp/frame_reader.hpp"
#include "derp/info.hpp"

namespace derpserver::testing {

inline constexpr std::chrono::milliseconds kDefaultWait{5000};

struct RawFrame {
  std::uint8_t type = 0;
  base::Bytes payload;
};

class RawClient {
 public:
  using Pump = std::function<void()>;

  RawClient(Pump pump, base::NodePrivateKey key = base::NodePrivateKey::generate());
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  const base::NodePrivateKey& private_key() const noexcept { return key_; }
  base::NodePublicKey key() const { return key_.public_key(); }

  // A small receive buffer makes a client that never reads fill up quickly.
  void set_rcvbuf(int bytes) noexcept { rcvbuf_ = bytes; }
  bool connect(std::uint16_t port);
  // Connects, upgrades and logs in; true once ServerInfo has arrived and opened.
  bool login(std::uint16_t port, derp::ClientInfo info = derp::default_client_info(),
             bool fast_start_with_known_key = false, const base::NodePublicKey& server_key = {});

  void send(base::ConstByteSpan bytes);
  void send_packet(const base::NodePublicKey& dst, base::ConstByteSpan data);
  // The next frame (after any already buffered); nullopt on timeout or EOF.
  std::optional<RawFrame> read_frame(std::chrono::milliseconds wait = kDefaultWait);
  // The next frame of `type`, skipping others (keepalives...).
  std::optional<RawFrame> read_frame_of(derp::FrameType type,
                                        std::chrono::milliseconds wait = kDefaultWait);
  // True if no frame of `type` arrives within `wait` (the server is pumped meanwhile).
  bool no_frame_of(derp::FrameType type, std::chrono::milliseconds wait);
  // Raw bytes up to `n` or until the deadline.
  base::Bytes read_bytes(std::size_t n, std::chrono::milliseconds wait = kDefaultWait);
  // True once the server has closed the connection (EOF or reset) within `wait`.
  bool wait_closed(std::chrono::milliseconds wait = kDefaultWait);
  void close();

  const base::NodePublicKey& server_key() const noexcept { return server_key_; }
  int fd() const noexcept { return fd_; }

 private:
  // Reads whatever is available into in_; false on EOF/error.
  bool fill();

  Pump pump_;
  base::NodePrivateKey key_;
  base::NodePublicKey server_key_;
  int fd_ = -1;
  int rcvbuf_ = 0;
  bool eof_ = false;
  base::Bytes in_;  // received, not yet consumed
};

// An HTTP/1.1 exchange on a fresh connection: the whole response text (until close or
// Content-Length), for endpoint tests.
std::string http_get(const RawClient::Pump& pump, std::uint16_t port, const std::string& request,
                     std::chrono::milliseconds wait = kDefaultWait);

}  // namespace derpserver::testing
