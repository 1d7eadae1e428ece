// SPDX-License-Identifier: MIT
#include "net/stun.hpp"

#include <cstring>

#include "base/random.hpp"

namespace net::stun {
namespace {

constexpr std::size_t kTypeOff = 0;
constexpr std::size_t kLenOff = 2;
constexpr std::size_t kCookieOff = 4;
constexpr std::size_t kTxOff = 8;
constexpr std::size_t kFingerprintAttrLen = 8;  // type + length + CRC-32

base::Error bad(std::string what) {
  return base::make_error(std::errc::invalid_argument, "stun: " + std::move(what));
}

std::uint32_t crc32_ieee(base::ConstByteSpan b) noexcept {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xffffffffu;
  for (std::byte x : b) c = table[(c ^ static_cast<std::uint8_t>(x)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::uint32_t fingerprint(base::ConstByteSpan b) noexcept {
  return crc32_ieee(b) ^ kFingerprintXor;
}

// Calls fn(type, value) for each attribute; false on malformed attributes.
template <class F>
bool for_each_attr(base::ConstByteSpan b, F&& fn) {
  while (!b.empty()) {
    if (b.size() < 4) return false;
    const std::uint16_t type = base::load_be16(b);
    const std::size_t len = base::load_be16(b.subspan(2));
    const std::size_t padded = (len + 3) & ~std::size_t{3};
    b = b.subspan(4);
    if (padded > b.size()) return false;
    if (!fn(type, b.first(len))) return false;
    b = b.subspan(padded);
  }
  return true;
}

std::size_t family_len(std::byte fam) noexcept {
  if (fam == std::byte{1}) return 4;
  if (fam == std::byte{2}) return 16;
  return 0;
}

std::optional<base::Endpoint> decode_address(base::ConstByteSpan v, const TxId* xor_tx) {
  if (v.size() < 4) return std::nullopt;
  const std::size_t n = family_len(v[1]);
  if (n == 0 || v.size() < 4 + n) return std::nullopt;
  std::uint16_t port = base::load_be16(v.subspan(2));
  std::array<std::byte, 16> a{};
  std::copy_n(v.begin() + 4, n, a.begin());
  if (xor_tx != nullptr) {
    port ^= static_cast<std::uint16_t>(kMagicCookie >> 16);
    std::byte mask[16];
    base::store_be32(std::span<std::byte>(mask, 4), kMagicCookie);
    std::copy(xor_tx->begin(), xor_tx->end(), mask + 4);
    for (std::size_t i = 0; i < n; ++i) a[i] ^= mask[i];
  }
  base::Endpoint ep;
  ep.port = port;
  ep.addr = n == 4 ? base::IpAddr::v4(std::span<const std::byte, 4>(a.data(), 4))
                   : base::IpAddr::v6(std::span<const std::byte, 16>(a.data(), 16)).unmap();
  return ep;
}

}  // namespace

TxId new_tx_id() noexcept {
  TxId t;
  base::random_bytes(t);
  return t;
}

bool is_stun(base::ConstByteSpan b) noexcept {
  return b.size() >= kHeaderLen && (static_cast<std::uint8_t>(b[0]) & 0xc0) == 0 &&
         base::load_be32(b.subspan(kCookieOff)) == kMagicCookie;
}

std::size_t write_request(const TxId& tx, base::ByteSpan out) noexcept {
  if (out.size() < kRequestLen) return 0;
  base::store_be16(out.subspan(kTypeOff), kBindingRequest);
  base::store_be16(out.subspan(kLenOff), static_cast<std::uint16_t>(kRequestLen - kHeaderLen));
  base::store_be32(out.subspan(kCookieOff), kMagicCookie);
  std::copy(tx.begin(), tx.end(), out.begin() + kTxOff);
  std::size_t at = kHeaderLen;
  base::store_be16(out.subspan(at), kAttrSoftware);
  base::store_be16(out.subspan(at + 2), static_cast<std::uint16_t>(kSoftware.size()));
  base::copy_into(out.subspan(at + 4), base::as_bytes(kSoftware));
  at += 4 + kSoftware.size();
  const std::uint32_t fp = fingerprint(out.first(at));
  base::store_be16(out.subspan(at), kAttrFingerprint);
  base::store_be16(out.subspan(at + 2), 4);
  base::store_be32(out.subspan(at + 4), fp);
  return at + kFingerprintAttrLen;
}

base::Result<TxId> parse_request(base::ConstByteSpan b) {
  if (!is_stun(b)) return bad("not STUN");
  if (base::load_be16(b) != kBindingRequest) return bad("not a binding request");
  TxId tx;
  std::copy_n(b.begin() + kTxOff, kTxIdLen, tx.begin());
  bool software_ok = false;
  std::uint16_t last_attr = 0;
  std::uint32_t got_fp = 0;
  // As Tailscale's parser: the attributes run to the end of the datagram.
  if (!for_each_attr(b.subspan(kHeaderLen), [&](std::uint16_t type, base::ConstByteSpan v) {
        last_attr = type;
        if (type == kAttrSoftware && base::as_chars(v) == kSoftware) software_ok = true;
        if (type == kAttrFingerprint && v.size() == 4) got_fp = base::load_be32(v);
        return true;
      })) {
    return bad("malformed attributes");
  }
  if (!software_ok) return bad("request is not from Tailscale software");
  if (last_attr != kAttrFingerprint) return bad("request does not end in FINGERPRINT");
  if (got_fp != fingerprint(b.first(b.size() - kFingerprintAttrLen))) {
    return bad("bad FINGERPRINT");
  }
  return tx;
}

std::size_t write_response(const TxId& tx, const base::Endpoint& ep, base::ByteSpan out) noexcept {
  if (!ep.valid()) return 0;
  const base::IpAddr addr = ep.addr.unmap();
  const std::size_t n = addr.size();
  const std::size_t attrs = 8 + n;
  if (out.size() < kHeaderLen + attrs) return 0;
  base::store_be16(out.subspan(kTypeOff), kBindingSuccess);
  base::store_be16(out.subspan(kLenOff), static_cast<std::uint16_t>(attrs));
  base::store_be32(out.subspan(kCookieOff), kMagicCookie);
  std::copy(tx.begin(), tx.end(), out.begin() + kTxOff);
  const std::size_t at = kHeaderLen;
  base::store_be16(out.subspan(at), kAttrXorMappedAddress);
  base::store_be16(out.subspan(at + 2), static_cast<std::uint16_t>(4 + n));
  out[at + 4] = std::byte{0};
  out[at + 5] = std::byte{static_cast<std::uint8_t>(addr.is_v4() ? 1 : 2)};
  base::store_be16(
      out.subspan(at + 6),
      static_cast<std::uint16_t>(ep.port ^ static_cast<std::uint16_t>(kMagicCookie >> 16)));
  std::byte mask[16];
  base::store_be32(std::span<std::byte>(mask, 4), kMagicCookie);
  std::copy(tx.begin(), tx.end(), mask + 4);
  const auto ab = addr.bytes();
  for (std::size_t i = 0; i < n; ++i) out[at + 8 + i] = ab[i] ^ mask[i];
  return kHeaderLen + attrs;
}

base::Result<Response> parse_response(base::ConstByteSpan b) {
  if (!is_stun(b)) return bad("not STUN");
  Response r;
  std::copy_n(b.begin() + kTxOff, kTxIdLen, r.tx.begin());
  if (base::load_be16(b) != kBindingSuccess) return bad("not a success response");
  const std::size_t attrs_len = base::load_be16(b.subspan(kLenOff));
  auto attrs = b.subspan(kHeaderLen);
  if (attrs_len > attrs.size()) return bad("malformed attributes");
  attrs = attrs.first(attrs_len);  // trailing bytes are ignored
  std::optional<base::Endpoint> xor_addr;
  std::optional<base::Endpoint> plain_addr;
  bool bad_attr = false;
  if (!for_each_attr(attrs,
                     [&](std::uint16_t type, base::ConstByteSpan v) {
                       if (type == kAttrXorMappedAddress || type == kAttrXorMappedAddressAlt) {
                         auto ep = decode_address(v, &r.tx);
                         if (!ep) {
                           bad_attr = true;
                           return false;
                         }
                         xor_addr = ep;
                       } else if (type == kAttrMappedAddress) {
                         auto ep = decode_address(v, nullptr);
                         if (!ep) {
                           bad_attr = true;
                           return false;
                         }
                         plain_addr = ep;
                       }
                       return true;
                     }) ||
      bad_attr) {
    return bad("malformed attributes");
  }
  if (xor_addr) {
    r.addr = *xor_addr;
  } else if (plain_addr) {
    r.addr = *plain_addr;
  } else {
    return bad("no mapped address");
  }
  return r;
}

}  // namespace net::stun
