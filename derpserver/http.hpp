// SPDX-License-Identifier: MIT
// HTTP/1.1 in front of DERP: reading one request at a time (Beast's parser, fed by hand so
// that bytes after the request head stay ours), deciding what a request is for, and
// writing the plain responses (protocols/derp.md 2.4 and 2.7).
//
//   /derp                       Upgrade: DERP or websocket (any case) -> DERP; else 426
//   /derp/probe, /latency-check GET/HEAD -> 200 with Access-Control-Allow-Origin: *; else 405
//   /generate_204               204, echoing a valid X-Tailscale-Challenge
//   /debug/, /debug/varz,       loopback peers only, and only without X-Forwarded-For or
//   /debug/flows                Forwarded (behind a reverse proxy everything looks local);
//                               403 otherwise
//   /metrics                    on the metrics listener only (which serves nothing else)
//   /, /robots.txt              home page, disallow-all
// Port 80 (TLS mode) serves /generate_204 and /debug/ and redirects other GET/HEAD requests
// to https; DERP is not served there.
//
// Not thread safe; one HttpRequestReader per connection, alive only until the upgrade.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace derpserver {

inline constexpr std::size_t kMaxRequestHeadLen = 8192;
inline constexpr std::size_t kMaxRequestBodyLen = 4096;
inline constexpr std::size_t kMaxChallengeLen = 64;

struct HttpRequest {
  std::string method;  // as sent ("GET")
  std::string target;  // as sent ("/derp?x=1")
  std::string path;    // target without the query
  bool keep_alive = false;
  std::string upgrade;  // lowercased Upgrade header
  std::string host;
  bool fast_start = false;  // Derp-Fast-Start: 1
  std::string ideal_node;   // Ideal-Node
  std::string challenge;    // X-Tailscale-Challenge (raw)
  bool has_challenge = false;
  std::string ws_protocol;  // Sec-WebSocket-Protocol
  bool proxied = false;     // has X-Forwarded-For or Forwarded (any value, even empty)
};

// Feeds bytes to Beast's request parser. feed() returns how many bytes of `in` belong to
// the request (head and body); the rest (e.g. a fast-start ClientInfo frame) is the
// caller's. done() once a whole request has been read; reset() for the next one.
class HttpRequestReader {
 public:
  HttpRequestReader();
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Errors: malformed request, head over kMaxRequestHeadLen, body over kMaxRequestBodyLen.
  base::Result<std::size_t> feed(std::string_view in);
  bool done() const noexcept;
  // Valid once done().
  HttpRequest request() const;
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Which listener a request came to.
enum class Site : std::uint8_t {
  main,      // the DERP listener (TLS, or plain HTTP in --dev)
  metrics,   // the loopback-only metrics listener: /metrics only
  redirect,  // port 80 in TLS mode: /generate_204, /debug/, else redirect to https
};

enum class HttpRoute : std::uint8_t {
  derp_upgrade,
  upgrade_required,       // 426 at /derp without a DERP upgrade
  websocket_unsupported,  // a real WebSocket upgrade (subprotocol "derp"): not implemented  // 426
                          // at /derp without a DERP upgrade
  probe,
  probe_bad_method,
  generate_204,
  debug_index,
  debug_varz,
  debug_flows,
  forbidden,          // /debug/ from a peer that is not loopback
  forbidden_proxied,  // /debug/ with X-Forwarded-For or Forwarded
  metrics,
  home,
  robots,
  redirect_https,  // port 80: 302 to https://<host><target>
  bad_request,     // port 80: methods other than GET/HEAD
  not_found,
};

// `from_loopback`: the peer's address is a loopback one (debug pages are served to it only).
HttpRoute route_request(const HttpRequest& req, bool from_loopback, Site site);

// The challenge echo rule: at most 64 bytes of [A-Za-z0-9._:-].
bool valid_challenge(std::string_view c) noexcept;

// A complete response. HEAD requests get the headers and no body.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, bool head_only = false,
                          std::string_view extra_headers = {});
// The answer to a non-DERP route that needs no server state (probe, 204, 404, ...).
// `extra` is the body for routes that take one (debug pages), produced by the caller.
std::string simple_route_response(HttpRoute route, const HttpRequest& req, std::string_view body);

// 101 Switching Protocols with Derp-Version and Derp-Public-Key.
std::string upgrade_response(std::string_view server_key_hex);

}  // namespace derpserver
