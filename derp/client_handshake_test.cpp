// SPDX-License-Identifier: MIT
#include "derp/client_handshake.hpp"

#include <doctest/doctest.h>

#include "derp/frame.hpp"

namespace {

using base::Bytes;

Bytes text_bytes(std::string_view s) {
  return Bytes(base::as_bytes(s).begin(), base::as_bytes(s).end());
}

TEST_CASE("the upgrade request is what a Go client writes") {
  derp::UpgradeRequest req;
  req.host = "derp.example:8443";
  CHECK(derp::upgrade_request_text(req) ==
        "GET /derp HTTP/1.1\r\nHost: derp.example:8443\r\nUser-Agent: Go-http-client/1.1\r\n"
        "Connection: Upgrade\r\nUpgrade: DERP\r\n\r\n");
  req.fast_start = true;
  req.ideal_node = "1a";
  const auto t = derp::upgrade_request_text(req);
  CHECK(t.find("Derp-Fast-Start: 1\r\n") != std::string::npos);
  CHECK(t.find("Ideal-Node: 1a\r\n") != std::string::npos);
}

TEST_CASE("101 and ServerKey in one segment, then frames behind them") {
  const auto client = base::NodePrivateKey::generate();
  const auto server = base::NodePrivateKey::generate();
  derp::ClientHandshake hs(client, derp::default_client_info());
  CHECK(hs.state() == derp::ClientHandshake::State::http_response);
  Bytes in = text_bytes(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
      "Derp-Version: 2\r\nDerp-Public-Key: " +
      server.public_key().to_hex() + "\r\n\r\n");
  derp::encode_server_key(in, server.public_key());
  derp::encode_keep_alive(in);
  // Fed one byte at a time: nothing to send until the ServerKey frame is whole.
  Bytes to_send;
  for (std::size_t i = 0; i < in.size() && !hs.done(); ++i) {
    auto out = hs.feed(base::ConstByteSpan(&in[i], 1));
    REQUIRE(out.ok());
    to_send.insert(to_send.end(), out->begin(), out->end());
  }
  REQUIRE(hs.done());
  CHECK(hs.server_key() == server.public_key());
  CHECK(hs.http_status() == 101);
  // The last byte fed completed the ServerKey frame; the keepalive remains unread.
  REQUIRE(to_send.size() == 5 + 104);
  CHECK(to_send[0] == std::byte{0x02});
  auto opened = derp::open_client_info(server, base::ConstByteSpan(to_send).subspan(5));
  REQUIRE(opened.ok());
  CHECK(opened->client == client.public_key());

  derp::ClientHandshake hs2(client, derp::default_client_info());
  REQUIRE(hs2.feed(in).ok());
  CHECK(base::to_hex(hs2.take_remaining()) == "0600000000");
}

TEST_CASE("a refused upgrade and a bad greeting are errors") {
  const auto client = base::NodePrivateKey::generate();
  derp::ClientHandshake a(client, derp::default_client_info());
  auto r = a.feed(text_bytes("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(r.ok());
  CHECK(a.http_status() == 426);

  derp::ClientHandshake b(client, derp::default_client_info());
  Bytes in = text_bytes("HTTP/1.1 101 OK\n\n");  // bare LF accepted
  derp::encode_keep_alive(in);
  CHECK_FALSE(b.feed(in).ok());

  derp::ClientHandshake c(client, derp::default_client_info());
  Bytes bad_magic = text_bytes("HTTP/1.1 101 OK\r\n\r\n");
  Bytes frame;
  derp::encode_frame(frame, derp::UnknownFrame{0x01, Bytes(40)});
  bad_magic.insert(bad_magic.end(), frame.begin(), frame.end());
  CHECK_FALSE(c.feed(bad_magic).ok());

  derp::ClientHandshake d(client, derp::default_client_info());
  CHECK_FALSE(d.feed(Bytes(derp::kMaxResponseHeadLen + 1, std::byte{'a'})).ok());
}

TEST_CASE("fast start: ClientInfo rides behind the request; no 101 expected") {
  const auto client = base::NodePrivateKey::generate();
  const auto server = base::NodePrivateKey::generate();
  derp::ClientHandshake hs(client, derp::default_client_info(), server.public_key());
  CHECK(hs.done());
  derp::UpgradeRequest req;
  req.host = "h";
  const Bytes init = hs.initial_bytes(req);
  const std::string_view text = base::as_chars(init);
  const std::size_t end = text.find("\r\n\r\n");
  REQUIRE(end != std::string_view::npos);
  CHECK(text.substr(0, end).find("Derp-Fast-Start: 1") != std::string_view::npos);
  const auto frame = base::ConstByteSpan(init).subspan(end + 4);
  REQUIRE(frame.size() == 5 + 104);
  CHECK(derp::open_client_info(server, frame.subspan(5)).ok());
}

}  // namespace
