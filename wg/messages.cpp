// SPDX-License-Identifier: MIT
#include "wg/messages.hpp"

namespace wg {

using base::ByteSpan;
using base::ConstByteSpan;

namespace {

template <std::size_t N>
void read_field(ConstByteSpan b, std::size_t at, std::array<std::byte, N>& out) noexcept {
  base::copy_into(out, b.subspan(at, N));
}
template <std::size_t N>
void write_field(ByteSpan b, std::size_t at, const std::array<std::byte, N>& in) noexcept {
  base::copy_into(b.subspan(at, N), in);
}
bool has_type(ConstByteSpan b, MessageType t) noexcept {
  return b.size() >= 4 && base::load_le32(b) == static_cast<std::uint32_t>(t);
}
void write_type(ByteSpan b, MessageType t) noexcept {
  base::store_le32(b, static_cast<std::uint32_t>(t));
}

}  // namespace

std::optional<MessageType> classify(ConstByteSpan datagram, DropReason& why) noexcept {
  if (datagram.size() < kTransportMinSize) {
    why = DropReason::too_short;
    return std::nullopt;
  }
  const std::uint32_t type = base::load_le32(datagram);
  std::size_t want = 0;
  switch (type) {
    case 1:
      want = kInitiationSize;
      break;
    case 2:
      want = kResponseSize;
      break;
    case 3:
      want = kCookieReplySize;
      break;
    case 4:
      why = DropReason::none;
      return MessageType::transport;
    default:
      why = DropReason::unknown_type;
      return std::nullopt;
  }
  if (datagram.size() != want) {
    why = DropReason::bad_length;
    return std::nullopt;
  }
  why = DropReason::none;
  return static_cast<MessageType>(type);
}

std::optional<Initiation> parse_initiation(ConstByteSpan b) noexcept {
  if (b.size() != kInitiationSize || !has_type(b, MessageType::initiation)) return std::nullopt;
  Initiation m;
  m.sender = base::load_le32(b.subspan(off::init::kSender));
  read_field(b, off::init::kEphemeral, m.ephemeral);
  read_field(b, off::init::kStatic, m.encrypted_static);
  read_field(b, off::init::kTimestamp, m.encrypted_timestamp);
  read_field(b, off::init::kMac1, m.mac1);
  read_field(b, off::init::kMac2, m.mac2);
  return m;
}

std::optional<Response> parse_response(ConstByteSpan b) noexcept {
  if (b.size() != kResponseSize || !has_type(b, MessageType::response)) return std::nullopt;
  Response m;
  m.sender = base::load_le32(b.subspan(off::resp::kSender));
  m.receiver = base::load_le32(b.subspan(off::resp::kReceiver));
  read_field(b, off::resp::kEphemeral, m.ephemeral);
  read_field(b, off::resp::kEmpty, m.encrypted_nothing);
  read_field(b, off::resp::kMac1, m.mac1);
  read_field(b, off::resp::kMac2, m.mac2);
  return m;
}

std::optional<CookieReply> parse_cookie_reply(ConstByteSpan b) noexcept {
  if (b.size() != kCookieReplySize || !has_type(b, MessageType::cookie_reply)) return std::nullopt;
  CookieReply m;
  m.receiver = base::load_le32(b.subspan(off::cookie::kReceiver));
  read_field(b, off::cookie::kNonce, m.nonce);
  read_field(b, off::cookie::kCookie, m.encrypted_cookie);
  return m;
}

std::optional<TransportHeader> parse_transport_header(ConstByteSpan b) noexcept {
  if (b.size() < kTransportMinSize || !has_type(b, MessageType::transport)) return std::nullopt;
  return TransportHeader{base::load_le32(b.subspan(off::data::kReceiver)),
                         base::load_le64(b.subspan(off::data::kCounter))};
}

void write_initiation(const Initiation& m, std::span<std::byte, kInitiationSize> out) noexcept {
  write_type(out, MessageType::initiation);
  base::store_le32(ByteSpan(out).subspan(off::init::kSender), m.sender);
  write_field(out, off::init::kEphemeral, m.ephemeral);
  write_field(out, off::init::kStatic, m.encrypted_static);
  write_field(out, off::init::kTimestamp, m.encrypted_timestamp);
  write_field(out, off::init::kMac1, m.mac1);
  write_field(out, off::init::kMac2, m.mac2);
}

void write_response(const Response& m, std::span<std::byte, kResponseSize> out) noexcept {
  write_type(out, MessageType::response);
  base::store_le32(ByteSpan(out).subspan(off::resp::kSender), m.sender);
  base::store_le32(ByteSpan(out).subspan(off::resp::kReceiver), m.receiver);
  write_field(out, off::resp::kEphemeral, m.ephemeral);
  write_field(out, off::resp::kEmpty, m.encrypted_nothing);
  write_field(out, off::resp::kMac1, m.mac1);
  write_field(out, off::resp::kMac2, m.mac2);
}

void write_cookie_reply(const CookieReply& m, std::span<std::byte, kCookieReplySize> out) noexcept {
  write_type(out, MessageType::cookie_reply);
  base::store_le32(ByteSpan(out).subspan(off::cookie::kReceiver), m.receiver);
  write_field(out, off::cookie::kNonce, m.nonce);
  write_field(out, off::cookie::kCookie, m.encrypted_cookie);
}

void write_transport_header(const TransportHeader& h,
                            std::span<std::byte, kTransportHeaderSize> out) noexcept {
  write_type(out, MessageType::transport);
  base::store_le32(ByteSpan(out).subspan(off::data::kReceiver), h.receiver);
  base::store_le64(ByteSpan(out).subspan(off::data::kCounter), h.counter);
}

}  // namespace wg
