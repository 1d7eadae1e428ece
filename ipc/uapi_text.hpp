// SPDX-License-Identifier: MIT
// Value syntax of the cross-platform config protocol (fact sheet section 12), shared by the
// set parser, the set formatter and the get formatter.
//
// Parsers follow what wireguard-go accepts (Go's strconv.ParseUint, netip.ParseAddrPort,
// netip.ParsePrefix, hex.DecodeString) and are strict everywhere else: no spaces, no signs,
// no host names. Formatters print what wireguard-go prints (Go's netip String methods), which
// differs from inet_ntop(3) for IPv4-compatible IPv6 addresses (`::1.2.3.4` is `::102:304`).
//
// One difference is deliberate: IPv6 scope zones (`[fe80::1%eth0]:51820`) are rejected,
// because base::Endpoint has no scope id to carry them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip.hpp"

namespace ipc {

// errno values wireguard-go answers with (ipc/uapi_unix.go), as positive numbers; responses
// carry them negated.
inline constexpr int kErrnoIo = 5;             // EIO: reading the request failed
inline constexpr int kErrnoInvalid = 22;       // EINVAL: unknown key or bad value
inline constexpr int kErrnoAddressInUse = 98;  // EADDRINUSE: listen port or fwmark failed
inline constexpr int kErrnoProtocol = 71;      // EPROTO: a line without '='
inline constexpr int kErrnoUnknown = 55;       // wireguard-go's "other UAPI error"

// Decimal digits only (leading zeros allowed, as Go's ParseUint), value <= max.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) noexcept;

// `a.b.c.d:port` or `[v6]:port`; numeric only.
std::optional<base::Endpoint> parse_endpoint(std::string_view text) noexcept;
// `addr/bits`; bits has no leading zero (Go >= 1.22); host bits may be set (not masked here).
std::optional<base::IpPrefix> parse_prefix(std::string_view text) noexcept;

// Go's netip.Addr.String: RFC 5952 for IPv6 (longest run of two or more zero groups shortened,
// the first on a tie, lowercase), `::ffff:a.b.c.d` for IPv4-mapped addresses.
std::string format_ip(const base::IpAddr& addr);
// `a.b.c.d:port` or `[v6]:port`.
std::string format_endpoint(const base::Endpoint& endpoint);
// `addr/bits`, the address printed as given (callers pass masked prefixes where they must).
std::string format_prefix(const base::IpPrefix& prefix);

// For log messages: at most `max` bytes of `text`, with bytes outside printable ASCII shown
// as \xNN, in double quotes.
std::string quote_for_log(std::string_view text, std::size_t max = 64);

}  // namespace ipc
