// SPDX-License-Identifier: MIT
// WireGuard messages on the wire (fact sheet section 2). All integers little-endian; the
// first four bytes are the type and three zero bytes, read as one LE u32.
//
// Type 1, handshake initiation, 148 bytes:
//   0 type | 4 sender_index | 8 ephemeral[32] | 40 encrypted_static[48]
//   | 88 encrypted_timestamp[28] | 116 mac1[16] | 132 mac2[16]
// Type 2, handshake response, 92 bytes:
//   0 type | 4 sender_index | 8 receiver_index | 12 ephemeral[32] | 44 encrypted_nothing[16]
//   | 60 mac1[16] | 76 mac2[16]
// Type 3, cookie reply, 64 bytes:
//   0 type | 4 receiver_index | 8 nonce[24] | 32 encrypted_cookie[32]
// Type 4, transport data, 32 + 16k bytes (at least 32):
//   0 type | 4 receiver_index | 8 counter (u64) | 16 ciphertext (padded inner packet) + tag[16]
//
// classify() dispatches on (type, exact length) before any crypto, as the kernel and
// wireguard-go do. parse_*() copy the fields into values; write_*() serialise them back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/bytes.hpp"
#include "wg/crypto.hpp"
#include "wg/drop_reason.hpp"

namespace wg {

enum class MessageType : std::uint8_t {
  initiation = 1,
  response = 2,
  cookie_reply = 3,
  transport = 4,
};

inline constexpr std::size_t kInitiationSize = 148;
inline constexpr std::size_t kResponseSize = 92;
inline constexpr std::size_t kCookieReplySize = 64;
inline constexpr std::size_t kTransportHeaderSize = 16;
inline constexpr std::size_t kTransportMinSize =
    kTransportHeaderSize + crypto::kTagSize;  // keepalive
inline constexpr std::size_t kTimestampSize = 12;
inline constexpr std::size_t kCookieSize = 16;

namespace off {
inline constexpr std::size_t kType = 0;
namespace init {
inline constexpr std::size_t kSender = 4;
inline constexpr std::size_t kEphemeral = 8;
inline constexpr std::size_t kStatic = 40;
inline constexpr std::size_t kTimestamp = 88;
inline constexpr std::size_t kMac1 = 116;
inline constexpr std::size_t kMac2 = 132;
}  // namespace init
namespace resp {
inline constexpr std::size_t kSender = 4;
inline constexpr std::size_t kReceiver = 8;
inline constexpr std::size_t kEphemeral = 12;
inline constexpr std::size_t kEmpty = 44;
inline constexpr std::size_t kMac1 = 60;
inline constexpr std::size_t kMac2 = 76;
}  // namespace resp
namespace cookie {
inline constexpr std::size_t kReceiver = 4;
inline constexpr std::size_t kNonce = 8;
inline constexpr std::size_t kCookie = 32;
}  // namespace cookie
namespace data {
inline constexpr std::size_t kReceiver = 4;
inline constexpr std::size_t kCounter = 8;
inline constexpr std::size_t kPayload = 16;
}  // namespace data
}  // namespace off

inline constexpr std::size_t kEncryptedStaticSize = base::kKeySize + crypto::kTagSize;
inline constexpr std::size_t kEncryptedTimestampSize = kTimestampSize + crypto::kTagSize;
inline constexpr std::size_t kEncryptedCookieSize = kCookieSize + crypto::kTagSize;

static_assert(off::init::kStatic == off::init::kEphemeral + base::kKeySize);
static_assert(off::init::kTimestamp == off::init::kStatic + kEncryptedStaticSize);
static_assert(off::init::kMac1 == off::init::kTimestamp + kEncryptedTimestampSize);
static_assert(off::init::kMac2 == off::init::kMac1 + crypto::kMacSize);
static_assert(kInitiationSize == off::init::kMac2 + crypto::kMacSize);
static_assert(off::resp::kEmpty == off::resp::kEphemeral + base::kKeySize);
static_assert(off::resp::kMac1 == off::resp::kEmpty + crypto::kTagSize);
static_assert(kResponseSize == off::resp::kMac2 + crypto::kMacSize);
static_assert(off::cookie::kCookie == off::cookie::kNonce + crypto::kXNonceSize);
static_assert(kCookieReplySize == off::cookie::kCookie + kEncryptedCookieSize);
static_assert(kTransportMinSize == 32);

struct Initiation {
  std::uint32_t sender = 0;
  base::KeyBytes ephemeral{};
  std::array<std::byte, kEncryptedStaticSize> encrypted_static{};
  std::array<std::byte, kEncryptedTimestampSize> encrypted_timestamp{};
  crypto::Mac mac1{};
  crypto::Mac mac2{};
  friend bool operator==(const Initiation&, const Initiation&) = default;
};

struct Response {
  std::uint32_t sender = 0;
  std::uint32_t receiver = 0;
  base::KeyBytes ephemeral{};
  std::array<std::byte, crypto::kTagSize> encrypted_nothing{};
  crypto::Mac mac1{};
  crypto::Mac mac2{};
  friend bool operator==(const Response&, const Response&) = default;
};

struct CookieReply {
  std::uint32_t receiver = 0;
  crypto::XNonce nonce{};
  std::array<std::byte, kEncryptedCookieSize> encrypted_cookie{};
  friend bool operator==(const CookieReply&, const CookieReply&) = default;
};

struct TransportHeader {
  std::uint32_t receiver = 0;
  std::uint64_t counter = 0;
  friend bool operator==(const TransportHeader&, const TransportHeader&) = default;
};

// The message type of a datagram if its (type, length) pair is valid, else nullopt and `why`.
std::optional<MessageType> classify(base::ConstByteSpan datagram, DropReason& why) noexcept;

// Each parse_* expects a datagram that classify() accepted as that type; it returns nullopt
// for anything else (wrong size or type), so it is safe on arbitrary bytes.
std::optional<Initiation> parse_initiation(base::ConstByteSpan b) noexcept;
std::optional<Response> parse_response(base::ConstByteSpan b) noexcept;
std::optional<CookieReply> parse_cookie_reply(base::ConstByteSpan b) noexcept;
std::optional<TransportHeader> parse_transport_header(base::ConstByteSpan b) noexcept;

void write_initiation(const Initiation& m, std::span<std::byte, kInitiationSize> out) noexcept;
void write_response(const Response& m, std::span<std::byte, kResponseSize> out) noexcept;
void write_cookie_reply(const CookieReply& m, std::span<std::byte, kCookieReplySize> out) noexcept;
void write_transport_header(const TransportHeader& h,
                            std::span<std::byte, kTransportHeaderSize> out) noexcept;

// The receiver index of a type 4 message: the cheapest thing the data path reads first.
inline std::uint32_t transport_receiver(base::ConstByteSpan b) noexcept {
  return base::load_le32(b.subspan(off::data::kReceiver));
}

}  // namespace wg
