// SPDX-License-Identifier: MIT
// MetricsServer: Prometheus text exposition over HTTP on a loopback address, for `curl
// http://127.0.0.1:PORT/metrics`. Only GET /metrics is served; one request per connection;
// a client gets 5 s and 8 KiB for its request. Off unless meshtund is given --metrics-addr.
//
// Thread safety: runs on the io_context it is given; `render` is called there.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/ip.hpp"
#include "base/result.hpp"
#include "daemon/asio.hpp"

namespace meshtund {

class MetricsServer {
 public:
  // Refuses addresses that are not loopback.
  static base::Result<std::unique_ptr<MetricsServer>> start(boost::asio::io_context& io,
                                                            const base::Endpoint& at,
                                                            std::function<std::string()> render);
  ~MetricsServer();
  void stop();
  std::uint16_t port() const noexcept;

 private:
  struct Impl;
  explicit MetricsServer(std::shared_ptr<Impl> impl) noexcept;
  std::shared_ptr<Impl> impl_;
};

}  // namespace meshtund
