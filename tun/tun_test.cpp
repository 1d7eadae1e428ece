// SPDX-License-Identifier: MIT
#include "tun/tun.hpp"

#include <doctest/doctest.h>

#include <array>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sched.h>
#include <set>
#include <unistd.h>

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "base/testing/netns.hpp"
#include "base/testing/skip.hpp"
#include "tun/headers.hpp"
#include "tun/netlink.hpp"
#include "tun/queue.hpp"
#include "tun/testing/packet_builder.hpp"

namespace {

base::IpAddr ip(const char* s) {
  return base::IpAddr::parse(s).value();
}

// A UDP socket bound to addr:port (port 0: any), or -1.
int udp_socket(const base::IpAddr& addr, std::uint16_t port) {
  const int s =
      ::socket(addr.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_storage ss{};
  const socklen_t len = base::Endpoint{addr, port}.to_sockaddr(ss);
  if (s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&ss), len) == 0) return s;
  if (s >= 0) ::close(s);
  return -1;
}

bool send_to(int s, const base::Endpoint& to, base::ConstByteSpan data) {
  sockaddr_storage ss{};
  const socklen_t len = to.to_sockaddr(ss);
  return ::sendto(s, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
         static_cast<ssize_t>(data.size());
}

// IPv6 addresses finish duplicate address detection in a kernel work item even with
// IFA_F_NODAD; until then they cannot be bound or receive. Waits (bounded) for that.
bool wait_bindable(const base::IpAddr& addr) {
  for (int i = 0; i < 200; ++i) {
    const int s = udp_socket(addr, 0);
    if (s >= 0) {
      ::close(s);
      return true;
    }
    ::poll(nullptr, 0, 10);
  }
  return false;
}

// Opens `name` with `queues` queues, brings it up with 10.9.0.1/24 and fd09::1/64.
tun::Tun open_up(const char* name, std::size_t queues) {
  auto t = tun::Tun::open({.name = name, .queues = queues});
  REQUIRE_MESSAGE(t.ok(), t.error().to_string());
  REQUIRE(tun::set_link_up(t->ifindex(), true).ok());
  REQUIRE(tun::add_address(t->ifindex(), *base::IpPrefix::parse("10.9.0.1/24")).ok());
  REQUIRE(tun::add_address(t->ifindex(), *base::IpPrefix::parse("fd09::1/64")).ok());
  REQUIRE(wait_bindable(ip("fd09::1")));
  return std::move(t.value());
}

// Reads every queue of `t` until `want` UDP packets to `dst` have arrived or 2 s pass.
// Returns (queue, packet) pairs; other traffic (IPv6 router solicitations...) is ignored.
std::vector<std::pair<std::size_t, base::Bytes>> collect_udp(tun::Tun& t, const base::IpAddr& dst,
                                                             std::size_t want) {
  std::vector<std::pair<std::size_t, base::Bytes>> got;
  std::vector<std::unique_ptr<tun::Queue>> queues;
  std::vector<pollfd> pfds;
  for (std::size_t q = 0; q < t.queue_count(); ++q) {
    queues.push_back(std::make_unique<tun::Queue>(t.fd(q)));
    pfds.push_back({t.fd(q), POLLIN, 0});
  }
  base::PacketPool pool(64);
  for (int round = 0; round < 40 && got.size() < want; ++round) {
    if (::poll(pfds.data(), pfds.size(), 50) < 0) break;
    for (std::size_t q = 0; q < queues.size(); ++q) {
      std::array<base::PacketRef, 32> batch;
      pool.get_batch(batch);
      std::error_code ec;
      const std::size_t n = queues[q]->read_batch(batch, ec);
      REQUIRE_FALSE(ec);
      for (std::size_t i = 0; i < n; ++i) {
        const auto d = batch[i]->data();
        const bool v4 = (std::to_integer<int>(d[0]) >> 4) == 4;
        const std::size_t dst_off = v4 ? tun::hdr::kIpv4Dst : tun::hdr::kIpv6Dst;
        const std::size_t proto_off = v4 ? tun::hdr::kIpv4Protocol : tun::hdr::kIpv6NextHeader;
        if (d.size() < (v4 ? 28u : 48u)) continue;
        if (std::to_integer<std::uint8_t>(d[proto_off]) != tun::kProtoUdp) continue;
        if (!base::equal_bytes(d.subspan(dst_off, dst.size()), dst.bytes())) continue;
        got.emplace_back(q, base::Bytes(d.begin(), d.end()));
      }
    }
  }
  return got;
}

TEST_CASE("interface names are checked like the kernel does") {
  struct Row {
    const char* name;
    bool ok;
  };
  const Row rows[] = {
      {"wg0", true},                // 1
      {"mt%d", true},               // 2: template
      {"a23456789012345", true},    // 3: 15 bytes
      {"a234567890123456", false},  // 4: 16 bytes
      {"", false},                  // 5
      {".", false},                 // 6
      {"..", false},                // 7
      {"wg/0", false},              // 8
      {"wg:0", false},              // 9
      {"wg 0", false},              // 10
      {"wg%s", false},              // 11
      {"wg%d%d", false},            // 12
      {"wg%", false},               // 13
  };
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    INFO("row " << i + 1 << " name '" << rows[i].name << "'");
    CHECK(tun::check_interface_name(rows[i].name).empty() == rows[i].ok);
  }
}

