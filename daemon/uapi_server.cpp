// SPDX-License-Identifier: MIT
#include "daemon/uapi_server.hpp"

#include <array>
#include <exception>
#include <fcntl.h>
#include <set>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "base/log.hpp"
#include "daemon/asio.hpp"
#include "daemon/uapi_socket.hpp"
#include "ipc/request_framer.hpp"
#include "ipc/uapi_text.hpp"

namespace meshtund {

namespace asio = boost::asio;
using Stream = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

void wipe(std::string& s) noexcept {
  base::secure_wipe(base::ByteSpan(reinterpret_cast<std::byte*>(s.data()), s.size()));
}

// One client connection. Owned by its serve() and watchdog() coroutines (and the server's set
// while it is served); touched only on the io_context thread.
struct Connection {
  explicit Connection(Stream::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  // The client must finish its current step (send a request, take a response) by now + d.
  void arm(Clock::duration d) {
    deadline = Clock::now() + d;
    timer.cancel();  // the watchdog re-reads the deadline
  }
  // No deadline while the handler runs: its time is not the client's fault.
  void disarm() { deadline = Clock::time_point::max(); }
  void close() {
    if (closed) return;
    closed = true;
    error_code ec;
    socket.shutdown(Stream::socket::shutdown_both, ec);
    socket.close(ec);
    timer.cancel();
  }

  Stream::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  bool closed = false;
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace

// Shared by the coroutines (each holds a shared_ptr) so that it outlives the UapiServer
// until the last of them has finished. Touched only on the io_context thread.
struct UapiServer::Impl {
  Impl(asio::io_context& io_context, UapiServerOptions opts, UapiHandler& h,
       std::function<void()> removed, UapiSocketFile socket_file)
      : io(io_context),
        options(std::move(opts)),
        handler(&h),
        on_removed(std::move(removed)),
        file(std::move(socket_file)),
        acceptor(io_context),
        inotify(io_context),
        slot_timer(io_context),
        log(base::logger("uapi")) {}

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, ConnectionPtr conn);
  static asio::awaitable<void> watchdog(std::shared_ptr<Impl> self, ConnectionPtr conn);
  static asio::awaitable<void> watch_file(std::shared_ptr<Impl> self);
  static asio::awaitable<void> answer_error(std::shared_ptr<Impl> self, ConnectionPtr conn,
                                            const ipc::FramingError& error);

  std::string handle(ipc::UapiRequest& request);
  std::string handle_or_throw(ipc::UapiRequest& request);
  void end_connection(const ConnectionPtr& conn);
  void stop();
  // Completion handler for co_spawn: an exception escaping a coroutine is logged, not thrown
  // out of io_context::run().
  auto on_exit(const char* what) {
    return [lg = log, what](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        lg->error("{} ended by exception: {}", what, ex.what());
      } catch (...) {
        lg->error("{} ended by an unknown exception", what);
      }
    };
  }

