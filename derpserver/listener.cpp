// SPDX-License-Identifier: MIT
#include "derpserver/listener.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "base/log.hpp"
#include "derpserver/listen_addr.hpp"
#include "derpserver/server.hpp"

namespace derpserver {
namespace {

base::Logger& log() {
  static base::Logger l = base::logger("derpserver");
  return l;
}

}  // namespace

Listener::Listener(Server& server, boost::asio::io_context& io, Site kind, SSL_CTX* tls)
    : server_(server), io_(io), kind_(kind), tls_(tls), acceptor_(io), retry_(io) {}

base::Result<std::uint16_t> Listener::listen(std::string_view addr) {
  auto ep = parse_listen_addr(addr);
  if (!ep) return ep.error();
  boost::system::error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec && ep->address().is_v6()) acceptor_.set_option(boost::asio::ip::v6_only(false), ec);
  if (!ec) acceptor_.bind(*ep, ec);
  if (!ec) acceptor_.listen(4096, ec);
  if (ec) {
    return base::make_error(std::errc::address_in_use,
                            "listen on " + std::string(addr) + ": " + ec.message());
  }
  return acceptor_.local_endpoint().port();
}

void Listener::start() {
  boost::asio::post(io_, [this] { accept(); });
}

void Listener::stop() {
  boost::asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
  });
}

void Listener::accept() {
  if (!acceptor_.is_open() || server_.stopping()) return;
  Shard& shard = server_.next_shard();
  acceptor_.async_accept(shard.io(), [this, &shard](const boost::system::error_code& ec,
                                                    boost::asio::ip::tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning.
      MT_LOG_EVERY(log(), std::chrono::milliseconds(5000), spdlog::level::warn, "accept: {}",
                   ec.message());
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([this](const boost::system::error_code& tec) {
        if (!tec) accept();
      });
      return;
    }
    server_.counters().accepts.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(shard.io(), [this, &shard, s = std::move(socket)]() mutable {
      if (server_.stopping()) return;
      auto c = std::make_shared<ClientConn>(server_, shard, std::move(s), tls_, kind_);
      c->start();
    });
    accept();
  });
}

}  // namespace derpserver
