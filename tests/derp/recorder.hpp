// SPDX-License-Identifier: MIT
// What a DERP client saw, recorded by its callbacks: packets, PeerGone and PeerPresent frames,
// connections and disconnections. Shared by the loopback DERP tests (tests/derp/) and the
// interop tests against Tailscale's derper (tests/tailscale/); needs only derpclient.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "derpclient/client.hpp"

namespace derptest {

struct Received {
  base::NodePublicKey src;
  base::Bytes data;
};

struct Recorder {
  std::vector<Received> packets;
  std::vector<std::pair<base::NodePublicKey, derp::PeerGoneReason>> gone;
  std::vector<derp::PeerPresentFrame> present;
  std::vector<std::string> disconnects;
  int connected = 0;

  derpclient::Callbacks callbacks() {
    derpclient::Callbacks cb;
    cb.on_packet = [this](const base::NodePublicKey& src, base::ConstByteSpan d) {
      packets.push_back({src, base::Bytes(d.begin(), d.end())});
    };
    cb.on_peer_gone = [this](const base::NodePublicKey& k, derp::PeerGoneReason r) {
      gone.emplace_back(k, r);
    };
    cb.on_peer_present = [this](const derp::PeerPresentFrame& p) { present.push_back(p); };
    cb.on_connected = [this](const derp::ServerInfo&) { ++connected; };
    cb.on_disconnected = [this](const std::string& why) { disconnects.push_back(why); };
    return cb;
  }
  bool saw_packet_from(const base::NodePublicKey& k, std::string_view text) const {
    for (const auto& p : packets) {
      if (p.src == k && base::as_chars(p.data) == text) return true;
    }
    return false;
  }
  bool saw_gone(const base::NodePublicKey& k, derp::PeerGoneReason r) const {
    for (const auto& g : gone) {
      if (g.first == k && g.second == r) return true;
    }
    return false;
  }
  const derp::PeerPresentFrame* find_present(const base::NodePublicKey& k) const {
    for (const auto& p : present) {
      if (p.peer == k) return &p;
    }
    return nullptr;
  }
  bool saw_present(const base::NodePublicKey& k) const { return find_present(k) != nullptr; }
};

}  // namespace derptest
