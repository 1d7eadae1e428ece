// SPDX-License-Identifier: MIT
#include "daemon/uapi_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon/testing/uapi_test_support.hpp"
#include "ipc/device_state.hpp"
#include "ipc/set_request.hpp"

namespace {

using meshtund::UapiServer;
using meshtund::UapiServerOptions;
using meshtund::testing::eventually;
using meshtund::testing::FakeUapiHandler;
using meshtund::testing::IoThread;
using meshtund::testing::TempDir;
using meshtund::testing::TestClient;
using namespace std::chrono_literals;

const std::string kKeyA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

ipc::DeviceState sample_state(int peers) {
  ipc::DeviceState state;
  state.private_key = base::NodePrivateKey::generate();
  state.listen_port = 51820;
  for (int i = 0; i < peers; ++i) {
    ipc::PeerState peer;
    peer.public_key = base::NodePrivateKey::generate().public_key();
    peer.endpoint = base::Endpoint::parse("10.9.0." + std::to_string(i % 250 + 1) + ":51820");
    peer.tx_bytes = static_cast<std::uint64_t>(i) * 1000;
    for (int j = 0; j < 4; ++j) {
      peer.allowed_ips.push_back(*base::IpPrefix::parse("10." + std::to_string(i % 250) + "." +
                                                        std::to_string(j) + ".0/24"));
    }
    state.peers.push_back(std::move(peer));
  }
  return state;
}

// A server on its own io thread, in a fresh temporary directory.
struct Fixture {
  explicit Fixture(UapiServerOptions opts = {}) {
    options = std::move(opts);
    options.interface_name = options.interface_name.empty() ? "wgtest0" : options.interface_name;
    options.socket_dir = dir.path() + "/run/wireguard";
    start();
  }
  ~Fixture() { stop(); }

  void start() {
    auto r =
        io.call([&] { return UapiServer::start(io.io, options, handler, [this] { ++removed; }); });
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    server = std::move(r).value();
  }
  void stop() {
    if (server) io.call([&] { server.reset(); });
  }
  std::string path() const { return options.socket_dir + "/" + options.interface_name + ".sock"; }

