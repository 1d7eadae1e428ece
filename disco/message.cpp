// SPDX-License-Identifier: MIT
#include "disco/message.hpp"

namespace disco {
namespace {

using base::ConstByteSpan;

// Each reader takes the whole plaintext (header included) and the version byte.

base::Endpoint read_addr_port(ConstByteSpan b) {
  const auto addr = base::IpAddr::v6(b.first<16>()).unmap();
  return base::Endpoint{addr, base::load_be16(b.subspan(16))};
}

// Written as 16 bytes: IPv4 as ::ffff:a.b.c.d, an invalid address as zeros (Go's As16 does the
// same for its zero Addr).
void write_addr_port(base::ByteSpan out, const base::Endpoint& ep) {
  std::fill_n(out.begin(), 16, std::byte{0});
  if (ep.addr.is_v4()) {
    out[10] = std::byte{0xff};
    out[11] = std::byte{0xff};
    base::copy_into(out.subspan(12), ep.addr.bytes());
  } else if (ep.addr.is_v6()) {
    base::copy_into(out, ep.addr.bytes());
  }
  base::store_be16(out.subspan(16), ep.port);
}

// `b` holds N whole addresses.
std::vector<base::Endpoint> read_addr_ports(ConstByteSpan b) {
  std::vector<base::Endpoint> eps;
  eps.reserve(b.size() / kAddrPortLen);
  for (; b.size() >= kAddrPortLen; b = b.subspan(kAddrPortLen)) eps.push_back(read_addr_port(b));
  return eps;
}

base::DiscoPublicKey read_disco_key(ConstByteSpan b) {
  return base::DiscoPublicKey(b.first<kKeyLen>());
}

std::optional<Message> parse_ping(ConstByteSpan p, DropReason& why) {
  if (p.size() < kPingMinLen) {
    why = DropReason::short_ping;
    return std::nullopt;
  }
  Ping m;
  std::copy_n(p.begin() + off::ping::kTxId, kTxIdLen, m.tx_id.begin());
  if (p.size() >= kPingLen) {
    m.node_key = base::NodePublicKey(p.subspan(off::ping::kNodeKey).first<kKeyLen>());
    m.padding = p.size() - kPingLen;
  } else {
    m.padding = p.size() - kPingMinLen;
  }
  return m;
}

std::optional<Message> parse_pong(ConstByteSpan p, DropReason& why) {
  if (p.size() < kPongLen) {
    why = DropReason::short_pong;
    return std::nullopt;
  }
  Pong m;
  std::copy_n(p.begin() + off::pong::kTxId, kTxIdLen, m.tx_id.begin());
  m.src = read_addr_port(p.subspan(off::pong::kAddr));
  return m;
}

Message parse_call_me_maybe(ConstByteSpan p, std::uint8_t version) {
  const auto payload = p.subspan(off::kPayload);
  CallMeMaybe m;
  if (version != 0 || payload.empty() || payload.size() % kAddrPortLen != 0) return m;
  m.endpoints = read_addr_ports(payload);
  return m;
}

std::optional<Message> parse_bind(ConstByteSpan p, MessageType type, DropReason& why) {
  if (p.size() < kBindLen) {
    why = DropReason::short_bind_udp_relay_endpoint;
    return std::nullopt;
  }
  BindUdpRelayEndpoint m;
  m.type = type;
  m.vni = base::load_be32(p.subspan(off::bind::kVni));
  m.generation = base::load_be32(p.subspan(off::bind::kGeneration));
  m.remote_key = read_disco_key(p.subspan(off::bind::kRemoteKey));
  std::copy_n(p.begin() + off::bind::kChallenge, kChallengeLen, m.challenge.begin());
  return m;
}

// `b` is the relay endpoint body to the end of the plaintext: no trailing bytes allowed.
bool parse_relay_endpoint(ConstByteSpan b, UdpRelayEndpoint& m) {
  namespace o = off::relay_endpoint;
  if (b.size() < kRelayEndpointFixedLen + kAddrPortLen ||
      (b.size() - kRelayEndpointFixedLen) % kAddrPortLen != 0) {
    return false;
  }
  m.server_disco = read_disco_key(b.subspan(o::kServerDisco));
  m.client_disco[0] = read_disco_key(b.subspan(o::kClientDisco0));
  m.client_disco[1] = read_disco_key(b.subspan(o::kClientDisco1));
  m.lamport_id = base::load_be64(b.subspan(o::kLamportId));
  m.vni = base::load_be32(b.subspan(o::kVni));
  m.bind_lifetime_ns = static_cast<std::int64_t>(base::load_be64(b.subspan(o::kBindLifetime)));
  m.steady_state_lifetime_ns =
      static_cast<std::int64_t>(base::load_be64(b.subspan(o::kSteadyStateLifetime)));
  m.addr_ports = read_addr_ports(b.subspan(o::kAddrPorts));
  return true;
}

std::optional<Message> parse_via(ConstByteSpan p, std::uint8_t version, DropReason& why) {
  CallMeMaybeVia m;
  m.version = version;
  if (version != 0) return m;
  if (!parse_relay_endpoint(p.subspan(off::via::kEndpoint), m.endpoint)) {
    why = DropReason::bad_udp_relay_endpoint;
    return std::nullopt;
  }
  return m;
}

std::optional<Message> parse_alloc_request(ConstByteSpan p, std::uint8_t version, DropReason& why) {
  AllocateUdpRelayEndpointRequest m;
  m.version = version;
  if (version != 0) return m;
  if (p.size() < kAllocateRequestLen) {
    why = DropReason::short_allocate_request;
    return std::nullopt;
  }
  m.client_disco[0] = read_disco_key(p.subspan(off::alloc_request::kClientDisco0));
  m.client_disco[1] = read_disco_key(p.subspan(off::alloc_request::kClientDisco1));
  m.generation = base::load_be32(p.subspan(off::alloc_request::kGeneration));
  return m;
}

std::optional<Message> parse_alloc_response(ConstByteSpan p, std::uint8_t version,
                                            DropReason& why) {
  AllocateUdpRelayEndpointResponse m;
  m.version = version;
  if (version != 0) return m;
  if (p.size() < off::alloc_response::kEndpoint) {
    why = DropReason::short_allocate_response;
    return std::nullopt;
  }
  m.generation = base::load_be32(p.subspan(off::alloc_response::kGeneration));
  if (!parse_relay_endpoint(p.subspan(off::alloc_response::kEndpoint), m.endpoint)) {
    why = DropReason::bad_udp_relay_endpoint;
    return std::nullopt;
  }
  return m;
}

void write_addr_ports(base::ByteSpan b, const std::vector<base::Endpoint>& eps) {
  for (const auto& ep : eps) {
    write_addr_port(b, ep);
    b = b.subspan(kAddrPortLen);
  }
}

std::size_t relay_endpoint_size(const UdpRelayEndpoint& e) noexcept {
  return kRelayEndpointFixedLen + kAddrPortLen * e.addr_ports.size();
}

void write_relay_endpoint(base::ByteSpan b, const UdpRelayEndpoint& m) {
  namespace o = off::relay_endpoint;
  base::copy_into(b.subspan(o::kServerDisco), m.server_disco.bytes());
  base::copy_into(b.subspan(o::kClientDisco0), m.client_disco[0].bytes());
  base::copy_into(b.subspan(o::kClientDisco1), m.client_disco[1].bytes());
  base::store_be64(b.subspan(o::kLamportId), m.lamport_id);
  base::store_be32(b.subspan(o::kVni), m.vni);
  base::store_be64(b.subspan(o::kBindLifetime), static_cast<std::uint64_t>(m.bind_lifetime_ns));
  base::store_be64(b.subspan(o::kSteadyStateLifetime),
                   static_cast<std::uint64_t>(m.steady_state_lifetime_ns));
  write_addr_ports(b.subspan(o::kAddrPorts), m.addr_ports);
}

void write_ping(base::ByteSpan b, const Ping& m) {
  base::copy_into(b.subspan(off::ping::kTxId), m.tx_id);
  if (m.node_key) base::copy_into(b.subspan(off::ping::kNodeKey), m.node_key->bytes());
  // The padding is already zero.
}

void write_pong(base::ByteSpan b, const Pong& m) {
  base::copy_into(b.subspan(off::pong::kTxId), m.tx_id);
  write_addr_port(b.subspan(off::pong::kAddr), m.src);
}

void write_bind(base::ByteSpan b, const BindUdpRelayEndpoint& m) {
  base::store_be32(b.subspan(off::bind::kVni), m.vni);
  base::store_be32(b.subspan(off::bind::kGeneration), m.generation);
  base::copy_into(b.subspan(off::bind::kRemoteKey), m.remote_key.bytes());
  base::copy_into(b.subspan(off::bind::kChallenge), m.challenge);
}

void write_via(base::ByteSpan b, const CallMeMaybeVia& m) {
  b[off::kVersion] = std::byte{m.version};
  if (m.version == 0) write_relay_endpoint(b.subspan(off::via::kEndpoint), m.endpoint);
}

void write_alloc_request(base::ByteSpan b, const AllocateUdpRelayEndpointRequest& m) {
  b[off::kVersion] = std::byte{m.version};
  if (m.version != 0) return;
  base::copy_into(b.subspan(off::alloc_request::kClientDisco0), m.client_disco[0].bytes());
  base::copy_into(b.subspan(off::alloc_request::kClientDisco1), m.client_disco[1].bytes());
  base::store_be32(b.subspan(off::alloc_request::kGeneration), m.generation);
}

void write_alloc_response(base::ByteSpan b, const AllocateUdpRelayEndpointResponse& m) {
  b[off::kVersion] = std::byte{m.version};
  if (m.version != 0) return;
  base::store_be32(b.subspan(off::alloc_response::kGeneration), m.generation);
  write_relay_endpoint(b.subspan(off::alloc_response::kEndpoint), m.endpoint);
}

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

}  // namespace

std::string_view to_string(MessageType t) noexcept {
  switch (t) {
    case MessageType::ping:
      return "ping";
    case MessageType::pong:
      return "pong";
    case MessageType::call_me_maybe:
      return "call-me-maybe";
    case MessageType::bind_udp_relay_endpoint:
      return "bind-udp-relay-endpoint";
    case MessageType::bind_udp_relay_endpoint_challenge:
      return "bind-udp-relay-endpoint-challenge";
    case MessageType::bind_udp_relay_endpoint_answer:
      return "bind-udp-relay-endpoint-answer";
    case MessageType::call_me_maybe_via:
      return "call-me-maybe-via";
    case MessageType::allocate_udp_relay_endpoint_request:
      return "allocate-udp-relay-endpoint-request";
    case MessageType::allocate_udp_relay_endpoint_response:
      return "allocate-udp-relay-endpoint-response";
  }
  return "unknown";
}

MessageType message_type(const Message& m) noexcept {
  return std::visit(Overload{
                        [](const Ping&) { return MessageType::ping; },
                        [](const Pong&) { return MessageType::pong; },
                        [](const CallMeMaybe&) { return MessageType::call_me_maybe; },
                        [](const BindUdpRelayEndpoint& b) {
                          const bool valid =
                              b.type == MessageType::bind_udp_relay_endpoint ||
                              b.type == MessageType::bind_udp_relay_endpoint_challenge ||
                              b.type == MessageType::bind_udp_relay_endpoint_answer;
                          return valid ? b.type : MessageType::bind_udp_relay_endpoint;
                        },
                        [](const CallMeMaybeVia&) { return MessageType::call_me_maybe_via; },
                        [](const AllocateUdpRelayEndpointRequest&) {
                          return MessageType::allocate_udp_relay_endpoint_request;
                        },
                        [](const AllocateUdpRelayEndpointResponse&) {
                          return MessageType::allocate_udp_relay_endpoint_response;
                        },
                    },
                    m);
}

bool is_peer_relay(MessageType t) noexcept {
  return static_cast<std::uint8_t>(t) >= 0x04 && static_cast<std::uint8_t>(t) <= 0x09;
}

std::optional<Message> parse_message(ConstByteSpan p, DropReason& why) {
  if (p.size() < kMessageHeaderLen) {
    why = DropReason::short_message;
    return std::nullopt;
  }
  const auto type = static_cast<MessageType>(p[off::kType]);
  const auto version = static_cast<std::uint8_t>(p[off::kVersion]);
  switch (type) {
    case MessageType::ping:
      return parse_ping(p, why);
    case MessageType::pong:
      return parse_pong(p, why);
    case MessageType::call_me_maybe:
      return parse_call_me_maybe(p, version);
    case MessageType::bind_udp_relay_endpoint:
    case MessageType::bind_udp_relay_endpoint_challenge:
    case MessageType::bind_udp_relay_endpoint_answer:
      return parse_bind(p, type, why);
    case MessageType::call_me_maybe_via:
      return parse_via(p, version, why);
    case MessageType::allocate_udp_relay_endpoint_request:
      return parse_alloc_request(p, version, why);
    case MessageType::allocate_udp_relay_endpoint_response:
      return parse_alloc_response(p, version, why);
  }
  why = DropReason::unknown_type;
  return std::nullopt;
}

std::size_t encoded_size(const Message& m) noexcept {
  switch (message_type(m)) {
    case MessageType::ping: {
      const auto& p = std::get<Ping>(m);
      return (p.node_key ? kPingLen : kPingMinLen) + p.padding;
    }
    case MessageType::pong:
      return kPongLen;
    case MessageType::call_me_maybe:
      return kMessageHeaderLen + kAddrPortLen * std::get<CallMeMaybe>(m).endpoints.size();
    case MessageType::bind_udp_relay_endpoint:
    case MessageType::bind_udp_relay_endpoint_challenge:
    case MessageType::bind_udp_relay_endpoint_answer:
      return kBindLen;
    case MessageType::call_me_maybe_via: {
      const auto& v = std::get<CallMeMaybeVia>(m);
      if (v.version != 0) return kMessageHeaderLen;
      return off::via::kEndpoint + relay_endpoint_size(v.endpoint);
    }
    case MessageType::allocate_udp_relay_endpoint_request:
      return std::get<AllocateUdpRelayEndpointRequest>(m).version != 0 ? kMessageHeaderLen
                                                                       : kAllocateRequestLen;
    case MessageType::allocate_udp_relay_endpoint_response: {
      const auto& r = std::get<AllocateUdpRelayEndpointResponse>(m);
      if (r.version != 0) return kMessageHeaderLen;
      return off::alloc_response::kEndpoint + relay_endpoint_size(r.endpoint);
    }
  }
  return 0;
}

void append_message(base::Bytes& out, const Message& m) {
  const std::size_t start = out.size();
  const MessageType type = message_type(m);
  out.resize(start + encoded_size(m), std::byte{0});
  const auto b = base::ByteSpan(out).subspan(start);
  b[off::kType] = static_cast<std::byte>(type);
  b[off::kVersion] = std::byte{kVersion};
  switch (type) {
    case MessageType::ping:
      write_ping(b, std::get<Ping>(m));
      break;
    case MessageType::pong:
      write_pong(b, std::get<Pong>(m));
      break;
    case MessageType::call_me_maybe:
      write_addr_ports(b.subspan(off::kPayload), std::get<CallMeMaybe>(m).endpoints);
      break;
    case MessageType::bind_udp_relay_endpoint:
    case MessageType::bind_udp_relay_endpoint_challenge:
    case MessageType::bind_udp_relay_endpoint_answer:
      write_bind(b, std::get<BindUdpRelayEndpoint>(m));
      break;
    case MessageType::call_me_maybe_via:
      write_via(b, std::get<CallMeMaybeVia>(m));
      break;
    case MessageType::allocate_udp_relay_endpoint_request:
      write_alloc_request(b, std::get<AllocateUdpRelayEndpointRequest>(m));
      break;
    case MessageType::allocate_udp_relay_endpoint_response:
      write_alloc_response(b, std::get<AllocateUdpRelayEndpointResponse>(m));
      break;
  }
}

std::string summary(const Message& m) {
  std::string s(to_string(message_type(m)));
  if (const auto* p = std::get_if<Ping>(&m)) {
    s += " tx=" + base::to_hex(base::ConstByteSpan(p->tx_id).first(6)) +
         " padding=" + std::to_string(p->padding);
  } else if (const auto* q = std::get_if<Pong>(&m)) {
    s += " tx=" + base::to_hex(base::ConstByteSpan(q->tx_id).first(6)) +
         " src=" + q->src.to_string();
  } else if (const auto* c = std::get_if<CallMeMaybe>(&m)) {
    s += " endpoints=" + std::to_string(c->endpoints.size());
  }
  return s;
}

}  // namespace disco
