// SPDX-License-Identifier: MIT
// meshtun-derper: the DERP relay server, with flags in the spirit of Tailscale's cmd/derper.
//
// Startup order: flags -> key (file, or random in --dev) -> mesh key -> TLS context ->
// listeners (DERP, port 80, STUN, metrics) -> mesh peers -> one io_context thread per core.
// SIGINT/SIGTERM stop the server; the process exits once every thread has drained. SIGHUP
// reloads what can be reloaded: in --certmode=manual, the certificate files (new handshakes
// get the new certificate, connected clients stay); nothing else yet.
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "base/log.hpp"
#include "base/version.hpp"
#include "derp/keys.hpp"
#include "derpserver/cert_files.hpp"
#include "derpserver/go_flags.hpp"
#include "derpserver/key_file.hpp"
#include "derpserver/listen_addr.hpp"
#include "derpserver/server.hpp"
#include "derpserver/state_dir.hpp"
#include "derpserver/tls.hpp"

namespace {

struct Flags {
  std::string addr = ":443";
  std::string hostname = "derp.example.com";
  std::string certmode = "manual";
  std::string certdir = "/var/lib/meshtun-derper/certs";
  bool dev = false;
  bool stun = true;
  int stun_port = 3478;
  int http_port = 80;
  std::string mesh_psk_file;
  std::string mesh_with;
  std::string config;
  std::string metrics_addr;
  double write_timeout_s = 2;
  std::uint64_t rate_bps = 0;
  std::uint64_t rate_burst = 0;
  unsigned threads = 0;
  std::string mesh_ca_file;
  bool mesh_insecure = false;
  std::string log_level = "info";
};

std::string host_of(const std::string& addr) {
  const auto colon = addr.rfind(':');
  return colon == std::string::npos ? addr : addr.substr(0, colon);
}

// --help's closing lines: which of derper's flags we take, and which we refuse.
std::string derper_flags_footer() {
  std::string taken, refused;
  for (const auto& info : derpserver::derper_flags()) {
    std::string& list = info.ours.empty() ? refused : taken;
    list += list.empty() ? "" : ", ";
    list += "-" + std::string(info.derper);
    if (!info.ours.empty() && info.ours != info.derper)
      list += " (--" + std::string(info.ours) + ")";
  }
  return "Flags may also be written as Go's derper takes them: -name=value, -name value, "
         "-bool=false.\nderper flags accepted: " +
         taken + ".\nderper flags not implemented (refused): " + refused + ".";
}

int fail(const std::string& msg) {
  std::cerr << "meshtun-derper: " << msg << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"meshtun-derper: a DERP relay server, wire-compatible with Tailscale's derper"};
  app.add_option("-a,--addr", f.addr,
                 "address to serve DERP (HTTPS) on; in --dev, plain HTTP on 127.0.0.1:3340 "
                 "unless given")
      ->capture_default_str();
  app.add_option("--hostname", f.hostname,
                 "this server's host name: the certificate name in --certmode=manual "
                 "(<certdir>/<hostname>.crt and .key, the name stripped to [A-Za-z0-9.-]) and "
                 "the SAN of a self-signed one")
      ->capture_default_str();
  app.add_option("--certmode", f.certmode,
                 "where the TLS certificate comes from: \"manual\" (files in --certdir; for "
                 "an IP --hostname, missing files are made self-signed and kept, as derper "
                 "does) or \"selfsigned\" (generated at every start, for tests and labs). The "
                 "sha256-raw pin of a self-signed or IP certificate is logged")
      ->check(CLI::IsMember({"manual", "selfsigned"}))
      ->capture_default_str();
  app.add_option("--certdir", f.certdir, "directory of <hostname>.crt and <hostname>.key")
      ->capture_default_str();
  app.add_flag("--dev", f.dev,
               "development mode: plain HTTP (no TLS) on 127.0.0.1:3340 unless --addr says "
               "otherwise, a fresh random key unless -c is given, and meshing over plain HTTP "
               "(port 3340) allowed");
  app.add_option("--stun", f.stun, "run a STUN server beside DERP (true/false)")
      ->capture_default_str();
  app.add_option("--stun-port", f.stun_port, "UDP port of the STUN server")->capture_default_str();
  app.add_option("--http-port", f.http_port,
                 "TLS mode only: plain HTTP port for /generate_204 and redirects to https; -1 "
                 "disables")
      ->capture_default_str();
  app.add_option("--mesh-psk-file", f.mesh_psk_file,
                 "file holding the region's mesh key (64 hex digits); servers presenting it "
                 "may forward packets, watch connections and close peers. In --dev the "
                 "TAILSCALE_DERPER_MESH_KEY environment variable also works");
  app.add_option("--mesh-with", f.mesh_with,
                 "comma-separated other servers of this region to mesh with: "
                 "host[:port][/dialhost] (this server's own name may be listed)");
  app.add_option("-c,--config", f.config,
                 "key file {\"PrivateKey\":\"privkey:...\"}, created 0600 on first run "
                 "(default /var/lib/meshtun-derper/derper.key; --dev uses a random key)");
  app.add_option("--metrics-addr", f.metrics_addr,
                 "loopback address (e.g. 127.0.0.1:9090) serving Prometheus metrics at "
                 "/metrics; off when empty");
  app.add_option("--tcp-write-timeout", f.write_timeout_s,
                 "seconds a write to a client may stall before the connection is closed "
                 "(mesh peers: 30); 0 disables")
      ->capture_default_str();
  app.add_option("--rate-limit-bytes-per-sec", f.rate_bps,
                 "optional per-client receive rate limit in bytes/s (mesh peers exempt); 0 = off")
      ->capture_default_str();
  app.add_option("--rate-limit-burst-bytes", f.rate_burst,
                 "burst of the per-client rate limit (at least 65568)")
      ->capture_default_str();
  app.add_option("--threads", f.threads, "io_context threads (default: one per core)");
  app.add_option("--mesh-ca-file", f.mesh_ca_file,
                 "trust anchor(s) for mesh peers' certificates (default: system roots)");
  app.add_flag("--mesh-insecure", f.mesh_insecure,
               "do not verify mesh peers' certificates (labs only)");
  app.add_option("--log-level", f.log_level,
                 "trace, debug (verbose), info, warn, error or off (silent); others are refused")
      ->capture_default_str();
  app.set_version_flag("--version", "meshtun-derper " + std::string(base::version()));
  app.footer(derper_flags_footer());
  auto args = derpserver::normalize_derper_args(std::vector<std::string>(argv, argv + argc));
  if (!args) {
    std::cerr << "meshtun-derper: " << args.error().message << "\n";
    return 2;
  }
  std::vector<char*> normalized;
  for (auto& a : *args) normalized.push_back(a.data());
  try {
    app.parse(static_cast<int>(normalized.size()), normalized.data());
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // CLI11's message and a pointer to --help
    return 2;     // not CLI11's own codes (105, 106, 109 ...): 2 for any bad command line
  }

