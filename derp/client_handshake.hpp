// SPDX-License-Identifier: MIT
// The client's side of connecting to a DERP server, as pure logic (no I/O): the HTTP upgrade
// request, the server's response, the ServerKey frame, and the ClientInfo frame built from it
// (protocols/derp.md 2.4, 2.5, 4.1 to 4.4). derpclient/ and the server's mesh links both
// drive it over their sockets.
//
//   client                                  server
//     GET /derp, Upgrade: DERP  ---------->
//                               <---------- 101 Switching Protocols   (not in fast start)
//                               <---------- ServerKey frame (may share a segment with 101)
//     ClientInfo frame          ---------->   (fast start: right behind the request)
//
// Usage: write initial_bytes(); feed() every received byte until state() is done, writing
// whatever feed() returns; then take_remaining() gives the bytes after the ServerKey frame,
// which belong to the frame stream (FrameReader with client_read_limit, handshake done).
// In fast start the state is done at once: the ServerKey frame arrives later, in the frame
// stream, and is skipped there.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"
#include "derp/info.hpp"

namespace derp {

inline constexpr std::size_t kMaxResponseHeadLen = 16 * 1024;

struct UpgradeRequest {
  std::string host;  // Host header: hostname, plus ":port" when not the default
  std::string path = "/derp";
  bool fast_start = false;  // adds "Derp-Fast-Start: 1"
  std::string ideal_node;   // adds "Ideal-Node: <name>" when not empty
};
std::string upgrade_request_text(const UpgradeRequest& req);

struct UpgradeResponse {
  int status = 0;
  std::size_t head_len = 0;     // bytes up to and including the blank line
  std::string derp_public_key;  // Derp-Public-Key header, if any (informational)
};
// nullopt: the head is not complete yet. An error for a malformed head or one longer than
// kMaxResponseHeadLen.
base::Result<std::optional<UpgradeResponse>> parse_upgrade_response(std::string_view buffered);

class ClientHandshake {
 public:
  enum class State : std::uint8_t { http_response, server_key, done };

  // `fast_start_key`: the server key learnt from the TLS meta certificate; when set, the
  // request carries Derp-Fast-Start and ClientInfo goes out with it.
  ClientHandshake(base::NodePrivateKey key, ClientInfo info,
                  std::optional<base::NodePublicKey> fast_start_key = std::nullopt);

  // The request, and in fast start the ClientInfo frame behind it.
  base::Bytes initial_bytes(UpgradeRequest req) const;

  // Consumes `in`; returns bytes to write to the server (the ClientInfo frame, once).
  // An error means the attempt failed (non-101 status, bad ServerKey frame, ...).
  base::Result<base::Bytes> feed(base::ConstByteSpan in);

  State state() const noexcept { return state_; }
  bool done() const noexcept { return state_ == State::done; }
  // Valid once done (in fast start: from the start).
  const base::NodePublicKey& server_key() const noexcept { return server_key_; }
  int http_status() const noexcept { return http_status_; }
  // Once done: the bytes received after the ServerKey frame (the frame stream's start).
  base::Bytes take_remaining() { return std::move(buf_); }

 private:
  base::NodePrivateKey key_;
  ClientInfo info_;
  base::NodePublicKey server_key_;
  base::Bytes buf_;
  State state_ = State::http_response;
  int http_status_ = 0;
};

}  // namespace derp
