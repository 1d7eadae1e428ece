// SPDX-License-Identifier: MIT
// Listen addresses as derper's flags write them: ":443" (every address, IPv6 and IPv4),
// "127.0.0.1:3340", "[::1]:3340", "localhost:9090". Host names are resolved with
// getaddrinfo; an empty host means "::" with dual-stack sockets.
#pragma once

#include <string_view>

#include <boost/asio/ip/tcp.hpp>

#include "base/result.hpp"

namespace derpserver {

base::Result<boost::asio::ip::tcp::endpoint> parse_listen_addr(std::string_view addr);

}  // namespace derpserver
