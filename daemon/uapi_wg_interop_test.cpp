// SPDX-License-Identifier: MIT
// The server against the real wg(8) from wireguard-tools: `wg show dump`, `wg showconf` and
// `wg set` on /var/run/wireguard/<unique name>.sock, with a fake handler. Needs root (the
// directory is root's) and wg on PATH; reported as skipped otherwise (base/testing/skip.hpp).
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>

#include "base/testing/skip.hpp"
#include "daemon/testing/uapi_test_support.hpp"
#include "daemon/uapi_server.hpp"

namespace {

using meshtund::UapiServer;
using meshtund::UapiServerOptions;
using meshtund::testing::FakeUapiHandler;
using meshtund::testing::IoThread;
using meshtund::testing::TempDir;

struct Run {
  int status = -1;     // exit status, or -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs a shell command (arguments here are fixed strings, temp paths and keys: no quoting
// needed) and collects its output.
Run run(const std::string& command) {
  Run r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(p);
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  return r;
}

bool wg_available() {
  return run("wg --version").status == 0;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

std::string write_key_file(const std::string& dir, const std::string& name,
                           const std::string& base64) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << base64 << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

// The server on /var/run/wireguard/<name>.sock; stopping it (also when a check throws)
// removes the socket.
struct WgFixture {
  WgFixture() {
    options.interface_name = "mtu" + std::to_string(::getpid() % 1000000);
    auto r = io.call([&] { return UapiServer::start(io.io, options, handler, nullptr); });
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    server = std::move(r).value();
  }
  ~WgFixture() {
    if (server) io.call([&] { server.reset(); });
  }
  const std::string& name() const { return options.interface_name; }

  TempDir keys;
  UapiServerOptions options;  // default directory: where wg(8) looks
  FakeUapiHandler handler;
  IoThread io;
  std::unique_ptr<UapiServer> server;
};

TEST_CASE("wg(8) reads and writes the configuration through the server") {
  SKIP_UNLESS_ROOT("/var/run/wireguard");
  if (!wg_available()) SKIP_TEST("wg(8) is not installed");
  WgFixture f;
  const std::string name = f.name();

  const auto device_key = base::NodePrivateKey::generate();
  const auto peer1 = base::NodePrivateKey::generate().public_key();
  const auto peer2 = base::NodePrivateKey::generate().public_key();
  const auto psk = base::PresharedKey::generate();

  ipc::DeviceState state;
  state.private_key = device_key;
  state.listen_port = 51820;
  state.fwmark = 0x1234;
  ipc::PeerState p1;
  p1.public_key = peer1;
  p1.preshared_key = psk;
  p1.endpoint = base::Endpoint::parse("127.0.0.1:51821");
  p1.last_handshake_time_sec = 1700000000;
  p1.last_handshake_time_nsec = 5;
  p1.tx_bytes = 188;
  p1.rx_bytes = 276;
  p1.persistent_keepalive_interval = 25;
  p1.allowed_ips = {*base::IpPrefix::parse("10.0.0.2/32"), *base::IpPrefix::parse("fd00::2/128")};
  ipc::PeerState p2;
  p2.public_key = peer2;
  p2.endpoint = base::Endpoint::parse("[fd00::1]:9");
  state.peers = {p1, p2};
  f.handler.set_state(state);

  SUBCASE("wg show dump") {
    const Run r = run("wg show " + name + " dump");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const std::vector<std::string> got = lines(r.output);
    REQUIRE(got.size() == 3);
    CHECK(got[0] ==
          device_key.to_base64() + "\t" + device_key.public_key().to_base64() + "\t51820\t0x1234");
    CHECK(got[1] == peer1.to_base64() + "\t" + psk.to_base64() +
                        "\t127.0.0.1:51821\t10.0.0.2/32,fd00::2/128\t1700000000\t276\t188\t25");
    CHECK(got[2] == peer2.to_base64() + "\t(none)\t[fd00::1]:9\t(none)\t0\t0\t0\toff");
  }

  SUBCASE("wg showconf") {
    const Run r = run("wg showconf " + name);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const std::string want =
        "[Interface]\n"
        "ListenPort = 51820\n"
        "FwMark = 0x1234\n"
        "PrivateKey = " +
        device_key.to_base64() +
        "\n"
        "\n"
        "[Peer]\n"
        "PublicKey = " +
        peer1.to_base64() +
        "\n"
        "PresharedKey = " +
        psk.to_base64() +
        "\n"
        "AllowedIPs = 10.0.0.2/32, fd00::2/128\n"
        "Endpoint = 127.0.0.1:51821\n"
        "PersistentKeepalive = 25\n"
        "\n"
        "[Peer]\n"
        "PublicKey = " +
        peer2.to_base64() +
        "\n"
        "Endpoint = [fd00::1]:9\n";
    CHECK(r.output == want);
  }

  SUBCASE("wg set, then wg set ... remove") {
    const auto new_key = base::NodePrivateKey::generate();
    const auto new_psk = base::PresharedKey::generate();
    const std::string key_file = write_key_file(f.keys.path(), "private", new_key.to_base64());
    const std::string psk_file = write_key_file(f.keys.path(), "psk", new_psk.to_base64());
    Run r = run("wg set " + name + " private-key " + key_file + " listen-port 51999 peer " +
                peer1.to_base64() + " preshared-key " + psk_file +
                " endpoint 127.0.0.1:5 persistent-keepalive 25 allowed-ips 10.0.0.0/24,fd00::/64");
    REQUIRE_MESSAGE(r.status == 0, r.output);

    ipc::SetRequest want;
    want.private_key = new_key;
    want.listen_port = 51999;
    ipc::PeerChange change;
    change.public_key = peer1;
    change.preshared_key = new_psk;
    change.endpoint = base::Endpoint::parse("127.0.0.1:5");
    change.persistent_keepalive_interval = 25;
    change.replace_allowed_ips = true;  // `allowed-ips` in wg set replaces the list
    change.allowed_ips = {{*base::IpPrefix::parse("10.0.0.0/24"), false},
                          {*base::IpPrefix::parse("fd00::/64"), false}};
    want.peers.push_back(change);

    auto sets = f.handler.sets();
    REQUIRE(sets.size() == 1);
    CHECK(sets[0] == want);

    r = run("wg set " + name + " peer " + peer1.to_base64() + " remove");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    ipc::SetRequest remove;
    remove.peers.emplace_back();
    remove.peers[0].public_key = peer1;
    remove.peers[0].remove = true;
    sets = f.handler.sets();
    REQUIRE(sets.size() == 2);
    CHECK(sets[1] == remove);
  }

  SUBCASE("a set the handler refuses makes wg fail with that errno") {
    f.handler.set_result(-98);
    const Run r = run("wg set " + name + " listen-port 1");
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.output.find("Address already in use") != std::string::npos, r.output);
  }

  SUBCASE("wg lists the interface") {
    const Run r = run("wg show interfaces");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK(r.output.find(name) != std::string::npos);
  }
}

}  // namespace