  const auto level = base::parse_log_level(f.log_level);
  if (!level) {
    std::cerr << "meshtun-derper: unknown log level '" << f.log_level
              << "' (want trace, debug, verbose, info, warn, error, off or silent)\n";
    return 2;
  }
  base::set_log_level(*level);
  auto log = base::logger("derper");
  if (f.dev && app.count("--addr") == 0) f.addr = "127.0.0.1:3340";

  // Key.
  derpserver::ServerConfig cfg;
  cfg.hostname = f.hostname;
  if (f.dev && f.config.empty()) {
    cfg.private_key = base::NodePrivateKey::generate();
  } else {
    const std::string path = f.config.empty() ? "/var/lib/meshtun-derper/derper.key" : f.config;
    // A fresh host has no state directory yet: make it, private.
    const std::string dir = derpserver::dir_of(path);
    auto made = derpserver::make_private_dirs(dir);
    if (!made) return fail(made.error().to_string());
    if (*made) log->info("created state directory {} (mode 0700)", dir);
    auto key = derpserver::load_or_create_key_file(path);
    if (!key) return fail(key.error().to_string());
    cfg.private_key = *key;
  }

  // Mesh key.
  std::string mesh_text;
  if (!f.mesh_psk_file.empty()) {
    auto mk = derpserver::load_mesh_key_file(f.mesh_psk_file);  // 0600 or refused
    if (!mk) return fail(mk.error().to_string());
    cfg.mesh_key = *mk;
  } else if (f.dev && std::getenv("TAILSCALE_DERPER_MESH_KEY") != nullptr) {
    mesh_text = std::getenv("TAILSCALE_DERPER_MESH_KEY");
  }
  if (!mesh_text.empty()) {
    auto mk = derp::MeshKey::parse(mesh_text);
    if (!mk) return fail(mk.error().to_string());
    cfg.mesh_key = *mk;
  }
  if (!f.mesh_with.empty() && !cfg.mesh_key) return fail("--mesh-with needs a mesh key");

  cfg.write_timeout =
      std::chrono::duration_cast<base::Duration>(std::chrono::duration<double>(f.write_timeout_s));
  cfg.rate_limit_bytes_per_sec = f.rate_bps;
  cfg.rate_limit_burst_bytes = f.rate_burst;
  cfg.mesh_allow_plain_http = f.dev;
  cfg.mesh_ca_file = f.mesh_ca_file;
  cfg.mesh_insecure_tls = f.mesh_insecure;

