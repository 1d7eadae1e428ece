// SPDX-License-Identifier: MIT
#include "derpserver/stun_server.hpp"

#include <cerrno>
#include <cstring>

#include <boost/asio/post.hpp>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/ip.hpp"
#include "base/log.hpp"
#include "derpserver/listen_addr.hpp"
#include "net/pktinfo.hpp"
#include "net/stun.hpp"

namespace derpserver {
namespace {

base::Logger& log() {
  static base::Logger l = base::logger("stun");
  return l;
}

constexpr int kMaxPerWake = 64;

}  // namespace

StunServer::StunServer(boost::asio::io_context& io, ServerCounters& counters)
    : io_(io), counters_(counters), socket_(io) {}

StunServer::~StunServer() = default;

base::Result<std::uint16_t> StunServer::listen(std::string_view addr) {
  auto ep = parse_listen_addr(addr);
  if (!ep) return ep.error();
  boost::system::error_code ec;
  const boost::asio::ip::udp::endpoint uep(ep->address(), ep->port());
  socket_.open(uep.protocol(), ec);
  if (ec) return base::make_error(std::errc::io_error, "stun: open: " + ec.message());
  v6_ = uep.address().is_v6();
  const int fd = socket_.native_handle();
  const int one = 1;
  if (v6_) {
    const int zero = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  }
  ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  socket_.bind(uep, ec);
  if (ec) return base::make_error(std::errc::address_in_use, "stun: bind: " + ec.message());
  socket_.non_blocking(true, ec);
  log()->info("STUN server listening on {}", addr);
  return socket_.local_endpoint().port();
}

void StunServer::start() {
  boost::asio::post(io_, [this] { wait(); });
}

void StunServer::stop() {
  boost::asio::post(io_, [this] {
    boost::system::error_code ec;
    socket_.close(ec);
  });
}

void StunServer::wait() {
  if (!socket_.is_open()) return;
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [this](const boost::system::error_code& ec) {
                       if (ec) return;
                       drain();
                     });
}

void StunServer::drain() {
  const int fd = socket_.native_handle();
  for (int i = 0; i < kMaxPerWake; ++i) {
    std::byte buf[1500];
    sockaddr_storage from{};
    alignas(cmsghdr) char control[256];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN or an error: wait for the next datagram
    }
    const base::ConstByteSpan pkt(buf, static_cast<std::size_t>(n));
    auto tx = net::stun::parse_request(pkt);
    auto remote =
        base::Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&from), msg.msg_namelen);
    if (!tx || !remote) {
      counters_.stun_not_stun.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const base::Endpoint seen{remote->addr.unmap(), remote->port};
    (seen.addr.is_v4() ? counters_.stun_ipv4 : counters_.stun_ipv6)
        .fetch_add(1, std::memory_order_relaxed);
    std::byte out[net::stun::kMaxResponseLen];
    const std::size_t len = net::stun::write_response(*tx, seen, out);

    // Answer from the address the request came to: echo the packet-info control message.
    alignas(cmsghdr) char reply_control[64]{};
    msghdr reply{};
    iovec riov{out, len};
    reply.msg_name = &from;
    reply.msg_namelen = msg.msg_namelen;
    reply.msg_iov = &riov;
    reply.msg_iovlen = 1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      base::IpAddr local;
      int ifindex = 0;
      if (net::read_pktinfo(*c, local, ifindex)) {
        reply.msg_control = reply_control;
        reply.msg_controllen =
            net::put_pktinfo(local, 0, reinterpret_cast<std::byte*>(reply_control));
        break;
      }
    }
    if (::sendmsg(fd, &reply, MSG_NOSIGNAL) < 0) {
      counters_.stun_write_error.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.stun_success.fetch_add(1, std::memory_order_relaxed);
    }
  }
  wait();
}

}  // namespace derpserver
