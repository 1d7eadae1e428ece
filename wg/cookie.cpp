// SPDX-License-Identifier: MIT
#include "wg/cookie.hpp"

#include "base/random.hpp"
#include "wg/constants.hpp"

namespace wg {

using base::ByteSpan;
using base::ConstByteSpan;

namespace {

constexpr std::size_t kMacsSize = 2 * crypto::kMacSize;

ConstByteSpan mac1_covered(ConstByteSpan m) noexcept {
  return m.first(m.size() - kMacsSize);
}
ConstByteSpan mac1_of(ConstByteSpan m) noexcept {
  return m.subspan(m.size() - kMacsSize, crypto::kMacSize);
}
ConstByteSpan mac2_covered(ConstByteSpan m) noexcept {
  return m.first(m.size() - crypto::kMacSize);
}
ConstByteSpan mac2_of(ConstByteSpan m) noexcept {
  return m.last(crypto::kMacSize);
}
bool is_handshake_size(ConstByteSpan m) noexcept {
  return m.size() == kInitiationSize || m.size() == kResponseSize;
}

}  // namespace

crypto::Hash derive_label_key(std::string_view label, const base::NodePublicKey& key) noexcept {
  crypto::Hash h;
  crypto::hash(h, {base::as_bytes(label), key.bytes()});
  return h;
}

void CookieChecker::set_identity(const base::NodePublicKey& our_public) noexcept {
  mac1_key_ = derive_label_key(kLabelMac1, our_public);
  cookie_key_ = derive_label_key(kLabelCookie, our_public);
}

bool CookieChecker::check_mac1(ConstByteSpan message) const noexcept {
  if (!is_handshake_size(message)) return false;
  crypto::Mac want;
  crypto::mac(want, mac1_key_, mac1_covered(message));
  return base::constant_time_equal(want, mac1_of(message));
}

bool CookieChecker::check_mac2(ConstByteSpan message, const base::Endpoint& source,
                               base::TimePoint now) noexcept {
  if (!is_handshake_size(message)) return false;
  if (!secret_born_ || now - *secret_born_ > kCookieRefreshTime) return false;
  const crypto::Mac cookie = cookie_for(source, now);
  crypto::Mac want;
  crypto::mac(want, cookie, mac2_covered(message));
  return base::constant_time_equal(want, mac2_of(message));
}

crypto::Mac CookieChecker::cookie_for(const base::Endpoint& source, base::TimePoint now) noexcept {
  if (!secret_born_ || now - *secret_born_ > kCookieRefreshTime) {
    base::random_bytes(secret_);
    secret_born_ = now;
  }
  // Address encoding is ours alone to check: IP bytes || port (big-endian), as the kernel.
  std::byte addr[18];
  const auto ip = source.addr.bytes();
  base::copy_into(addr, ip);
  base::store_be16(std::span(addr).subspan(ip.size()), source.port);
  crypto::Mac cookie;
  crypto::mac(cookie, secret_, std::span(addr, ip.size() + 2));
  return cookie;
}

CookieReply CookieChecker::make_reply(ConstByteSpan message, std::uint32_t receiver,
                                      const base::Endpoint& source, base::TimePoint now) noexcept {
  crypto::XNonce nonce;
  base::random_bytes(nonce);
  return seal_reply(message, receiver, cookie_for(source, now), nonce);
}

CookieReply CookieChecker::seal_reply(ConstByteSpan message, std::uint32_t receiver,
                                      const crypto::Mac& cookie,
                                      const crypto::XNonce& nonce) const noexcept {
  CookieReply r;
  r.receiver = receiver;
  r.nonce = nonce;
  crypto::xaead_seal(r.encrypted_cookie, cookie_key_, nonce, cookie, mac1_of(message));
  return r;
}

void CookieGenerator::set_peer(const base::NodePublicKey& peer_public) noexcept {
  mac1_key_ = derive_label_key(kLabelMac1, peer_public);
  cookie_key_ = derive_label_key(kLabelCookie, peer_public);
  have_last_mac1_ = false;
  cookie_time_.reset();
}

bool CookieGenerator::has_fresh_cookie(base::TimePoint now) const noexcept {
  return cookie_time_ && now - *cookie_time_ <= kCookieRefreshTime;
}

void CookieGenerator::stamp(ByteSpan message, base::TimePoint now) noexcept {
  if (!is_handshake_size(message)) return;
  const std::size_t at_mac1 = message.size() - kMacsSize;
  const std::size_t at_mac2 = message.size() - crypto::kMacSize;
  crypto::mac(std::span<std::byte, crypto::kMacSize>(message.subspan(at_mac1, crypto::kMacSize)),
              mac1_key_, message.first(at_mac1));
  base::copy_into(last_mac1_, message.subspan(at_mac1, crypto::kMacSize));
  have_last_mac1_ = true;
  auto mac2 = std::span<std::byte, crypto::kMacSize>(message.subspan(at_mac2, crypto::kMacSize));
  if (has_fresh_cookie(now)) {
    crypto::mac(mac2, cookie_, message.first(at_mac2));
  } else {
    std::fill(mac2.begin(), mac2.end(), std::byte{0});
  }
}

bool CookieGenerator::consume_reply(const CookieReply& reply, base::TimePoint now,
                                    DropReason& why) noexcept {
  if (!have_last_mac1_) {
    why = DropReason::unexpected_state;
    return false;
  }
  crypto::Mac cookie;
  if (!crypto::xaead_open(cookie, cookie_key_, reply.nonce, reply.encrypted_cookie, last_mac1_)) {
    why = DropReason::cookie_decrypt;
    return false;
  }
  cookie_ = cookie;
  cookie_time_ = now;
  have_last_mac1_ = false;  // one cookie per message sent, as the kernel does
  why = DropReason::none;
  return true;
}

}  // namespace wg