TEST_CASE("open rejects bad names and queue counts before touching the kernel") {
  auto long_name = tun::Tun::open({.name = "a234567890123456", .queues = 1});
  REQUIRE_FALSE(long_name.ok());
  CHECK(long_name.error().code == std::errc::invalid_argument);
  CHECK(long_name.error().message.find("too long") != std::string::npos);
  auto zero = tun::Tun::open({.name = "wg0", .queues = 0});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().code == std::errc::invalid_argument);
  auto many = tun::Tun::open({.name = "wg0", .queues = tun::kMaxQueues + 1});
  REQUIRE_FALSE(many.ok());
  CHECK(many.error().code == std::errc::invalid_argument);
}

TEST_CASE("a multi-queue TUN opens with one non-blocking close-on-exec fd per queue") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  auto t = tun::Tun::open({.name = "mt%d", .queues = 4});
  REQUIRE_MESSAGE(t.ok(), t.error().to_string());
  CHECK(t->name() == "mt0");
  CHECK(t->ifindex() == static_cast<int>(::if_nametoindex("mt0")));
  REQUIRE(t->queue_count() == 4);
  std::set<int> fds;
  for (std::size_t q = 0; q < 4; ++q) {
    fds.insert(t->fd(q));
    CHECK((::fcntl(t->fd(q), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(t->fd(q), F_GETFD) & FD_CLOEXEC) != 0);
  }
  CHECK(fds.size() == 4);
  auto info = tun::get_link(t->ifindex());
  REQUIRE(info.ok());
  CHECK(info->tun_multi_queue);
  CHECK(info->tun_num_queues == 4);

  // A second open of the same interface: busy.
  auto again = tun::Tun::open({.name = "mt0", .queues = 1});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == std::errc::device_or_resource_busy);

  // Moving keeps the fds; closing deletes the (non-persistent) interface.
  tun::Tun moved = std::move(t.value());
  CHECK(moved.queue_count() == 4);
  moved.close();
  CHECK(::if_nametoindex("mt0") == 0);
}

TEST_CASE("open explains why an existing interface cannot be used") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  SUBCASE("not a TUN") {
    auto t = tun::Tun::open({.name = "lo", .queues = 1});
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == std::errc::file_exists);
    CHECK(t.error().message.find("not a TUN") != std::string::npos);
  }
  SUBCASE("a single-queue TUN, as wireguard-go makes") {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "wgo0");
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    REQUIRE(::ioctl(fd, TUNSETIFF, &ifr) == 0);
    auto t = tun::Tun::open({.name = "wgo0", .queues = 2});
    ::close(fd);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == std::errc::file_exists);
    CHECK(t.error().message.find("single-queue") != std::string::npos);
  }
  SUBCASE("a persistent multi-queue TUN with no queue attached is reused") {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "mtp0");
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
    REQUIRE(::ioctl(fd, TUNSETIFF, &ifr) == 0);
    REQUIRE(::ioctl(fd, TUNSETPERSIST, 1) == 0);
    ::close(fd);
    auto t = tun::Tun::open({.name = "mtp0", .queues = 2});
    REQUIRE_MESSAGE(t.ok(), t.error().to_string());
    CHECK(t->queue_count() == 2);
    CHECK(tun::delete_link(t->ifindex()).ok());
  }
}

// Runs `body` in a forked child (so it may drop privileges or change mounts) and returns
// its exit status: what body returned, or 100 if it died.
int in_child(int (*body)()) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return 101;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST_CASE("open says so when it lacks permission or /dev/net/tun is missing") {
  SKIP_UNLESS_ROOT("drops privileges in a child");
  // Without CAP_NET_ADMIN (root turned nobody, in a private namespace so nothing escapes).
  CHECK(in_child([] {
          if (::unshare(CLONE_NEWNET) != 0) return 10;
          if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 11;
          auto t = tun::Tun::open({.name = "mtperm0", .queues = 1});
          if (t.ok()) return 12;
          if (t.error().message.find("CAP_NET_ADMIN") == std::string::npos) return 13;
          return t.error().code == std::errc::operation_not_permitted ? 0 : 14;
        }) == 0);
  // No /dev/net/tun: an empty tmpfs over /dev/net in a private mount namespace.
  CHECK(in_child([] {
          if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) return 10;
          if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 11;
          if (::mount("tmpfs", "/dev/net", "tmpfs", 0, nullptr) != 0) return 12;
          auto t = tun::Tun::open({.name = "mtdev0", .queues = 1});
          if (t.ok()) return 13;
          if (t.error().message.find("/dev/net/tun") == std::string::npos) return 14;
          return t.error().code == std::errc::no_such_device ? 0 : 15;
        }) == 0);
}

