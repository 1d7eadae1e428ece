// SPDX-License-Identifier: MIT
// The server's side of a connection before it carries packets, as pure logic (no I/O), so
// that it can be fuzzed and tested byte by byte (protocols/derp.md 2.4, 4.1 to 4.5).
//
//   bytes -> HTTP requests (keep-alive; plain answers for probes, 204, debug pages)
//         -> "GET /derp" with a DERP upgrade: greeting = [101 unless fast start] + ServerKey
//         -> first frame must be ClientInfo -> accept_client_info(): open the box (proves the
//            key), decode the JSON, check the mesh key -> register, send ServerInfo
//
// HttpPhase::feed() keeps bytes that follow an upgrade request (a fast-start ClientInfo may
// share the segment) and returns them as `leftover` for the frame reader.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"
#include "derp/info.hpp"
#include "derp/keys.hpp"
#include "derpserver/http.hpp"

namespace derpserver {

inline constexpr int kMaxRequestsPerConnection = 100;

class HttpPhase {
 public:
  // Body for routes that show server state (debug pages, metrics); called during feed().
  using PageFn = std::function<std::string(HttpRoute route, const HttpRequest& req)>;

  HttpPhase(bool from_loopback, Site site, PageFn page)
      : from_loopback_(from_loopback), site_(site), page_(std::move(page)) {}

  struct Step {
    std::string out;       // bytes to write now (responses to complete requests)
    bool close = false;    // write `out`, then close
    bool upgrade = false;  // a DERP upgrade was requested: write the greeting next
    bool fast_start = false;
    std::string ideal_node;
    base::Bytes leftover;  // after an upgrade: bytes that belong to the frame stream
  };
  // An error: a malformed request (the caller answers 400 and closes).
  base::Result<Step> feed(base::ConstByteSpan in);

  int requests_served() const noexcept { return requests_; }

 private:
  HttpRequestReader reader_;
  std::string pending_;  // bytes not yet consumed by the parser
  bool from_loopback_;
  Site site_;
  int requests_ = 0;
  PageFn page_;
};

// The greeting after an upgrade: the 101 response (omitted in fast start) and the
// ServerKey frame, meant to go out in one write.
base::Bytes server_greeting(const base::NodePublicKey& server, bool fast_start);

struct AcceptedClient {
  base::NodePublicKey key;
  derp::ClientInfo info;
  bool can_mesh = false;  // the ClientInfo carried the server's mesh key
};
// Opens and checks a ClientInfo payload. A wrong mesh key is not an error: the client is
// simply not a mesh peer (its mesh-only frames will then close it). A server without a mesh
// key never grants mesh privileges. Compared in constant time.
base::Result<AcceptedClient> accept_client_info(const base::NodePrivateKey& server,
                                                const std::optional<derp::MeshKey>& mesh_key,
                                                base::ConstByteSpan payload);

// The ServerInfo frame (header included) for an accepted client.
base::Bytes server_info_frame(const base::NodePrivateKey& server,
                              const base::NodePublicKey& client);

}  // namespace derpserver
