// SPDX-License-Identifier: MIT
#include "derp/frame.hpp"

#include <limits>

namespace derp {
namespace {

using base::Bytes;
using Action = ReadLimit::Action;

// Payload offsets.
constexpr std::size_t kKeyOff = 0;
constexpr std::size_t kSecondKeyOff = kKeyOff + kKeyLen;       // ForwardPacket dst
constexpr std::size_t kPresentIpOff = kKeyLen;                 // PeerPresent IP(16)
constexpr std::size_t kPresentPortOff = kPresentIpOff + 16;    // PeerPresent port(2)
constexpr std::size_t kPresentFlagsOff = kPresentPortOff + 2;  // PeerPresent flags(1)
constexpr std::size_t kGoneReasonOff = kKeyLen;                // PeerGone reason(1)
static_assert(kPresentFlagsOff + 1 == kPeerPresentLen);

base::Error bad(std::string message) {
  return base::make_error(std::errc::protocol_error, std::move(message));
}

NodePublicKey key_at(ConstByteSpan p, std::size_t off) noexcept {
  return NodePublicKey(base::KeySpan(p.subspan(off, kKeyLen)));
}

void append(Bytes& out, ConstByteSpan b) {
  out.insert(out.end(), b.begin(), b.end());
}

// Appends a header for a payload of `len` bytes and returns the offset of the payload.
std::size_t begin_frame(Bytes& out, FrameType type, std::size_t len) {
  const std::size_t at = out.size();
  out.resize(at + kFrameHeaderLen + len);
  write_frame_header(std::span<std::byte, kFrameHeaderLen>(out.data() + at, kFrameHeaderLen), type,
                     static_cast<std::uint32_t>(len));
  return at + kFrameHeaderLen;
}

void put_key(Bytes& out, std::size_t at, const NodePublicKey& k) {
  std::copy(k.bytes().begin(), k.bytes().end(), out.begin() + static_cast<std::ptrdiff_t>(at));
}

void put_bytes(Bytes& out, std::size_t at, ConstByteSpan b) {
  std::copy(b.begin(), b.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
}

template <std::size_t N>
std::array<std::byte, N> first_bytes(ConstByteSpan p) noexcept {
  std::array<std::byte, N> a{};
  std::copy_n(p.begin(), N, a.begin());
  return a;
}

PeerPresentFrame decode_peer_present(ConstByteSpan p) {
  PeerPresentFrame f;
  f.peer = key_at(p, kKeyOff);
  if (p.size() >= kPeerPresentAddrLen) {
    f.has_endpoint = true;
    const auto ip = base::IpAddr::v6(std::span<const std::byte, 16>(p.subspan(kPresentIpOff, 16)));
    f.endpoint.addr = ip.unmap();
    f.endpoint.port = base::load_be16(p.subspan(kPresentPortOff));
  }
  if (p.size() >= kPeerPresentLen) {
    f.has_flags = true;
    f.flags = static_cast<std::uint8_t>(p[kPresentFlagsOff]);
  }
  return f;
}

void write_endpoint16(std::span<std::byte> out18, const base::Endpoint& ep) noexcept {
  std::fill(out18.begin(), out18.end(), std::byte{0});
  if (ep.addr.is_v4()) {
    out18[10] = std::byte{0xff};
    out18[11] = std::byte{0xff};
    base::copy_into(out18.subspan(12, 4), ep.addr.bytes());
  } else if (ep.addr.is_v6()) {
    base::copy_into(out18.subspan(0, 16), ep.addr.bytes());
  }
  base::store_be16(out18.subspan(16), ep.port);
}

}  // namespace

std::string_view frame_type_name(std::uint8_t type) noexcept {
  switch (static_cast<FrameType>(type)) {
    case FrameType::server_key:
      return "ServerKey";
    case FrameType::client_info:
      return "ClientInfo";
    case FrameType::server_info:
      return "ServerInfo";
    case FrameType::send_packet:
      return "SendPacket";
    case FrameType::recv_packet:
      return "RecvPacket";
    case FrameType::keep_alive:
      return "KeepAlive";
    case FrameType::note_preferred:
      return "NotePreferred";
    case FrameType::peer_gone:
      return "PeerGone";
    case FrameType::peer_present:
      return "PeerPresent";
    case FrameType::forward_packet:
      return "ForwardPacket";
    case FrameType::watch_conns:
      return "WatchConns";
    case FrameType::close_peer:
      return "ClosePeer";
    case FrameType::ping:
      return "Ping";
    case FrameType::pong:
      return "Pong";
    case FrameType::health:
      return "Health";
    case FrameType::restarting:
      return "Restarting";
  }
  return "Unknown";
}

FrameHeader read_frame_header(std::span<const std::byte, kFrameHeaderLen> in) noexcept {
  return FrameHeader{static_cast<std::uint8_t>(in[0]), base::load_be32(in.subspan(1))};
}

void write_frame_header(std::span<std::byte, kFrameHeaderLen> out, std::uint8_t type,
                        std::uint32_t length) noexcept {
  out[0] = std::byte{type};
  base::store_be32(out.subspan(1), length);
}

bool looks_like_disco(ConstByteSpan payload) noexcept {
  return payload.size() >= kDiscoMinLen &&
         base::equal_bytes(payload.first(kDiscoMagic.size()), kDiscoMagic);
}

base::Result<Frame> decode_from_client(std::uint8_t type, ConstByteSpan p) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::client_info:
      if (p.size() < kMinClientInfoLen) return bad("short client info");
      if (p.size() > kMaxClientInfoLen) return bad("long client info");
      return Frame{ClientInfoFrame{p}};
    case FrameType::send_packet:
      if (p.size() < kKeyLen) return bad("short send packet frame");
      if (p.size() - kKeyLen > kMaxPacketSize) return bad("send packet data over 64 KiB");
      return Frame{SendPacketFrame{key_at(p, kKeyOff), p.subspan(kKeyLen)}};
    case FrameType::forward_packet:
      if (p.size() < 2 * kKeyLen) return bad("short forward packet frame");
      if (p.size() - 2 * kKeyLen > kMaxPacketSize) return bad("forward packet data over 64 KiB");
      return Frame{
          ForwardPacketFrame{key_at(p, kKeyOff), key_at(p, kSecondKeyOff), p.subspan(2 * kKeyLen)}};
    case FrameType::note_preferred:
      if (p.size() != 1) return bad("note preferred frame length is not 1");
      return Frame{NotePreferredFrame{p[0] != std::byte{0}}};
    case FrameType::watch_conns:
      if (!p.empty()) return bad("watch conns frame is not empty");
      return Frame{WatchConnsFrame{}};
    case FrameType::close_peer:
      if (p.size() != kKeyLen) return bad("close peer frame length is not 32");
      return Frame{ClosePeerFrame{key_at(p, kKeyOff)}};
    case FrameType::ping:
      if (p.size() < kMinPingLen || p.size() > kMaxPingLen) return bad("bad ping frame length");
      return Frame{PingFrame{first_bytes<kPingLen>(p)}};
    default:
      // Pong, repeated ClientInfo is handled above by the caller, server-to-client types and
      // unassigned values: the Go server skips them.
      return Frame{UnknownFrame{type, p}};
  }
}

