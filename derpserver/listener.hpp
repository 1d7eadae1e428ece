// SPDX-License-Identifier: MIT
// Listener: one TCP accept loop. Accepted sockets are handed to the shards round-robin,
// where a ClientConn takes over. Accept errors (EMFILE under a flood of connections) are
// counted and retried after a short pause, never a busy loop.
#pragma once

#include <cstdint>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/result.hpp"
#include "derpserver/client_conn.hpp"

namespace derpserver {

class Server;

class Listener {
 public:
  Listener(Server& server, boost::asio::io_context& io, Site kind, SSL_CTX* tls);
  base::Result<std::uint16_t> listen(std::string_view addr);
  void start();  // any thread
  void stop();   // any thread

 private:
  void accept();

  Server& server_;
  boost::asio::io_context& io_;
  const Site kind_;
  SSL_CTX* tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
};

}  // namespace derpserver
