// SPDX-License-Identifier: MIT
// Opening and configuring UDP sockets; the send path is in udp_send.cpp, the receive path
// in udp_receive.cpp.
#include "net/udp_socket.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "base/log.hpp"
#include "net/udp_socket_internal.hpp"

namespace net {

namespace {

base::Error sys_error(int err, std::string what) {
  return base::Error{detail::sys_code(err), what + ": " + std::strerror(err)};
}

void set_buffer(int fd, int opt, int force_opt, int bytes, const char* name) {
  if (bytes <= 0) return;
  if (::setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes) != 0) {
    base::logger("net")->debug("setsockopt {} failed bytes={} err={}", name, bytes,
                               std::strerror(errno));
  }
  // The FORCE variants pass net.core.[rw]mem_max; they need CAP_NET_ADMIN.
  if (::setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0) {
    base::logger("net")->debug("setsockopt {}FORCE failed bytes={} err={}", name, bytes,
                               std::strerror(errno));
  }
}

}  // namespace

namespace detail {

socklen_t fill_sockaddr(const base::Endpoint& ep, SockAddr& out) noexcept {
  std::memset(&out, 0, sizeof out);
  if (ep.addr.is_v4()) {
    out.v4.sin_family = AF_INET;
    out.v4.sin_port = htons(ep.port);
    std::memcpy(&out.v4.sin_addr, ep.addr.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  out.v6.sin6_family = AF_INET6;
  out.v6.sin6_port = htons(ep.port);
  std::memcpy(&out.v6.sin6_addr, ep.addr.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

}  // namespace detail

UdpSocket::UdpSocket(int fd, base::IpAddr::Family family, std::uint16_t port,
                     std::unique_ptr<State> st)
    : fd_(fd), family_(family), port_(port), st_(std::move(st)) {}

UdpSocket::UdpSocket(UdpSocket&& o) noexcept
    : fd_(o.fd_), family_(o.family_), port_(o.port_), st_(std::move(o.st_)) {
  o.fd_ = -1;
}

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    family_ = o.family_;
    port_ = o.port_;
    st_ = std::move(o.st_);
    o.fd_ = -1;
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  close();
}

void UdpSocket::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

const UdpStats& UdpSocket::stats() const noexcept {
  return st_->stats;
}

base::Result<UdpSocket> UdpSocket::open(const UdpOptions& o) {
  const bool v6 = o.family == base::IpAddr::Family::v6;
  if (o.family == base::IpAddr::Family::none) {
    return base::make_error(std::errc::invalid_argument, "udp socket: no address family");
  }
  if (o.bind_addr.valid() && o.bind_addr.family() != o.family) {
    return base::make_error(
        std::errc::invalid_argument,
        "udp socket: bind address " + o.bind_addr.to_string() + " is not of the socket's family");
  }
  const char* fam = v6 ? "udp6" : "udp4";
  const int fd =
      o.hooks.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, std::string(fam) + " socket");
  struct Guard {
    int fd;
    ~Guard() {
      if (fd >= 0) ::close(fd);
    }
  } guard{fd};
  const int one = 1;
  auto setopt = [&](int level, int opt, const void* v, socklen_t len,
                    const char* name) -> base::Status {
    if (::setsockopt(fd, level, opt, v, len) != 0) {
      return sys_error(errno, std::string(fam) + " setsockopt " + name);
    }
    return {};
  };
  if (v6) {
    if (auto st = setopt(IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one, "IPV6_V6ONLY"); !st) {
      return st.error();
    }
  }
  if (o.reuse_port) {
    if (auto st = setopt(SOL_SOCKET, SO_REUSEPORT, &one, sizeof one, "SO_REUSEPORT"); !st) {
      return st.error();
    }
  }
  if (o.fwmark != 0) {
    if (auto st = setopt(SOL_SOCKET, SO_MARK, &o.fwmark, sizeof o.fwmark, "SO_MARK"); !st) {
      return st.error();
    }
  }
  set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, o.buffer_bytes, "SO_RCVBUF");
  set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, o.buffer_bytes, "SO_SNDBUF");
  if (v6) {
    if (auto st = setopt(IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one, "IPV6_RECVPKTINFO");
        !st) {
      return st.error();
    }
  } else {
    if (auto st = setopt(IPPROTO_IP, IP_PKTINFO, &one, sizeof one, "IP_PKTINFO"); !st) {
      return st.error();
    }
  }