base::Result<Frame> decode_from_server(std::uint8_t type, ConstByteSpan p) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::server_key:
      if (p.size() < kServerKeyLen || !base::equal_bytes(p.first(kMagicLen), kMagic)) {
        return Frame{UnknownFrame{type, p}};
      }
      return Frame{ServerKeyFrame{key_at(p, kMagicLen)}};
    case FrameType::server_info:
      if (p.size() < kNonceLen) return bad("short server info");
      if (p.size() > kNonceLen + kMaxInfoLen) return bad("long server info");
      return Frame{ServerInfoFrame{p}};
    case FrameType::recv_packet:
      if (p.size() < kKeyLen) return Frame{UnknownFrame{type, p}};
      return Frame{RecvPacketFrame{key_at(p, kKeyOff), p.subspan(kKeyLen)}};
    case FrameType::keep_alive:
      return Frame{KeepAliveFrame{}};
    case FrameType::peer_gone: {
      if (p.size() < kKeyLen) return Frame{UnknownFrame{type, p}};
      PeerGoneFrame f{key_at(p, kKeyOff), PeerGoneReason::disconnected};
      if (p.size() > kKeyLen) f.reason = static_cast<PeerGoneReason>(p[kGoneReasonOff]);
      return Frame{f};
    }
    case FrameType::peer_present:
      if (p.size() < kKeyLen) return Frame{UnknownFrame{type, p}};
      return Frame{decode_peer_present(p)};
    case FrameType::ping:
      if (p.size() < kPingLen) return Frame{UnknownFrame{type, p}};
      return Frame{PingFrame{first_bytes<kPingLen>(p)}};
    case FrameType::pong:
      if (p.size() < kPingLen) return Frame{UnknownFrame{type, p}};
      return Frame{PongFrame{first_bytes<kPingLen>(p)}};
    case FrameType::health:
      return Frame{HealthFrame{base::as_chars(p)}};
    case FrameType::restarting:
      if (p.size() < kRestartingLen) return Frame{UnknownFrame{type, p}};
      return Frame{RestartingFrame{base::load_be32(p), base::load_be32(p.subspan(4))}};
    default:
      return Frame{UnknownFrame{type, p}};
  }
}

