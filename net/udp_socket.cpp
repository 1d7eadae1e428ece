// SPDX-License-Identifier: MIT
// Receive: one recvmmsg per batch into the buffers' read areas, pktinfo cmsg parsed per
// datagram, truncated datagrams compacted out.
// Send: messages -> groups (one mmsghdr each) -> sendmmsg over the groups, looping over
// partial sends; a group the kernel refuses is handled alone (stale source retried without
// it, other errors reported) and the rest continue.
#include "net/udp_socket.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "base/bug.hpp"
#include "base/log.hpp"

namespace net {

namespace {

constexpr int kMaxEintr = 8;

// Control buffer room per message: one IPv6 pktinfo plus one UDP GRO/GSO value, rounded up.
constexpr std::size_t kCtrlLen = 128;
static_assert(CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) <= kCtrlLen);

struct alignas(cmsghdr) Ctrl {
  std::byte b[kCtrlLen];
};

union SockAddr {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

std::error_code sys_code(int err) {
  return std::error_code(err, std::system_category());
}

base::Error sys_error(int err, std::string what) {
  return base::Error{sys_code(err), what + ": " + std::strerror(err)};
}

// Fills `out` for `ep`; returns its length.
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

bool has_source(const SendMsg& m) noexcept {
  return m.source.valid() && !m.source.is_unspecified();
}

// Writes the pktinfo cmsg that picks m.source (and m.ifindex); returns the bytes used.
std::size_t put_source_cmsg(const SendMsg& m, std::byte* ctrl) noexcept {
  auto* c = reinterpret_cast<cmsghdr*>(ctrl);
  if (m.source.is_v4()) {
    in_pktinfo pi{};
    pi.ipi_ifindex = m.ifindex;
    std::memcpy(&pi.ipi_spec_dst, m.source.bytes().data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof pi);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    return CMSG_SPACE(sizeof pi);
  }
  in6_pktinfo pi{};
  pi.ipi6_ifindex = static_cast<unsigned>(m.ifindex);
  std::memcpy(&pi.ipi6_addr, m.source.bytes().data(), 16);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof pi);
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  return CMSG_SPACE(sizeof pi);
}

// Errors a send with a source address that is no longer ours (or an interface that is gone)
// gets: EINVAL and EADDRNOTAVAIL by the book; Linux 6.18 answers a non-local IPv4
// ipi_spec_dst with ENETUNREACH. The message is retried without the source; only if that
// works is the source called stale.
bool is_stale_source_error(int err) noexcept {
  return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH || err == ENODEV ||
         err == ENXIO;
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

// Messages sent as one mmsghdr: msgs[first, first + count).
struct Group {
  std::size_t first = 0;
  std::size_t count = 0;
};

// Per-call send scratch, on the caller's stack (so send_batch is safe from many threads).
struct SendScratch {
  std::array<mmsghdr, kMaxBatch> hdr;
  std::array<iovec, kMaxBatch> iov;
  std::array<SockAddr, kMaxBatch> addr;
  std::array<Ctrl, kMaxBatch> ctrl;
  std::array<Group, kMaxBatch> group;
};

}  // namespace

struct UdpSocket::State {
  UdpStats stats;
  // recv_batch() scratch: one reader at a time.
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  std::array<Ctrl, kMaxBatch> ctrl;
};

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
  SockAddr sa;
  const socklen_t sa_len = fill_sockaddr(local, sa);
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
  guard.fd = -1;
  return UdpSocket(fd, o.family, ep->port, std::make_unique<State>());
}

