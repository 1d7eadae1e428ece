// SPDX-License-Identifier: MIT
#include "disco/classify.hpp"

#include "disco/envelope.hpp"

namespace disco {
namespace {

bool is_stun_binding(base::ConstByteSpan b) noexcept {
  return b.size() >= kStunHeaderLen && (static_cast<std::uint8_t>(b[0]) & 0xc0) == 0 &&
         base::load_be32(b.subspan(kStunCookieOffset)) == kStunMagicCookie &&
         static_cast<std::uint8_t>(b[1]) == kStunMethodBinding;
}

bool is_geneve_header(base::ConstByteSpan b) noexcept {
  return b.size() >= kGeneveHeaderLen && (static_cast<std::uint8_t>(b[0]) & 0xc0) == 0 &&
         (static_cast<std::uint8_t>(b[off::geneve::kFlags]) & 0x3f) == 0 &&
         b[off::geneve::kReserved] == std::byte{0};
}

}  // namespace

std::string_view to_string(PacketKind k) noexcept {
  switch (k) {
    case PacketKind::stun_binding:
      return "stun";
    case PacketKind::disco:
      return "disco";
    case PacketKind::wireguard:
      return "wireguard";
  }
  return "unknown";
}

Classification classify_udp(base::ConstByteSpan b) noexcept {
  if (is_stun_binding(b)) return {PacketKind::stun_binding, false};
  if (is_geneve_header(b)) {
    switch (base::load_be16(b.subspan(off::geneve::kProtocol))) {
      case kGeneveProtocolDisco:
        // A Geneve header that says disco over something else: WireGuard, as magicsock
        // decides (packetLooksLike, wgengine/magicsock/magicsock.go) (its bytes 2..3 differ from
        // both naked WireGuard and naked disco).
        if (looks_like_disco(b.subspan(kGeneveHeaderLen))) return {PacketKind::disco, true};
        return {PacketKind::wireguard, false};
      case kGeneveProtocolWireGuard:
        return {PacketKind::wireguard, true};
      default:
        break;  // a protocol we do not know: the bytes may be naked disco or WireGuard
    }
  }
  if (looks_like_disco(b)) return {PacketKind::disco, false};
  return {PacketKind::wireguard, false};
}

PacketKind classify_derp(base::ConstByteSpan packet) noexcept {
  const auto c = classify_udp(packet);
  return c.kind == PacketKind::disco && !c.geneve ? PacketKind::disco : PacketKind::wireguard;
}

}  // namespace disco
