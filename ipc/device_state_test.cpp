// SPDX-License-Identifier: MIT
#include "ipc/device_state.hpp"

#include <doctest/doctest.h>

namespace {

template <class Key>
Key key(const char* hex) {
  auto k = Key::from_hex(hex);
  REQUIRE(k.ok());
  return std::move(k).value();
}

base::IpPrefix prefix(const char* text) {
  auto p = base::IpPrefix::parse(text);
  REQUIRE(p.has_value());
  return *p;
}

TEST_CASE("get response matches wireguard-go's captured example (fact sheet 12.5)") {
  ipc::DeviceState state;
  state.private_key =
      key<base::NodePrivateKey>("404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f");
  state.listen_port = 51820;
  ipc::PeerState peer;
  peer.public_key =
      key<base::NodePublicKey>("358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254");
  peer.preshared_key =
      key<base::PresharedKey>("606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f");
  peer.endpoint = base::Endpoint::parse("127.0.0.1:51821");
  peer.last_handshake_time_sec = 1795317949;
  peer.last_handshake_time_nsec = 523435599;
  peer.tx_bytes = 188;
  peer.rx_bytes = 276;
  peer.allowed_ips.push_back(prefix("10.0.0.2/32"));
  state.peers.push_back(peer);

  CHECK(ipc::format_get_response(state) ==
        "private_key=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\n"
        "listen_port=51820\n"
        "public_key=358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254\n"
        "preshared_key=606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\n"
        "protocol_version=1\n"
        "endpoint=127.0.0.1:51821\n"
        "last_handshake_time_sec=1795317949\n"
        "last_handshake_time_nsec=523435599\n"
        "tx_bytes=188\n"
        "rx_bytes=276\n"
        "persistent_keepalive_interval=0\n"
        "allowed_ip=10.0.0.2/32\n"
        "errno=0\n"
        "\n");
}

TEST_CASE("an empty device prints only errno") {
  ipc::DeviceState state;
  CHECK(ipc::format_get_response(state) == "errno=0\n\n");
  state.private_key = base::NodePrivateKey();  // all-zero: wireguard-go prints nothing
  CHECK(ipc::format_get_response(state) == "errno=0\n\n");
}

TEST_CASE("optional lines: fwmark, no endpoint, zero psk, v6, several peers and prefixes") {
  ipc::DeviceState state;
  state.fwmark = 4294967295u;
  ipc::PeerState a;
  a.public_key =
      key<base::NodePublicKey>("0101010101010101010101010101010101010101010101010101010101010101");
  a.persistent_keepalive_interval = 65535;
  a.tx_bytes = UINT64_MAX;
  a.allowed_ips = {prefix("10.0.0.0/24"), prefix("fd00::/64"), prefix("::ffff:10.0.0.0/104")};
  ipc::PeerState b;
  b.public_key =
      key<base::NodePublicKey>("0202020202020202020202020202020202020202020202020202020202020202");
  b.endpoint = base::Endpoint::parse("[::1.2.3.4]:9");
  state.peers = {a, b};

  CHECK(ipc::format_get_response(state) ==
        "fwmark=4294967295\n"
        "public_key=0101010101010101010101010101010101010101010101010101010101010101\n"
        "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
        "protocol_version=1\n"
        "last_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\n"
        "tx_bytes=18446744073709551615\n"
        "rx_bytes=0\n"
        "persistent_keepalive_interval=65535\n"
        "allowed_ip=10.0.0.0/24\n"
        "allowed_ip=fd00::/64\n"
        "allowed_ip=::ffff:10.0.0.0/104\n"
        "public_key=0202020202020202020202020202020202020202020202020202020202020202\n"
        "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
        "protocol_version=1\n"
        "endpoint=[::102:304]:9\n"
        "last_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\n"
        "tx_bytes=0\n"
        "rx_bytes=0\n"
        "persistent_keepalive_interval=0\n"
        "errno=0\n"
        "\n");
}

TEST_CASE("errno responses") {
  CHECK(ipc::format_errno_response(0) == "errno=0\n\n");
  CHECK(ipc::format_errno_response(-22) == "errno=-22\n\n");
}

}  // namespace
