// SPDX-License-Identifier: MIT
// meshtun's derpclient against a DERP server that is not ours, normally Tailscale's real
// `derper` started by tests/tailscale/run-derp. Not a unit test: the server comes from the
// environment, and each case prints what it checked.
//
//   MESHTUN_TS_DERP            where to dial, "127.0.0.1:PORT" (required)
//   MESHTUN_TS_DERP_HOST       name for SNI, Host and certificate checks (default: the dial IP)
//   MESHTUN_TS_DERP_TLS        1 for TLS, else plain HTTP
//   MESHTUN_TS_DERP_CERT_NAME  "sha256-raw:<hex>" pin of the leaf, or a name to check
//   MESHTUN_TS_DERP_CA_FILE    CA that issued the server's certificate
//   MESHTUN_TS_DERP_KEY_FILE   the server's key file {"PrivateKey":"privkey:..."}: the
//                              ServerKey frame must carry its public half
//   MESHTUN_TS_DERP_MESH_KEY   file with the server's mesh key (mesh login, ClosePeer)
//   MESHTUN_TS_DERP_RESTART    a shell command that restarts the server with the same key
//                              and port (only the "server restarts" case uses it)
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/asio/io_context.hpp>

#include "base/log.hpp"
#include "derp/keys.hpp"
#include "derp/recorder.hpp"
#include "derpclient/client.hpp"

namespace {

using namespace std::chrono_literals;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using derptest::Recorder;

// Clients on one io_context run by the test thread, with the system clock.
class Remote {
 public:
  Remote() {
    base::set_log_level(spdlog::level::warn);
    const std::string where = env("MESHTUN_TS_DERP");
    REQUIRE_MESSAGE(!where.empty(), "MESHTUN_TS_DERP (127.0.0.1:PORT) is not set");
    const auto colon = where.rfind(':');
    REQUIRE(colon != std::string::npos);
    dial_ = where.substr(0, colon);
    port_ = static_cast<std::uint16_t>(std::stoi(where.substr(colon + 1)));
    host_ = env("MESHTUN_TS_DERP_HOST").empty() ? dial_ : env("MESHTUN_TS_DERP_HOST");
    tls_ = env("MESHTUN_TS_DERP_TLS") == "1";
  }
  ~Remote() {
    for (auto& c : clients_) c->close();
    io_.restart();
    io_.run_for(200ms);
  }

  std::string describe() const {
    std::string d = (tls_ ? "https://" : "http://") + host_ + ":" + std::to_string(port_);
    if (!env("MESHTUN_TS_DERP_CERT_NAME").empty()) d += " (pinned leaf)";
    if (!env("MESHTUN_TS_DERP_CA_FILE").empty()) d += " (CA-issued certificate)";
    return d;
  }

  derpclient::Options options() const {
    derpclient::Options o;
    o.host = host_;
    o.dial_host = dial_;
    o.port = port_;
    o.tls = tls_;
    o.cert_name = env("MESHTUN_TS_DERP_CERT_NAME");
    o.ca_file = env("MESHTUN_TS_DERP_CA_FILE");
    o.key = base::NodePrivateKey::generate();
    return o;
  }
  std::shared_ptr<derpclient::Client> add(derpclient::Options o, Recorder& r) {
    clients_.push_back(derpclient::Client::create(io_, std::move(o), r.callbacks()));
    clients_.back()->start();
    return clients_.back();
  }
  template <class Pred>
  bool until(Pred pred, std::chrono::milliseconds wait = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      if (io_.poll() == 0) io_.run_one_for(5ms);
    }
    return true;
  }

 private:
  boost::asio::io_context io_{1};
  std::string dial_;
  std::string host_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  std::vector<std::shared_ptr<derpclient::Client>> clients_;
};

bool connected(const std::shared_ptr<derpclient::Client>& c) {
  return c->state() == derpclient::State::connected;
}

void checked(const std::string& what) {
  std::printf("ok: %s\n", what.c_str());
}

std::string disco_payload() {
  std::string s(100, 'Z');
  for (std::size_t i = 0; i < derp::kDiscoMagic.size(); ++i) {
    s[i] = static_cast<char>(derp::kDiscoMagic[i]);
  }
  return s;
}

