// SPDX-License-Identifier: MIT
#include "derpserver/testing/raw_client.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "derp/client_handshake.hpp"

namespace derpserver::testing {
namespace {

using Clock = std::chrono::steady_clock;

int connect_loopback(std::uint16_t port, int rcvbuf) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Loopback connects complete in the kernel's backlog without the server accepting.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

}  // namespace

RawClient::RawClient(Pump pump, base::NodePrivateKey key)
    : pump_(std::move(pump)), key_(std::move(key)) {}

RawClient::~RawClient() {
  close();
}

bool RawClient::connect(std::uint16_t port) {
  close();
  fd_ = connect_loopback(port, rcvbuf_);
  eof_ = false;
  in_.clear();
  return fd_ >= 0;
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawClient::send(base::ConstByteSpan bytes) {
  std::size_t off = 0;
  const auto deadline = Clock::now() + kDefaultWait;
  while (off < bytes.size() && fd_ >= 0 && Clock::now() < deadline) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pump_();  // let the server drain its side
    } else {
      return;
    }
  }
}

void RawClient::send_packet(const base::NodePublicKey& dst, base::ConstByteSpan data) {
  base::Bytes f;
  derp::encode_send_packet(f, dst, data);
  send(f);
}

bool RawClient::fill() {
  if (fd_ < 0 || eof_) return false;
  std::byte buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.insert(in_.end(), buf, buf + n);
      continue;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    eof_ = true;
    return false;
  }
}

base::Bytes RawClient::read_bytes(std::size_t n, std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  while (in_.size() < n && Clock::now() < deadline) {
    if (!fill() && in_.size() < n) break;
    if (in_.size() < n) pump_();
  }
  const std::size_t k = std::min(n, in_.size());
  base::Bytes out(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(k));
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(k));
  return out;
}

std::optional<RawFrame> RawClient::read_frame(std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  for (;;) {
    if (in_.size() >= derp::kFrameHeaderLen) {
      const auto h = derp::read_frame_header(
          std::span<const std::byte, derp::kFrameHeaderLen>(in_.data(), derp::kFrameHeaderLen));
      if (in_.size() >= derp::kFrameHeaderLen + h.length) {
        RawFrame f;
        f.type = h.type;
        f.payload.assign(
            in_.begin() + derp::kFrameHeaderLen,
            in_.begin() + static_cast<std::ptrdiff_t>(derp::kFrameHeaderLen + h.length));
        in_.erase(in_.begin(),
                  in_.begin() + static_cast<std::ptrdiff_t>(derp::kFrameHeaderLen + h.length));
        return f;
      }
    }
    if (Clock::now() >= deadline) return std::nullopt;
    const bool alive = fill();
    if (!alive) {
      // EOF: whatever is buffered may still hold whole frames.
      if (in_.size() >= derp::kFrameHeaderLen) {
        const auto h = derp::read_frame_header(
            std::span<const std::byte, derp::kFrameHeaderLen>(in_.data(), derp::kFrameHeaderLen));
        if (in_.size() >= derp::kFrameHeaderLen + h.length) continue;
      }
      return std::nullopt;
    }
    pump_();
  }
}

std::optional<RawFrame> RawClient::read_frame_of(derp::FrameType type,
                                                 std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto f = read_frame(left);
    if (!f) return std::nullopt;
    if (f->type == static_cast<std::uint8_t>(type)) return f;
  }
}

bool RawClient::no_frame_of(derp::FrameType type, std::chrono::milliseconds wait) {
  return !read_frame_of(type, wait).has_value();
}

bool RawClient::wait_closed(std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    if (!fill()) return true;
    in_.clear();
    pump_();
  }
  return false;
}

bool RawClient::login(std::uint16_t port, derp::ClientInfo info, bool fast_start_with_known_key,
                      const base::NodePublicKey& server_key) {
  if (!connect(port)) return false;
  std::optional<base::NodePublicKey> fast;
  if (fast_start_with_known_key) fast = server_key;
  derp::ClientHandshake hs(key_, std::move(info), fast);
  derp::UpgradeRequest req;
  req.host = "127.0.0.1:" + std::to_string(port);
  send(hs.initial_bytes(req));
  const auto deadline = Clock::now() + kDefaultWait;
  while (!hs.done() && Clock::now() < deadline) {
    fill();
    if (!in_.empty()) {
      auto out = hs.feed(in_);
      in_.clear();
      if (!out) return false;
      send(*out);
      if (hs.done()) in_ = hs.take_remaining();
    } else {
      if (eof_) return false;
      pump_();
    }
  }
  if (!hs.done()) return false;
  server_key_ = hs.server_key();
  auto f = read_frame_of(derp::FrameType::server_info);
  if (!f) return false;
  return derp::open_server_info(key_, server_key_, f->payload).ok();
}

std::string http_get(const RawClient::Pump& pump, std::uint16_t port, const std::string& request,
                     std::chrono::milliseconds wait) {
  RawClient c(pump);
  if (!c.connect(port)) return {};
  c.send(base::as_bytes(request));
  std::string out;
  const auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    auto b = c.read_bytes(1, std::chrono::milliseconds(50));
    if (b.empty()) {
      // Done when a complete response is in: headers plus Content-Length bytes.
      const auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t want = 0;
        const auto cl = out.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) want = std::stoul(out.substr(cl + 16));
        if (out.size() >= end + 4 + want) break;
      }
      continue;
    }
    out.append(base::as_chars(b));
  }
  return out;
}

}  // namespace derpserver::testing
