// SPDX-License-Identifier: MIT
// The `set=1` request of the cross-platform config protocol (fact sheet section 12.3), parsed
// and validated as a whole before anything is applied.
//
// wireguard-go applies set lines one by one as they arrive, so a bad line leaves the earlier
// ones applied. meshtund applies a request all-or-nothing instead: parse_set_request() checks
// every line (syntax, ranges, which section a key belongs to) and only a request that passes
// reaches the daemon. The errno of a rejected request is the one wireguard-go would have sent
// for its first bad line.
//
// Request body grammar (after the `set=1\n` line, before the terminating blank line):
//
//   interface section: private_key= listen_port= fwmark= replace_peers=true
//   peer sections, each started by public_key=:
//     remove=true update_only=true preshared_key= endpoint= persistent_keepalive_interval=
//     replace_allowed_ips=true allowed_ip=[-]addr/bits protocol_version=1
//
// A line is `key=value` (split at the first '='), ends in '\n', and may end in "\r\n" (Go's
// line scanner drops the '\r'). Keys are hex (64 digits, either case) of the raw 32 bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"

namespace ipc {

// One `allowed_ip=` line, in request order.
struct AllowedIpChange {
  base::IpPrefix prefix;  // as sent: host bits are not cleared here (the applier masks)
  bool remove = false;    // `allowed_ip=-addr/bits`: drop this exact prefix from the peer

  friend bool operator==(const AllowedIpChange&, const AllowedIpChange&) = default;
};

// One peer section. The same public key may start several sections of one request; they are
// applied in order.
//
// How wireguard-go treats a section, which the applier must follow:
// - remove: the peer is deleted (if it exists). Every other line of the section is still
//   validated but has no effect: lines before `remove` die with the peer, lines after it go
//   to a placeholder.
// - update_only: if the peer does not exist when the section starts (counting earlier
//   sections of this request), the section creates nothing and has no effect.
// - A public key equal to the device's own public key (after this request's private_key, if
//   any) makes the section a no-op.
// - replace_allowed_ips: drop the peer's allowed IPs, then apply `allowed_ips` in order. The
//   parser already dropped `allowed_ip` lines that came before `replace_allowed_ips=true`.
// - persistent_keepalive_interval: changing it from 0 to non-zero sends a keepalive at once.
// Repeated keys in one section: the last value wins.
struct PeerChange {
  base::NodePublicKey public_key;
  bool remove = false;
  bool update_only = false;
  std::optional<base::PresharedKey> preshared_key;  // all-zero: no preshared key
  std::optional<base::Endpoint> endpoint;
  std::optional<std::uint16_t> persistent_keepalive_interval;  // seconds, 0 = off
  bool replace_allowed_ips = false;
  std::vector<AllowedIpChange> allowed_ips;
  std::optional<std::uint32_t> protocol_version;  // when present, always 1

  friend bool operator==(const PeerChange&, const PeerChange&) = default;
};

struct SetRequest {
  // Clamped for X25519, as wireguard-go stores it. All-zero: the device drops its key.
  // Changing the key removes peers whose public key equals the new public key (section 7).
  std::optional<base::NodePrivateKey> private_key;
  std::optional<std::uint16_t> listen_port;  // 0 = pick a random port
  std::optional<std::uint32_t> fwmark;       // 0 = none
  bool replace_peers = false;                // remove every peer before `peers` apply
  std::vector<PeerChange> peers;

  friend bool operator==(const SetRequest&, const SetRequest&) = default;
};

// Parses the body of a set request: its lines after `set=1\n`, without the terminating blank
// line (what RequestFramer yields); a final line may lack its '\n'. On error: the code is a
// std::errc whose value is the errno wireguard-go would answer (negate it for the response,
// see uapi_errno()); the message names the line and is fit for the log (it never contains
// key material).
base::Result<SetRequest> parse_set_request(std::string_view body);

// The request as `set=1\n...\n\n` text that parse_set_request() (after framing) turns back
// into an equal SetRequest. Keys are lowercase hex; the text carries secrets.
std::string format_set_request(const SetRequest& request);

// The negative errno to answer for `error` (a parse_set_request() error or any error whose
// code is a generic/system errno); anything else maps to wireguard-go's -55.
int uapi_errno(const base::Error& error) noexcept;

}  // namespace ipc
