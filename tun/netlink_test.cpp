// SPDX-License-Identifier: MIT
#include "tun/netlink.hpp"

#include <doctest/doctest.h>

#include <array>
#include <poll.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "base/testing/netns.hpp"
#include "base/testing/skip.hpp"
#include "tun/queue.hpp"
#include "tun/tun.hpp"

namespace {

bool wait_readable(int fd, int timeout_ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// True if a UDP socket can bind to `addr` (so the address is configured and usable).
bool can_bind(const char* addr) {
  const auto ip = base::IpAddr::parse(addr).value();
  sockaddr_storage ss{};
  const socklen_t len = base::Endpoint{ip, 0}.to_sockaddr(ss);
  const int s = ::socket(ip.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const bool ok = s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  if (s >= 0) ::close(s);
  return ok;
}

TEST_CASE("get_link describes loopback without privileges") {
  auto by_index = tun::get_link(1);
  REQUIRE_MESSAGE(by_index.ok(), by_index.error().to_string());
  CHECK(by_index->name == "lo");
  CHECK(by_index->kind.empty());
  CHECK(by_index->mtu > 0);
  auto by_name = tun::get_link("lo");
  REQUIRE(by_name.ok());
  CHECK(by_name->ifindex == 1);
  CHECK(tun::get_mtu(1).value() == by_index->mtu);
}

TEST_CASE("get_link reports a missing or malformed name") {
  auto missing = tun::get_link("mt-nonexist9");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == std::errc::no_such_device);
  auto bad = tun::get_link("a-name-that-is-far-too-long");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == std::errc::invalid_argument);
  CHECK_FALSE(tun::get_link(999999).ok());
  CHECK_FALSE(tun::LinkMonitor::open(999999).ok());
}

TEST_CASE("link events have names") {
  CHECK(std::string(tun::to_string(tun::LinkEvent::Kind::deleted)) == "deleted");
  CHECK(std::string(tun::to_string(tun::LinkEvent::Kind::mtu_changed)) == "mtu_changed");
}

TEST_CASE("MTU, link state and addresses on a TUN in a private namespace") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  auto t = tun::Tun::open({.name = "mtnl0", .queues = 2});
  REQUIRE_MESSAGE(t.ok(), t.error().to_string());
  const int idx = t->ifindex();

  SUBCASE("MTU set and get") {
    CHECK(tun::get_mtu(idx).value() == 1500);  // the kernel's TUN default
    REQUIRE(tun::set_mtu(idx, 1420).ok());
    CHECK(tun::get_mtu(idx).value() == 1420);
    auto too_small = tun::set_mtu(idx, 20);
    CHECK_FALSE(too_small.ok());
    CHECK(too_small.error().code == std::errc::invalid_argument);
    CHECK(too_small.error().message.find("set mtu 20") != std::string::npos);
    CHECK(tun::get_mtu(idx).value() == 1420);
  }
  SUBCASE("link up and down") {
    CHECK_FALSE(tun::get_link(idx)->up());
    REQUIRE(tun::set_link_up(idx, true).ok());
    CHECK(tun::get_link(idx)->up());
    REQUIRE(tun::set_link_up(idx, false).ok());
    CHECK_FALSE(tun::get_link(idx)->up());
  }
  SUBCASE("addresses v4 and v6") {
    REQUIRE(tun::set_link_up(idx, true).ok());
    CHECK_FALSE(can_bind("10.77.0.1"));
    REQUIRE(tun::add_address(idx, *base::IpPrefix::parse("10.77.0.1/24")).ok());
    CHECK(can_bind("10.77.0.1"));
    REQUIRE(tun::add_address(idx, *base::IpPrefix::parse("fd77::1/64")).ok());
    // Without DAD the address is usable as soon as the kernel's address work item runs.
    bool bound = false;
    for (int i = 0; i < 200 && !bound; ++i) {
      bound = can_bind("fd77::1");
      if (!bound) ::poll(nullptr, 0, 10);
    }
    CHECK(bound);
    auto again = tun::add_address(idx, *base::IpPrefix::parse("10.77.0.1/24"));
    CHECK_FALSE(again.ok());
    CHECK(again.error().code == std::errc::file_exists);
  }
  SUBCASE("the kernel reports the TUN's kind and queues") {
    auto info = tun::get_link("mtnl0");
    REQUIRE(info.ok());
    CHECK(info->kind == "tun");
    CHECK(info->has_tun_info);
    CHECK(info->tun_multi_queue);
    CHECK_FALSE(info->tun_is_tap);
    CHECK(info->tun_num_queues == 2);
  }
}

