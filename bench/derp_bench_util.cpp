// SPDX-License-Identifier: MIT
#include "derp_bench_util.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "base/log.hpp"
#include "derp/client_handshake.hpp"
#include "derp/frame.hpp"
#include "derpserver/tls.hpp"

namespace derpbench {

std::uint64_t raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

ServerProcess start_server(const ServerSpec& spec) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) std::abort();
  ServerProcess p;
  std::string cert;
  derpserver::PemPair pem;
  if (spec.tls) {
    pem = derpserver::make_self_signed("127.0.0.1").value();
    p.cert_pem = pem.cert_pem;
  }
  const pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    ::close(pipefd[0]);
    base::set_log_level(spdlog::level::err);
    derpserver::ServerConfig cfg;
    cfg.private_key = base::NodePrivateKey::generate();
    cfg.mesh_key = spec.mesh_key;
    cfg.mesh_allow_plain_http = true;
    cfg.queue_depth = spec.queue_depth;
    std::unique_ptr<derpserver::TlsContext> tls;
    if (spec.tls) {
      tls = std::make_unique<derpserver::TlsContext>(derpserver::TlsContext::server(pem).value());
      (void)tls->add_meta_cert(cfg.private_key.public_key());
    }
    std::vector<std::unique_ptr<boost::asio::io_context>> ios;
    std::vector<boost::asio::io_context*> ptrs;
    for (unsigned i = 0; i < spec.threads; ++i) {
      ios.push_back(std::make_unique<boost::asio::io_context>(1));
      ptrs.push_back(ios.back().get());
    }
    base::SystemClock clock;
    derpserver::Server server(std::move(cfg), ptrs, clock);
    const auto port = server.listen("127.0.0.1:0", tls.get());
    if (!port) std::_Exit(2);
    const auto mport = server.listen_metrics("127.0.0.1:0");
    if (!mport) std::_Exit(2);
    for (auto mp : spec.mesh_with) {
      server.add_mesh_peer(
          derpserver::MeshPeerConfig::parse("127.0.0.1:" + std::to_string(mp), true).value());
    }
    server.start();
    boost::asio::signal_set sigs(*ios.front(), SIGTERM);
    sigs.async_wait([&](const boost::system::error_code&, int) { server.stop(); });
    const std::uint16_t ports[2] = {*port, *mport};
    if (::write(pipefd[1], ports, sizeof ports) != sizeof ports) std::_Exit(3);
    ::close(pipefd[1]);
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < ios.size(); ++i)
      threads.emplace_back([io = ios[i].get()] { io->run(); });
    ios.front()->run();
    for (auto& t : threads) t.join();
    std::_Exit(0);
  }
  ::close(pipefd[1]);
  std::uint16_t ports[2] = {};
  if (::read(pipefd[0], ports, sizeof ports) != sizeof ports) std::abort();
  ::close(pipefd[0]);
  p.pid = pid;
  p.port = ports[0];
  p.metrics_port = ports[1];
  return p;
}

void stop_server(ServerProcess& p) {
  if (p.pid <= 0) return;
  ::kill(p.pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {  // up to 5 s, then SIGKILL
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
      p.pid = -1;
      return;
    }
    ::usleep(50'000);
  }
  ::kill(p.pid, SIGKILL);
  ::waitpid(p.pid, &status, 0);
  p.pid = -1;
}

std::string server_metrics(const ServerProcess& p, const std::string& prefix) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(p.metrics_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string body;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) body.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::istringstream in(body);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0 && line.find(" 0") != line.size() - 2)
      out += "    " + line + "\n";
  }
  return out;
}

Rss read_rss(pid_t pid) {
  Rss r;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string name;
    std::uint64_t v = 0;
    ss >> name >> v;
    if (name == "VmRSS:") r.vm_rss_kib = v;
    if (name == "RssAnon:") r.anon_kib = v;
  }
  return r;
}

SSL_CTX* insecure_client_tls() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return c;
  }();
  return ctx;
}

BareClient::BareClient(base::NodePrivateKey key) : key_(std::move(key)) {}

BareClient::BareClient(BareClient&& o) noexcept : key_(o.key_), fd_(o.fd_), ssl_(o.ssl_) {
  o.fd_ = -1;
  o.ssl_ = nullptr;
}

BareClient::~BareClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool BareClient::write_all(base::ConstByteSpan b) {
  std::size_t off = 0;
  while (off < b.size()) {
    ssize_t n = 0;
    if (ssl_ != nullptr) {
      std::size_t w = 0;
      n = SSL_write_ex(ssl_, b.data() + off, b.size() - off, &w) == 1 ? static_cast<ssize_t>(w)
                                                                      : -1;
    } else {
      n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    }
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::size_t BareClient::read_some(base::ByteSpan out) {
  if (ssl_ != nullptr) {
    std::size_t n = 0;
    return SSL_read_ex(ssl_, out.data(), out.size(), &n) == 1 ? n : 0;
  }
  const ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void BareClient::set_receive_timeout_ms(int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

bool BareClient::login(std::uint16_t port, SSL_CTX* tls) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return false;
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (tls != nullptr) {
    ssl_ = SSL_new(tls);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) return false;
  }
  derp::ClientHandshake hs(key_, derp::default_client_info());
  derp::UpgradeRequest req;
  req.host = "127.0.0.1";
  if (!write_all(hs.initial_bytes(req))) return false;
  std::byte buf[4096];
  while (!hs.done()) {
    const std::size_t n = read_some(buf);
    if (n == 0) return false;
    auto out = hs.feed(base::ConstByteSpan(buf, n));
    if (!out || !write_all(*out)) return false;
  }
  // Read until the ServerInfo frame is whole.
  base::Bytes in = hs.take_remaining();
  for (;;) {
    if (in.size() >= derp::kFrameHeaderLen) {
      const auto h = derp::read_frame_header(
          std::span<const std::byte, derp::kFrameHeaderLen>(in.data(), derp::kFrameHeaderLen));
      if (h.type == static_cast<std::uint8_t>(derp::FrameType::server_info) &&
          in.size() >= derp::kFrameHeaderLen + h.length) {
        return true;
      }
    }
    const std::size_t n = read_some(buf);
    if (n == 0) return false;
    in.insert(in.end(), buf, buf + n);
  }
}

}  // namespace derpbench