  asio::io_context& io;
  const UapiServerOptions options;
  UapiHandler* handler;  // null after stop()
  std::function<void()> on_removed;
  UapiSocketFile file;
  Stream::acceptor acceptor;
  asio::posix::stream_descriptor inotify;
  asio::steady_timer slot_timer;  // wakes the acceptor when a connection slot frees
  std::set<ConnectionPtr> connections;
  bool stopped = false;
  base::Logger log;
};

asio::awaitable<void> UapiServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  error_code ec;
  while (!self->stopped) {
    if (self->connections.size() >= self->options.max_connections) {
      // Clients wait in the listen backlog until end_connection() cancels this wait.
      self->slot_timer.expires_at(Clock::time_point::max());
      co_await self->slot_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Stream::socket socket =
        co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (self->stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      // EMFILE, ENOBUFS...: back off rather than spin on an error that persists.
      MT_LOG_EVERY(self->log, std::chrono::seconds(10), spdlog::level::warn, "accept failed: {}",
                   ec.message());
      self->slot_timer.expires_after(std::chrono::milliseconds(100));
      co_await self->slot_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // Asio accepts without SOCK_CLOEXEC; a child the daemon starts must not inherit clients.
    ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    auto conn = std::make_shared<Connection>(std::move(socket));
    self->connections.insert(conn);
    conn->arm(self->options.client_timeout);
    asio::co_spawn(self->io, serve(self, conn), self->on_exit("connection"));
    asio::co_spawn(self->io, watchdog(self, conn), self->on_exit("watchdog"));
  }
}

asio::awaitable<void> UapiServer::Impl::watchdog(std::shared_ptr<Impl> self, ConnectionPtr conn) {
  error_code ec;
  while (!conn->closed && !self->stopped) {
    if (Clock::now() >= conn->deadline) {
      self->log->info("client timed out after {} ms, disconnecting",
                      self->options.client_timeout.count());
      conn->close();
      break;
    }
    conn->timer.expires_at(conn->deadline);
    co_await conn->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> UapiServer::Impl::serve(std::shared_ptr<Impl> self, ConnectionPtr conn) {
  // Requests carry private keys: the buffer is wiped before it is freed.
  std::vector<char> buffer(kReadChunk);
  ipc::RequestFramer framer;
  std::string_view pending;  // received, not yet framed
  error_code ec;
  while (!self->stopped && !conn->closed) {
    if (pending.empty()) {
      const std::size_t n = co_await conn->socket.async_read_some(
          asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::eof) {
        if (auto event = framer.finish()) {
          co_await answer_error(self, conn, std::get<ipc::FramingError>(*event));
        }
        break;
      }
      if (ec) break;
      pending = std::string_view(buffer.data(), n);
    }
    auto event = framer.feed(pending);
    if (!event) continue;
    if (const auto* error = std::get_if<ipc::FramingError>(&*event)) {
      co_await answer_error(self, conn, *error);
      break;
    }
    auto& request = std::get<ipc::UapiRequest>(*event);
    conn->disarm();
    if (self->stopped || conn->closed) break;
    std::string response = self->handle(request);
    conn->arm(self->options.client_timeout);
    co_await asio::async_write(conn->socket, asio::buffer(response),
                               asio::redirect_error(asio::use_awaitable, ec));
    wipe(response);
    if (ec) break;
    conn->arm(self->options.client_timeout);  // for the next request
  }
  base::secure_wipe(base::ByteSpan(reinterpret_cast<std::byte*>(buffer.data()), buffer.size()));
  self->end_connection(conn);
}

asio::awaitable<void> UapiServer::Impl::answer_error(std::shared_ptr<Impl> self, ConnectionPtr conn,
                                                     const ipc::FramingError& error) {
  if (error.errno_value == 0) {
    self->log->warn("closing connection: {}", error.message);
    co_return;
  }
  self->log->warn("errno={}: {}", error.errno_value, error.message);
  const std::string response = ipc::format_errno_response(error.errno_value);
  conn->arm(self->options.client_timeout);
  error_code ec;
  co_await asio::async_write(conn->socket, asio::buffer(response),
                             asio::redirect_error(asio::use_awaitable, ec));
}

std::string UapiServer::Impl::handle(ipc::UapiRequest& request) {
  // An exception must not end the coroutine without end_connection(): that would leak the
  // connection's slot. The client gets wireguard-go's answer for an unexpected error.
  try {
    return handle_or_throw(request);
  } catch (const std::exception& e) {
    wipe(request.set_body);
    log->error("request failed: {}", e.what());
    return ipc::format_errno_response(-ipc::kErrnoUnknown);
  }
}

std::string UapiServer::Impl::handle_or_throw(ipc::UapiRequest& request) {
  if (request.op == ipc::UapiRequest::Op::get) {
    return ipc::format_get_response(handler->get());
  }
  auto parsed = ipc::parse_set_request(request.set_body);
  wipe(request.set_body);
  if (!parsed) {
    const int errno_value = ipc::uapi_errno(parsed.error());
    log->warn("set rejected, nothing applied: errno={}: {}", errno_value, parsed.error().message);
    return ipc::format_errno_response(errno_value);
  }
  int rc = handler->set(*parsed);
  if (rc > 0) rc = -rc;  // the contract says negative; a positive errno means the same
  if (rc != 0) log->warn("set failed: errno={}", rc);
  return ipc::format_errno_response(rc);
}

void UapiServer::Impl::end_connection(const ConnectionPtr& conn) {
  conn->close();
  connections.erase(conn);
  slot_timer.cancel();  // a slot is free: let the acceptor go on
}

asio::awaitable<void> UapiServer::Impl::watch_file(std::shared_ptr<Impl> self) {
  // inotify_event records are read only to empty the queue: any event means "look again".
  alignas(8) std::array<char, 4096> events;
  error_code ec;
  while (!self->stopped) {
    // Checking before every wait also covers a removal before the watch was added.
    if (!self->file.is_ours()) {
      self->log->warn("socket {} was removed", self->file.path());
      auto callback = std::exchange(self->on_removed, nullptr);
      if (callback) callback();
      co_return;
    }
    co_await self->inotify.async_wait(asio::posix::descriptor_base::wait_read,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec || self->stopped) co_return;
    for (int i = 0; i < 64; ++i) {
      if (::read(self->inotify.native_handle(), events.data(), events.size()) <= 0) break;
    }
  }
}

void UapiServer::Impl::stop() {
  if (stopped) return;
  stopped = true;  // first: our own unlink below must not look like a removal
  handler = nullptr;
  on_removed = nullptr;
  error_code ec;
  acceptor.close(ec);
  inotify.close(ec);
  slot_timer.cancel();
  for (const ConnectionPtr& conn : connections) conn->close();
  connections.clear();
  file.remove_if_ours();
}

base::Result<std::unique_ptr<UapiServer>> UapiServer::start(asio::io_context& io,
                                                            UapiServerOptions options,
                                                            UapiHandler& handler,
                                                            std::function<void()> on_removed) {
  if (options.max_connections == 0) {
    return base::make_error(std::errc::invalid_argument, "max_connections must be at least 1");
  }
  auto file = open_uapi_socket(options.socket_dir, options.interface_name);
  if (!file) return file.error();
  auto inotify_fd = watch_uapi_socket(*file);
  if (!inotify_fd) {
    file->remove_if_ours();
    return inotify_fd.error();
  }
  const int listen_fd = file->release_fd();
  auto impl = std::make_shared<Impl>(io, std::move(options), handler, std::move(on_removed),
                                     std::move(*file));
  error_code ec;
  impl->inotify.assign(*inotify_fd, ec);
  if (ec) {
    ::close(*inotify_fd);
    ::close(listen_fd);
    impl->stop();
    return base::make_error(std::errc::io_error, "inotify fd: " + ec.message());
  }
  impl->acceptor.assign(Stream(), listen_fd, ec);
  if (ec) {
    ::close(listen_fd);
    impl->stop();
    return base::make_error(std::errc::io_error, "listening fd: " + ec.message());
  }
  impl->log->info("listening on {}", impl->file.path());
  asio::co_spawn(io, Impl::accept_loop(impl), impl->on_exit("acceptor"));
  asio::co_spawn(io, Impl::watch_file(impl), impl->on_exit("socket watch"));
  return std::unique_ptr<UapiServer>(new UapiServer(std::move(impl)));
}

UapiServer::UapiServer(std::shared_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

UapiServer::~UapiServer() {
  stop();
}

void UapiServer::stop() {
  impl_->stop();
}

const std::string& UapiServer::socket_path() const noexcept {
  return impl_->file.path();
}

std::size_t UapiServer::connection_count() const noexcept {
  return impl_->connections.size();
}

}  // namespace meshtund
