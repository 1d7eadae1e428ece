// SPDX-License-Identifier: MIT
// The wg(8) config socket of one interface: /var/run/wireguard/<iface>.sock (fact sheet 12).
//
// Per connection: read -> ipc::RequestFramer -> for a get, UapiHandler::get() and
// ipc::format_get_response(); for a set, ipc::parse_set_request() (a malformed request is
// answered with wireguard-go's errno and never reaches the handler) then UapiHandler::set()
// -> write the response -> next request on the same connection. A framing error is answered
// where wireguard-go answers it, then the connection is closed.
//
// Threads: none of its own. Everything runs on the io_context given to start(), as C++20
// coroutines; no call blocks it. Handler calls happen on that io_context's thread, one at a
// time, so they are serialized like wireguard-go's IPC lock serializes operations.
//
// Slow and hostile clients: each connection is its own coroutine, so one that stalls only
// stalls itself. A client has `client_timeout` to send a complete request (counted from the
// connection or from its previous response) and again to take a response; after that it is
// disconnected. At most `max_connections` are served at once; further clients wait in the
// listen backlog until a slot frees. Memory per connection is bounded by
// ipc::RequestFramer::kMaxRequestBytes plus one response.
//
// Namespace: meshtund, not daemon: glibc's <unistd.h> declares ::daemon(int, int), and a
// namespace of the same name cannot coexist with it.
//
// Removal: the socket file is watched with inotify; when it is deleted, renamed away or
// replaced, on_removed is called once (the daemon exits then, like wireguard-go).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "daemon/asio.hpp"
#include "ipc/device_state.hpp"
#include "ipc/set_request.hpp"

namespace meshtund {

// Implemented by the daemon. Called on the server's io_context thread, never concurrently.
class UapiHandler {
 public:
  virtual ~UapiHandler() = default;
  // The current configuration and counters.
  virtual ipc::DeviceState get() = 0;
  // Applies the whole request or none of it. Returns 0, or a negative errno for the client
  // (wireguard-go's: -EADDRINUSE when the port or fwmark cannot be set, -EINVAL for a value
  // the device refuses, -EIO otherwise).
  virtual int set(const ipc::SetRequest& request) = 0;
};

struct UapiServerOptions {
  std::string interface_name;
  std::string socket_dir = "/var/run/wireguard";  // wg(8) looks here (RUNSTATEDIR/wireguard)
  std::size_t max_connections = 32;
  std::chrono::milliseconds client_timeout{15'000};
};

class UapiServer {
 public:
  // Creates the socket (see daemon/uapi_socket.hpp), starts accepting and watching it.
  // `handler` must outlive the server; it is not called after stop(). `on_removed` (may be
  // empty) runs on the io_context when the socket file disappears; it may call stop() or
  // destroy the server. Errors: a bad interface name, "interface <name> is already in use"
  // (EADDRINUSE), or the failing system call; nothing is left behind on error.
  static base::Result<std::unique_ptr<UapiServer>> start(boost::asio::io_context& io,
                                                         UapiServerOptions options,
                                                         UapiHandler& handler,
                                                         std::function<void()> on_removed);

  // Calls stop().
  ~UapiServer();
  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  // Stops accepting, closes every connection (a request being written is cut short), stops
  // the watch and unlinks the socket file if it is still ours. Idempotent. Call it on the
  // io_context's thread, or while the io_context is not running. Coroutines still queued
  // finish when the io_context next runs (or is destroyed) without touching the handler.
  void stop();

  const std::string& socket_path() const noexcept;
  // Connections being served now.
  std::size_t connection_count() const noexcept;

 private:
  struct Impl;
  explicit UapiServer(std::shared_ptr<Impl> impl) noexcept;
  std::shared_ptr<Impl> impl_;
};

}  // namespace meshtund
