// SPDX-License-Identifier: MIT
#include "derpserver/listen_addr.hpp"

#include <charconv>
#include <cstring>
#include <netdb.h>
#include <string>

#include <boost/asio/ip/address.hpp>

namespace derpserver {

base::Result<boost::asio::ip::tcp::endpoint> parse_listen_addr(std::string_view addr) {
  const std::size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return base::make_error(std::errc::invalid_argument,
                            "address \"" + std::string(addr) + "\" has no :port");
  }
  std::string_view host = addr.substr(0, colon);
  const std::string_view port_text = addr.substr(colon + 1);
  unsigned port = 0;
  const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port > 65535) {
    return base::make_error(std::errc::invalid_argument,
                            "bad port in \"" + std::string(addr) + "\"");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  boost::asio::ip::address ip;
  if (host.empty()) {
    ip = boost::asio::ip::address_v6::any();
  } else {
    ip = boost::asio::ip::make_address(std::string(host), ec);
    if (ec) {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (::getaddrinfo(std::string(host).c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
        return base::make_error(std::errc::invalid_argument,
                                "cannot resolve \"" + std::string(host) + "\"");
      }
      boost::asio::ip::tcp::endpoint ep;
      ep.resize(res->ai_addrlen);
      std::memcpy(ep.data(), res->ai_addr, res->ai_addrlen);
      ::freeaddrinfo(res);
      ip = ep.address();
    }
  }
  return boost::asio::ip::tcp::endpoint(ip, static_cast<std::uint16_t>(port));
}

}  // namespace derpserver
