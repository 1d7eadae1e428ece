// SPDX-License-Identifier: MIT
// DERP frames: constants, the 5-byte header, and an encoder and a decoder for every frame
// type (protocols/derp.md sections 3 and 5).
//
//   offset 0   1 byte   frame type
//   offset 1   4 bytes  payload length N, big-endian (excludes these 5 bytes)
//   offset 5   N bytes  payload
//
// Payloads by type (all integers big-endian, K = 32-byte Curve25519 public key):
//   0x01 ServerKey      magic(8) || K || [ignored extra]
//   0x02 ClientInfo     K || nonce(24) || box(JSON)            (derp/info.hpp)
//   0x03 ServerInfo     nonce(24) || box(JSON)                 (derp/info.hpp)
//   0x04 SendPacket     dst K || data(0..65536)
//   0x05 RecvPacket     src K || data      (the Go server sends data only when src is zero)
//   0x06 KeepAlive      empty
//   0x07 NotePreferred  1 byte, non-zero = home
//   0x08 PeerGone       K || reason(1)     (32 bytes from old servers = Disconnected)
//   0x09 PeerPresent    K || IP(16) || port(2) || flags(1)   (shorter from old servers)
//   0x0a ForwardPacket  src K || dst K || data(0..65536)
//   0x10 WatchConns     empty
//   0x11 ClosePeer      K
//   0x12 Ping / 0x13 Pong   8 opaque bytes
//   0x14 Health         UTF-8 text, empty = healthy
//   0x15 Restarting     reconnect_in_ms(4) || try_for_ms(4)
//
// Two decoders, because the two directions have different rules: decode_from_client() is
// what a server applies to frames a client sent (strict: violations are fatal), and
// decode_from_server() is what a client applies to frames a server sent (tolerant: short
// frames are ignored, extra bytes are ignored). Decoded frames borrow the payload bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"