TEST_CASE("two derpclients exchange packets through the server") {
  Remote r;
  Recorder ra, rb;
  auto oa = r.options();
  auto ob = r.options();
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = r.add(oa, ra);
  auto b = r.add(ob, rb);
  REQUIRE(r.until([&] { return connected(a) && connected(b); }));
  checked("two derpclients logged in to " + r.describe() + " (ServerInfo opened)");
  if (const auto key_file = env("MESHTUN_TS_DERP_KEY_FILE"); !key_file.empty()) {
    const std::string text = slurp(key_file);
    const auto at = text.find(derp::kPrivateKeyPrefix);
    REQUIRE(at != std::string::npos);
    auto priv = derp::parse_private_key_text(text.substr(at, derp::kPrivateKeyPrefix.size() + 64));
    REQUIRE(priv.ok());
    CHECK(a->server_key() == priv->public_key());
    checked("the ServerKey frame carries the public half of the server's key file");
  }
  if (env("MESHTUN_TS_DERP_TLS") == "1") {
    // Go's derper always appends the meta certificate; TLS 1.3 lets the client use it.
    CHECK(a->stats().fast_start_used);
    checked("TLS 1.3 fast start through the server's meta certificate");
    // The other path over TLS: 101 Switching Protocols, then ServerKey.
    Recorder rc;
    auto oc = r.options();
    oc.fast_start = false;
    auto c = r.add(oc, rc);
    REQUIRE(r.until([&] { return connected(c); }));
    CHECK_FALSE(c->stats().fast_start_used);
    CHECK(c->send(ka, base::as_bytes("via 101")));
    REQUIRE(r.until([&] { return ra.saw_packet_from(oc.key.public_key(), "via 101"); }));
    c->close();
    ra.packets.clear();
    checked("without fast start: 101 Switching Protocols and ServerKey over TLS, packet delivered");
  }
  // In rounds of 20: the server's per-client queue holds 32 and drops from its head.
  for (int round = 0; round < 5; ++round) {
    for (int i = round * 20; i < round * 20 + 20; ++i) {
      CHECK(a->send(kb, base::as_bytes("a" + std::to_string(i))));
      CHECK(b->send(ka, base::as_bytes("b" + std::to_string(i))));
    }
    const auto want = static_cast<std::size_t>(round * 20 + 20);
    REQUIRE(r.until([&] { return ra.packets.size() == want && rb.packets.size() == want; }));
  }
  for (std::size_t i = 0; i < 100; ++i) {
    CHECK(base::as_chars(rb.packets[i].data) == "a" + std::to_string(i));
    CHECK(rb.packets[i].src == ka);
    CHECK(base::as_chars(ra.packets[i].data) == "b" + std::to_string(i));
    CHECK(ra.packets[i].src == kb);
  }
  checked("100 packets each way, in order, each with its sender's key");
  const std::string big(65536, 'x');
  CHECK(a->send(kb, base::as_bytes(big)));
  REQUIRE(r.until([&] { return rb.saw_packet_from(ka, big); }));
  checked("a 65536-byte packet (the largest DERP allows) arrives whole");
}

TEST_CASE("PeerGone: NotHere for disco to an unknown key, Disconnected when a sender leaves") {
  Remote r;
  Recorder ra, rb;
  auto oa = r.options();
  auto ob = r.options();
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = r.add(oa, ra);
  auto b = r.add(ob, rb);
  REQUIRE(r.until([&] { return connected(a) && connected(b); }));
  const auto nobody = base::NodePrivateKey::generate().public_key();
  a->send(nobody, base::as_bytes(disco_payload()));
  REQUIRE(r.until([&] { return ra.saw_gone(nobody, derp::PeerGoneReason::not_here); }));
  checked("a disco packet to a key nobody holds gives PeerGone(NotHere)");
  a->send(nobody, base::as_bytes("not disco"));
  a->send(kb, base::as_bytes("hello b"));
  REQUIRE(r.until([&] { return rb.saw_packet_from(ka, "hello b"); }));
  CHECK(ra.gone.size() == 1);
  checked("a non-disco packet to an unknown key is dropped silently");
  a->close();
  REQUIRE(r.until([&] { return rb.saw_gone(ka, derp::PeerGoneReason::disconnected); }));
  checked("b, which received from a, gets PeerGone(a, Disconnected) when a leaves");
}

TEST_CASE("ping answered by the server; preferred flag accepted") {
  Remote r;
  Recorder ra;
  auto o = r.options();
  o.preferred = true;
  auto a = r.add(o, ra);
  REQUIRE(r.until([&] { return connected(a); }));
  for (int i = 0; i < 3; ++i) {
    bool done = false;
    bool good = false;
    base::Duration rtt{};
    a->ping([&](bool ok, base::Duration d) {
      done = true;
      good = ok;
      rtt = d;
    });
    REQUIRE(r.until([&] { return done; }));
    CHECK(good);
    checked("Ping " + std::to_string(i) + " answered by a matching Pong in " +
            std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(rtt).count()) +
            " us");
  }
  a->set_preferred(false);
  bool done = false;
  a->ping([&](bool, base::Duration) { done = true; });
  REQUIRE(r.until([&] { return done; }));
  CHECK(connected(a));
  checked("NotePreferred true then false leaves the connection up");
}