TEST_CASE("packets spread over queues by flow and each flow stays on one queue") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  tun::Tun t = open_up("mtq0", 4);
  const int s = udp_socket(ip("10.9.0.1"), 0);
  REQUIRE(s >= 0);
  // 16 flows (destination ports), 4 datagrams each, to an address routed into the TUN.
  const base::Bytes payload(100, std::byte{0x5a});
  for (int rep = 0; rep < 4; ++rep) {
    for (std::uint16_t f = 0; f < 16; ++f) {
      REQUIRE(send_to(s, {ip("10.9.0.2"), static_cast<std::uint16_t>(7000 + f)}, payload));
    }
  }
  ::close(s);
  const auto got = collect_udp(t, ip("10.9.0.2"), 64);
  REQUIRE(got.size() == 64);
  std::map<std::uint16_t, std::set<std::size_t>> queues_of_flow;
  std::set<std::size_t> used;
  for (const auto& [q, p] : got) {
    const auto port = base::load_be16(base::ConstByteSpan(p).subspan(20 + tun::hdr::kDstPort));
    queues_of_flow[port].insert(q);
    used.insert(q);
    CHECK(p.size() == 20 + 8 + payload.size());
  }
  CHECK(queues_of_flow.size() == 16);
  for (const auto& flow : queues_of_flow) {
    const std::uint16_t port = flow.first;  // a plain variable: INFO captures it
    CHECK_MESSAGE(flow.second.size() == 1, "port " << port);
  }
  CHECK(used.size() >= 2);
}

TEST_CASE("packets written to any queue reach local sockets, v4 and v6") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  tun::Tun t = open_up("mtw0", 3);
  for (const bool v4 : {true, false}) {
    INFO("IPv4: " << v4);
    const base::IpAddr local = ip(v4 ? "10.9.0.1" : "fd09::1");
    const base::IpAddr remote = ip(v4 ? "10.9.0.2" : "fd09::2");
    const int s = udp_socket(local, 5300);
    REQUIRE(s >= 0);
    tun::Queue q(t.fd(2));
    tun::testing::PacketSpec spec;
    spec.src = remote;
    spec.dst = local;
    spec.sport = 4000;
    spec.dport = 5300;
    spec.payload = tun::testing::pattern(700, 3);
    // The local route of a new IPv6 address appears just after it becomes bindable, so
    // write again (bounded) until the socket sees the packet.
    pollfd p{s, POLLIN, 0};
    bool arrived = false;
    for (int i = 0; i < 20 && !arrived; ++i) {
      std::error_code ec;
      REQUIRE(q.write(tun::testing::build_packet(spec), ec));
      arrived = ::poll(&p, 1, 100) == 1;
    }
    REQUIRE(arrived);
    base::Bytes buf(2000);
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        ::recvfrom(s, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    REQUIRE(n == 700);
    buf.resize(700);
    CHECK(buf == spec.payload);
    CHECK(base::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from), from_len) ==
          base::Endpoint{remote, 4000});
    ::close(s);
  }
}

TEST_CASE("a packet longer than the buffer is dropped and counted, the next one is read") {
  ENTER_PRIVATE_NETNS(ns, "private netns, TUN");
  tun::Tun t = open_up("mtd0", 1);
  REQUIRE(tun::set_mtu(t.ifindex(), 4000).ok());
  const int s = udp_socket(ip("10.9.0.1"), 0);
  REQUIRE(s >= 0);
  REQUIRE(send_to(s, {ip("10.9.0.2"), 9}, base::Bytes(3000, std::byte{1})));
  REQUIRE(send_to(s, {ip("10.9.0.2"), 9}, base::Bytes(200, std::byte{2})));
  ::close(s);
  tun::Queue q(t.fd(0));
  base::PacketPool pool(4);  // 2048-byte buffers: the 3028-byte packet cannot fit
  std::vector<base::Bytes> got;
  pollfd p{t.fd(0), POLLIN, 0};
  for (int i = 0; i < 40 && got.empty(); ++i) {
    ::poll(&p, 1, 50);
    std::array<base::PacketRef, 4> batch;
    pool.get_batch(batch);
    std::error_code ec;
    const std::size_t n = q.read_batch(batch, ec);
    for (std::size_t k = 0; k < n; ++k) {
      if (batch[k]->size() == 228)
        got.emplace_back(batch[k]->data().begin(), batch[k]->data().end());
    }
  }
  REQUIRE(got.size() == 1);
  CHECK(q.stats().read_dropped.get() == 1);
}

}  // namespace
