// SPDX-License-Identifier: MIT
#include "derpserver/http.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace derpserver {
namespace {

namespace http = boost::beast::http;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    default:
      return "Unknown";
  }
}

}  // namespace

struct HttpRequestReader::Impl {
  std::unique_ptr<http::request_parser<http::string_body>> parser;
  void make() {
    parser = std::make_unique<http::request_parser<http::string_body>>();
    parser->header_limit(kMaxRequestHeadLen);
    parser->body_limit(kMaxRequestBodyLen);
    parser->eager(true);
  }
};

HttpRequestReader::HttpRequestReader() : impl_(std::make_unique<Impl>()) {
  impl_->make();
}
HttpRequestReader::~HttpRequestReader() = default;

base::Result<std::size_t> HttpRequestReader::feed(std::string_view in) {
  std::size_t used = 0;
  while (!impl_->parser->is_done() && used < in.size()) {
    boost::beast::error_code ec;
    const std::size_t n =
        impl_->parser->put(boost::asio::const_buffer(in.data() + used, in.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) break;
    if (ec) return base::make_error(std::errc::protocol_error, "http: " + ec.message());
    if (n == 0) break;
  }
  return used;
}

bool HttpRequestReader::done() const noexcept {
  return impl_->parser->is_done();
}

HttpRequest HttpRequestReader::request() const {
  const auto& m = impl_->parser->get();
  HttpRequest r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  r.path = r.target.substr(0, r.target.find('?'));
  r.keep_alive = m.keep_alive();
  r.upgrade = lower(m[http::field::upgrade]);
  r.host = std::string(m[http::field::host]);
  r.fast_start = m["Derp-Fast-Start"] == "1";
  r.ideal_node = std::string(m["Ideal-Node"]);
  if (auto it = m.find("X-Tailscale-Challenge"); it != m.end()) {
    r.has_challenge = true;
    r.challenge = std::string(it->value());
  }
  r.ws_protocol = std::string(m[http::field::sec_websocket_protocol]);
  r.proxied = m.find("X-Forwarded-For") != m.end() || m.find("Forwarded") != m.end();
  return r;
}

void HttpRequestReader::reset() {
  impl_->make();
}

bool valid_challenge(std::string_view c) noexcept {
  if (c.size() > kMaxChallengeLen) return false;
  for (char ch : c) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

HttpRoute route_request(const HttpRequest& req, bool from_loopback, Site site) {
  if (site == Site::metrics) {
    return req.path == "/metrics" || req.path == "/" ? HttpRoute::metrics : HttpRoute::not_found;
  }
  if (site == Site::redirect) {
    if (req.path == "/generate_204") return HttpRoute::generate_204;
    if (req.path == "/debug" || req.path.starts_with("/debug/")) {
      HttpRoute r = route_request(req, from_loopback, Site::main);
      return r;
    }
    return req.method == "GET" || req.method == "HEAD" ? HttpRoute::redirect_https
                                                       : HttpRoute::bad_request;
  }
  if (req.path == "/derp/probe" || req.path == "/derp/latency-check") {
    return req.method == "GET" || req.method == "HEAD" ? HttpRoute::probe
                                                       : HttpRoute::probe_bad_method;
  }
  if (req.path == "/derp") {
    // The method and Connection header are not checked, as in Go.
    if (req.upgrade == "websocket" && req.ws_protocol.find("derp") != std::string::npos) {
      return HttpRoute::websocket_unsupported;
    }
    // "websocket" without the subprotocol: very old clients that spoke raw DERP framing.
    if (req.upgrade == "derp" || req.upgrade == "websocket") return HttpRoute::derp_upgrade;
    return HttpRoute::upgrade_required;
  }
  if (req.path == "/generate_204") return HttpRoute::generate_204;
  if (req.path == "/debug" || req.path.starts_with("/debug/")) {
    if (!from_loopback) return HttpRoute::forbidden;
    // A reverse proxy on this host connects from loopback on behalf of anyone (as Tailscale's
    // AllowDebugAccess in tsweb/tsweb.go, which refuses a non-empty X-Forwarded-For; here any
    // value, and RFC 7239 Forwarded too).
    if (req.proxied) return HttpRoute::forbidden_proxied;
    if (req.path == "/debug/varz") return HttpRoute::debug_varz;
    if (req.path == "/debug/flows") return HttpRoute::debug_flows;
    if (req.path == "/debug/" || req.path == "/debug") return HttpRoute::debug_index;
    return HttpRoute::not_found;
  }
  if (req.path == "/") return HttpRoute::home;
  if (req.path == "/robots.txt") return HttpRoute::robots;
  return HttpRoute::not_found;
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, bool head_only, std::string_view extra_headers) {
  std::string out;
  out.reserve(160 + body.size() + extra_headers.size());
  out += "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  out += extra_headers;
  if (status != 204) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  if (!head_only && status != 204) out += body;
  return out;
}

std::string simple_route_response(HttpRoute route, const HttpRequest& req, std::string_view body) {
  const bool head = req.method == "HEAD";
  const bool ka = req.keep_alive;
  switch (route) {
    case HttpRoute::upgrade_required:
      return http_response(426, "text/plain; charset=utf-8", "DERP requires connection upgrade", ka,
                           head);
    case HttpRoute::websocket_unsupported:
      return http_response(501, "text/plain; charset=utf-8",
                           "DERP over WebSocket is not supported by this server\n", false, head);
    case HttpRoute::probe:
      return http_response(200, {}, {}, ka, head, "Access-Control-Allow-Origin: *\r\n");
    case HttpRoute::probe_bad_method:
      return http_response(405, "text/plain; charset=utf-8", "bogus probe method\n", ka, head);
    case HttpRoute::generate_204: {
      std::string extra =
          "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0\r\n";
      if (req.has_challenge && valid_challenge(req.challenge)) {
        extra += "X-Tailscale-Response: response " + req.challenge + "\r\n";
      }
      return http_response(204, {}, {}, ka, head, extra);
    }
    case HttpRoute::forbidden:
      return http_response(403, "text/plain; charset=utf-8", "debug access denied\n", ka, head);
    case HttpRoute::forbidden_proxied:
      return http_response(403, "text/plain; charset=utf-8",
                           "debug access denied: request came through a proxy (X-Forwarded-For "
                           "or Forwarded); ask on the server's loopback address directly\n",
                           ka, head);
    case HttpRoute::robots:
      return http_response(200, "text/plain; charset=utf-8", "User-agent: *\nDisallow: /\n", ka,
                           head);
    case HttpRoute::home:
      return http_response(200, "text/html; charset=utf-8",
                           "<html><body><h1>DERP</h1><p>This is a meshtun-derper DERP relay "
                           "server.</p></body></html>\n",
                           ka, head);
    case HttpRoute::debug_index:
    case HttpRoute::debug_flows:
      return http_response(200, "text/plain; charset=utf-8", body, ka, head);
    case HttpRoute::debug_varz:
    case HttpRoute::metrics:
      return http_response(200, "text/plain; version=0.0.4; charset=utf-8", body, ka, head);
    case HttpRoute::redirect_https:
      return http_response(302, "text/html; charset=utf-8", "", ka, head,
                           "Location: https://" + req.host + req.target + "\r\n");
    case HttpRoute::bad_request:
      return http_response(400, "text/plain; charset=utf-8", "400 Bad Request\n", ka, head);
    case HttpRoute::not_found:
    case HttpRoute::derp_upgrade:
      break;
  }
  return http_response(404, "text/plain; charset=utf-8", "404 page not found\n", ka, head);
}

std::string upgrade_response(std::string_view server_key_hex) {
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: DERP\r\n"
      "Connection: Upgrade\r\n"
      "Derp-Version: 2\r\n"
      "Derp-Public-Key: ";
  out += server_key_hex;
  out += "\r\n\r\n";
  return out;
}

}  // namespace derpserver
