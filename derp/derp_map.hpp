// SPDX-License-Identifier: MIT
// Tailscale's DERPMap JSON (tailcfg/derpmap.go), as its control plane and `derper` write it.
//
//   {"HomeParams": {"RegionScore": {"900": 0.8}},
//    "Regions": {"900": {"RegionID": 900, "RegionCode": "lab", "RegionName": "Lab",
//                        "Avoid": false, "NoMeasureNoHome": false, "Latitude": 52.4,
//                        "Nodes": [{"Name": "900a", "RegionID": 900, "HostName": "derp.lab",
//                                   "CertName": "sha256-raw:<64 hex>", "IPv4": "192.0.2.10",
//                                   "IPv6": "none", "STUNPort": 0, "DERPPort": 0, ...}]}},
//    "omitDefaultRegions": true}
//
// Decoding follows Go's encoding/json where that matters for interoperability: struct field
// names match in any ASCII case, unknown fields are ignored, null leaves a field at its zero
// value, and integer fields take integer literals only (3478.0 is refused, as Go refuses it).
//
// It is stricter than Go where Go would silently accept a map that cannot work, so that a
// hand-written map fails when it is loaded rather than when a region is dialed:
//   - region keys are decimal region IDs in 1..2^53-1 and equal the region's RegionID; each
//     node's RegionID equals its region's; a key given twice (also "1" next to "01") is an error
//   - every region has at least one node; every node has a Name (unique across the map) and
//     a HostName
//   - IPv4 / IPv6 are empty (use DNS), "none" (family disabled) or an address of that family;
//     Tailscale treats any other string as "disabled", we call it a typo
//   - STUNPort is -1..65535, DERPPort 0..65535; STUNTestIP is empty or an address
//   - a "sha256-raw:" CertName carries exactly 64 hex digits
// Every error names the region, node and field: `region 900 node "900a": IPv4: ...`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.hpp"
#include "base/result.hpp"

namespace derp {

using RegionId = std::int64_t;

inline constexpr RegionId kMaxRegionId = (RegionId{1} << 53) - 1;  // JavaScript's safe integers
inline constexpr std::uint16_t kDefaultStunPort = 3478;
inline constexpr std::uint16_t kDefaultDerpPort = 443;
inline constexpr std::string_view kCertPinPrefix = "sha256-raw:";
inline constexpr std::string_view kDisabledAddr = "none";

// SHA-256 of the server's DER certificate; `CertName: "sha256-raw:<hex>"`.
using CertPin = std::array<std::byte, 32>;

// A node's IPv4 or IPv6 field.
struct NodeAddr {
  enum class Kind : std::uint8_t {
    dns,       // "" (or absent): look up HostName for this family
    fixed,     // an address: use it, no DNS
    disabled,  // "none": never use this family for this node
  };
  Kind kind = Kind::dns;
  base::IpAddr addr;  // valid only when kind == fixed

  friend bool operator==(const NodeAddr&, const NodeAddr&) = default;
};

struct DerpNode {
  std::string name;  // unique across the map, e.g. "1b"; not a host name
  RegionId region_id = 0;
  std::string host_name;       // TCP dial (when no fixed address), TLS SNI, DERP URL
  std::string cert_name;       // as written; empty means HostName
  std::optional<CertPin> pin;  // set when cert_name is "sha256-raw:<hex>"
  NodeAddr ipv4;
  NodeAddr ipv6;
  int stun_port = 0;  // as written: 0 means 3478, -1 means no STUN
  bool stun_only = false;
  int derp_port = 0;  // as written: 0 means 443
  bool insecure_for_tests = false;
  std::optional<base::IpAddr> stun_test_ip;  // tests: STUN goes here instead
  bool can_port_80 = false;                  // answers plain HTTP on port 80 (captive portal)

  // The STUN port, or nullopt when STUN is disabled on this node (STUNPort -1).
  std::optional<std::uint16_t> effective_stun_port() const noexcept;
  std::uint16_t effective_derp_port() const noexcept;

  // Where to send STUN over one family without a DNS lookup, as Tailscale's netcheck picks
  // it (nodeAddrPort in net/netcheck/netcheck.go): STUNTestIP when set (if of that family), else
  // the fixed address. nullopt when STUN or the family is disabled, or when HostName must be
  // resolved (see stun_needs_dns).
  std::optional<base::Endpoint> stun_endpoint(base::IpAddr::Family family) const;
  // Every stun_endpoint, IPv4 first.
  std::vector<base::Endpoint> stun_endpoints() const;
  // Whether STUN over `family` needs HostName looked up (field empty, no STUNTestIP).
  bool stun_needs_dns(base::IpAddr::Family family) const noexcept;
  // Whether a TCP dial over `family` is allowed (field not "none"), and whether its
  // destination is HostName (true) or the fixed address (false).
  bool dials(base::IpAddr::Family family) const noexcept;

  // TLS: the ClientHello's server name is always HostName. The certificate must then match
  // the pin when there is one, else carry cert_dns_name().
  const std::string& tls_server_name() const noexcept { return host_name; }
  const std::string& cert_dns_name() const noexcept;
  // "https://<HostName>[:<DERPPort>]/derp", the port left out when it is 443, an IPv6
  // literal HostName in brackets (Go's net.JoinHostPort).
  std::string derp_url() const;

  friend bool operator==(const DerpNode&, const DerpNode&) = default;
};

struct DerpRegion {
  RegionId id = 0;
  std::string code;  // "nyc", "fra"
  std::string name;  // "New York City"
  std::optional<double> latitude;
  std::optional<double> longitude;
  bool avoid = false;  // deprecated in Tailscale in favour of no_measure_no_home
  bool no_measure_no_home = false;
  std::vector<DerpNode> nodes;  // priority order; never empty

  // Nodes a DERP client may connect to (not STUNOnly), in order. Pointers into `nodes`.
  std::vector<const DerpNode*> derp_nodes() const;
  // Nodes with STUN enabled, in order; netcheck probes the first one or two.
  std::vector<const DerpNode*> stun_nodes() const;

  friend bool operator==(const DerpRegion&, const DerpRegion&) = default;
};

struct DerpMap {
  std::map<RegionId, DerpRegion> regions;  // sorted by ID
  bool omit_default_regions = false;
  // HomeParams.RegionScore. nullopt: "no change" (no HomeParams, or no RegionScore); an empty
  // map resets every score to 1.0. Kept as written, including scores netcheck ignores.
  std::optional<std::map<RegionId, double>> region_score;

  const DerpRegion* region(RegionId id) const;
  const DerpNode* node(std::string_view name) const;
  // The latency multiplier for home selection: the region's score when it is a positive,
  // finite number, else 1.0 (Tailscale ignores zero and negative scores).
  double score(RegionId id) const;

  friend bool operator==(const DerpMap&, const DerpMap&) = default;
};

// Parses a DERPMap JSON document. Syntax errors say "line L column C".
base::Result<DerpMap> parse_derp_map(std::string_view json);

// Writes `m` as Go's encoding/json would (field order, omitempty), so that parse_derp_map
// gives back an equal map, with two differences where Go's output would not: a present but
// empty RegionScore is written as {} (Go's omitempty drops it, turning "reset the scores"
// into "no change"), and a latitude or longitude of exactly 0 that was given is kept.
// Numbers with fractions may come back an ULP off: Boost 1.81 does not always round a decimal
// to the nearest double.
std::string derp_map_json(const DerpMap& m);

}  // namespace derp
