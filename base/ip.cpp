// SPDX-License-Identifier: MIT
#include "base/ip.hpp"

#include <charconv>
#include <functional>

#include <arpa/inet.h>

namespace base {

IpAddr IpAddr::v4(std::span<const std::byte, 4> b) noexcept {
  IpAddr a;
  a.family_ = Family::v4;
  std::copy(b.begin(), b.end(), a.b_.begin());
  return a;
}

IpAddr IpAddr::v4(std::uint32_t host_order) noexcept {
  std::byte b[4];
  store_be32(b, host_order);
  return v4(std::span<const std::byte, 4>(b));
}

IpAddr IpAddr::v6(std::span<const std::byte, 16> b) noexcept {
  IpAddr a;
  a.family_ = Family::v6;
  std::copy(b.begin(), b.end(), a.b_.begin());
  return a;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) noexcept {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.b_.data()) == 1) {
    a.family_ = Family::v4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.b_.data()) == 1) {
    a.family_ = Family::v6;
    return a;
  }
  return std::nullopt;
}

bool IpAddr::is_unspecified() const noexcept {
  return valid() && is_all_zero(bytes());
}

bool IpAddr::is_loopback() const noexcept {
  if (is_v4()) return b_[0] == std::byte{127};
  if (is_v6()) {
    for (int i = 0; i < 15; ++i)
      if (b_[static_cast<std::size_t>(i)] != std::byte{0}) return false;
    return b_[15] == std::byte{1};
  }
  return false;
}

bool IpAddr::is_v4_mapped() const noexcept {
  if (!is_v6()) return false;
  for (int i = 0; i < 10; ++i)
    if (b_[static_cast<std::size_t>(i)] != std::byte{0}) return false;
  return b_[10] == std::byte{0xff} && b_[11] == std::byte{0xff};
}

IpAddr IpAddr::unmap() const noexcept {
  if (!is_v4_mapped()) return *this;
  return v4(std::span<const std::byte, 4>(b_.data() + 12, 4));
}

IpAddr IpAddr::masked(unsigned bits) const noexcept {
  IpAddr a = *this;
  const std::size_t n = size();
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned lo = static_cast<unsigned>(i * 8);
    if (bits >= lo + 8) continue;
    if (bits <= lo) {
      a.b_[i] = std::byte{0};
    } else {
      const unsigned keep = bits - lo;  // 1..7 leading bits of this byte
      a.b_[i] &= std::byte(static_cast<std::uint8_t>(0xff00u >> keep));
    }
  }
  return a;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) return inet_ntop(AF_INET, b_.data(), buf, sizeof buf);
  if (is_v6()) return inet_ntop(AF_INET6, b_.data(), buf, sizeof buf);
  return "invalid";
}

namespace {
template <class T>
bool parse_number(std::string_view s, T& out) noexcept {
  if (s.empty() || s.size() > 10) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::optional<IpPrefix> IpPrefix::parse(std::string_view text, bool allow_bare) noexcept {
  const auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned bits = addr->bit_length();
  if (slash != std::string_view::npos) {
    if (!parse_number(text.substr(slash + 1), bits)) return std::nullopt;
    if (bits > addr->bit_length()) return std::nullopt;
  } else if (!allow_bare) {
    return std::nullopt;
  }
  return IpPrefix{*addr, static_cast<std::uint8_t>(bits)};
}

bool IpPrefix::contains(const IpAddr& a) const noexcept {
  return a.family() == addr.family() && a.masked(bits) == addr.masked(bits);
}

std::string IpPrefix::to_string() const {
  return addr.to_string() + "/" + std::to_string(bits);
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) noexcept {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare v6 needs []
  }
  auto addr = IpAddr::parse(host);
  std::uint16_t p = 0;
  if (!addr || !parse_number(port, p)) return std::nullopt;
  if (text.front() == '[' && !addr->is_v6()) return std::nullopt;
  return Endpoint{*addr, p};
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    return Endpoint{IpAddr::v4(ntohl(in.sin_addr.s_addr)), ntohs(in.sin_port)};
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    return Endpoint{IpAddr::v6(std::span<const std::byte, 16>(
                        reinterpret_cast<const std::byte*>(in6.sin6_addr.s6_addr), 16)),
                    ntohs(in6.sin6_port)};
  }
  return std::nullopt;
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage& out) const noexcept {
  std::memset(&out, 0, sizeof out);
  if (addr.is_v4()) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, addr.bytes().data(), 4);
    std::memcpy(&out, &in, sizeof in);
    return sizeof in;
  }
  if (addr.is_v6()) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&in6.sin6_addr, addr.bytes().data(), 16);
    std::memcpy(&out, &in6, sizeof in6);
    return sizeof in6;
  }
  return 0;
}

std::string Endpoint::to_string() const {
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(port);
  return addr.to_string() + ":" + std::to_string(port);
}

std::size_t EndpointHash::operator()(const Endpoint& e) const noexcept {
  std::size_t h =
      std::hash<std::uint16_t>{}(e.port) ^ (static_cast<std::size_t>(e.addr.family()) << 20);
  for (std::byte b : e.addr.bytes()) h = h * 1099511628211ull + static_cast<std::size_t>(b);
  return h;
}

}  // namespace base