  base::Endpoint local{o.bind_addr, o.port};
  if (!local.addr.valid()) {
    const std::byte zero[16] = {};
    local.addr = v6 ? base::IpAddr::v6(std::span<const std::byte, 16>(zero, 16))
                    : base::IpAddr::v4(std::span<const std::byte, 4>(zero, 4));
  }
  detail::SockAddr sa;
  const socklen_t sa_len = detail::fill_sockaddr(local, sa);
  if (o.hooks.bind(fd, &sa.sa, sa_len) != 0) {
    return sys_error(errno, std::string(fam) + " bind " + local.to_string());
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return sys_error(errno, std::string(fam) + " getsockname");
  }
  const auto ep = base::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len);
  if (!ep) return base::make_error(std::errc::protocol_error, "udp socket: bad local address");
  auto st = std::make_unique<State>();
  st->hooks = o.hooks;
  st->gso_max_bytes = v6 ? kGsoMaxBytesV6 : kGsoMaxBytesV4;
  // GSO: the kernel knows UDP_SEGMENT if it can be read back (Linux 4.18); older kernels
  // would ignore the cmsg and send one glued datagram, so never use it unprobed.
  int seg = 0;
  socklen_t seg_len = sizeof seg;
  st->gso_supported = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &seg_len) == 0;
  st->gso_on = o.gso && st->gso_supported;
  // GRO: set it and read it back; reading works from Linux 5.12, before which UDP_GRO is
  // best left alone (wireguard-go does the same).
  if (o.gro) {
    int gro = 1;
    socklen_t gro_len = sizeof gro;
    if (::setsockopt(fd, SOL_UDP, UDP_GRO, &gro, sizeof gro) == 0 &&
        ::getsockopt(fd, SOL_UDP, UDP_GRO, &gro, &gro_len) == 0 && gro == 1) {
      st->gro_on = true;
      st->gro_scratch.reset(new std::byte[detail::kGroSlots * detail::kGroSlotSize]);
    } else {
      gro = 0;
      ::setsockopt(fd, SOL_UDP, UDP_GRO, &gro, sizeof gro);
      base::logger("net")->debug("{} UDP GRO not available", fam);
    }
  }
  guard.fd = -1;
  return UdpSocket(fd, o.family, ep->port, std::move(st));
}

bool UdpSocket::gso_supported() const noexcept {
  return st_->gso_supported;
}

bool UdpSocket::wait_writable(std::chrono::milliseconds timeout) noexcept {
  st_->stats.send_waits.fetch_add(1, std::memory_order_relaxed);
  pollfd p{fd_, POLLOUT, 0};
  int r = 0;
  do {
    r = st_->hooks.poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

bool UdpSocket::gso_enabled() const noexcept {
  return st_->gso_on.load(std::memory_order_relaxed);
}

void UdpSocket::set_gso(bool on) noexcept {
  st_->gso_on.store(on && st_->gso_supported, std::memory_order_relaxed);
}

bool UdpSocket::gro_enabled() const noexcept {
  return st_->gro_on;
}

bool UdpSocket::has_pending() const noexcept {
  return st_->pending_count > 0;
}

base::Status UdpSocket::set_fwmark(std::uint32_t mark) {
  if (::setsockopt(fd_, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    return sys_error(errno, "setsockopt SO_MARK " + std::to_string(mark));
  }
  return {};
}

}  // namespace net