ReadLimit server_read_limit(std::uint8_t type, bool handshake_done) noexcept {
  const auto t = static_cast<FrameType>(type);
  if (!handshake_done) {
    if (t == FrameType::client_info) return {Action::deliver, kMaxClientInfoLen};
    return {Action::reject, 0};
  }
  switch (t) {
    case FrameType::send_packet:
      return {Action::deliver, kKeyLen + kMaxPacketSize};
    case FrameType::forward_packet:
      return {Action::deliver, 2 * kKeyLen + kMaxPacketSize};
    case FrameType::note_preferred:
      return {Action::deliver, 1};
    case FrameType::watch_conns:
      return {Action::deliver, 0};
    case FrameType::close_peer:
      return {Action::deliver, kKeyLen};
    case FrameType::ping:
      return {Action::deliver, kMaxPingLen};
    default:
      // Newer Go servers refuse unknown frames longer than the largest SendPacket, so that a
      // client cannot make the server drain gigabytes; so do we.
      return {Action::skip, kMaxUnknownFrameLen};
  }
}

ReadLimit client_read_limit(std::uint8_t type, bool handshake_done) noexcept {
  const auto t = static_cast<FrameType>(type);
  if (!handshake_done) {
    if (t == FrameType::server_key) return {Action::deliver, kMaxServerKeyFrameLen};
    return {Action::reject, 0};
  }
  switch (t) {
    case FrameType::server_info:
    case FrameType::recv_packet:
    case FrameType::keep_alive:
    case FrameType::peer_gone:
    case FrameType::peer_present:
    case FrameType::ping:
    case FrameType::pong:
    case FrameType::health:
    case FrameType::restarting:
      return {Action::deliver, kMaxClientReadFrameLen};
    default:
      return {Action::skip, kMaxClientReadFrameLen};
  }
}

void encode_server_key(Bytes& out, const NodePublicKey& server) {
  const std::size_t at = begin_frame(out, FrameType::server_key, kServerKeyLen);
  put_bytes(out, at, kMagic);
  put_key(out, at + kMagicLen, server);
}

void encode_client_info(Bytes& out, ConstByteSpan sealed_payload) {
  put_bytes(out, begin_frame(out, FrameType::client_info, sealed_payload.size()), sealed_payload);
}

void encode_server_info(Bytes& out, ConstByteSpan sealed_payload) {
  put_bytes(out, begin_frame(out, FrameType::server_info, sealed_payload.size()), sealed_payload);
}

void encode_send_packet(Bytes& out, const NodePublicKey& dst, ConstByteSpan data) {
  const std::size_t at = begin_frame(out, FrameType::send_packet, kKeyLen + data.size());
  put_key(out, at, dst);
  put_bytes(out, at + kKeyLen, data);
}

void encode_recv_packet(Bytes& out, const NodePublicKey& src, ConstByteSpan data) {
  const std::size_t at = begin_frame(out, FrameType::recv_packet, kKeyLen + data.size());
  put_key(out, at, src);
  put_bytes(out, at + kKeyLen, data);
}

void encode_keep_alive(Bytes& out) {
  begin_frame(out, FrameType::keep_alive, 0);
}

void encode_note_preferred(Bytes& out, bool preferred) {
  const std::size_t at = begin_frame(out, FrameType::note_preferred, 1);
  out[at] = preferred ? std::byte{1} : std::byte{0};
}

