// SPDX-License-Identifier: MIT
// meshtun-derper as a process: --dev starts, serves two derpclients that exchange a packet,
// answers /derp/probe, lives through SIGHUP and exits cleanly on SIGTERM; SIGHUP reloads a
// manual certificate; bad command lines exit 2 with a message.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <regex>
#include <string>
#include <unistd.h>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/version.hpp"
#include "derp/harness.hpp"
#include "derpserver/tls.hpp"

#ifndef MESHTUN_DERPER_PATH
#error "MESHTUN_DERPER_PATH must name the meshtun-derper binary"
#endif

namespace {

using derptest::connected;
using derptest::Recorder;
using derptest::World;
using namespace std::chrono_literals;

struct Child {
  pid_t pid = -1;
  int out = -1;  // its stderr
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }
};

// What a run of the binary did: its exit status (-1 when it was still running, after `limit`
// or once its output said `ready`, and got SIGKILL) and its stdout and stderr together.
struct Outcome {
  int exit_status = -1;
  std::string output;
};

Outcome run_derper(const std::vector<std::string>& args, std::string_view ready = {},
                   std::chrono::seconds limit = 5s) {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  Child child;
  child.pid = ::fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("meshtun-derper"));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(MESHTUN_DERPER_PATH, argv.data());
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  child.out = pipefd[0];
  ::fcntl(child.out, F_SETFL, O_NONBLOCK);
  Outcome o;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    done = ::waitpid(child.pid, &status, WNOHANG) == child.pid;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(child.out, buf, sizeof buf)) > 0) o.output.append(buf, std::size_t(n));
    if (!ready.empty() && o.output.find(ready) != std::string::npos) break;
    if (!done) ::usleep(10'000);
  }
  if (done) {
    child.pid = -1;
    o.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return o;
}

TEST_CASE("meshtun-derper refuses an unknown --log-level with exit status 2") {
  const auto o =
      run_derper({"--dev", "--addr", "127.0.0.1:0", "--stun", "false", "--log-level", "loud"});
  CHECK(o.exit_status == 2);
  CHECK(o.output.find("unknown log level 'loud'") != std::string::npos);
}

TEST_CASE("meshtun-derper exits 2 on any bad command line, 0 on --help") {
  struct Row {
    std::vector<std::string> args;
    int want;
    const char* says;
  };
  const Row rows[] = {
      /* 1 */ {{"--no-such-flag"}, 2, "--no-such-flag"},
      /* 2 */ {{"--threads", "many"}, 2, "many"},
      /* 3 */ {{"--certmode", "letsencrypt"}, 2, "letsencrypt"},
      /* 4 */ {{"--hostname"}, 2, "--hostname"},
      /* 5 */ {{"stray"}, 2, "stray"},
      /* 6 */ {{"--help"}, 0, "--mesh-with"},
      /* 7 */ {{"--version"}, 0, "meshtun-derper "},
      /* 8 */ {{"-version"}, 0, "meshtun-derper "},
  };
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    CAPTURE(i + 1);
    const auto o = run_derper(rows[i].args);
    CHECK(o.exit_status == rows[i].want);
    CHECK(o.output.find(rows[i].says) != std::string::npos);
  }
}

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = "/tmp/meshtun-derper-binary-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST_CASE("meshtun-derper takes derper's Go-style flags and refuses those it lacks") {
  TempDir dir;
  const auto o = run_derper(
      {"-dev=false", "-a", "127.0.0.1:0", "-certmode", "selfsigned", "-hostname=127.0.0.1", "-c",
       dir.path + "/derper.key", "-http-port", "-1", "-stun=false", "-threads", "1"},
      "meshtun-derper running");
  CHECK(o.exit_status == -1);  // still serving
  CHECK(o.output.find("DERP on 127.0.0.1:0 port") != std::string::npos);
  CHECK(o.output.find("(TLS)") != std::string::npos);

  for (const char* flag : {"-verify-clients", "-derp=false", "-bootstrap-dns-names=x"}) {
    CAPTURE(flag);
    const auto r = run_derper({"--dev", flag});
    CHECK(r.exit_status == 2);
    CHECK(r.output.find(std::string(flag).substr(0, std::string(flag).find('=')) +
                        " is not implemented") != std::string::npos);
  }
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

TEST_CASE("meshtun-derper makes its missing state directories 0700 on a fresh host") {
  TempDir dir;
  const std::string state = dir.path + "/var/lib/meshtun-derper";
  const std::string certs = dir.path + "/etc/derp/certs";
  const auto o = run_derper({"--addr", "127.0.0.1:0", "--http-port", "-1", "--stun", "false",
                             "--threads", "1", "-c", state + "/derper.key", "--certmode", "manual",
                             "--hostname", "127.0.0.1", "--certdir", certs},
                            "meshtun-derper running");
  INFO(o.output);
  CHECK(o.exit_status == -1);  // still serving
  for (const std::string& d : {dir.path + "/var", dir.path + "/var/lib", state, dir.path + "/etc",
                               dir.path + "/etc/derp", certs}) {
    CAPTURE(d);
    CHECK(mode_of(d) == 0700);
  }
  CHECK(mode_of(state + "/derper.key") == 0600);
  CHECK(o.output.find("created state directory " + state) != std::string::npos);
  CHECK(o.output.find("created certificate directory " + certs) != std::string::npos);
}

