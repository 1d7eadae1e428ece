// SPDX-License-Identifier: MIT
#include "derpserver/stun_server.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "derpserver/testing/server_fixture.hpp"
#include "net/stun.hpp"

namespace {

// Sends a Tailscale binding request from a fresh UDP socket of `family` to `server_port`
// on loopback and returns the parsed answer and the address the socket really has.
struct Answer {
  base::Result<net::stun::Response> resp = base::make_error(std::errc::timed_out, "no answer");
  base::Endpoint local;
};

Answer ask(derpserver::testing::ServerFixture& f, int family, std::uint16_t server_port) {
  Answer a;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(server_port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(server_port);
    sa->sin6_addr = in6addr_loopback;
    len = sizeof(sockaddr_in6);
  }
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
  a.local = *base::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&local), llen);
  const auto tx = net::stun::new_tx_id();
  std::byte req[net::stun::kRequestLen];
  const auto n = net::stun::write_request(tx, req);
  REQUIRE(::send(fd, req, n, 0) == static_cast<ssize_t>(n));
  std::byte buf[512];
  f.pump_until([&] {
    const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) return false;
    a.resp = net::stun::parse_response(base::ConstByteSpan(buf, static_cast<std::size_t>(got)));
    return true;
  });
  if (a.resp) CHECK(a.resp->tx == tx);
  // Junk is ignored and counted.
  ::send(fd, "hello", 5, 0);
  ::close(fd);
  return a;
}

TEST_CASE("STUN server answers IPv4 and IPv6 binding requests with the sender's address") {
  derpserver::testing::ServerFixture f;
  auto port = f.server().listen_stun("[::]:0");  // dual stack
  REQUIRE(port.ok());
  f.start();
  auto v4 = ask(f, AF_INET, *port);
  REQUIRE(v4.resp.ok());
  CHECK(v4.resp->addr == v4.local);
  CHECK(v4.resp->addr.addr.is_v4());
  auto v6 = ask(f, AF_INET6, *port);
  REQUIRE(v6.resp.ok());
  CHECK(v6.resp->addr == v6.local);
  CHECK(f.pump_until([&] { return f.server().counters().stun_not_stun.load() == 2; }));
  CHECK(f.server().counters().stun_success.load() == 2);
  CHECK(f.server().counters().stun_ipv4.load() == 1);
  CHECK(f.server().counters().stun_ipv6.load() == 1);
}

}  // namespace