void encode_peer_gone(Bytes& out, const NodePublicKey& peer, PeerGoneReason reason) {
  const std::size_t at = out.size();
  out.resize(at + kPeerGoneFrameLen);
  write_peer_gone(std::span<std::byte, kPeerGoneFrameLen>(out.data() + at, kPeerGoneFrameLen), peer,
                  reason);
}

void encode_peer_present(Bytes& out, const NodePublicKey& peer, const base::Endpoint& endpoint,
                         std::uint8_t flags) {
  const std::size_t at = out.size();
  out.resize(at + kPeerPresentFrameLen);
  write_peer_present(
      std::span<std::byte, kPeerPresentFrameLen>(out.data() + at, kPeerPresentFrameLen), peer,
      endpoint, flags);
}

void encode_peer_present(Bytes& out, const PeerPresentFrame& f) {
  if (f.has_endpoint && f.has_flags) return encode_peer_present(out, f.peer, f.endpoint, f.flags);
  const std::size_t len = f.has_endpoint ? kPeerPresentAddrLen : kKeyLen;
  const std::size_t at = begin_frame(out, FrameType::peer_present, len);
  put_key(out, at, f.peer);
  if (f.has_endpoint) {
    write_endpoint16(std::span<std::byte>(out.data() + at + kPresentIpOff, 18), f.endpoint);
  }
}

void encode_forward_packet(Bytes& out, const NodePublicKey& src, const NodePublicKey& dst,
                           ConstByteSpan data) {
  const std::size_t at = begin_frame(out, FrameType::forward_packet, 2 * kKeyLen + data.size());
  put_key(out, at, src);
  put_key(out, at + kKeyLen, dst);
  put_bytes(out, at + 2 * kKeyLen, data);
}

void encode_watch_conns(Bytes& out) {
  begin_frame(out, FrameType::watch_conns, 0);
}

void encode_close_peer(Bytes& out, const NodePublicKey& peer) {
  put_key(out, begin_frame(out, FrameType::close_peer, kKeyLen), peer);
}

void encode_ping(Bytes& out, std::span<const std::byte, kPingLen> data) {
  put_bytes(out, begin_frame(out, FrameType::ping, kPingLen), data);
}

void encode_pong(Bytes& out, std::span<const std::byte, kPingLen> data) {
  put_bytes(out, begin_frame(out, FrameType::pong, kPingLen), data);
}

void encode_health(Bytes& out, std::string_view problem) {
  put_bytes(out, begin_frame(out, FrameType::health, problem.size()), base::as_bytes(problem));
}

void encode_restarting(Bytes& out, std::uint32_t reconnect_in_ms, std::uint32_t try_for_ms) {
  const std::size_t at = begin_frame(out, FrameType::restarting, kRestartingLen);
  base::store_be32(std::span<std::byte>(out.data() + at, 4), reconnect_in_ms);
  base::store_be32(std::span<std::byte>(out.data() + at + 4, 4), try_for_ms);
}

void write_peer_gone(std::span<std::byte, kPeerGoneFrameLen> out, const NodePublicKey& peer,
                     PeerGoneReason reason) noexcept {
  write_frame_header(out.first<kFrameHeaderLen>(), FrameType::peer_gone, kPeerGoneLen);
  auto p = out.subspan<kFrameHeaderLen>();
  base::copy_into(p, peer.bytes());
  p[kGoneReasonOff] = std::byte{static_cast<std::uint8_t>(reason)};
}

void write_peer_present(std::span<std::byte, kPeerPresentFrameLen> out, const NodePublicKey& peer,
                        const base::Endpoint& endpoint, std::uint8_t flags) noexcept {
  write_frame_header(out.first<kFrameHeaderLen>(), FrameType::peer_present, kPeerPresentLen);
  auto p = out.subspan<kFrameHeaderLen>();
  base::copy_into(p, peer.bytes());
  write_endpoint16(p.subspan(kPresentIpOff, 18), endpoint);
  p[kPresentFlagsOff] = std::byte{flags};
}

