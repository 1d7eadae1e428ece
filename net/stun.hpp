// SPDX-License-Identifier: MIT
// STUN (RFC 5389) binding requests and responses, as Tailscale's clients and DERP servers
// speak them (net/stun in tailscale/tailscale).
//
// Header (20 bytes):
//   0  type(2)   0x0001 binding request, 0x0101 binding success response
//   2  length(2) bytes of attributes after the header
//   4  magic cookie 0x2112A442
//   8  transaction id (12)
// Attributes: type(2) length(2) value, padded to a multiple of 4.
//
// A Tailscale request carries SOFTWARE "tailnode" and ends in FINGERPRINT (CRC-32 of what
// precedes it, XOR 0x5354554e); the server answers only such requests. A response carries
// XOR-MAPPED-ADDRESS: 0, family (1 = IPv4, 2 = IPv6), port ^ 0x2112, address ^ (cookie ||
// transaction id). Parsing a response also accepts 0x8020 (the same, from some servers) and
// falls back to MAPPED-ADDRESS; IPv4-mapped IPv6 addresses come out unmapped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "base/result.hpp"

namespace net::stun {

inline constexpr std::size_t kHeaderLen = 20;
inline constexpr std::size_t kTxIdLen = 12;
inline constexpr std::uint32_t kMagicCookie = 0x2112A442;
inline constexpr std::uint16_t kBindingRequest = 0x0001;
inline constexpr std::uint16_t kBindingSuccess = 0x0101;
inline constexpr std::uint16_t kAttrMappedAddress = 0x0001;
inline constexpr std::uint16_t kAttrXorMappedAddress = 0x0020;
inline constexpr std::uint16_t kAttrXorMappedAddressAlt = 0x8020;
inline constexpr std::uint16_t kAttrSoftware = 0x8022;
inline constexpr std::uint16_t kAttrFingerprint = 0x8028;
inline constexpr std::uint32_t kFingerprintXor = 0x5354554e;
inline constexpr std::string_view kSoftware = "tailnode";  // 8 bytes: no padding
// A request: header + SOFTWARE (4 + 8) + FINGERPRINT (4 + 4).
inline constexpr std::size_t kRequestLen = kHeaderLen + 4 + kSoftware.size() + 8;
// A response: header + XOR-MAPPED-ADDRESS (4 + 4 + 4 or 16).
inline constexpr std::size_t kMaxResponseLen = kHeaderLen + 8 + 16;
static_assert(kRequestLen == 40);

using TxId = std::array<std::byte, kTxIdLen>;

TxId new_tx_id() noexcept;

// Any STUN message: at least 20 bytes, top two bits zero, the magic cookie at offset 4.
bool is_stun(base::ConstByteSpan b) noexcept;

// Writes a Tailscale binding request into `out` (at least kRequestLen); returns its length.
std::size_t write_request(const TxId& tx, base::ByteSpan out) noexcept;
// A binding request that came from Tailscale (SOFTWARE "tailnode", a valid final
// FINGERPRINT); returns its transaction id.
base::Result<TxId> parse_request(base::ConstByteSpan b);

// Writes a binding success response with XOR-MAPPED-ADDRESS for `addr` into `out` (at least
// kMaxResponseLen); returns its length, 0 for an invalid endpoint. An IPv4-mapped address is
// written as IPv4.
std::size_t write_response(const TxId& tx, const base::Endpoint& addr, base::ByteSpan out) noexcept;

struct Response {
  TxId tx{};
  base::Endpoint addr;
};
base::Result<Response> parse_response(base::ConstByteSpan b);

}  // namespace net::stun
