// SPDX-License-Identifier: MIT
// What a `get=1` request reports (fact sheet sections 12.4 and 12.5) and its response text.
//
// The response is wireguard-go's, line for line and in its order:
//
//   private_key=<hex>            only when a key is set (non-zero)
//   listen_port=<n>              only when non-zero
//   fwmark=<n>                   only when non-zero
//   per peer:
//     public_key=<hex>
//     preshared_key=<hex>        always; all zeros when there is none
//     protocol_version=<n>
//     endpoint=<ip:port>         only when known
//     last_handshake_time_sec=<n>
//     last_handshake_time_nsec=<n>   0 and 0: never
//     tx_bytes=<n>
//     rx_bytes=<n>
//     persistent_keepalive_interval=<n>
//     allowed_ip=<addr/bits>     one line per prefix
//   errno=0
//   <empty line>
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.hpp"
#include "base/keys.hpp"

namespace ipc {

struct PeerState {
  base::NodePublicKey public_key;
  base::PresharedKey preshared_key;  // all-zero: none
  std::uint32_t protocol_version = 1;
  std::optional<base::Endpoint> endpoint;
  // Wall-clock time of the last completed handshake, split as wireguard-go does
  // (sec = ns / 1e9, nsec = ns % 1e9); 0 and 0 when there has been none.
  std::int64_t last_handshake_time_sec = 0;
  std::int64_t last_handshake_time_nsec = 0;
  std::uint64_t tx_bytes = 0;  // whole UDP payloads of authenticated messages (section 12.4)
  std::uint64_t rx_bytes = 0;
  std::uint16_t persistent_keepalive_interval = 0;  // seconds, 0 = off
  std::vector<base::IpPrefix> allowed_ips;          // masked, in the order they should be listed
};

struct DeviceState {
  std::optional<base::NodePrivateKey> private_key;  // absent or all-zero: not printed
  std::uint16_t listen_port = 0;                    // the port actually bound
  std::uint32_t fwmark = 0;
  std::vector<PeerState> peers;
};

// The whole get response, ending with "errno=0\n\n". The text carries the private and
// preshared keys: it goes only to the config socket.
std::string format_get_response(const DeviceState& state);

// "errno=<errno_value>\n\n", the response to a set request (errno_value is 0 or negative) and
// to a request that failed.
std::string format_errno_response(int errno_value);

}  // namespace ipc
