// SPDX-License-Identifier: MIT
// Disco messages: the plaintext inside the box (fact sheet sections 2.3 to 2.8; Tailscale's
// disco/disco.go). All integers big-endian; offsets below count from the start of the
// plaintext. An address is 16 bytes (IPv6, or IPv4-mapped ::ffff:a.b.c.d) then a 2-byte port.
//
//   0 type | 1 version (0 when sending) | 2 payload
//
//   0x01 Ping         2 TxID[12] | 14 node key[32] (optional) | 46 zero padding (any length)
//   0x02 Pong         2 TxID[12] | 14 source address[16] | 30 source port          (32 bytes)
//   0x03 CallMeMaybe  2 N x (address[16] | port)                                      (2 + 18N)
//   0x04 BindUDPRelayEndpoint, 0x05 ...Challenge, 0x06 ...Answer, all 74 bytes:
//                     2 VNI u32 | 6 generation u32 | 10 remote disco key[32] | 42 challenge[32]
//   0x07 CallMeMaybeVia                   2 relay endpoint                       (126 + 18N)
//   0x08 AllocateUDPRelayEndpointRequest  2 client disco[32] | 34 client disco[32]
//                                         | 66 generation u32                          (70)
//   0x09 AllocateUDPRelayEndpointResponse 2 generation u32 | 6 relay endpoint     (130 + 18N)
//   relay endpoint (at b): b server disco[32] | b+32 client disco[32] | b+64 client disco[32]
//                     | b+96 Lamport ID u64 | b+104 VNI u32 | b+108 bind lifetime i64 ns
//                     | b+116 steady-state lifetime i64 ns | b+124 N x address, N >= 1
//
// Parsing follows Tailscale's reader exactly, because its leniencies are the protocol's
// forward compatibility: trailing bytes are ignored everywhere except after a relay
// endpoint's address list; Ping, Pong and the relay bind messages ignore the version byte; a
// CallMeMaybe whose version is not 0, or whose payload is empty or not a multiple of 18,
// carries no endpoints (and is not an error); a version other than 0 on 0x07 to 0x09 gives an
// empty message that keeps its version. Everything else short is rejected with a DropReason.
//
// Only Ping, Pong and CallMeMaybe are acted on; the peer-relay messages (0x04 to 0x09) are
// parsed so that they are recognised, counted and ignored rather than taken for garbage.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "base/keys.hpp"
#include "disco/drop_reason.hpp"

