// SPDX-License-Identifier: MIT
#include "derpserver/http.hpp"

#include <doctest/doctest.h>

#include "derpserver/testing/server_fixture.hpp"

namespace {

using derpserver::testing::http_get;
using derpserver::testing::ServerFixture;

TEST_CASE("route table") {
  derpserver::HttpRequest r;
  r.method = "GET";
  using derpserver::HttpRoute;
  using derpserver::Site;
  const auto route = [&](std::string path, bool loop = true, Site site = Site::main) {
    r.path = std::move(path);
    return derpserver::route_request(r, loop, site);
  };
  // 1. /derp needs an upgrade; "DERP" and plain "websocket" both upgrade, any case.
  r.upgrade = "";
  CHECK(route("/derp") == HttpRoute::upgrade_required);
  r.upgrade = "derp";
  CHECK(route("/derp") == HttpRoute::derp_upgrade);
  r.upgrade = "websocket";
  CHECK(route("/derp") == HttpRoute::derp_upgrade);
  r.ws_protocol = "derp";
  CHECK(route("/derp") == HttpRoute::websocket_unsupported);
  r.upgrade.clear();
  // 2. probes
  CHECK(route("/derp/probe") == HttpRoute::probe);
  CHECK(route("/derp/latency-check") == HttpRoute::probe);
  r.method = "POST";
  CHECK(route("/derp/probe") == HttpRoute::probe_bad_method);
  r.method = "GET";
  // 3. debug only from loopback
  CHECK(route("/debug/", true) == HttpRoute::debug_index);
  CHECK(route("/debug/", false) == HttpRoute::forbidden);
  CHECK(route("/debug/varz") == HttpRoute::debug_varz);
  r.proxied = true;  // a reverse proxy's connection comes from loopback too
  CHECK(route("/debug/", true) == HttpRoute::forbidden_proxied);
  CHECK(route("/debug/flows", true) == HttpRoute::forbidden_proxied);
  CHECK(route("/derp/probe", true) == HttpRoute::probe);
  r.proxied = false;
  // 4. metrics listener serves only metrics
  CHECK(route("/metrics", true, Site::metrics) == HttpRoute::metrics);
  CHECK(route("/derp", true, Site::metrics) == HttpRoute::not_found);
  // 5. port 80
  CHECK(route("/generate_204", false, Site::redirect) == HttpRoute::generate_204);
  CHECK(route("/x", false, Site::redirect) == HttpRoute::redirect_https);
  r.method = "PUT";
  CHECK(route("/x", false, Site::redirect) == HttpRoute::bad_request);
}

TEST_CASE("challenge echo rule (Tailscale's TestNoContent)") {
  CHECK(derpserver::valid_challenge("ts_derp99b.tailscale.com"));
  CHECK(derpserver::valid_challenge("ts_1.2.3.4:443"));
  CHECK_FALSE(derpserver::valid_challenge(std::string("a\0b", 3)));
  CHECK_FALSE(derpserver::valid_challenge("a b"));
  CHECK_FALSE(derpserver::valid_challenge(std::string(65, 'a')));
  CHECK(derpserver::valid_challenge(std::string(64, 'a')));
}

TEST_CASE("endpoints over a real socket") {
  ServerFixture f;
  f.start();
  const auto pump = f.pumper();
  auto get = [&](const std::string& path, const std::string& extra = {},
                 const std::string& method = "GET") {
    return http_get(
        pump, f.port(),
        method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n");
  };
  auto probe = get("/derp/probe");
  CHECK(probe.starts_with("HTTP/1.1 200 OK"));
  CHECK(probe.find("Access-Control-Allow-Origin: *") != std::string::npos);
  CHECK(get("/derp/latency-check", {}, "HEAD").starts_with("HTTP/1.1 200"));
  CHECK(get("/derp/probe", {}, "POST").starts_with("HTTP/1.1 405"));
  auto up = get("/derp");
  CHECK(up.starts_with("HTTP/1.1 426"));
  CHECK(up.find("DERP requires connection upgrade") != std::string::npos);
  CHECK(get("/derp/sdf").starts_with("HTTP/1.1 404"));
  auto g = get("/generate_204", "X-Tailscale-Challenge: ts_1.2.3.4\r\n");
  CHECK(g.starts_with("HTTP/1.1 204"));
  CHECK(g.find("X-Tailscale-Response: response ts_1.2.3.4\r\n") != std::string::npos);
  CHECK(g.find("Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0") !=
        std::string::npos);
  CHECK(get("/generate_204", "X-Tailscale-Challenge: bad value\r\n").find("X-Tailscale-Response") ==
        std::string::npos);
  auto dbg = get("/debug/");
  CHECK(dbg.find("server key: nodekey:" + f.server().public_key().to_hex()) != std::string::npos);
  auto varz = get("/debug/varz");
  CHECK(varz.find("derp_packets_dropped{reason=\"unknown_dest\",kind=\"disco\"} 0") !=
        std::string::npos);
  CHECK(get("/robots.txt").find("Disallow: /") != std::string::npos);
  CHECK(get("/nope").starts_with("HTTP/1.1 404"));
  // Malformed request: 400, closed.
  CHECK(http_get(pump, f.port(), "\x01\x02 nonsense\r\n\r\n").starts_with("HTTP/1.1 400"));
}

TEST_CASE("/debug/ refuses requests that came through a reverse proxy, even from loopback") {
  ServerFixture f;
  f.start();
  const auto get = [&](const std::string& path, const std::string& extra) {
    return http_get(
        f.pumper(), f.port(),
        "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n");
  };
  // 1..3: X-Forwarded-For, however spelled, even empty; 4: RFC 7239 Forwarded.
  const std::string headers[] = {"X-Forwarded-For: 203.0.113.9\r\n",
                                 "x-forwarded-for: 127.0.0.1\r\n", "X-Forwarded-For:\r\n",
                                 "Forwarded: for=203.0.113.9\r\n"};
  for (const auto& h : headers) {
    for (const std::string path : {"/debug/", "/debug/varz", "/debug/flows"}) {
      CAPTURE(h);
      CAPTURE(path);
      const auto r = get(path, h);
      CHECK(r.starts_with("HTTP/1.1 403"));
      CHECK(r.find("debug access denied: request came through a proxy") != std::string::npos);
      CHECK(r.find("server key") == std::string::npos);
    }
  }
  // Other pages are still served through a proxy.
  CHECK(get("/derp/probe", headers[0]).starts_with("HTTP/1.1 200"));
  CHECK(get("/debug/", {}).starts_with("HTTP/1.1 200"));
}

TEST_CASE("keep-alive: several requests on one connection, then the upgrade") {
  ServerFixture f;
  f.start();
  derpserver::testing::RawClient c(f.pumper());
  REQUIRE(c.connect(f.port()));
  const std::string probe = "GET /derp/probe HTTP/1.1\r\nHost: x\r\n\r\n";
  c.send(base::as_bytes(probe + probe));
  const std::string two =
      std::string(base::as_chars(c.read_bytes(200, std::chrono::milliseconds(300))));
  std::size_t n = 0;
  for (std::size_t at = 0; (at = two.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) ++n;
  CHECK(n == 2);
}

TEST_CASE("the metrics listener is loopback only and serves Prometheus text") {
  ServerFixture f;
  CHECK_FALSE(f.server().listen_metrics("0.0.0.0:0").ok());
  const auto port = f.server().listen_metrics("127.0.0.1:0");
  REQUIRE(port.ok());
  f.start();
  auto m =
      http_get(f.pumper(), *port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(m.find("# TYPE derp_current_connections gauge") != std::string::npos);
  CHECK(m.find("derp_queue_duration_seconds_bucket{le=\"+Inf\"}") != std::string::npos);
  auto no =
      http_get(f.pumper(), *port, "GET /derp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(no.starts_with("HTTP/1.1 404"));
}

}  // namespace
