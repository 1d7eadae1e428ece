// SPDX-License-Identifier: MIT
#include "ipc/device_state.hpp"

#include <string_view>

#include "ipc/uapi_text.hpp"

namespace ipc {

namespace {

template <class Value>
void append_line(std::string& out, std::string_view key, const Value& value) {
  out += key;
  out += '=';
  if constexpr (std::is_convertible_v<const Value&, std::string_view>) {
    out += value;
  } else {
    out += std::to_string(value);
  }
  out += '\n';
}

}  // namespace

std::string format_get_response(const DeviceState& state) {
  std::string out;
  // About 400 bytes per peer with a few allowed IPs; one reservation avoids most regrowth.
  out.reserve(128 + state.peers.size() * 400);
  if (state.private_key && !state.private_key->is_zero()) {
    append_line(out, "private_key", state.private_key->to_hex());
  }
  if (state.listen_port != 0) append_line(out, "listen_port", state.listen_port);
  if (state.fwmark != 0) append_line(out, "fwmark", state.fwmark);
  for (const PeerState& peer : state.peers) {
    append_line(out, "public_key", peer.public_key.to_hex());
    append_line(out, "preshared_key", peer.preshared_key.to_hex());
    append_line(out, "protocol_version", peer.protocol_version);
    if (peer.endpoint && peer.endpoint->valid()) {
      append_line(out, "endpoint", format_endpoint(*peer.endpoint));
    }
    append_line(out, "last_handshake_time_sec", peer.last_handshake_time_sec);
    append_line(out, "last_handshake_time_nsec", peer.last_handshake_time_nsec);
    append_line(out, "tx_bytes", peer.tx_bytes);
    append_line(out, "rx_bytes", peer.rx_bytes);
    append_line(out, "persistent_keepalive_interval", peer.persistent_keepalive_interval);
    for (const base::IpPrefix& prefix : peer.allowed_ips) {
      append_line(out, "allowed_ip", format_prefix(prefix));
    }
  }
  out += "errno=0\n\n";
  return out;
}

std::string format_errno_response(int errno_value) {
  return "errno=" + std::to_string(errno_value) + "\n\n";
}

}  // namespace ipc