namespace disco {

enum class MessageType : std::uint8_t {
  ping = 0x01,
  pong = 0x02,
  call_me_maybe = 0x03,
  bind_udp_relay_endpoint = 0x04,
  bind_udp_relay_endpoint_challenge = 0x05,
  bind_udp_relay_endpoint_answer = 0x06,
  call_me_maybe_via = 0x07,
  allocate_udp_relay_endpoint_request = 0x08,
  allocate_udp_relay_endpoint_response = 0x09,
};
std::string_view to_string(MessageType t) noexcept;

inline constexpr std::uint8_t kVersion = 0;  // what we send
inline constexpr std::size_t kMessageHeaderLen = 2;
inline constexpr std::size_t kTxIdLen = 12;
inline constexpr std::size_t kKeyLen = base::kKeySize;
inline constexpr std::size_t kAddrPortLen = 16 + 2;
inline constexpr std::size_t kChallengeLen = 32;

inline constexpr std::size_t kPingLen = kMessageHeaderLen + kTxIdLen + kKeyLen;  // unpadded
inline constexpr std::size_t kPingMinLen = kMessageHeaderLen + kTxIdLen;
inline constexpr std::size_t kPongLen = kMessageHeaderLen + kTxIdLen + kAddrPortLen;
inline constexpr std::size_t kBindLen = kMessageHeaderLen + 4 + 4 + kKeyLen + kChallengeLen;
inline constexpr std::size_t kRelayEndpointFixedLen = 3 * kKeyLen + 8 + 4 + 8 + 8;
inline constexpr std::size_t kAllocateRequestLen = kMessageHeaderLen + 2 * kKeyLen + 4;
static_assert(kPingLen == 46);
static_assert(kPongLen == 32);
static_assert(kBindLen == 74);
static_assert(kRelayEndpointFixedLen == 124);
static_assert(kAllocateRequestLen == 70);

namespace off {
inline constexpr std::size_t kType = 0;
inline constexpr std::size_t kVersion = 1;
inline constexpr std::size_t kPayload = 2;
namespace ping {
inline constexpr std::size_t kTxId = 2;
inline constexpr std::size_t kNodeKey = 14;
inline constexpr std::size_t kPadding = 46;
}  // namespace ping
namespace pong {
inline constexpr std::size_t kTxId = 2;
inline constexpr std::size_t kAddr = 14;
inline constexpr std::size_t kPort = 30;
}  // namespace pong
namespace bind {
inline constexpr std::size_t kVni = 2;
inline constexpr std::size_t kGeneration = 6;
inline constexpr std::size_t kRemoteKey = 10;
inline constexpr std::size_t kChallenge = 42;
}  // namespace bind
namespace relay_endpoint {  // from the start of the relay endpoint body
inline constexpr std::size_t kServerDisco = 0;
inline constexpr std::size_t kClientDisco0 = 32;
inline constexpr std::size_t kClientDisco1 = 64;
inline constexpr std::size_t kLamportId = 96;
inline constexpr std::size_t kVni = 104;
inline constexpr std::size_t kBindLifetime = 108;
inline constexpr std::size_t kSteadyStateLifetime = 116;
inline constexpr std::size_t kAddrPorts = 124;
}  // namespace relay_endpoint
namespace via {
inline constexpr std::size_t kEndpoint = 2;
}  // namespace via
namespace alloc_request {
inline constexpr std::size_t kClientDisco0 = 2;
inline constexpr std::size_t kClientDisco1 = 34;
inline constexpr std::size_t kGeneration = 66;
}  // namespace alloc_request
namespace alloc_response {
inline constexpr std::size_t kGeneration = 2;
inline constexpr std::size_t kEndpoint = 6;
}  // namespace alloc_response
}  // namespace off

static_assert(off::ping::kPadding == kPingLen);
static_assert(off::pong::kPort + 2 == kPongLen);
static_assert(off::bind::kChallenge + kChallengeLen == kBindLen);
static_assert(off::relay_endpoint::kAddrPorts == kRelayEndpointFixedLen);
static_assert(off::alloc_request::kGeneration + 4 == kAllocateRequestLen);

using TxId = std::array<std::byte, kTxIdLen>;
using Challenge = std::array<std::byte, kChallengeLen>;

struct Ping {
  TxId tx_id{};
  // The sender's node key, a hint only. Present whenever 32 bytes follow the TxID, so a
  // receiver sees an all-zero key as present: treat is_zero() as "none". Tailscale's writer
  // omits a zero key; so does ours when node_key is nullopt.
  std::optional<base::NodePublicKey> node_key;
  // Zero bytes after the key, for path-MTU probes. Without a node key, 32 or more padding bytes
  // are read back as a key: send padding only with a key.
  std::size_t padding = 0;
  friend bool operator==(const Ping&, const Ping&) = default;
};

struct Pong {
  TxId tx_id{};
  base::Endpoint src;  // where the ping came from; IPv4-mapped addresses come out as IPv4
  friend bool operator==(const Pong&, const Pong&) = default;
};

struct CallMeMaybe {
  std::vector<base::Endpoint> endpoints;  // the sender's own; may be empty
  friend bool operator==(const CallMeMaybe&, const CallMeMaybe&) = default;
};

// 0x04, 0x05 and 0x06 share one layout; `type` says which one it is (any other value is
// taken as 0x04).
struct BindUdpRelayEndpoint {
  MessageType type = MessageType::bind_udp_relay_endpoint;
  std::uint32_t vni = 0;
  std::uint32_t generation = 0;
  base::DiscoPublicKey remote_key;
  Challenge challenge{};  // padding in 0x04
  friend bool operator==(const BindUdpRelayEndpoint&, const BindUdpRelayEndpoint&) = default;
};

struct UdpRelayEndpoint {
  base::DiscoPublicKey server_disco;
  std::array<base::DiscoPublicKey, 2> client_disco;
  std::uint64_t lamport_id = 0;
  std::uint32_t vni = 0;
  std::int64_t bind_lifetime_ns = 0;
  std::int64_t steady_state_lifetime_ns = 0;
  std::vector<base::Endpoint> addr_ports;  // at least one on the wire
  friend bool operator==(const UdpRelayEndpoint&, const UdpRelayEndpoint&) = default;
};

// For 0x07 to 0x09, version != 0 means "a newer form": every other field is empty and the
// writer writes the two header bytes only.
struct CallMeMaybeVia {
  std::uint8_t version = kVersion;
  UdpRelayEndpoint endpoint;
  friend bool operator==(const CallMeMaybeVia&, const CallMeMaybeVia&) = default;
};

struct AllocateUdpRelayEndpointRequest {
  std::uint8_t version = kVersion;
  std::array<base::DiscoPublicKey, 2> client_disco;
  std::uint32_t generation = 0;
  friend bool operator==(const AllocateUdpRelayEndpointRequest&,
                         const AllocateUdpRelayEndpointRequest&) = default;
};

struct AllocateUdpRelayEndpointResponse {
  std::uint8_t version = kVersion;
  std::uint32_t generation = 0;
  UdpRelayEndpoint endpoint;
  friend bool operator==(const AllocateUdpRelayEndpointResponse&,
                         const AllocateUdpRelayEndpointResponse&) = default;
};

using Message = std::variant<Ping, Pong, CallMeMaybe, BindUdpRelayEndpoint, CallMeMaybeVia,
                             AllocateUdpRelayEndpointRequest, AllocateUdpRelayEndpointResponse>;

MessageType message_type(const Message& m) noexcept;
// Whether the type is one of the peer-relay family (0x04 to 0x09), which we parse and ignore.
bool is_peer_relay(MessageType t) noexcept;

// Parses a plaintext (what the box opened to). On failure returns nullopt and sets `why`.
std::optional<Message> parse_message(base::ConstByteSpan plaintext, DropReason& why);

// The plaintext length append_message() writes for `m`.
std::size_t encoded_size(const Message& m) noexcept;
// Appends the plaintext of `m` to `out`. Writes what it is given: a CallMeMaybeVia with no
// address, for instance, is written but its receiver rejects it.
void append_message(base::Bytes& out, const Message& m);

// "ping tx=0102030405 padding=0", for logs.
std::string summary(const Message& m);

}  // namespace disco
