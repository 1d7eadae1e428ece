// SPDX-License-Identifier: MIT
#include "derp/info.hpp"

#include <doctest/doctest.h>

#include "derp/frame.hpp"

namespace {

const std::string kMesh = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST_CASE("ClientInfo JSON is what Go writes") {
  auto info = derp::default_client_info();
  CHECK(derp::client_info_json(info) == R"({"version":2,"CanAckPings":true})");
  CHECK(derp::client_info_json(info).size() == 32);
  info.mesh_key = derp::MeshKey::parse(kMesh).value();
  info.is_prober = true;
  info.app_name = "meshtun";
  CHECK(derp::client_info_json(info) ==
        R"({"meshKey":")" + kMesh +
            R"(","version":2,"CanAckPings":true,"IsProber":true,"AppName":"meshtun"})");
  CHECK(derp::client_info_json(derp::ClientInfo{}) == R"({"CanAckPings":false})");
}

TEST_CASE("ClientInfo strings: Go escapes HTML characters, we need not; both decode alike") {
  auto info = derp::default_client_info();
  info.app_name = "a<b>&\"c\"";
  auto back = derp::parse_client_info_json(derp::client_info_json(info));
  REQUIRE(back.ok());
  CHECK(back->app_name == info.app_name);
  // What Go's encoding/json writes for the same name.
  auto from_go = derp::parse_client_info_json(R"({"AppName":"a\u003cb\u003e\u0026\"c\""})");
  REQUIRE(from_go.ok());
  CHECK(from_go->app_name == info.app_name);
}

TEST_CASE("ClientInfo decoding follows Go (TestClientInfoUnmarshal)") {
  // 1. empty object
  auto a = derp::parse_client_info_json("{}");
  REQUIRE(a.ok());
  CHECK_FALSE(a->mesh_key.has_value());
  CHECK(a->version == 0);
  // 2. keys in any case; unknown keys ignored, including nested values
  auto b = derp::parse_client_info_json(R"({"VERSION":2,"MeshKey":")" + kMesh +
                                        R"(","canackpings":true,"x":{"y":[1,2,{}]}})");
  REQUIRE(b.ok());
  CHECK(b->version == 2);
  CHECK(b->can_ack_pings);
  CHECK(b->mesh_key->to_string() == kMesh);
  // 3. mesh keys too short or too long, or empty, are errors
  CHECK_FALSE(derp::parse_client_info_json(R"({"meshKey":"abcd"})").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"({"meshKey":")" + kMesh + R"(0"})").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"({"meshKey":""})").ok());
  // 4. wrong types and malformed JSON are errors; null is "unset"
  CHECK_FALSE(derp::parse_client_info_json(R"({"version":"2"})").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"({"version":2.5})").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"({"CanAckPings":1})").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"({"version":2} x)").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"({"version":2)").ok());
  CHECK_FALSE(derp::parse_client_info_json(R"([])").ok());
  CHECK(derp::parse_client_info_json(R"({"meshKey":null,"version":null})").ok());
  // 5. escaped key names still match
  auto c = derp::parse_client_info_json(R"({"\u0076ersion":7})");
  REQUIRE(c.ok());
  CHECK(c->version == 7);
}

TEST_CASE("ServerInfo JSON") {
  derp::ServerInfo si;
  si.version = 2;
  CHECK(derp::server_info_json(si) == R"({"version":2})");
  si.token_bucket_bytes_per_second = 10;
  si.token_bucket_bytes_burst = 20;
  auto back = derp::parse_server_info_json(derp::server_info_json(si));
  REQUIRE(back.ok());
  CHECK(back->token_bucket_bytes_per_second == 10);
  CHECK(back->token_bucket_bytes_burst == 20);
}

TEST_CASE("sealed ClientInfo opens on the server and proves the key; tampering fails") {
  const auto client = base::NodePrivateKey::generate();
  const auto server = base::NodePrivateKey::generate();
  const auto payload =
      derp::client_info_payload(client, server.public_key(), derp::default_client_info());
  // 32 key + 24 nonce + 16 tag + 32 JSON = 104, the size a Go client sends.
  CHECK(payload.size() == 104);
  auto opened = derp::open_client_info(server, payload);
  REQUIRE(opened.ok());
  CHECK(opened->client == client.public_key());
  CHECK(opened->info.can_ack_pings);

  auto tampered = payload;
  tampered.back() ^= std::byte{1};
  CHECK_FALSE(derp::open_client_info(server, tampered).ok());
  // Claiming someone else's key: the box does not open.
  auto spoofed = payload;
  const auto other = base::NodePrivateKey::generate().public_key();
  std::copy(other.bytes().begin(), other.bytes().end(), spoofed.begin());
  CHECK_FALSE(derp::open_client_info(server, spoofed).ok());
}

TEST_CASE("sealed ServerInfo is 53 bytes and opens on the client") {
  const auto client = base::NodePrivateKey::generate();
  const auto server = base::NodePrivateKey::generate();
  derp::ServerInfo si;
  si.version = derp::kProtocolVersion;
  const auto payload = derp::server_info_payload(server, client.public_key(), si);
  CHECK(payload.size() == 53);
  auto opened = derp::open_server_info(client, server.public_key(), payload);
  REQUIRE(opened.ok());
  CHECK(opened->version == 2);
  CHECK_FALSE(derp::open_server_info(client, client.public_key(), payload).ok());
}

}  // namespace