namespace derp {

using base::ConstByteSpan;
using base::NodePublicKey;

inline constexpr std::size_t kFrameHeaderLen = 5;
inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kNonceLen = 24;
inline constexpr std::size_t kBoxTagLen = 16;  // Poly1305 tag in front of the ciphertext
inline constexpr std::size_t kMagicLen = 8;
inline constexpr std::array<std::byte, kMagicLen> kMagic = {
    std::byte{0x44}, std::byte{0x45}, std::byte{0x52}, std::byte{0x50},
    std::byte{0xf0}, std::byte{0x9f}, std::byte{0x94}, std::byte{0x91}};  // "DERP🔑"
inline constexpr int kProtocolVersion = 2;

// Largest user datum in SendPacket, RecvPacket and ForwardPacket.
inline constexpr std::size_t kMaxPacketSize = 64 * 1024;
// Sealed ServerInfo plaintext budget.
inline constexpr std::size_t kMaxInfoLen = 1 << 20;
// A writer refuses payloads above this (Go's WriteFrame).
inline constexpr std::size_t kMaxWriteFrameLen = 10 << 20;
// Limits a server applies to what a client sends.
inline constexpr std::size_t kMinClientInfoLen = kKeyLen + kNonceLen;
inline constexpr std::size_t kMaxClientInfoLen = 256 << 10;
inline constexpr std::size_t kMinPingLen = 8;
inline constexpr std::size_t kMaxPingLen = 1000;
inline constexpr std::size_t kMaxUnknownFrameLen = kKeyLen + kMaxPacketSize;  // skipped up to this
// Limits a client applies to what a server sends.
inline constexpr std::size_t kMaxServerKeyFrameLen = 1024;
inline constexpr std::size_t kMaxClientReadFrameLen = 1 << 20;

inline constexpr std::size_t kServerKeyLen = kMagicLen + kKeyLen;  // 40
inline constexpr std::size_t kPingLen = 8;
inline constexpr std::size_t kPeerGoneLen = kKeyLen + 1;              // 33
inline constexpr std::size_t kPeerPresentLen = kKeyLen + 16 + 2 + 1;  // 51
inline constexpr std::size_t kPeerPresentAddrLen = kKeyLen + 16 + 2;  // 50
inline constexpr std::size_t kRestartingLen = 8;
inline constexpr std::size_t kSendPacketOverhead = kFrameHeaderLen + kKeyLen;  // 37
inline constexpr std::size_t kForwardPacketOverhead = kFrameHeaderLen + 2 * kKeyLen;
static_assert(kServerKeyLen == 40);
static_assert(kPeerGoneLen == 33);
static_assert(kPeerPresentLen == 51);

enum class FrameType : std::uint8_t {
  server_key = 0x01,
  client_info = 0x02,
  server_info = 0x03,
  send_packet = 0x04,
  recv_packet = 0x05,
  keep_alive = 0x06,
  note_preferred = 0x07,
  peer_gone = 0x08,
  peer_present = 0x09,
  forward_packet = 0x0a,
  watch_conns = 0x10,
  close_peer = 0x11,
  ping = 0x12,
  pong = 0x13,
  health = 0x14,
  restarting = 0x15,
};
std::string_view frame_type_name(std::uint8_t type) noexcept;

enum class PeerGoneReason : std::uint8_t {
  disconnected = 0x00,     // the peer left the region
  not_here = 0x01,         // the server has no path to that key
  mesh_conn_broke = 0xf0,  // local only: a mesh watcher's connection broke; never on the wire
};

// PeerPresent flags. A current server always sets at least one bit.
namespace peer_flags {
inline constexpr std::uint8_t kIsRegular = 0x01;
inline constexpr std::uint8_t kIsMeshPeer = 0x02;
inline constexpr std::uint8_t kIsProber = 0x04;
inline constexpr std::uint8_t kNotIdeal = 0x08;
}  // namespace peer_flags

struct FrameHeader {
  std::uint8_t type = 0;
  std::uint32_t length = 0;
};
FrameHeader read_frame_header(std::span<const std::byte, kFrameHeaderLen> in) noexcept;
void write_frame_header(std::span<std::byte, kFrameHeaderLen> out, std::uint8_t type,
                        std::uint32_t length) noexcept;
inline void write_frame_header(std::span<std::byte, kFrameHeaderLen> out, FrameType type,
                               std::uint32_t length) noexcept {
  write_frame_header(out, static_cast<std::uint8_t>(type), length);
}

// Disco messages start with "TS💬" and are at least 62 bytes long; the server keeps them in a
// separate queue and sends NotHere only for them.
inline constexpr std::array<std::byte, 6> kDiscoMagic = {std::byte{0x54}, std::byte{0x53},
                                                         std::byte{0xf0}, std::byte{0x9f},
                                                         std::byte{0x92}, std::byte{0xac}};
inline constexpr std::size_t kDiscoMinLen = 62;
bool looks_like_disco(ConstByteSpan payload) noexcept;

// ---- decoded frames (spans borrow the payload they were decoded from) ----
struct ServerKeyFrame {
  NodePublicKey key;
};
struct ClientInfoFrame {  // sealed; open with derp::open_client_info
  ConstByteSpan payload;
};
struct ServerInfoFrame {  // sealed; open with derp::open_server_info
  ConstByteSpan payload;
};
struct SendPacketFrame {
  NodePublicKey dst;
  ConstByteSpan data;
};
struct RecvPacketFrame {
  NodePublicKey src;  // zero for the v1 form
  ConstByteSpan data;
};
struct KeepAliveFrame {};
struct NotePreferredFrame {
  bool preferred = false;
};
struct PeerGoneFrame {
  NodePublicKey peer;
  PeerGoneReason reason = PeerGoneReason::disconnected;
};
struct PeerPresentFrame {
  NodePublicKey peer;
  base::Endpoint endpoint;  // invalid when the server did not send one (or sent zeros)
  std::uint8_t flags = 0;   // 0 = the server predates flags
  bool has_endpoint = false;
  bool has_flags = false;
};
struct ForwardPacketFrame {
  NodePublicKey src;
  NodePublicKey dst;
  ConstByteSpan data;
};
struct WatchConnsFrame {};
struct ClosePeerFrame {
  NodePublicKey peer;
};
struct PingFrame {
  std::array<std::byte, kPingLen> data{};
};
struct PongFrame {
  std::array<std::byte, kPingLen> data{};
};
struct HealthFrame {
  std::string_view problem;  // empty = healthy
};
struct RestartingFrame {
  std::uint32_t reconnect_in_ms = 0;
  std::uint32_t try_for_ms = 0;
};
// A type the decoder does not know (or a known one the receiving side skips): ignore it.
struct UnknownFrame {
  std::uint8_t type = 0;
  ConstByteSpan payload;
};

using Frame = std::variant<ServerKeyFrame, ClientInfoFrame, ServerInfoFrame, SendPacketFrame,
                           RecvPacketFrame, KeepAliveFrame, NotePreferredFrame, PeerGoneFrame,
                           PeerPresentFrame, ForwardPacketFrame, WatchConnsFrame, ClosePeerFrame,
                           PingFrame, PongFrame, HealthFrame, RestartingFrame, UnknownFrame>;

// Frames a client sent, decoded as the Go server reads them (protocols/derp.md 6.11): errors
// mean "close the connection". Types the server does not handle (Pong, server-to-client
// types, unassigned values) come back as UnknownFrame and are to be skipped. ClientInfo is
// returned as ClientInfoFrame; whether it is expected is the caller's business.
base::Result<Frame> decode_from_client(std::uint8_t type, ConstByteSpan payload);

// Frames a server sent, decoded as the Go client reads them: errors mean "the connection is
// dead". Frames the Go client drops (short RecvPacket, PeerGone, PeerPresent, Ping, Pong,
// Restarting; ServerKey after the handshake) come back as UnknownFrame.
base::Result<Frame> decode_from_server(std::uint8_t type, ConstByteSpan payload);

// What a reader does with a frame of `type`, decided from the header alone so that an
// oversized length is refused before anything is allocated (FrameReader).
struct ReadLimit {
  enum class Action : std::uint8_t {
    deliver,  // buffer up to max_len payload bytes and hand the frame over
    skip,     // discard up to max_len payload bytes without buffering them
    reject,   // the type is not allowed here: the connection ends
  };
  Action action = Action::reject;
  std::size_t max_len = 0;  // a longer payload ends the connection
};
ReadLimit server_read_limit(std::uint8_t type, bool handshake_done) noexcept;
ReadLimit client_read_limit(std::uint8_t type, bool handshake_done) noexcept;

// ---- encoders: append one whole frame (header included) to `out` ----
void encode_server_key(base::Bytes& out, const NodePublicKey& server);
void encode_client_info(base::Bytes& out, ConstByteSpan sealed_payload);
void encode_server_info(base::Bytes& out, ConstByteSpan sealed_payload);
void encode_send_packet(base::Bytes& out, const NodePublicKey& dst, ConstByteSpan data);
// Always the v2 form (src || data); the server's v1 quirk for a zero src lives in the server.
void encode_recv_packet(base::Bytes& out, const NodePublicKey& src, ConstByteSpan data);
void encode_keep_alive(base::Bytes& out);
void encode_note_preferred(base::Bytes& out, bool preferred);
void encode_peer_gone(base::Bytes& out, const NodePublicKey& peer, PeerGoneReason reason);
// 51-byte form. An IPv4 endpoint is written IPv4-mapped; an invalid one as all zeros.
void encode_peer_present(base::Bytes& out, const NodePublicKey& peer,
                         const base::Endpoint& endpoint, std::uint8_t flags);
// The form `f` was decoded from: 32 bytes without an endpoint, 50 without flags, else 51.
void encode_peer_present(base::Bytes& out, const PeerPresentFrame& f);
void encode_forward_packet(base::Bytes& out, const NodePublicKey& src, const NodePublicKey& dst,
                           ConstByteSpan data);
void encode_watch_conns(base::Bytes& out);
void encode_close_peer(base::Bytes& out, const NodePublicKey& peer);
void encode_ping(base::Bytes& out, std::span<const std::byte, kPingLen> data);
void encode_pong(base::Bytes& out, std::span<const std::byte, kPingLen> data);
void encode_health(base::Bytes& out, std::string_view problem);
void encode_restarting(base::Bytes& out, std::uint32_t reconnect_in_ms, std::uint32_t try_for_ms);
// Any decoded frame back to bytes (UnknownFrame keeps its type and payload).
void encode_frame(base::Bytes& out, const Frame& frame);
// Value equality of decoded frames (spans compare by content).
bool frame_equal(const Frame& a, const Frame& b) noexcept;

// Fixed-size frames written into caller storage (the server's hot path).
inline constexpr std::size_t kPeerGoneFrameLen = kFrameHeaderLen + kPeerGoneLen;
inline constexpr std::size_t kPeerPresentFrameLen = kFrameHeaderLen + kPeerPresentLen;
inline constexpr std::size_t kKeepAliveFrameLen = kFrameHeaderLen;
inline constexpr std::size_t kPongFrameLen = kFrameHeaderLen + kPingLen;
void write_peer_gone(std::span<std::byte, kPeerGoneFrameLen> out, const NodePublicKey& peer,
                     PeerGoneReason reason) noexcept;
void write_peer_present(std::span<std::byte, kPeerPresentFrameLen> out, const NodePublicKey& peer,
                        const base::Endpoint& endpoint, std::uint8_t flags) noexcept;

}  // namespace derp
