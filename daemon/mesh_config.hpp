// SPDX-License-Identifier: MIT
// meshtund's mesh-mode configuration file (mesh-mode.md section 2): our interface, keys and
// home DERP region, and the peers, without a control plane. The key names are an interface
// users rely on; add keys, never rename them.
//
//   [interface]
//   name = "mesh0"                                   # TUN interface, 1-15 characters
//   private_key_file = "/var/lib/meshtun/node.key"   # `wg genkey` format; created when missing
//   disco_key_file = "/var/lib/meshtun/disco.key"    # same
//   listen_port = 41641                              # optional; 0 (the default): pick one
//   addresses = ["100.64.0.1/32", "fd7a:115c:a1e0::1/128"]   # optional
//   home_region = 1                                  # must be in the DERP map
//   derp_map_file = "/etc/meshtun/derpmap.json"      # Tailscale's DERPMap JSON
//
//   [[peers]]
//   name = "b"                        # unique
//   node_key = "..."                  # WireGuard base64 or "nodekey:<hex>"; unique, not ours
//   disco_key = "..."                 # base64 or "discokey:<hex>"; unique
//   allowed_ips = ["100.64.0.2/32"]   # no host bits beyond the prefix
//   endpoints = ["198.51.100.7:41641"]   # optional; numeric ip:port or [ipv6]:port
//   home_region = 2                      # optional; must be in the DERP map
//
// Relative file names are taken from the directory of the configuration file.
//
// Every error is "<file>:<line>:<column>: <what>", the position that of the offending value
// (or key, or table header when a key is missing), so a reload can refuse a bad file and say
// where it is bad. Unknown keys are errors, not warnings: a misspelt optional key
// ("endpoint", "home-region") would otherwise be dropped without a word and leave a peer
// unreachable, and a refused reload costs nothing since the running configuration stays.
// (Tailscale's DERP map JSON, written by other programs, is the opposite case: derp_map.hpp
// ignores unknown fields.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"
#include "derp/derp_map.hpp"

namespace meshtund {

struct MeshPeer {
  std::string name;
  base::NodePublicKey node_key;
  base::DiscoPublicKey disco_key;
  std::vector<base::IpPrefix> allowed_ips;
  std::vector<base::Endpoint> endpoints;
  std::optional<derp::RegionId> home_region;

  friend bool operator==(const MeshPeer&, const MeshPeer&) = default;
};

struct MeshInterface {
  std::string name;
  std::string private_key_file;  // resolved against the configuration file's directory
  std::string disco_key_file;
  std::uint16_t listen_port = 0;
  std::vector<base::IpPrefix> addresses;
  derp::RegionId home_region = 0;
  std::string derp_map_file;

  friend bool operator==(const MeshInterface&, const MeshInterface&) = default;
};

// Where values sit in the file, for the checks that need the keys and the DERP map.
struct SourcePos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

struct MeshConfig {
  std::string path;  // the file, as named to the parser
  MeshInterface interface;
  std::vector<MeshPeer> peers;  // file order

  struct Sources {
    SourcePos home_region;
    std::vector<SourcePos> peer_node_key;     // one per peer
    std::vector<SourcePos> peer_home_region;  // one per peer; line 0 when not given
  } sources;

  const MeshPeer* peer(const base::NodePublicKey& node_key) const;
};

// Parses the text of the file `path` (used in messages and for relative file names) and
// checks everything the text alone decides: syntax, types, keys, prefixes, endpoints,
// unknown keys, duplicate peer names, node keys and disco keys.
base::Result<MeshConfig> parse_mesh_config(std::string_view text, const std::string& path);

// The checks that need more than the text: no peer has our own node key; every
// home_region is a region of `derp_map`.
base::Status check_mesh_config(const MeshConfig& config, const base::NodePublicKey& own,
                               const derp::DerpMap& derp_map);

// A configuration with everything it names read.
struct LoadedMeshConfig {
  MeshConfig config;
  base::NodePrivateKey node_key;
  base::DiscoPrivateKey disco_key;
  derp::DerpMap derp_map;
};

enum class MissingKeys : std::uint8_t {
  create,  // at start: a missing key file gets a fresh key (daemon/key_file.hpp)
  refuse,  // on reload: a key file that vanished is an error, not a new identity
};

// Reads the file, its two key files and its DERP map, and runs check_mesh_config. What start
// and SIGHUP run; on error nothing has changed (except key files created under
// MissingKeys::create).
base::Result<LoadedMeshConfig> load_mesh_config(const std::string& path,
                                                MissingKeys missing = MissingKeys::create);

// What a reload changes. Peers are the same peer when their node key is; a peer whose name,
// disco key, allowed IPs, endpoints or home region differ is `changed`. A new node key under
// an old name is one removal and one addition.
struct MeshConfigDiff {
  std::vector<MeshPeer> added;    // new file order
  std::vector<MeshPeer> removed;  // old file order
  std::vector<MeshPeer> changed;  // the new values, new file order
  // [interface] keys whose values differ ("listen_port", "addresses", ...), in the order of
  // the file comment above; the loaded overload adds "node key", "disco key", "DERP map"
  // when the contents behind unchanged file names differ.
  std::vector<std::string> interface_changed;

  bool empty() const noexcept {
    return added.empty() && removed.empty() && changed.empty() && interface_changed.empty();
  }
};

MeshConfigDiff diff_mesh_config(const MeshConfig& before, const MeshConfig& after);
MeshConfigDiff diff_mesh_config(const LoadedMeshConfig& before, const LoadedMeshConfig& after);

}  // namespace meshtund