  TempDir dir;
  UapiServerOptions options;
  FakeUapiHandler handler;
  std::atomic<int> removed{0};
  IoThread io;
  std::unique_ptr<UapiServer> server;
};

TEST_CASE("get returns the handler's state in wireguard-go's format") {
  Fixture f;
  const ipc::DeviceState state = sample_state(3);
  f.handler.set_state(state);
  TestClient client(f.path());
  REQUIRE(client.connected());
  REQUIRE(client.send("get=1\n\n"));
  CHECK(client.read_response() == ipc::format_get_response(state));
  CHECK(f.handler.gets() == 1);
}

TEST_CASE("set passes the parsed request to the handler and answers its errno") {
  Fixture f;
  ipc::SetRequest want;
  want.listen_port = 51999;
  want.peers.emplace_back();
  want.peers[0].public_key = *base::NodePublicKey::from_hex(kKeyA);
  want.peers[0].endpoint = base::Endpoint::parse("127.0.0.1:5");
  want.peers[0].allowed_ips.push_back({*base::IpPrefix::parse("10.0.0.0/24"), false});

  TestClient client(f.path());
  REQUIRE(client.send(ipc::format_set_request(want)));
  CHECK(client.read_response() == "errno=0\n\n");
  REQUIRE(f.handler.sets().size() == 1);
  CHECK(f.handler.sets()[0] == want);

  SUBCASE("the handler's error goes back to the client") {
    f.handler.set_result(-98);
    REQUIRE(client.send("set=1\nlisten_port=1\n\n"));
    CHECK(client.read_response() == "errno=-98\n\n");
    CHECK(f.handler.sets().size() == 2);
  }
  SUBCASE("a malformed request is refused whole and never reaches the handler") {
    REQUIRE(client.send("set=1\nlisten_port=1\npublic_key=" + kKeyA + "\nendpoint=nope\n\n"));
    CHECK(client.read_response() == "errno=-22\n\n");
    REQUIRE(client.send("set=1\nlisten_port\n\n"));
    CHECK(client.read_response() == "errno=-71\n\n");
    CHECK(f.handler.sets().size() == 1);
  }
}

TEST_CASE("a handler that throws gets -55 and the connection goes on") {
  UapiServerOptions options;
  options.max_connections = 1;
  Fixture f(options);
  f.handler.set_throw(true);
  TestClient client(f.path());
  REQUIRE(client.send("set=1\nlisten_port=1\n\n"));
  CHECK(client.read_response() == "errno=-55\n\n");
  f.handler.set_throw(false);
  REQUIRE(client.send("set=1\nlisten_port=2\n\n"));
  CHECK(client.read_response() == "errno=0\n\n");
  client.close();
  TestClient next(f.path());  // the only slot was given back
  REQUIRE(next.send("get=1\n\n"));
  CHECK(next.read_response() == "errno=0\n\n");
}

TEST_CASE("several requests on one connection, pipelined, are answered in order") {
  Fixture f;
  const ipc::DeviceState state = sample_state(1);
  f.handler.set_state(state);
  TestClient client(f.path());
  REQUIRE(client.send("get=1\n\nset=1\nfwmark=3\n\nset=1\nbogus=1\n\nget=1\n\n"));
  const std::string get = ipc::format_get_response(state);
  CHECK(client.read_responses(4) == get + "errno=0\n\n" + "errno=-22\n\n" + get);
  REQUIRE(f.handler.sets().size() == 1);
  CHECK(f.handler.sets()[0].fwmark == 3u);
}

TEST_CASE("framing errors: unknown op, trailing byte after get, long line, truncated set") {
  Fixture f;
  {
    TestClient c(f.path());
    REQUIRE(c.send("put=1\n\n"));
    CHECK(c.wait_closed());  // wireguard-go closes without an answer
  }
  {
    TestClient c(f.path());
    REQUIRE(c.send("get=1\nx"));
    CHECK(c.read_response() == "errno=-22\n\n");
    CHECK(c.wait_closed());
  }
  {
    TestClient c(f.path());
    REQUIRE(c.send("set=1\nlisten_port=" + std::string(70000, '1') + "\n\n"));
    CHECK(c.read_response() == "errno=-5\n\n");
    CHECK(c.wait_closed());
  }
  {
    TestClient c(f.path());
    REQUIRE(c.send("set=1\nlisten_port=7\n"));
    c.shutdown_write();
    CHECK(c.read_response() == "errno=-5\n\n");
  }
  CHECK(f.handler.sets().empty());
}

TEST_CASE("socket file: directory 0755, socket 0600, removed on stop") {
  Fixture f;
  struct stat st {};
  REQUIRE(::stat(f.options.socket_dir.c_str(), &st) == 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  CHECK((st.st_mode & 07777) == (0755 & ~mask));
  REQUIRE(::lstat(f.path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(f.server->socket_path() == f.path());
  f.stop();
  CHECK(::lstat(f.path().c_str(), &st) != 0);
  CHECK(f.removed == 0);  // our own unlink is not a removal
}

TEST_CASE("a stale socket file is replaced") {
  TempDir dir;
  const std::string sock_dir = dir.path() + "/wg";
  REQUIRE(::mkdir(sock_dir.c_str(), 0755) == 0);
  const std::string path = sock_dir + "/stale0.sock";
  {
    // Bound and closed without unlink: what a crashed daemon leaves behind.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  IoThread io;
  FakeUapiHandler handler;
  UapiServerOptions options;
  options.interface_name = "stale0";
  options.socket_dir = sock_dir;
  auto server = io.call([&] { return UapiServer::start(io.io, options, handler, nullptr); });
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().message));
  TestClient client(path);
  REQUIRE(client.send("get=1\n\n"));
  CHECK(client.read_response() == "errno=0\n\n");
  io.call([&] { server->reset(); });
}

TEST_CASE("a socket a live process answers on is refused, and left alone") {
  Fixture first;
  IoThread io;
  FakeUapiHandler handler;
  auto second = io.call([&] { return UapiServer::start(io.io, first.options, handler, nullptr); });
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("interface wgtest0 is already in use") != std::string::npos);
  CHECK(second.error().code == std::errc::address_in_use);
  TestClient client(first.path());
  REQUIRE(client.send("get=1\n\n"));
  CHECK(client.read_response() == "errno=0\n\n");
  CHECK(first.removed == 0);
}

TEST_CASE("removing the socket file is noticed") {
  Fixture f;
  SUBCASE("unlink") {
    REQUIRE(::unlink(f.path().c_str()) == 0);
  }
  SUBCASE("rename away") {
    REQUIRE(::rename(f.path().c_str(), (f.options.socket_dir + "/moved").c_str()) == 0);
  }
  SUBCASE("replaced by another file") {
    const std::string other = f.options.socket_dir + "/other";
    const int fd = ::open(other.c_str(), O_CREAT | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    ::close(fd);
    REQUIRE(::rename(other.c_str(), f.path().c_str()) == 0);
  }
  CHECK(eventually([&] { return f.removed.load() == 1; }));
  // stop() must not unlink what is now at the path if it is not our socket.
  struct stat before {};
  const bool existed = ::lstat(f.path().c_str(), &before) == 0;
  f.stop();
  struct stat after {};
  CHECK((::lstat(f.path().c_str(), &after) == 0) == existed);
  CHECK(f.removed == 1);
}

TEST_CASE("changing the socket's mode is not a removal") {
  Fixture f;
  REQUIRE(::chmod(f.path().c_str(), 0600) == 0);  // raises IN_ATTRIB
  TestClient client(f.path());                    // a round trip after the event was handled
  REQUIRE(client.send("get=1\n\n"));
  CHECK(client.read_response() == "errno=0\n\n");
  CHECK(f.removed == 0);
}

TEST_CASE("garbage, an idle client and a client that does not read block nobody else") {
  Fixture f;
  f.handler.set_state(sample_state(200));  // about 100 KB per get response
  const std::string get = ipc::format_get_response(sample_state(0));

  TestClient idle(f.path());
  REQUIRE(idle.send("set=1\nlisten_port=1"));  // a request begun and never finished

  TestClient garbage(f.path());
  REQUIRE(garbage.send(std::string(100, '\x01')));

  // Pipelines gets and never reads: its responses fill the socket buffers and the server's
  // write for it waits, without holding up anyone else.
  TestClient hog(f.path(), 500ms);
  std::string many;
  for (int i = 0; i < 200; ++i) many += "get=1\n\n";
  hog.send(many);  // may stop early once the server stops reading; that is the point

  CHECK(garbage.wait_closed());
  const auto started = std::chrono::steady_clock::now();
  TestClient other(f.path());
  REQUIRE(other.send("get=1\n\n"));
  const std::string response = other.read_response();
  CHECK(response.ends_with("errno=0\n\n"));
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(f.handler.sets().empty());
}

TEST_CASE("slow clients time out and free their connection slots") {
  UapiServerOptions options;
  options.max_connections = 2;
  options.client_timeout = 300ms;
  Fixture f(options);
  TestClient a(f.path());
  TestClient b(f.path());
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  REQUIRE(eventually([&] { return f.io.call([&] { return f.server->connection_count(); }) == 2; }));

  // The third waits in the backlog until the first two are cut off.
  TestClient c(f.path());
  REQUIRE(c.connected());
  REQUIRE(c.send("get=1\n\n"));
  CHECK(c.read_response() == "errno=0\n\n");
  CHECK(a.wait_closed());
  CHECK(b.wait_closed());
}

TEST_CASE("bad options are refused") {
  TempDir dir;
  IoThread io;
  FakeUapiHandler handler;
  UapiServerOptions options;
  options.socket_dir = dir.path();
  const char* bad_names[] = {"", "a/b", "..", ".", "waytoolonginterfacename", "a b", "a:b"};
  for (const char* name : bad_names) {
    CAPTURE(name);
    options.interface_name = name;
    auto r = io.call([&] { return UapiServer::start(io.io, options, handler, nullptr); });
    CHECK_FALSE(r.ok());
  }
  options.interface_name = "wg0";
  options.max_connections = 0;
  CHECK_FALSE(io.call([&] { return UapiServer::start(io.io, options, handler, nullptr); }).ok());
  options.max_connections = 1;
  options.socket_dir = dir.path() + "/" + std::string(120, 'd');
  CHECK_FALSE(io.call([&] { return UapiServer::start(io.io, options, handler, nullptr); }).ok());
}

}  // namespace
