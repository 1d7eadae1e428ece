// SPDX-License-Identifier: MIT
// WgConfig: the wg(8) configuration protocol applied to an engine. get() reports the device
// as wireguard-go would; set() applies a parsed request all or nothing: the only step that
// can fail (binding a new listen port or fwmark) runs first, and everything after it cannot
// fail, so a refused request changes nothing.
//
// Thread safety: the control thread (the io_context the UAPI server runs on).
#pragma once

#include "daemon/uapi_server.hpp"
#include "engine/engine.hpp"

namespace meshtund {

class WgConfig final : public UapiHandler {
 public:
  explicit WgConfig(engine::Engine& engine) : engine_(engine) {}

  ipc::DeviceState get() override;
  int set(const ipc::SetRequest& request) override;

 private:
  void apply_peer(const ipc::PeerChange& change);

  engine::Engine& engine_;
  std::uint32_t fwmark_ = 0;
};

}  // namespace meshtund
