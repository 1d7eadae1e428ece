// SPDX-License-Identifier: MIT
// WireGuard protocol constants, with the whitepaper's names (fact sheet sections 1 and 8.1).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wg {

using namespace std::chrono_literals;

inline constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view kLabelMac1 = "mac1----";
inline constexpr std::string_view kLabelCookie = "cookie--";

inline constexpr std::uint64_t kRekeyAfterMessages = 1ull << 60;
// 2^64 - 2^13 - 1, as the whitepaper and wireguard-go: counters at or above are never used.
inline constexpr std::uint64_t kRejectAfterMessages = ~0ull - (1ull << 13);
inline constexpr auto kRekeyAfterTime = 120s;
inline constexpr auto kRejectAfterTime = 180s;
inline constexpr auto kRekeyAttemptTime = 90s;
inline constexpr auto kRekeyTimeout = 5s;
inline constexpr auto kKeepaliveTimeout = 10s;
inline constexpr auto kCookieRefreshTime = 120s;
inline constexpr auto kHandshakeInitiationRate =
    20ms;  // at most 50 accepted initiations/s per peer
inline constexpr auto kUnderLoadAfterTime = 1s;
// Jitter added to retransmit and new-handshake timers: uniform in [0, kRekeyTimeoutJitterMaxMs].
inline constexpr std::uint32_t kRekeyTimeoutJitterMaxMs = 333;
// REKEY_ATTEMPT_TIME / REKEY_TIMEOUT: retries before giving up (20 initiations in total).
inline constexpr int kMaxTimerHandshakes = static_cast<int>(kRekeyAttemptTime / kRekeyTimeout);
// Keep key fresh on receive: REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT = 165 s.
inline constexpr auto kRekeyOnReceiveAge = kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout;
inline constexpr auto kZeroKeyMaterialAfter = kRejectAfterTime * 3;

// Packets staged per peer while it has no usable keypair (oldest dropped beyond).
inline constexpr std::size_t kMaxStagedPackets = 128;
// wireguard-go's handshake queue, and the 1/8 mark where "under load" begins.
inline constexpr std::size_t kHandshakeQueueSize = 1024;
inline constexpr std::size_t kUnderLoadQueueLength = kHandshakeQueueSize / 8;

inline constexpr unsigned kDefaultMtu = 1420;  // 1500 - 80 (IPv6 + UDP + WireGuard)

}  // namespace wg
