// SPDX-License-Identifier: MIT
// Test helpers for the config socket: a recording UapiHandler, an io_context on its own
// thread, a blocking client with timeouts, and a temporary directory.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>

#include "daemon/asio.hpp"
#include "daemon/uapi_server.hpp"

namespace meshtund::testing {

// Records every set request; answers get with `state`. Thread safe (called on the io thread,
// inspected from the test thread).
class FakeUapiHandler : public UapiHandler {
 public:
  ipc::DeviceState get() override {
    std::lock_guard lock(mu_);
    ++gets_;
    return state_;
  }
  int set(const ipc::SetRequest& request) override {
    std::lock_guard lock(mu_);
    sets_.push_back(request);
    if (throw_) throw std::runtime_error("fake handler failure");
    return set_result_;
  }

  void set_state(ipc::DeviceState state) {
    std::lock_guard lock(mu_);
    state_ = std::move(state);
  }
  void set_result(int result) {
    std::lock_guard lock(mu_);
    set_result_ = result;
  }
  void set_throw(bool on) {
    std::lock_guard lock(mu_);
    throw_ = on;
  }
  std::vector<ipc::SetRequest> sets() const {
    std::lock_guard lock(mu_);
    return sets_;
  }
  int gets() const {
    std::lock_guard lock(mu_);
    return gets_;
  }

 private:
  mutable std::mutex mu_;
  ipc::DeviceState state_;
  std::vector<ipc::SetRequest> sets_;
  int gets_ = 0;
  int set_result_ = 0;
  bool throw_ = false;
};

// An io_context running on a thread of its own until destroyed.
class IoThread {
 public:
  IoThread() : guard_(boost::asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~IoThread() { join(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  void join() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io.stop();
    thread_.join();
  }

  // Runs fn on the io thread and returns its result.
  template <class F>
  auto call(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return result.get();
  }

  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// A blocking UNIX stream client; every wait is bounded by `timeout`.
class TestClient {
 public:
  explicit TestClient(const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
      : timeout_(timeout) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || path.size() >= sizeof addr.sun_path) return;
    path.copy(addr.sun_path, path.size());
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~TestClient() { close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // Writes all of `data`; false on error or when the peer stops reading for `timeout`.
  bool send(std::string_view data) {
    while (!data.empty()) {
      if (!wait(POLLOUT)) return false;
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until the data ends with a complete "errno=N\n\n" response, EOF or timeout.
  std::string read_response() {
    std::string out;
    while (!ends_with_response(out)) {
      if (!read_some(out)) break;
    }
    return out;
  }

  // Reads exactly `count` responses (pipelined requests).
  std::string read_responses(int count) {
    std::string out;
    while (count_responses(out) < count) {
      if (!read_some(out)) break;
    }
    return out;
  }

  // True when the server closed the connection within `timeout` (bytes before EOF ignored).
  bool wait_closed() {
    std::string ignored;
    while (read_some(ignored)) {
    }
    return eof_;
  }

  static int count_responses(std::string_view s) {
    int n = 0;
    for (std::size_t pos = 0; (pos = s.find("errno=", pos)) != std::string_view::npos; ++pos) {
      if (pos == 0 || s[pos - 1] == '\n') ++n;
    }
    return n;
  }

 private:
  static bool ends_with_response(std::string_view s) {
    if (s.size() < 2 || s.substr(s.size() - 2) != "\n\n") return false;
    const auto line = s.rfind('\n', s.size() - 3);
    return s.substr(line == std::string_view::npos ? 0 : line + 1).starts_with("errno=");
  }
  bool wait(short events) {
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, static_cast<int>(timeout_.count())) == 1;
  }
  bool read_some(std::string& out) {
    if (fd_ < 0 || !wait(POLLIN)) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) eof_ = true;
    if (n <= 0) return false;
    out.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::chrono::milliseconds timeout_;
};

// mkdtemp under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/meshtun-uapi-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `done` every 5 ms for up to `limit`; for events with no timer to drive (inotify).
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace meshtund::testing