// The pin of the certificate 127.0.0.1:`port` serves now, and the length of its chain.
std::pair<std::string, int> served_cert(std::uint16_t port) {
  auto ctx = derpserver::TlsContext::client("", true);
  REQUIRE(ctx);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
  SSL* ssl = derpserver::new_client_ssl(ctx->get(), fd, "127.0.0.1");
  REQUIRE(ssl != nullptr);
  REQUIRE(SSL_connect(ssl) == 1);
  X509* leaf = SSL_get1_peer_certificate(ssl);
  REQUIRE(leaf != nullptr);
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, leaf);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  auto pin = derpserver::cert_sha256_hex(std::string(data, static_cast<std::size_t>(n)));
  const int chain = sk_X509_num(SSL_get_peer_cert_chain(ssl));
  BIO_free(b);
  X509_free(leaf);
  SSL_free(ssl);
  ::close(fd);
  REQUIRE(pin);
  return {*pin, chain};
}

void write_text(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

TEST_CASE("meshtun-derper reloads its manual certificate on SIGHUP and keeps serving") {
  TempDir dir;
  const std::string certs = dir.path + "/certs";
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  Child child;
  child.pid = ::fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    const std::string key = dir.path + "/derper.key";
    ::execl(MESHTUN_DERPER_PATH, "meshtun-derper", "--addr", "127.0.0.1:0", "--http-port", "-1",
            "--stun", "false", "--threads", "2", "-c", key.c_str(), "--certmode", "manual",
            "--hostname", "127.0.0.1", "--certdir", certs.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  child.out = pipefd[0];
  ::fcntl(child.out, F_SETFL, O_NONBLOCK);
  World w;
  std::string log;
  auto log_has = [&](const std::regex& re, std::smatch* m) {
    return w.until(
        [&] {
          char buf[4096];
          const ssize_t n = ::read(child.out, buf, sizeof buf);
          if (n > 0) log.append(buf, static_cast<std::size_t>(n));
          std::smatch local;
          return std::regex_search(log, m != nullptr ? *m : local, re);
        },
        10s);
  };
  std::smatch m;
  REQUIRE(log_has(std::regex("DERP on 127\\.0\\.0\\.1:0 port ([0-9]+)"), &m));
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));

  const auto before = served_cert(port);
  CHECK(before.second == 2);  // the certificate, then the meta certificate

  auto fresh = derpserver::make_self_signed("127.0.0.1");
  REQUIRE(fresh);
  auto fresh_pin = derpserver::cert_sha256_hex(fresh->cert_pem);
  REQUIRE(fresh_pin);
  REQUIRE(*fresh_pin != before.first);
  write_text(certs + "/127.0.0.1.crt", fresh->cert_pem);
  write_text(certs + "/127.0.0.1.key", fresh->key_pem);

  REQUIRE(::kill(child.pid, SIGHUP) == 0);
  REQUIRE(log_has(std::regex("reloaded certificate for 127\\.0\\.0\\.1"), nullptr));
  CHECK(log.find("reloading") != std::string::npos);
  const auto after = served_cert(port);
  CHECK(after.first == *fresh_pin);
  CHECK(after.second == 2);

  REQUIRE(::kill(child.pid, SIGTERM) == 0);
  int status = -1;
  REQUIRE(w.until([&] { return ::waitpid(child.pid, &status, WNOHANG) == child.pid; }, 10s));
  child.pid = -1;
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("meshtun-derper --version prints its name and the build's version") {
  const auto o = run_derper({"--version"});
  CHECK(o.exit_status == 0);
  CHECK(o.output == "meshtun-derper " + std::string(base::version()) + "\n");
}

TEST_CASE("meshtun-derper --dev serves clients, survives SIGHUP and stops on SIGTERM") {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  Child child;
  child.pid = ::fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    ::execl(MESHTUN_DERPER_PATH, "meshtun-derper", "--dev", "--addr", "127.0.0.1:0", "--stun",
            "false", "--threads", "2", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  child.out = pipefd[0];
  ::fcntl(child.out, F_SETFL, O_NONBLOCK);

  World w;
  std::string log;
  std::smatch m;
  const std::regex port_re("DERP on 127\\.0\\.0\\.1:0 port ([0-9]+)");
  REQUIRE(w.until(
      [&] {
        char buf[4096];
        const ssize_t n = ::read(child.out, buf, sizeof buf);
        if (n > 0) log.append(buf, static_cast<std::size_t>(n));
        return std::regex_search(log, m, port_re);
      },
      10s));
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));

  Recorder ra, rb;
  auto oa = w.client_options(port);
  auto ob = w.client_options(port);
  auto a = w.add_client(oa, ra);
  auto b = w.add_client(ob, rb);
  REQUIRE(w.until([&] { return connected(a) && connected(b); }));
  // SIGHUP reloads (nothing, in --dev) and leaves the server and its clients running.
  REQUIRE(::kill(child.pid, SIGHUP) == 0);
  REQUIRE(w.until(
      [&] {
        char buf[4096];
        const ssize_t n = ::read(child.out, buf, sizeof buf);
        if (n > 0) log.append(buf, static_cast<std::size_t>(n));
        return log.find("reloading") != std::string::npos;
      },
      10s));
  CHECK(::waitpid(child.pid, nullptr, WNOHANG) == 0);
  CHECK(connected(a));
  CHECK(connected(b));
  a->send(ob.key.public_key(), base::as_bytes("through the binary"));
  REQUIRE(w.until([&] { return rb.saw_packet_from(oa.key.public_key(), "through the binary"); }));
  bool pong = false;
  b->ping([&](bool ok, base::Duration) { pong = ok; });
  REQUIRE(w.until([&] { return pong; }));

  a->close();
  b->close();
  REQUIRE(::kill(child.pid, SIGTERM) == 0);
  int status = -1;
  const bool exited =
      w.until([&] { return ::waitpid(child.pid, &status, WNOHANG) == child.pid; }, 10s);
  REQUIRE(exited);
  child.pid = -1;
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
