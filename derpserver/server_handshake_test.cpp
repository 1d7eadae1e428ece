// SPDX-License-Identifier: MIT
#include "derpserver/server_handshake.hpp"

#include <doctest/doctest.h>

#include "derp/client_handshake.hpp"
#include "derp/frame.hpp"

namespace {

using derpserver::HttpPhase;

HttpPhase phase() {
  return HttpPhase(
      true, derpserver::Site::main,
      [](derpserver::HttpRoute, const derpserver::HttpRequest&) { return std::string("page"); });
}

TEST_CASE("bytes after the upgrade request are kept for the frame stream") {
  auto p = phase();
  const auto client = base::NodePrivateKey::generate();
  const auto server = base::NodePrivateKey::generate();
  derp::ClientHandshake hs(client, derp::default_client_info(), server.public_key());
  derp::UpgradeRequest req;
  req.host = "h";
  const auto init = hs.initial_bytes(req);  // request + ClientInfo frame in one segment
  // Fed in two pieces, cut inside the head.
  auto s1 = p.feed(base::ConstByteSpan(init).first(10));
  REQUIRE(s1.ok());
  CHECK_FALSE(s1->upgrade);
  auto s2 = p.feed(base::ConstByteSpan(init).subspan(10));
  REQUIRE(s2.ok());
  CHECK(s2->upgrade);
  CHECK(s2->fast_start);
  REQUIRE(s2->leftover.size() == 5 + 104);
  auto accepted = derpserver::accept_client_info(server, std::nullopt,
                                                 base::ConstByteSpan(s2->leftover).subspan(5));
  REQUIRE(accepted.ok());
  CHECK(accepted->key == client.public_key());
  CHECK_FALSE(accepted->can_mesh);
}

TEST_CASE("greeting: 101 with the DERP headers and ServerKey, or ServerKey alone") {
  const auto server = base::NodePrivateKey::generate();
  const auto g = derpserver::server_greeting(server.public_key(), false);
  const std::string_view text = base::as_chars(g);
  CHECK(
      text.starts_with("HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: "
                       "Upgrade\r\nDerp-Version: 2\r\nDerp-Public-Key: " +
                       server.public_key().to_hex() + "\r\n\r\n"));
  const auto fast = derpserver::server_greeting(server.public_key(), true);
  CHECK(fast.size() == 45);
  CHECK(fast[0] == std::byte{0x01});
  // A client handshake accepts the slow greeting (101 and ServerKey in one segment).
  derp::ClientHandshake hs(base::NodePrivateKey::generate(), derp::default_client_info());
  auto out = hs.feed(g);
  REQUIRE(out.ok());
  CHECK(hs.done());
  CHECK(hs.server_key() == server.public_key());
}

TEST_CASE("mesh key check: right key grants, wrong key or no server key does not") {
  const auto server = base::NodePrivateKey::generate();
  const auto client = base::NodePrivateKey::generate();
  const auto mesh = derp::MeshKey::generate();
  auto info = derp::default_client_info();
  info.mesh_key = mesh;
  const auto payload = derp::client_info_payload(client, server.public_key(), info);
  CHECK(derpserver::accept_client_info(server, mesh, payload)->can_mesh);
  CHECK_FALSE(derpserver::accept_client_info(server, derp::MeshKey::generate(), payload)->can_mesh);
  CHECK_FALSE(derpserver::accept_client_info(server, std::nullopt, payload)->can_mesh);
}

TEST_CASE("malformed and oversized requests are errors") {
  auto p = phase();
  CHECK_FALSE(p.feed(base::as_bytes("NOT HTTP\r\n\r\n")).ok());
  auto q = phase();
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a');
  CHECK_FALSE(q.feed(base::as_bytes(big)).ok());
}

TEST_CASE("non-upgrade requests get answers; Connection: close ends the phase") {
  auto p = phase();
  auto s =
      p.feed(base::as_bytes("GET /debug/ HTTP/1.1\r\nHost: x\r\n\r\nGET /derp/probe "
                            "HTTP/1.1\r\nConnection: close\r\n\r\n"));
  REQUIRE(s.ok());
  CHECK(s->out.find("page") != std::string::npos);
  CHECK(s->out.find("HTTP/1.1 200 OK") != std::string::npos);
  CHECK(s->close);
  CHECK(p.requests_served() == 2);
}

}  // namespace