  // TLS.
  std::unique_ptr<derpserver::TlsContext> tls;
  if (!f.dev) {
    base::Result<derpserver::TlsContext> ctx = base::make_error(std::errc::invalid_argument, "");
    if (f.certmode == "selfsigned") {
      auto pem = derpserver::make_self_signed(f.hostname);
      if (!pem) return fail(pem.error().to_string());
      auto pin = derpserver::cert_sha256_hex(pem->cert_pem);
      if (pin)
        log->info("self-signed certificate for {}: CertName sha256-raw:{}", f.hostname, *pin);
      ctx = derpserver::TlsContext::server(*pem);
    } else {
      auto cert = derpserver::load_or_create_manual_cert(f.certdir, f.hostname);
      if (!cert) return fail(cert.error().to_string());
      if (cert->created_dir) log->info("created certificate directory {} (mode 0700)", f.certdir);
      if (cert->created)
        log->info("made a self-signed certificate for {} in {}", f.hostname, f.certdir);
      if (cert->ip_host) {
        // As derper (NewManualCertManager, cmd/derper/cert.go): clients reach an IP host
        // name by pinning its certificate.
        auto pin = derpserver::cert_sha256_hex(cert->pem.cert_pem);
        if (pin) log->info("certificate for {}: CertName sha256-raw:{}", f.hostname, *pin);
      }
      ctx = derpserver::TlsContext::server(cert->pem);
    }
    if (!ctx) return fail(ctx.error().to_string());
    tls = std::make_unique<derpserver::TlsContext>(std::move(*ctx));
    if (auto st = tls->add_meta_cert(cfg.private_key.public_key()); !st) {
      return fail(st.error().to_string());
    }
  }

  const unsigned threads =
      f.threads > 0 ? f.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<boost::asio::io_context>> ios;
  std::vector<boost::asio::io_context*> io_ptrs;
  for (unsigned i = 0; i < threads; ++i) {
    ios.push_back(std::make_unique<boost::asio::io_context>(1));
    io_ptrs.push_back(ios.back().get());
  }
  base::SystemClock clock;
  derpserver::Server server(std::move(cfg), io_ptrs, clock);

  auto port = server.listen(f.addr, tls.get());
  if (!port) return fail(port.error().to_string());
  const std::string host = host_of(f.addr);
  if (tls && f.http_port > 0) {
    auto p80 = server.listen_redirect(host + ":" + std::to_string(f.http_port));
    if (!p80) return fail(p80.error().to_string());
  }
  if (f.stun && f.stun_port > 0) {
    auto sp = server.listen_stun(host + ":" + std::to_string(f.stun_port));
    if (!sp) return fail(sp.error().to_string());
  }
  if (!f.metrics_addr.empty()) {
    auto mp = server.listen_metrics(f.metrics_addr);
    if (!mp) return fail(mp.error().to_string());
  }
  if (!f.mesh_with.empty()) {
    std::stringstream ss(f.mesh_with);
    std::string entry;
    while (std::getline(ss, entry, ',')) {
      if (entry.empty()) continue;
      auto peer = derpserver::MeshPeerConfig::parse(entry, f.dev);
      if (!peer) return fail(peer.error().to_string());
      server.add_mesh_peer(*peer);
    }
  }
  server.start();

  boost::asio::signal_set signals(*ios.front(), SIGINT, SIGTERM);
  boost::asio::signal_set hup(*ios.front(), SIGHUP);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (tls && f.certmode == "manual") {
        log->info("SIGHUP: reloading the certificate from {}", f.certdir);
        auto cert = derpserver::load_or_create_manual_cert(f.certdir, f.hostname);
        const base::Status st = cert ? tls->reload(cert->pem) : base::Status(cert.error());
        if (!st) {
          log->warn("SIGHUP: keeping the old certificate: {}", st.error().to_string());
        } else if (auto pin = derpserver::cert_sha256_hex(cert->pem.cert_pem)) {
          log->info("reloaded certificate for {}: CertName sha256-raw:{}", f.hostname, *pin);
        }
      } else {
        log->info("SIGHUP: reloading: nothing to reload ({})",
                  tls ? "--certmode=selfsigned" : "--dev");
      }
      wait_hup();
    });
  };
  wait_hup();
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log->info("signal {}: stopping", sig);
    hup.cancel();
    server.stop();
  });
  log->info("meshtun-derper running: {} threads, DERP on {} port {} ({})", threads, f.addr, *port,
            tls ? "TLS" : "plain HTTP");

  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < ios.size(); ++i) {
    pool.emplace_back([io = ios[i].get()] { io->run(); });
  }
  ios.front()->run();
  for (auto& t : pool) t.join();
  return 0;
}
