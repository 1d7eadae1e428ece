// SPDX-License-Identifier: MIT
#include "disco/classify.hpp"

#include <doctest/doctest.h>

#include <string>

#include "disco/envelope.hpp"

namespace {

using base::Bytes;
using disco::Classification;
using disco::PacketKind;

Bytes hex(std::string_view h) {
  return base::hex_bytes(h).value();
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A disco-shaped packet of `n` bytes: the magic, then 0x42s.
Bytes disco_packet(std::size_t n) {
  Bytes b(n, std::byte{0x42});
  std::copy_n(disco::kMagic.begin(), std::min(n, disco::kMagicLen), b.begin());
  return b;
}

// A WireGuard message of type `t` and length `n`: LE u32 type, then 0x77s.
Bytes wireguard(std::uint8_t t, std::size_t n) {
  Bytes b(n, std::byte{0x77});
  base::store_le32(b, t);
  return b;
}

Bytes geneve(std::string_view flags, std::string_view protocol) {
  return hex(std::string("00") + std::string(flags) + std::string(protocol) + "00000100");
}

TEST_CASE("STUN, Geneve, disco and WireGuard are told apart before any crypto") {
  // A Tailscale STUN binding request (header + SOFTWARE + FINGERPRINT); the response differs
  // in byte 0 only (0x0101), so byte 1 is 0x01 for both.
  const Bytes stun_request =
      hex("000100142112a442"
          "0102030405060708090a0b0c"
          "802200087461696c6e6f6465"
          "80280004"
          "00000000");
  Bytes stun_response = stun_request;
  stun_response[0] = std::byte{0x01};
  Bytes stun_allocate = stun_request;  // TURN Allocate (0x0003): not a binding
  stun_allocate[1] = std::byte{0x03};
  Bytes stun_no_cookie = stun_request;
  stun_no_cookie[7] = std::byte{0x43};
  Bytes stun_top_bits = stun_request;
  stun_top_bits[0] = std::byte{0x40};

  const Bytes gv_disco = geneve("00", "7a11");
  const Bytes gv_disco_control = geneve("80", "7a11");
  const Bytes gv_wg = geneve("00", "7a12");
  const Bytes gv_unknown = geneve("00", "0800");
  Bytes gv_bad_version = gv_disco;
  gv_bad_version[0] = std::byte{0x40};
  Bytes gv_reserved_bits = gv_disco;
  gv_reserved_bits[1] = std::byte{0x01};
  Bytes gv_reserved_byte = gv_disco;
  gv_reserved_byte[7] = std::byte{0x01};

  struct Row {
    int row;
    const char* what;
    Bytes packet;
    Classification want;
  };
  const Classification stun{PacketKind::stun_binding, false};
  const Classification disco_naked{PacketKind::disco, false};
  const Classification disco_geneve{PacketKind::disco, true};
  const Classification wg_naked{PacketKind::wireguard, false};
  const Classification wg_geneve{PacketKind::wireguard, true};
  const std::vector<Row> rows = {
      {1, "STUN binding request", stun_request, stun},
      {2, "STUN binding response", stun_response, stun},
      {3, "STUN header alone (20 bytes)", Bytes(stun_request.begin(), stun_request.begin() + 20),
       stun},
      {4, "19 bytes of STUN header", Bytes(stun_request.begin(), stun_request.begin() + 19),
       wg_naked},
      {5, "STUN method other than binding", stun_allocate, wg_naked},
      {6, "STUN without the magic cookie", stun_no_cookie, wg_naked},
      {7, "STUN with a top bit set", stun_top_bits, wg_naked},
      {8, "disco, 38 bytes (magic + sender)", disco_packet(38), disco_naked},
      {9, "disco, 37 bytes", disco_packet(37), wg_naked},
      {10, "disco, an unpadded ping (124 bytes)", disco_packet(124), disco_naked},
      {11, "magic with one byte wrong",
       [] {
         auto b = disco_packet(100);
         b[5] = std::byte{0xad};
         return b;
       }(),
       wg_naked},
      {12, "WireGuard initiation", wireguard(1, 148), wg_naked},
      {13, "WireGuard response", wireguard(2, 92), wg_naked},
      {14, "WireGuard cookie reply", wireguard(3, 64), wg_naked},
      {15, "WireGuard keepalive", wireguard(4, 32), wg_naked},
      {16, "empty datagram", Bytes{}, wg_naked},
      {17, "Geneve + disco", cat(gv_disco, disco_packet(100)), disco_geneve},
      {18, "Geneve (control) + disco", cat(gv_disco_control, disco_packet(100)), disco_geneve},
      {19, "Geneve says disco, 37 disco bytes follow", cat(gv_disco, disco_packet(37)), wg_naked},
      {20, "Geneve says disco, WireGuard follows", cat(gv_disco, wireguard(4, 32)), wg_naked},
      {21, "Geneve + WireGuard", cat(gv_wg, wireguard(4, 32)), wg_geneve},
      {22, "Geneve header alone, WireGuard protocol", gv_wg, wg_geneve},
      {23, "Geneve with an unknown protocol", cat(gv_unknown, disco_packet(100)), wg_naked},
      {24, "Geneve version bits set", cat(gv_bad_version, disco_packet(100)), wg_naked},
      {25, "Geneve reserved flag bits set", cat(gv_reserved_bits, disco_packet(100)), wg_naked},
      {26, "Geneve reserved byte set", cat(gv_reserved_byte, disco_packet(100)), wg_naked},
      {27, "7 bytes of Geneve header", Bytes(gv_wg.begin(), gv_wg.begin() + 7), wg_naked},
  };
  for (const auto& r : rows) {
    CAPTURE(r.row);
    CAPTURE(r.what);
    const auto got = disco::classify_udp(r.packet);
    CHECK(to_string(got.kind) == to_string(r.want.kind));
    CHECK(got.geneve == r.want.geneve);
  }
}

TEST_CASE("over DERP only unwrapped disco is disco") {
  const Bytes gv_disco = geneve("00", "7a11");
  CHECK(disco::classify_derp(disco_packet(62)) == PacketKind::disco);
  CHECK(disco::classify_derp(disco_packet(38)) == PacketKind::disco);
  CHECK(disco::classify_derp(disco_packet(37)) == PacketKind::wireguard);
  CHECK(disco::classify_derp(cat(gv_disco, disco_packet(100))) == PacketKind::wireguard);
  CHECK(disco::classify_derp(wireguard(4, 48)) == PacketKind::wireguard);
}

TEST_CASE("the STUN cookie constant is the RFC 5389 one, bytes 21 12 a4 42") {
  std::byte b[4];
  base::store_be32(b, disco::kStunMagicCookie);
  CHECK(base::to_hex(b) == "2112a442");
}

}  // namespace
