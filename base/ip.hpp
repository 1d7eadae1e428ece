// SPDX-License-Identifier: MIT
// IP addresses, prefixes and UDP endpoints as plain values.
//
// IpAddr holds 4 or 16 address bytes in network order plus the family; an IPv4-mapped IPv6
// address stays IPv6 (callers that want to fold it call unmap()). Text forms are the usual
// ones: "10.0.0.1", "fd00::1", endpoints "10.0.0.1:51820" and "[fd00::1]:51820", prefixes
// "10.0.0.0/24". Parsers are strict: numeric only, no host names, no trailing bytes.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

#include "base/bytes.hpp"

namespace base {

class IpAddr {
 public:
  enum class Family : std::uint8_t { none = 0, v4 = 4, v6 = 6 };

  constexpr IpAddr() = default;
  static IpAddr v4(std::span<const std::byte, 4> b) noexcept;
  static IpAddr v4(std::uint32_t host_order) noexcept;
  static IpAddr v6(std::span<const std::byte, 16> b) noexcept;
  static std::optional<IpAddr> parse(std::string_view text) noexcept;

  Family family() const noexcept { return family_; }
  bool is_v4() const noexcept { return family_ == Family::v4; }
  bool is_v6() const noexcept { return family_ == Family::v6; }
  bool valid() const noexcept { return family_ != Family::none; }
  std::size_t size() const noexcept { return is_v4() ? 4 : is_v6() ? 16 : 0; }
  unsigned bit_length() const noexcept { return static_cast<unsigned>(size() * 8); }
  // The address bytes in network order: 4 or 16 of them.
  ConstByteSpan bytes() const noexcept { return ConstByteSpan(b_.data(), size()); }
  std::uint32_t v4_host_order() const noexcept { return load_be32(bytes()); }

  bool is_unspecified() const noexcept;
  bool is_loopback() const noexcept;
  bool is_v4_mapped() const noexcept;
  IpAddr unmap() const noexcept;  // ::ffff:a.b.c.d -> a.b.c.d; anything else unchanged
  // Keeps the first `bits` bits, zeroes the rest.
  IpAddr masked(unsigned bits) const noexcept;

  std::string to_string() const;

  friend bool operator==(const IpAddr&, const IpAddr&) = default;
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;

 private:
  Family family_ = Family::none;
  std::array<std::byte, 16> b_{};
};

struct IpPrefix {
  IpAddr addr;
  std::uint8_t bits = 0;

  // "addr/bits"; bits defaults to the full length when absent only if allow_bare is true.
  static std::optional<IpPrefix> parse(std::string_view text, bool allow_bare = false) noexcept;
  IpPrefix masked() const noexcept { return {addr.masked(bits), bits}; }
  bool contains(const IpAddr& a) const noexcept;
  std::string to_string() const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
};

struct Endpoint {
  IpAddr addr;
  std::uint16_t port = 0;

  static std::optional<Endpoint> parse(std::string_view text) noexcept;
  static std::optional<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;
  // Fills `out`, returns the length to pass to the kernel (0 if this endpoint is not valid).
  socklen_t to_sockaddr(sockaddr_storage& out) const noexcept;
  bool valid() const noexcept { return addr.valid(); }
  std::string to_string() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

struct EndpointHash {
  std::size_t operator()(const Endpoint& e) const noexcept;
};

}  // namespace base
