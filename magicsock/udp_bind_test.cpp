// SPDX-License-Identifier: MIT
// UdpBind's back-pressure: a full send buffer makes send() wait for room and carry on with the
// rest of the batch; only what still does not fit after kSendWaitBudget is dropped, and
// counted. The socket's syscalls are faked through net::SocketHooks.
#include "magicsock/udp_bind.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

namespace {

using namespace std::chrono_literals;

std::atomic<int> g_would_block{0};  // sendmmsg calls left that fail with EAGAIN
std::atomic<int> g_polls{0};
std::atomic<int> g_waited_ms{0};  // timeouts the fake poll was asked to wait, summed
std::atomic<bool> g_room{true};   // what the fake poll says about the send buffer

int flaky_sendmmsg(int fd, mmsghdr* msgs, unsigned count, int flags) {
  if (g_would_block.fetch_sub(1) > 0) {
    errno = EAGAIN;
    return -1;
  }
  return ::sendmmsg(fd, msgs, count, flags);
}

int fake_poll(pollfd* fds, nfds_t count, int timeout_ms) {
  g_polls.fetch_add(1);
  g_waited_ms.fetch_add(timeout_ms);
  if (g_room.load()) {
    for (nfds_t i = 0; i < count; ++i) fds[i].revents = POLLOUT;
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
  return 0;
}

// A plain UDP socket on 127.0.0.1 that counts what arrives.
struct Receiver {
  Receiver() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~Receiver() { ::close(fd); }
  std::vector<std::string> take() {
    std::vector<std::string> got;
    char buf[2048];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      got.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return got;
  }
  int fd = -1;
  std::uint16_t port = 0;
};

struct Fixture {
  Fixture() : bind(options()) {
    g_would_block = 0;
    g_polls = 0;
    g_waited_ms = 0;
    g_room = true;
    REQUIRE(bind.rebind(0, 0));
    peer = bind.make_endpoint(base::PrivateKey::generate().public_key());
    peer->set_address(wg::PeerEndpoint{{*base::IpAddr::parse("127.0.0.1"), receiver.port}, {}, 0});
    for (int i = 0; i < 32; ++i) {
      base::PacketRef p = pool.get();
      const std::string text = "datagram " + std::to_string(i);
      base::copy_into(p->read_area(), base::as_bytes(text));
      p->set_size(text.size());
      packets.push_back(std::move(p));
      texts.push_back(text);
    }
  }
  static magicsock::UdpBindOptions options() {
    magicsock::UdpBindOptions o;
    o.ipv6 = false;
    o.gso = false;
    o.gro = false;
    o.hooks.sendmmsg = flaky_sendmmsg;
    o.hooks.poll = fake_poll;
    return o;
  }
  Receiver receiver;
  magicsock::UdpBind bind;
  std::shared_ptr<wg::Endpoint> peer;
  base::PacketPool pool{64};
  std::vector<base::PacketRef> packets;
  std::vector<std::string> texts;
};

TEST_CASE("a full send buffer is waited out and the whole batch goes, in order") {
  Fixture f;
  g_would_block = 2;  // the first two tries find the buffer full
  CHECK(f.bind.send(0, *f.peer, f.packets) == f.packets.size());
  CHECK(g_polls.load() == 2);
  CHECK(f.bind.send_failures() == 0);
  CHECK(f.bind.send_buffer_full() == 0);
  std::vector<std::string> got;
  for (int i = 0; i < 100 && got.size() < f.texts.size(); ++i) {
    const auto part = f.receiver.take();
    got.insert(got.end(), part.begin(), part.end());
    std::this_thread::sleep_for(1ms);
  }
  CHECK(got == f.texts);
}

TEST_CASE("a send buffer that stays full costs at most the wait budget; the rest is counted") {
  Fixture f;
  g_would_block = 1 << 30;
  g_room = false;
  CHECK(f.bind.send(0, *f.peer, f.packets) == 0);
  // The waits asked of poll() add up to the budget, not more: a stuck socket cannot hold a
  // worker longer than that per batch.
  CHECK(g_waited_ms.load() <= magicsock::UdpBind::kSendWaitBudget.count());
  CHECK(g_waited_ms.load() >= magicsock::UdpBind::kSendWaitBudget.count() - 1);
  CHECK(g_polls.load() >= 1);
  CHECK(f.bind.send_failures() == f.packets.size());
  CHECK(f.bind.send_buffer_full() == f.packets.size());
  CHECK(f.receiver.take().empty());
}

}  // namespace