TEST_CASE("LinkMonitor reports up, down, MTU changes and the deletion") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  auto t = tun::Tun::open({.name = "mtmon0", .queues = 1});
  REQUIRE_MESSAGE(t.ok(), t.error().to_string());
  const int idx = t->ifindex();
  auto mon = tun::LinkMonitor::open(idx);
  REQUIRE_MESSAGE(mon.ok(), mon.error().to_string());
  CHECK_FALSE(mon->up());
  CHECK(mon->mtu() == 1500);
  std::vector<tun::LinkEvent> ev;
  std::error_code ec;
  CHECK(mon->drain(ev, ec) == 0);  // nothing yet, and it does not block

  using K = tun::LinkEvent::Kind;
  REQUIRE(tun::set_link_up(idx, true).ok());
  REQUIRE(wait_readable(mon->fd()));
  mon->drain(ev, ec);
  CHECK_FALSE(ec);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == K::up);

  ev.clear();
  REQUIRE(tun::set_mtu(idx, 1280).ok());
  REQUIRE(tun::set_mtu(idx, 1280).ok());  // no change: no event
  REQUIRE(tun::set_link_up(idx, false).ok());
  REQUIRE(wait_readable(mon->fd()));
  mon->drain(ev, ec);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0] == tun::LinkEvent{K::mtu_changed, 1280});
  CHECK(ev[1].kind == K::down);

  // Another interface's changes are not reported.
  auto other = tun::Tun::open({.name = "mtmon1", .queues = 1});
  REQUIRE(other.ok());
  REQUIRE(tun::set_link_up(other->ifindex(), true).ok());
  ev.clear();
  if (wait_readable(mon->fd(), 200)) mon->drain(ev, ec);
  CHECK(ev.empty());

  // ip link del: the monitor says so, and the queue fd is dead.
  REQUIRE(tun::delete_link(idx).ok());
  REQUIRE(wait_readable(mon->fd()));
  mon->drain(ev, ec);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == K::deleted);
  CHECK(mon->deleted());
  tun::Queue q(t->fd(0));
  base::PacketPool pool(1);
  std::array<base::PacketRef, 1> batch;
  REQUIRE(pool.get_batch(batch) == 1);
  CHECK(q.read_batch(batch, ec) == 0);
  CHECK(tun::is_fatal(ec));
}

TEST_CASE("LinkMonitor recovers from lost notifications") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  auto t = tun::Tun::open({.name = "mtmon2", .queues = 1});
  REQUIRE(t.ok());
  const int idx = t->ifindex();
  auto mon = tun::LinkMonitor::open(idx);
  REQUIRE(mon.ok());
  // Shrink the socket buffer to its minimum so a burst overflows it (ENOBUFS).
  const int tiny = 1;
  REQUIRE(::setsockopt(mon->fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny) == 0);
  for (unsigned mtu = 1300; mtu < 1400; ++mtu) REQUIRE(tun::set_mtu(idx, mtu).ok());
  std::vector<tun::LinkEvent> ev;
  std::error_code ec;
  for (int i = 0; i < 10 && wait_readable(mon->fd(), 100); ++i) mon->drain(ev, ec);
  CHECK_FALSE(ec);
  CHECK(mon->mtu() == 1399);
  REQUIRE_FALSE(ev.empty());
  CHECK(ev.back() == tun::LinkEvent{tun::LinkEvent::Kind::mtu_changed, 1399});
  CHECK(ev.size() < 100);  // some were lost, and the monitor noticed
  // Deletion during an overflow is not missed either.
  for (unsigned mtu = 1300; mtu < 1400; ++mtu) REQUIRE(tun::set_mtu(idx, mtu).ok());
  REQUIRE(tun::delete_link(idx).ok());
  for (int i = 0; i < 10 && !mon->deleted() && wait_readable(mon->fd(), 100); ++i) {
    mon->drain(ev, ec);
  }
  CHECK(mon->deleted());
}

}  // namespace
