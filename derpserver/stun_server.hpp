// SPDX-License-Identifier: MIT
// The relay's STUN server (UDP 3478 by default): answers Tailscale binding requests with the
// sender's address in XOR-MAPPED-ADDRESS, from the address the request was sent to
// (IP_PKTINFO / IPV6_RECVPKTINFO, so a multi-homed host answers from the right address).
// Anything else is counted as not_stun and ignored. IPv4 and IPv6 (a "[::]" socket also
// takes IPv4, answered as IPv4).
//
// Threads: runs on one io_context; reads until the socket would block, then waits.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "base/result.hpp"
#include "derpserver/metrics.hpp"

namespace derpserver {

class StunServer {
 public:
  StunServer(boost::asio::io_context& io, ServerCounters& counters);
  ~StunServer();
  // Binds "host:port" (port 0 picks one); returns the bound port.
  base::Result<std::uint16_t> listen(std::string_view addr);
  void start();
  void stop();  // any thread

 private:
  void wait();
  void drain();

  boost::asio::io_context& io_;
  ServerCounters& counters_;
  boost::asio::ip::udp::socket socket_;
  bool v6_ = false;
};

}  // namespace derpserver
