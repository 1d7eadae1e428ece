// SPDX-License-Identifier: MIT
// Transport data messages, sealed and opened in place in a PacketBuf (fact sheet 6).
//
// seal: | headroom | inner packet | tailroom |
//   ->  | hdr (16, pushed into headroom) | inner + zero padding, encrypted | tag (16) |
// open: the reverse; afterwards data() is the padded plaintext (empty for a keepalive).
//
// These functions touch only the buffer and the keys they are given: keypair selection,
// counters, replay and timers are the caller's (wg::Device). Thread safe given one
// TransportAead per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/packet.hpp"
#include "wg/crypto.hpp"

namespace wg {

inline constexpr std::size_t kPaddingMultiple = 16;

// Zero bytes to append to an inner packet of `length` bytes for an interface MTU of `mtu`
// (0 = no MTU): round up to 16 but never past the MTU; beyond the MTU (a GSO super-packet)
// pad by the length of the last MTU-sized unit, as wireguard-go does.
std::size_t padding_size(std::size_t length, unsigned mtu) noexcept;

// Seals the inner packet in `p` as a transport message. Requires p.headroom() >= 16 and
// p.tailroom() >= padding + 16 (PacketBuf's kTailroom always suffices). False if the cipher
// failed: the buffer then holds no plaintext, and the caller must drop it.
[[nodiscard]] bool seal_transport(base::PacketBuf& p, const crypto::Key& send_key,
                                  std::uint32_t receiver, std::uint64_t counter, unsigned mtu,
                                  crypto::TransportAead& aead) noexcept;

// Opens the transport message in `p` (already classified, at least 32 bytes) with `counter`
// (read from its header by the caller). On success data() is the padded plaintext; on
// failure the buffer's contents are unspecified and it must be dropped.
[[nodiscard]] bool open_transport(base::PacketBuf& p, const crypto::Key& receive_key,
                                  std::uint64_t counter, crypto::TransportAead& aead) noexcept;

// The length of the IP packet at the front of a decrypted plaintext, or nullopt if it is not
// a sane IPv4 or IPv6 packet (version nibble, header length, length field within bounds).
std::optional<std::size_t> inner_packet_length(base::ConstByteSpan plaintext) noexcept;

}  // namespace wg
