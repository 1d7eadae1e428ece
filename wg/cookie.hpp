// SPDX-License-Identifier: MIT
// mac1, mac2 and cookie replies (fact sheet section 4).
//
// CookieChecker (one per interface, for messages sent to us): verifies mac1 with the key
// derived from our public key, verifies mac2 against the cookie we would give the source,
// and seals cookie replies. Its secret is replaced lazily when older than 2 minutes.
// CookieGenerator (one per peer, for messages we send to it): stamps mac1 and, while we hold
// a cookie from that peer younger than 2 minutes, mac2; opens the peer's cookie replies.
//
// Messages are whole type 1 or 2 messages: mac1 sits 32 bytes before the end and covers what
// precedes it; mac2 sits 16 bytes before the end and covers everything before it.
// Thread safety: none; both belong to the control thread.
#pragma once

#include <optional>

#include "base/clock.hpp"
#include "base/ip.hpp"
#include "base/keys.hpp"
#include "wg/crypto.hpp"
#include "wg/drop_reason.hpp"
#include "wg/messages.hpp"

namespace wg {

// HASH(label || public key): the mac1 key (label "mac1----") or cookie key ("cookie--").
crypto::Hash derive_label_key(std::string_view label, const base::NodePublicKey& key) noexcept;

class CookieChecker {
 public:
  void set_identity(const base::NodePublicKey& our_public) noexcept;

  bool check_mac1(base::ConstByteSpan message) const noexcept;
  bool check_mac2(base::ConstByteSpan message, const base::Endpoint& source,
                  base::TimePoint now) noexcept;
  // A reply to `message` (whose sender index is `receiver`) carrying the cookie for `source`.
  CookieReply make_reply(base::ConstByteSpan message, std::uint32_t receiver,
                         const base::Endpoint& source, base::TimePoint now) noexcept;
  // The same with a given cookie and nonce, for test vectors.
  CookieReply seal_reply(base::ConstByteSpan message, std::uint32_t receiver,
                         const crypto::Mac& cookie, const crypto::XNonce& nonce) const noexcept;

 private:
  crypto::Mac cookie_for(const base::Endpoint& source, base::TimePoint now) noexcept;

  crypto::Hash mac1_key_{};
  crypto::Hash cookie_key_{};
  crypto::Key secret_{};
  std::optional<base::TimePoint> secret_born_;
};

class CookieGenerator {
 public:
  void set_peer(const base::NodePublicKey& peer_public) noexcept;

  // Writes mac1 and mac2 into `message` and remembers mac1 for a cookie reply to it.
  void stamp(base::ByteSpan message, base::TimePoint now) noexcept;
  // Opens a cookie reply to the last message we stamped; keeps the cookie on success.
  bool consume_reply(const CookieReply& reply, base::TimePoint now, DropReason& why) noexcept;
  bool has_fresh_cookie(base::TimePoint now) const noexcept;

 private:
  crypto::Hash mac1_key_{};
  crypto::Hash cookie_key_{};
  crypto::Mac last_mac1_{};
  bool have_last_mac1_ = false;
  crypto::Mac cookie_{};
  std::optional<base::TimePoint> cookie_time_;
};

}  // namespace wg