void encode_frame(Bytes& out, const Frame& frame) {
  std::visit(
      [&out](const auto& f) {
        using T = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<T, ServerKeyFrame>) {
          encode_server_key(out, f.key);
        } else if constexpr (std::is_same_v<T, ClientInfoFrame>) {
          encode_client_info(out, f.payload);
        } else if constexpr (std::is_same_v<T, ServerInfoFrame>) {
          encode_server_info(out, f.payload);
        } else if constexpr (std::is_same_v<T, SendPacketFrame>) {
          encode_send_packet(out, f.dst, f.data);
        } else if constexpr (std::is_same_v<T, RecvPacketFrame>) {
          encode_recv_packet(out, f.src, f.data);
        } else if constexpr (std::is_same_v<T, KeepAliveFrame>) {
          encode_keep_alive(out);
        } else if constexpr (std::is_same_v<T, NotePreferredFrame>) {
          encode_note_preferred(out, f.preferred);
        } else if constexpr (std::is_same_v<T, PeerGoneFrame>) {
          encode_peer_gone(out, f.peer, f.reason);
        } else if constexpr (std::is_same_v<T, PeerPresentFrame>) {
          encode_peer_present(out, f);
        } else if constexpr (std::is_same_v<T, ForwardPacketFrame>) {
          encode_forward_packet(out, f.src, f.dst, f.data);
        } else if constexpr (std::is_same_v<T, WatchConnsFrame>) {
          encode_watch_conns(out);
        } else if constexpr (std::is_same_v<T, ClosePeerFrame>) {
          encode_close_peer(out, f.peer);
        } else if constexpr (std::is_same_v<T, PingFrame>) {
          encode_ping(out, f.data);
        } else if constexpr (std::is_same_v<T, PongFrame>) {
          encode_pong(out, f.data);
        } else if constexpr (std::is_same_v<T, HealthFrame>) {
          encode_health(out, f.problem);
        } else if constexpr (std::is_same_v<T, RestartingFrame>) {
          encode_restarting(out, f.reconnect_in_ms, f.try_for_ms);
        } else {
          static_assert(std::is_same_v<T, UnknownFrame>);
          const std::size_t at = out.size();
          out.resize(at + kFrameHeaderLen);
          write_frame_header(
              std::span<std::byte, kFrameHeaderLen>(out.data() + at, kFrameHeaderLen), f.type,
              static_cast<std::uint32_t>(f.payload.size()));
          append(out, f.payload);
        }
      },
      frame);
}

bool frame_equal(const Frame& a, const Frame& b) noexcept {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        using base::equal_bytes;
        if constexpr (std::is_same_v<T, ServerKeyFrame>) {
          return x.key == y.key;
        } else if constexpr (std::is_same_v<T, ClientInfoFrame> ||
                             std::is_same_v<T, ServerInfoFrame>) {
          return equal_bytes(x.payload, y.payload);
        } else if constexpr (std::is_same_v<T, SendPacketFrame>) {
          return x.dst == y.dst && equal_bytes(x.data, y.data);
        } else if constexpr (std::is_same_v<T, RecvPacketFrame>) {
          return x.src == y.src && equal_bytes(x.data, y.data);
        } else if constexpr (std::is_same_v<T, KeepAliveFrame> ||
                             std::is_same_v<T, WatchConnsFrame>) {
          return true;
        } else if constexpr (std::is_same_v<T, NotePreferredFrame>) {
          return x.preferred == y.preferred;
        } else if constexpr (std::is_same_v<T, PeerGoneFrame>) {
          return x.peer == y.peer && x.reason == y.reason;
        } else if constexpr (std::is_same_v<T, PeerPresentFrame>) {
          return x.peer == y.peer && x.has_endpoint == y.has_endpoint &&
                 x.has_flags == y.has_flags && x.endpoint == y.endpoint && x.flags == y.flags;
        } else if constexpr (std::is_same_v<T, ForwardPacketFrame>) {
          return x.src == y.src && x.dst == y.dst && equal_bytes(x.data, y.data);
        } else if constexpr (std::is_same_v<T, ClosePeerFrame>) {
          return x.peer == y.peer;
        } else if constexpr (std::is_same_v<T, PingFrame> || std::is_same_v<T, PongFrame>) {
          return x.data == y.data;
        } else if constexpr (std::is_same_v<T, HealthFrame>) {
          return x.problem == y.problem;
        } else if constexpr (std::is_same_v<T, RestartingFrame>) {
          return x.reconnect_in_ms == y.reconnect_in_ms && x.try_for_ms == y.try_for_ms;
        } else {
          return x.type == y.type && equal_bytes(x.payload, y.payload);
        }
      },
      a);
}

}  // namespace derp
