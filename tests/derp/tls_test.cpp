// SPDX-License-Identifier: MIT
// TLS with a self-signed certificate: pinned (sha256-raw), trusted through a CA file,
// insecure for tests, and refused when nothing vouches for it. TLS 1.3 fast start through
// the meta certificate.
#include "derpserver/tls.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "derp/harness.hpp"

namespace {

using derptest::connected;
using derptest::Recorder;
using derptest::World;
using namespace std::chrono_literals;

struct TlsWorld {
  World w;
  derpserver::PemPair pem;
  std::unique_ptr<derpserver::TlsContext> tls;
  std::string pin;
  TlsWorld() {
    pem = derpserver::make_self_signed("127.0.0.1").value();
    tls = std::make_unique<derpserver::TlsContext>(derpserver::TlsContext::server(pem).value());
    auto cfg = w.config();
    REQUIRE(tls->add_meta_cert(cfg.private_key.public_key()).ok());
    w.add_server(cfg, 0, tls.get()).start();
    pin = derpserver::cert_sha256_hex(pem.cert_pem).value();
  }
  derpclient::Options opts() {
    auto o = w.client_options(w.port_of(0));
    o.tls = true;
    return o;
  }
};

TEST_CASE("TLS: pinned self-signed certificate, TLS 1.3 fast start, packets flow") {
  TlsWorld t;
  Recorder ra, rb;
  auto oa = t.opts();
  oa.cert_name = "sha256-raw:" + t.pin;
  auto ob = oa;
  ob.key = base::NodePrivateKey::generate();
  ob.fast_start = false;  // the plain 101 path over TLS
  auto a = t.w.add_client(oa, ra);
  auto b = t.w.add_client(ob, rb);
  REQUIRE(t.w.until([&] { return connected(a) && connected(b); }));
  CHECK(a->stats().fast_start_used);
  CHECK_FALSE(b->stats().fast_start_used);
  CHECK(a->server_key() == t.w.server(0).public_key());
  a->send(ob.key.public_key(), base::as_bytes("over tls"));
  REQUIRE(t.w.until([&] { return rb.saw_packet_from(oa.key.public_key(), "over tls"); }));
}

TEST_CASE("TLS: a CA file trusts the self-signed leaf; a wrong pin or no trust fails") {
  TlsWorld t;
  const std::string path = "/tmp/meshtun-derp-test-ca-" + std::to_string(::getpid()) + ".pem";
  {
    std::ofstream f(path);
    f << t.pem.cert_pem;
  }
  Recorder r1, r2, r3, r4;
  auto o1 = t.opts();
  o1.ca_file = path;
  auto c1 = t.w.add_client(o1, r1);
  auto o2 = t.opts();
  o2.cert_name = "sha256-raw:" + std::string(64, '0');
  o2.reconnect = false;
  auto c2 = t.w.add_client(o2, r2);
  auto o3 = t.opts();
  o3.reconnect = false;  // system roots only: the self-signed certificate is unknown
  auto c3 = t.w.add_client(o3, r3);
  auto o4 = t.opts();
  o4.insecure_for_tests = true;
  auto c4 = t.w.add_client(o4, r4);
  REQUIRE(t.w.until([&] { return connected(c1) && connected(c4); }));
  REQUIRE(t.w.until([&] { return !r2.disconnects.empty() && !r3.disconnects.empty(); }));
  CHECK(r2.disconnects.front().find("pinned") != std::string::npos);
  CHECK(r3.disconnects.front().find("tls handshake") != std::string::npos);
  CHECK(c2->state() == derpclient::State::idle);
  std::remove(path.c_str());
}

}  // namespace
