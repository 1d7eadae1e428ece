// SPDX-License-Identifier: MIT
#include "daemon/metrics_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include "base/log.hpp"

namespace meshtund {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct MetricsServer::Impl {
  Impl(asio::io_context& ctx, std::function<std::string()> fn)
      : io(ctx), acceptor(ctx), render(std::move(fn)) {}

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, tcp::socket sock);

  asio::io_context& io;
  tcp::acceptor acceptor;
  std::function<std::string()> render;
  bool stopped = false;
};

namespace {

constexpr std::size_t kMaxRequest = 8192;

std::string response(int code, const char* reason, std::string_view type, std::string_view body) {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: ";
  r += type;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  r += body;
  return r;
}

auto log_exit() {
  return [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      base::logger("metrics")->warn("metrics connection failed: {}", ex.what());
    }
  };
}

}  // namespace

asio::awaitable<void> MetricsServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  while (!self->stopped) {
    error_code ec;
    tcp::socket sock =
        co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (self->stopped || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(self->io, serve(self, std::move(sock)), log_exit());
  }
}

asio::awaitable<void> MetricsServer::Impl::serve(std::shared_ptr<Impl> self, tcp::socket sock) {
  asio::steady_timer deadline(self->io);
  deadline.expires_after(std::chrono::seconds(5));
  deadline.async_wait([&sock](const error_code& ec) {
    if (!ec) sock.close();
  });
  asio::streambuf buf(kMaxRequest);
  error_code ec;
  co_await asio::async_read_until(sock, buf, "\r\n\r\n",
                                  asio::redirect_error(asio::use_awaitable, ec));
  std::string reply;
  if (ec) {
    if (!sock.is_open() || ec == asio::error::eof) co_return;
    reply = response(400, "Bad Request", "text/plain", "bad request\n");
  } else {
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
    line = line.substr(0, line.find("\r\n"));
    if (line.starts_with("GET /metrics ") || line == "GET /metrics") {
      reply = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", self->render());
    } else if (line.starts_with("GET ")) {
      reply = response(404, "Not Found", "text/plain", "only /metrics is served here\n");
    } else {
      reply = response(405, "Method Not Allowed", "text/plain", "GET only\n");
    }
  }
  co_await asio::async_write(sock, asio::buffer(reply),
                             asio::redirect_error(asio::use_awaitable, ec));
  deadline.cancel();
  sock.shutdown(tcp::socket::shutdown_both, ec);
}

base::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(
    asio::io_context& io, const base::Endpoint& at, std::function<std::string()> render) {
  if (!at.addr.is_loopback()) {
    return base::make_error(std::errc::permission_denied,
                            "metrics address " + at.to_string() + " is not a loopback address");
  }
  auto impl = std::make_shared<Impl>(io, std::move(render));
  error_code ec;
  const tcp::endpoint ep(asio::ip::make_address(at.addr.to_string()), at.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(16, ec);
  if (ec) {
    return base::Error{std::error_code(ec.value(), std::generic_category()),
                       "cannot listen for metrics on " + at.to_string() + ": " + ec.message()};
  }
  asio::co_spawn(io, Impl::accept_loop(impl), log_exit());
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::shared_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  stop();
}

void MetricsServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  error_code ec;
  impl_->acceptor.close(ec);
}

std::uint16_t MetricsServer::port() const noexcept {
  error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace meshtund