base::Status UdpSocket::set_fwmark(std::uint32_t mark) {
  if (::setsockopt(fd_, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    return sys_error(errno, "setsockopt SO_MARK " + std::to_string(mark));
  }
  return {};
}

std::size_t UdpSocket::recv_batch(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                                  std::error_code& ec) noexcept {
  ec.clear();
  State& s = *st_;
  std::size_t n = std::min({bufs.size(), meta.size(), kMaxBatch});
  for (std::size_t i = 0; i < n; ++i) {
    if (!bufs[i]) {
      n = i;
      break;
    }
    const auto area = bufs[i]->read_area();
    s.iov[i] = {area.data(), area.size()};
    msghdr& h = s.msgs[i].msg_hdr;
    h.msg_name = &s.names[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &s.iov[i];
    h.msg_iovlen = 1;
    h.msg_control = s.ctrl[i].b;
    h.msg_controllen = kCtrlLen;
    h.msg_flags = 0;
    s.msgs[i].msg_len = 0;
  }
  if (n == 0) return 0;
  int r = -1;
  for (int tries = 0; tries < kMaxEintr; ++tries) {
    r = ::recvmmsg(fd_, s.msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (r >= 0 || errno != EINTR) break;
  }
  if (r < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return 0;
    s.stats.receive_errors.fetch_add(1, std::memory_order_relaxed);
    ec = sys_code(err);
    return 0;
  }
  std::size_t out = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i) {
    msghdr& h = s.msgs[i].msg_hdr;
    if ((h.msg_flags & MSG_TRUNC) != 0) {
      ++dropped;
      continue;
    }
    RecvMeta& m = meta[out];
    m = RecvMeta{};
    if (auto src = base::Endpoint::from_sockaddr(static_cast<const sockaddr*>(h.msg_name),
                                                 h.msg_namelen)) {
      m.source = *src;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
          c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        m.local = base::IpAddr::v4(
            std::span<const std::byte, 4>(reinterpret_cast<const std::byte*>(&pi.ipi_spec_dst), 4));
        m.ifindex = pi.ipi_ifindex;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                 c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        m.local = base::IpAddr::v6(
            std::span<const std::byte, 16>(reinterpret_cast<const std::byte*>(&pi.ipi6_addr), 16));
        m.ifindex = static_cast<int>(pi.ipi6_ifindex);
      }
    }
    bufs[i]->set_size(s.msgs[i].msg_len);
    bytes += s.msgs[i].msg_len;
    if (out != i) std::swap(bufs[out], bufs[i]);
    ++out;
  }
  s.stats.datagrams_received.fetch_add(out, std::memory_order_relaxed);
  s.stats.bytes_received.fetch_add(bytes, std::memory_order_relaxed);
  if (dropped != 0) s.stats.receive_dropped.fetch_add(dropped, std::memory_order_relaxed);
  return out;
}

namespace {

// Sends one message with sendmsg, with or without its source; returns 0 or an errno.
int send_one(int fd, const SendMsg& m, bool with_source) noexcept {
  SockAddr sa;
  iovec iov{const_cast<std::byte*>(m.data.data()), m.data.size()};
  Ctrl ctrl;
  msghdr h{};
  h.msg_name = &sa;
  h.msg_namelen = fill_sockaddr(m.dest, sa);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  if (with_source && has_source(m)) {
    h.msg_control = ctrl.b;
    h.msg_controllen = put_source_cmsg(m, ctrl.b);
  }
  for (int tries = 0; tries < kMaxEintr; ++tries) {
    if (::sendmsg(fd, &h, MSG_DONTWAIT) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
  return EINTR;
}

}  // namespace

SendResult UdpSocket::send_batch(std::span<const SendMsg> msgs,
                                 std::span<SendStatus> status) noexcept {
  SendResult res;
  if (!status.empty() && status.size() < msgs.size()) {
    WG_BUG("udp_status_short", "send_batch status has {} entries for {} messages", status.size(),
           msgs.size());
    status = {};
  }
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  std::uint64_t stale = 0;
  std::uint64_t syscalls = 0;
  auto report = [&](std::size_t i, int err, bool source_stale) {
    if (!status.empty())
      status[i] = SendStatus{err != 0 ? sys_code(err) : std::error_code(), source_stale};
    if (err == 0) {
      ++res.sent;
      bytes += msgs[i].data.size();
    } else {
      ++errors;
    }
    if (source_stale) ++stale;
    res.handled = i + 1;
  };

  SendScratch s;
  std::size_t next = 0;
  while (next < msgs.size() && !res.would_block) {
    // Build groups from msgs[next..]. A message the socket cannot take (wrong family) ends
    // the build; it is reported on its own once the groups before it went out.
    std::size_t ng = 0;
    std::size_t j = next;
    while (j < msgs.size() && ng < kMaxBatch) {
      const SendMsg& m = msgs[j];
      if (m.dest.addr.family() != family_) break;
      Group& g = s.group[ng];
      g = Group{j, 1};
      s.iov[ng] = {const_cast<std::byte*>(m.data.data()), m.data.size()};
      msghdr& h = s.hdr[ng].msg_hdr;
      h = msghdr{};
      h.msg_name = &s.addr[ng];
      h.msg_namelen = fill_sockaddr(m.dest, s.addr[ng]);
      h.msg_iov = &s.iov[ng];
      h.msg_iovlen = 1;
      if (has_source(m)) {
        h.msg_control = s.ctrl[ng].b;
        h.msg_controllen = put_source_cmsg(m, s.ctrl[ng].b);
      }
      ++ng;
      j += g.count;
    }
    // Send groups [0, ng), looping over partial sends.
    std::size_t g = 0;
    int eintr = 0;
    while (g < ng) {
      const int r = ::sendmmsg(fd_, &s.hdr[g], static_cast<unsigned>(ng - g), MSG_DONTWAIT);
      ++syscalls;
      if (r > 0) {
        for (std::size_t k = g; k < g + static_cast<std::size_t>(r); ++k) {
          for (std::size_t i = 0; i < s.group[k].count; ++i) report(s.group[k].first + i, 0, false);
        }
        g += static_cast<std::size_t>(r);
        continue;
      }
      const int err = r < 0 ? errno : EIO;
      if (err == EINTR && ++eintr < kMaxEintr) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        res.would_block = true;
        break;
      }
      // Group g failed alone (sendmmsg reports the error of its first message).
      const Group& fg = s.group[g];
      for (std::size_t i = 0; i < fg.count; ++i) {
        const SendMsg& m = msgs[fg.first + i];
        if (has_source(m) && is_stale_source_error(err)) {
          const int retry = send_one(fd_, m, false);
          ++syscalls;
          if (retry == EAGAIN || retry == EWOULDBLOCK) {
            res.would_block = true;
            break;
          }
          // If it fails without the source too, the source was not the problem.
          report(fg.first + i, retry, retry == 0);
        } else {
          report(fg.first + i, err, false);
        }
      }
      if (res.would_block) break;
      ++g;
    }
    if (res.would_block) break;
    next = j;
    if (next < msgs.size() && msgs[next].dest.addr.family() != family_) {
      report(next, EAFNOSUPPORT, false);
      ++next;
    }
  }
  st_->stats.datagrams_sent.fetch_add(res.sent, std::memory_order_relaxed);
  st_->stats.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  if (errors != 0) st_->stats.send_errors.fetch_add(errors, std::memory_order_relaxed);
  if (stale != 0) st_->stats.stale_sources.fetch_add(stale, std::memory_order_relaxed);
  st_->stats.send_syscalls.fetch_add(syscalls, std::memory_order_relaxed);
  return res;
}

}  // namespace net
