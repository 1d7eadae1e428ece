// SPDX-License-Identifier: MIT
// Why a disco packet or message was rejected. disco/ only names the reason; the caller (the
// magicsock receive path) keeps one counter per reason (STYLE.md section 6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace disco {

#define DISCO_DROP_REASONS(X)                                                               \
  X(none)                          /* not dropped */                                        \
  X(not_disco)                     /* shorter than magic + sender key, or no magic */       \
  X(short_nonce)                   /* disco-shaped, but the 24-byte nonce is cut short */   \
  X(bad_sender_key)                /* sender key gives no shared key (low-order point) */   \
  X(bad_box)                       /* box does not authenticate: wrong key or tampering */  \
  X(short_message)                 /* plaintext shorter than the type and version bytes */  \
  X(unknown_type)                  /* a message type this build does not know */            \
  X(short_ping)                    /* ping without its 12-byte TxID */                      \
  X(short_pong)                    /* pong shorter than TxID + address + port */            \
  X(short_bind_udp_relay_endpoint) /* relay bind/challenge/answer under 72 payload bytes */ \
  X(bad_udp_relay_endpoint)        /* relay endpoint: no address, or a partial address */   \
  X(short_allocate_request)        /* allocation request under 68 payload bytes */          \
  X(short_allocate_response)       /* allocation response without its generation */

enum class DropReason : std::uint8_t {
#define DISCO_DROP_ENUM(name) name,
  DISCO_DROP_REASONS(DISCO_DROP_ENUM)
#undef DISCO_DROP_ENUM
      count_
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

std::string_view to_string(DropReason r) noexcept;

}  // namespace disco
