// SPDX-License-Identifier: MIT
#include "ipc/uapi_text.hpp"

#include <array>
#include <cstddef>

namespace ipc {

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) noexcept {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    // value * 10 + digit > max, written so that nothing overflows.
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<base::Endpoint> parse_endpoint(std::string_view text) noexcept {
  // base::Endpoint::parse has the same grammar as netip.ParseAddrPort minus zones; the port
  // goes through parse_decimal so that its syntax is exactly ParseUint's.
  if (text.empty()) return std::nullopt;
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  if (!parse_decimal(text.substr(colon + 1), 0xffff)) return std::nullopt;
  return base::Endpoint::parse(text);
}

std::optional<base::IpPrefix> parse_prefix(std::string_view text) noexcept {
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view bits = text.substr(slash + 1);
  if (bits.size() > 1 && bits.front() == '0') return std::nullopt;
  if (!parse_decimal(bits, 128)) return std::nullopt;
  return base::IpPrefix::parse(text, /*allow_bare=*/false);
}

namespace {

void append_v4(std::string& out, base::ConstByteSpan b) {
  for (std::size_t i = 0; i < 4; ++i) {
    if (i != 0) out += '.';
    out += std::to_string(static_cast<unsigned>(b[i]));
  }
}

void append_hex16(std::string& out, unsigned v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (v >> shift) & 0xfu;
    if (nibble != 0 || started || shift == 0) {
      out += kDigits[nibble];
      started = true;
    }
  }
}

}  // namespace

std::string format_ip(const base::IpAddr& addr) {
  std::string out;
  if (addr.is_v4()) {
    append_v4(out, addr.bytes());
    return out;
  }
  if (!addr.is_v6()) return "invalid";
  const base::ConstByteSpan b = addr.bytes();
  if (addr.is_v4_mapped()) {
    out = "::ffff:";
    append_v4(out, b.subspan(12, 4));
    return out;
  }
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) groups[i] = base::load_be16(b.subspan(i * 2, 2));
  // Longest run of at least two zero groups; the first one wins a tie.
  std::size_t zero_start = 8;
  std::size_t zero_len = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    std::size_t j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i >= 2 && j - i > zero_len) {
      zero_start = i;
      zero_len = j - i;
    }
    if (j > i) i = j - 1;
  }
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == zero_start) {
      out += "::";
      i += zero_len - 1;
      continue;
    }
    if (i != 0 && i != zero_start + zero_len) out += ':';
    append_hex16(out, groups[i]);
  }
  return out;
}

std::string format_endpoint(const base::Endpoint& endpoint) {
  if (endpoint.addr.is_v6()) {
    return "[" + format_ip(endpoint.addr) + "]:" + std::to_string(endpoint.port);
  }
  return format_ip(endpoint.addr) + ":" + std::to_string(endpoint.port);
}

std::string format_prefix(const base::IpPrefix& prefix) {
  return format_ip(prefix.addr) + "/" + std::to_string(prefix.bits);
}

std::string quote_for_log(std::string_view text, std::size_t max) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  out += '"';
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace ipc
