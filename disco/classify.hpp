// SPDX-License-Identifier: MIT
// What a datagram on the shared UDP socket is, decided from its first bytes before any
// crypto (fact sheet section 2.9; Tailscale's packetLooksLike in wgengine/magicsock).
//
// In this order:
//   1. STUN binding: >= 20 bytes, top two bits of byte 0 zero, bytes 4..7 the STUN magic
//      cookie 21 12 a4 42, and byte 1 == 0x01 (binding method). Never Geneve-wrapped.
//   2. Geneve (8-byte header, RFC 8926 subset): byte 0 & 0xc0 == 0, byte 1 & 0x3f == 0,
//      byte 7 == 0, and protocol (bytes 2..3, BE) 0x7a11 with disco after the header, or
//      0x7a12 (WireGuard). 0x7a11 without disco after it is plain WireGuard; other protocol
//      values fall through.
//   3. Disco: >= 38 bytes (magic + sender key) starting with the magic.
//   4. Everything else is WireGuard, which wg::classify() then checks on its own terms.
//
// The STUN test repeats net::stun::is_stun() in two lines rather than include net/: disco/
// may use only base/. The two must agree; classify_test checks the cookie bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/bytes.hpp"

namespace disco {

inline constexpr std::size_t kStunHeaderLen = 20;
inline constexpr std::size_t kStunCookieOffset = 4;
inline constexpr std::uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr std::uint8_t kStunMethodBinding = 0x01;  // byte 1 of a binding message

inline constexpr std::size_t kGeneveHeaderLen = 8;
inline constexpr std::uint16_t kGeneveProtocolDisco = 0x7A11;
inline constexpr std::uint16_t kGeneveProtocolWireGuard = 0x7A12;
namespace off::geneve {
inline constexpr std::size_t kFlags = 1;     // 0x80: control (relay handshake)
inline constexpr std::size_t kProtocol = 2;  // u16 BE
inline constexpr std::size_t kVni = 4;       // u24 BE
inline constexpr std::size_t kReserved = 7;
}  // namespace off::geneve

enum class PacketKind : std::uint8_t {
  stun_binding,
  disco,
  wireguard,
};
std::string_view to_string(PacketKind k) noexcept;

struct Classification {
  PacketKind kind = PacketKind::wireguard;
  // The first kGeneveHeaderLen bytes are a Geneve header; `kind` is what follows it.
  bool geneve = false;
  friend bool operator==(const Classification&, const Classification&) = default;
};

// A datagram from the UDP socket.
Classification classify_udp(base::ConstByteSpan datagram) noexcept;
// A packet from a DERP frame: disco when classify_udp() says unwrapped disco (Geneve over DERP
// is never valid), else WireGuard from the frame's source node.
PacketKind classify_derp(base::ConstByteSpan packet) noexcept;

}  // namespace disco