TEST_CASE("a client kicked by ClosePeer reconnects and carries traffic again") {
  const std::string mesh_file = env("MESHTUN_TS_DERP_MESH_KEY");
  if (mesh_file.empty()) {
    MESSAGE("MESHTUN_TS_DERP_MESH_KEY not set: reconnect and mesh login not checked");
    return;
  }
  auto mesh = derp::MeshKey::parse(slurp(mesh_file));
  REQUIRE(mesh.ok());
  Remote r;
  Recorder ra, rb, rw;
  auto oa = r.options();
  auto ob = r.options();
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = r.add(oa, ra);
  auto b = r.add(ob, rb);
  REQUIRE(r.until([&] { return connected(a) && connected(b); }));
  Recorder rp;
  auto op = r.options();
  op.is_prober = true;
  op.ideal_node = "900a";  // "I was meant to reach another node of this region"
  const auto kp = op.key.public_key();
  auto prober = r.add(op, rp);
  REQUIRE(r.until([&] { return connected(prober); }));
  auto ow = r.options();
  ow.mesh_key = *mesh;
  ow.watch_conns = true;
  const auto kw = ow.key.public_key();
  auto w = r.add(ow, rw);
  REQUIRE(r.until([&] {
    return rw.find_present(kw) != nullptr && rw.find_present(ka) != nullptr &&
           rw.find_present(kb) != nullptr && rw.find_present(kp) != nullptr;
  }));
  CHECK(rw.find_present(kw)->flags == 0x02);  // IsMeshPeer
  CHECK(rw.find_present(ka)->flags == 0x01);  // IsRegular
  CHECK(rw.find_present(ka)->endpoint.addr.to_string() == "127.0.0.1");
  checked(
      "mesh login with watch-conns: PeerPresent for itself (IsMeshPeer) and for a and b "
      "(IsRegular, 127.0.0.1:port)");
  CHECK(rw.find_present(kp)->flags == 0x0c);  // IsProber | NotIdeal
  checked("a client that says IsProber and sends Ideal-Node is announced IsProber|NotIdeal");

  w->close_peer(ka);
  REQUIRE(r.until([&] { return !ra.disconnects.empty(); }));
  checked("ClosePeer(a) from the mesh client ends a's connection (\"" + ra.disconnects.front() +
          "\")");
  REQUIRE(r.until([&] { return rw.saw_gone(ka, derp::PeerGoneReason::disconnected); }));
  checked("the watcher sees PeerGone(a, Disconnected)");
  REQUIRE(r.until([&] { return connected(a) && a->generation() == 2; }));
  checked("a reconnects by itself after its backoff (login number 2)");
  CHECK(a->send(kb, base::as_bytes("after reconnect")));
  REQUIRE(r.until([&] { return rb.saw_packet_from(ka, "after reconnect"); }));
  CHECK(b->send(ka, base::as_bytes("welcome back")));
  REQUIRE(r.until([&] { return ra.saw_packet_from(kb, "welcome back"); }));
  checked("after the reconnect a and b exchange packets again");

  const auto src = base::NodePrivateKey::generate().public_key();
  CHECK(w->forward(src, kb, base::as_bytes("forwarded")));
  REQUIRE(r.until([&] { return rb.saw_packet_from(src, "forwarded"); }));
  checked("ForwardPacket from the mesh client reaches b as a packet from the given source");
}

TEST_CASE("clients reconnect when the server restarts") {
  const std::string restart = env("MESHTUN_TS_DERP_RESTART");
  if (restart.empty()) {
    MESSAGE("MESHTUN_TS_DERP_RESTART not set: server restart not checked");
    return;
  }
  Remote r;
  Recorder ra, rb;
  auto oa = r.options();
  auto ob = r.options();
  const auto ka = oa.key.public_key();
  const auto kb = ob.key.public_key();
  auto a = r.add(oa, ra);
  auto b = r.add(ob, rb);
  REQUIRE(r.until([&] { return connected(a) && connected(b); }));
  const auto server_key = a->server_key();
  CHECK(a->send(kb, base::as_bytes("before")));
  REQUIRE(r.until([&] { return rb.saw_packet_from(ka, "before"); }));
  // Blocks while the server goes down and comes back; the clients see it on the next poll.
  REQUIRE(std::system(restart.c_str()) == 0);
  REQUIRE(r.until([&] { return !ra.disconnects.empty() && !rb.disconnects.empty(); }));
  checked("both clients see the server go (\"" + ra.disconnects.front() + "\")");
  REQUIRE(r.until(
      [&] { return connected(a) && connected(b) && a->generation() == 2 && b->generation() == 2; },
      20s));
  CHECK(a->server_key() == server_key);
  checked("both reconnect by themselves to the restarted server (same key), login number 2");
  // The restarted server has no memory of who received from whom: packets flow again.
  CHECK(a->send(kb, base::as_bytes("after restart")));
  CHECK(b->send(ka, base::as_bytes("after restart too")));
  REQUIRE(r.until([&] {
    return rb.saw_packet_from(ka, "after restart") && ra.saw_packet_from(kb, "after restart too");
  }));
  checked("after the restart a and b exchange packets again");
}

}  // namespace
