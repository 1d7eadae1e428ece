// SPDX-License-Identifier: MIT
#include "derp/frame.hpp"

#include <doctest/doctest.h>

namespace {

using base::Bytes;
using derp::Frame;

std::string hex(const Bytes& b) {
  return base::to_hex(b);
}

base::NodePublicKey key_of(std::uint8_t fill) {
  base::KeyBytes k;
  k.fill(std::byte{fill});
  return base::NodePublicKey(k);
}

Bytes bytes(std::string_view h) {
  return base::hex_bytes(h).value();
}

// Decodes the one frame in `wire` (header included).
base::Result<Frame> decode_wire(const Bytes& wire, bool from_client) {
  REQUIRE(wire.size() >= derp::kFrameHeaderLen);
  const auto h = derp::read_frame_header(
      std::span<const std::byte, derp::kFrameHeaderLen>(wire.data(), derp::kFrameHeaderLen));
  REQUIRE(h.length == wire.size() - derp::kFrameHeaderLen);
  const base::ConstByteSpan payload(wire.data() + derp::kFrameHeaderLen, h.length);
  return from_client ? derp::decode_from_client(h.type, payload)
                     : derp::decode_from_server(h.type, payload);
}

TEST_CASE("frame header: type and big-endian length, including 0 and 0xffffffff") {
  std::array<std::byte, 5> b{};
  derp::write_frame_header(b, std::uint8_t{0x12}, 0x01020304);
  CHECK(base::to_hex(b) == "1201020304");
  auto h = derp::read_frame_header(b);
  CHECK(h.type == 0x12);
  CHECK(h.length == 0x01020304u);
  derp::write_frame_header(b, derp::FrameType::keep_alive, 0);
  CHECK(base::to_hex(b) == "0600000000");
  derp::write_frame_header(b, std::uint8_t{0xff}, 0xffffffffu);
  CHECK(derp::read_frame_header(b).length == 0xffffffffu);
}

TEST_CASE("golden frames for every type") {
  const auto k1 = key_of(0x11);
  const auto k2 = key_of(0x22);
  const std::string k1h = k1.to_hex();
  const std::string k2h = k2.to_hex();
  Bytes out;
  // 1. ServerKey: 01 00000028 magic key
  derp::encode_server_key(out, k1);
  CHECK(hex(out) ==
        "0100000028"
        "44455250f09f9491" +
            k1h);
  // 2. SendPacket
  out.clear();
  derp::encode_send_packet(out, k2, bytes("abcd"));
  CHECK(hex(out) == "0400000022" + k2h + "abcd");
  // 3. RecvPacket
  out.clear();
  derp::encode_recv_packet(out, k1, bytes("01"));
  CHECK(hex(out) == "0500000021" + k1h + "01");
  // 4. KeepAlive
  out.clear();
  derp::encode_keep_alive(out);
  CHECK(hex(out) == "0600000000");
  // 5. NotePreferred
  out.clear();
  derp::encode_note_preferred(out, true);
  derp::encode_note_preferred(out, false);
  CHECK(hex(out) ==
        "070000000101"
        "070000000100");
  // 6. PeerGone with reason
  out.clear();
  derp::encode_peer_gone(out, k1, derp::PeerGoneReason::not_here);
  CHECK(hex(out) == "0800000021" + k1h + "01");
  // 7. PeerPresent, IPv4 mapped, port, flags
  out.clear();
  derp::encode_peer_present(out, k2, *base::Endpoint::parse("1.2.3.4:258"),
                            derp::peer_flags::kIsRegular);
  CHECK(hex(out) == "0900000033" + k2h +
                        "00000000000000000000ffff01020304"
                        "0102"
                        "01");
  // 8. ForwardPacket
  out.clear();
  derp::encode_forward_packet(out, k1, k2, bytes("ff"));
  CHECK(hex(out) == "0a00000041" + k1h + k2h + "ff");
  // 9. WatchConns, ClosePeer
  out.clear();
  derp::encode_watch_conns(out);
  derp::encode_close_peer(out, k1);
  CHECK(hex(out) ==
        "1000000000"
        "1100000020" +
            k1h);
  // 10. Ping / Pong (Tailscale's TestClientSendPing bytes)
  out.clear();
  const auto p = bytes("010203040506072a");
  derp::encode_ping(out, std::span<const std::byte, 8>(p.data(), 8));
  derp::encode_pong(out, std::span<const std::byte, 8>(p.data(), 8));
  CHECK(hex(out) ==
        "1200000008010203040506072a"
        "1300000008010203040506072a");
  // 11. Health, Restarting
  out.clear();
  derp::encode_health(out, "hi");
  derp::encode_restarting(out, 1, 2);
  CHECK(hex(out) ==
        "14000000026869"
        "15000000080000000100000002");
}

TEST_CASE("server-side decoding is strict") {
  const auto k = key_of(0x33);
  SUBCASE("SendPacket: 64 KiB of data accepted, 64 KiB + 1 refused, < 32 refused") {
    Bytes out;
    derp::encode_send_packet(out, k, Bytes(derp::kMaxPacketSize));
    auto f = decode_wire(out, true);
    REQUIRE(f.ok());
    CHECK(std::get<derp::SendPacketFrame>(*f).data.size() == derp::kMaxPacketSize);
    out.clear();
    derp::encode_send_packet(out, k, Bytes(derp::kMaxPacketSize + 1));
    CHECK_FALSE(decode_wire(out, true).ok());
    CHECK_FALSE(derp::decode_from_client(0x04, Bytes(31)).ok());
  }
  SUBCASE("NotePreferred must be exactly one byte; any non-zero byte means true") {
    CHECK_FALSE(derp::decode_from_client(0x07, Bytes{}).ok());
    CHECK_FALSE(derp::decode_from_client(0x07, Bytes(2)).ok());
    auto f = derp::decode_from_client(0x07, bytes("7f"));
    REQUIRE(f.ok());
    CHECK(std::get<derp::NotePreferredFrame>(*f).preferred);
  }
  SUBCASE("WatchConns empty, ClosePeer 32, Ping 8..1000, ForwardPacket >= 64") {
    CHECK(derp::decode_from_client(0x10, Bytes{}).ok());
    CHECK_FALSE(derp::decode_from_client(0x10, Bytes(1)).ok());
    CHECK(derp::decode_from_client(0x11, Bytes(32)).ok());
    CHECK_FALSE(derp::decode_from_client(0x11, Bytes(33)).ok());
    CHECK_FALSE(derp::decode_from_client(0x12, Bytes(7)).ok());
    CHECK(derp::decode_from_client(0x12, Bytes(1000)).ok());
    CHECK_FALSE(derp::decode_from_client(0x12, Bytes(1001)).ok());
    CHECK_FALSE(derp::decode_from_client(0x0a, Bytes(63)).ok());
    CHECK(derp::decode_from_client(0x0a, Bytes(64)).ok());
  }
  SUBCASE("ClientInfo 56..256 KiB") {
    CHECK_FALSE(derp::decode_from_client(0x02, Bytes(55)).ok());
    CHECK(derp::decode_from_client(0x02, Bytes(56)).ok());
    CHECK_FALSE(derp::decode_from_client(0x02, Bytes(256 * 1024 + 1)).ok());
  }
  SUBCASE("Pong and unassigned types are skipped, not errors") {
    auto f = derp::decode_from_client(0x13, Bytes(8));
    REQUIRE(f.ok());
    CHECK(std::holds_alternative<derp::UnknownFrame>(*f));
    f = derp::decode_from_client(0x0b, Bytes(3));
    REQUIRE(f.ok());
    CHECK(std::get<derp::UnknownFrame>(*f).type == 0x0b);
  }
}

TEST_CASE("client-side decoding is tolerant") {
  const auto k = key_of(0x44);
  SUBCASE("PeerPresent at 32, 50, 51 and 60 bytes") {
    Bytes full;
    derp::encode_peer_present(full, k, *base::Endpoint::parse("[fd00::1]:41641"),
                              derp::peer_flags::kIsMeshPeer);
    const base::ConstByteSpan payload(full.data() + 5, full.size() - 5);
    auto f32 = derp::decode_from_server(0x09, payload.first(32));
    REQUIRE(f32.ok());
    auto& p32 = std::get<derp::PeerPresentFrame>(*f32);
    CHECK(p32.peer == k);
    CHECK_FALSE(p32.has_endpoint);
    auto f50 = derp::decode_from_server(0x09, payload.first(50));
    auto& p50 = std::get<derp::PeerPresentFrame>(*f50);
    CHECK(p50.endpoint.to_string() == "[fd00::1]:41641");
    CHECK_FALSE(p50.has_flags);
    auto f51 = derp::decode_from_server(0x09, payload);
    CHECK(std::get<derp::PeerPresentFrame>(*f51).flags == derp::peer_flags::kIsMeshPeer);
    Bytes longer(payload.begin(), payload.end());
    longer.resize(60);
    auto f60 = derp::decode_from_server(0x09, longer);
    CHECK(derp::frame_equal(*f60, *f51));
    // IPv4 arrives IPv4-mapped and comes out unmapped.
    Bytes v4;
    derp::encode_peer_present(v4, k, *base::Endpoint::parse("10.1.2.3:7"), 1);
    auto fv4 = decode_wire(v4, false);
    CHECK(std::get<derp::PeerPresentFrame>(*fv4).endpoint.to_string() == "10.1.2.3:7");
    // Short ones are dropped.
    CHECK(std::holds_alternative<derp::UnknownFrame>(*derp::decode_from_server(0x09, Bytes(31))));
  }
  SUBCASE("PeerGone: 32 bytes means Disconnected; 33 carries the reason") {
    Bytes g;
    derp::encode_peer_gone(g, k, derp::PeerGoneReason::not_here);
    const base::ConstByteSpan payload(g.data() + 5, g.size() - 5);
    CHECK(std::get<derp::PeerGoneFrame>(*derp::decode_from_server(0x08, payload)).reason ==
          derp::PeerGoneReason::not_here);
    CHECK(
        std::get<derp::PeerGoneFrame>(*derp::decode_from_server(0x08, payload.first(32))).reason ==
        derp::PeerGoneReason::disconnected);
  }
  SUBCASE("Ping, Pong, Health, Restarting (Tailscale's TestClientRecv)") {
    auto ping = derp::decode_from_server(0x12, bytes("0102030405060708"));
    CHECK(base::to_hex(std::get<derp::PingFrame>(*ping).data) == "0102030405060708");
    CHECK(std::holds_alternative<derp::UnknownFrame>(*derp::decode_from_server(0x12, Bytes(7))));
    auto health = derp::decode_from_server(0x14, base::as_bytes("go away"));
    CHECK(std::get<derp::HealthFrame>(*health).problem == "go away");
    auto empty = derp::decode_from_server(0x14, Bytes{});
    CHECK(std::get<derp::HealthFrame>(*empty).problem.empty());
    auto r = derp::decode_from_server(0x15, bytes("0000000100000002"));
    CHECK(std::get<derp::RestartingFrame>(*r).reconnect_in_ms == 1);
    CHECK(std::get<derp::RestartingFrame>(*r).try_for_ms == 2);
  }
  SUBCASE("ServerInfo under 24 bytes kills the connection; short RecvPacket is dropped") {
    CHECK_FALSE(derp::decode_from_server(0x03, Bytes(23)).ok());
    CHECK(std::holds_alternative<derp::UnknownFrame>(*derp::decode_from_server(0x05, Bytes(31))));
  }
}

TEST_CASE("decode -> encode -> decode round trips for every type") {
  const auto k1 = key_of(1);
  const auto k2 = key_of(2);
  const Bytes data = bytes("0102030405");
  const std::array<std::byte, 8> ping{std::byte{9}};
  std::vector<std::pair<Frame, bool>> frames = {
      {derp::SendPacketFrame{k1, data}, true},
      {derp::ForwardPacketFrame{k1, k2, data}, true},
      {derp::NotePreferredFrame{true}, true},
      {derp::WatchConnsFrame{}, true},
      {derp::ClosePeerFrame{k2}, true},
      {derp::PingFrame{ping}, true},
      {derp::ServerKeyFrame{k1}, false},
      {derp::RecvPacketFrame{k2, data}, false},
      {derp::KeepAliveFrame{}, false},
      {derp::PeerGoneFrame{k1, derp::PeerGoneReason::not_here}, false},
      {derp::PeerPresentFrame{k2, *base::Endpoint::parse("1.2.3.4:5"), 3, true, true}, false},
      {derp::PingFrame{ping}, false},
      {derp::PongFrame{ping}, false},
      {derp::HealthFrame{"x"}, false},
      {derp::RestartingFrame{10, 20}, false},
      {derp::UnknownFrame{0x77, data}, false},
  };
  for (std::size_t i = 0; i < frames.size(); ++i) {
    CAPTURE(i);
    Bytes wire;
    derp::encode_frame(wire, frames[i].first);
    auto back = decode_wire(wire, frames[i].second);
    REQUIRE(back.ok());
    CHECK(derp::frame_equal(*back, frames[i].first));
  }
}

TEST_CASE("disco detection: magic and at least 62 bytes") {
  Bytes d(62);
  std::copy(derp::kDiscoMagic.begin(), derp::kDiscoMagic.end(), d.begin());
  CHECK(derp::looks_like_disco(d));
  d.pop_back();
  CHECK_FALSE(derp::looks_like_disco(d));
  Bytes w(100);
  CHECK_FALSE(derp::looks_like_disco(w));
}

TEST_CASE("read limits: handshake allows only the greeting frame") {
  using A = derp::ReadLimit::Action;
  CHECK(derp::server_read_limit(0x02, false).action == A::deliver);
  CHECK(derp::server_read_limit(0x04, false).action == A::reject);
  CHECK(derp::server_read_limit(0x04, true).max_len == 32 + 65536);
  CHECK(derp::server_read_limit(0x02, true).action == A::skip);  // repeated ClientInfo
  CHECK(derp::server_read_limit(0x13, true).action == A::skip);  // Pong
  CHECK(derp::client_read_limit(0x01, false).max_len == 1024);
  CHECK(derp::client_read_limit(0x05, false).action == A::reject);
  CHECK(derp::client_read_limit(0x01, true).action == A::skip);
  CHECK(derp::client_read_limit(0x55, true).max_len == 1u << 20);
}

}  // namespace
