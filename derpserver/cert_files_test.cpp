// SPDX-License-Identifier: MIT
#include "derpserver/cert_files.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/stat.h>

namespace {

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = "/tmp/meshtun-cert-files-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// derper strips [^a-zA-Z0-9-.] from the host name (unsafeHostnameCharacters, cmd/derper/cert.go).
TEST_CASE("certificate file names keep only [A-Za-z0-9.-] of the host name, as derper's") {
  CHECK(derpserver::cert_file_stem("derp1.example.com") == "derp1.example.com");  // 1
  CHECK(derpserver::cert_file_stem("127.0.0.1") == "127.0.0.1");                  // 2
  CHECK(derpserver::cert_file_stem("::1") == "1");                                // 3
  CHECK(derpserver::cert_file_stem("fd7a:115c::5%eth0") == "fd7a115c5eth0");      // 4
  CHECK(derpserver::cert_file_stem("../etc/x_y") == "..etcxy");                   // 5
}

TEST_CASE("manual mode with an IP host name makes and keeps a self-signed certificate") {
  TempDir tmp;
  const std::string dir = tmp.path + "/certs";  // not there yet: made 0700
  auto first = derpserver::load_or_create_manual_cert(dir, "127.0.0.1");
  REQUIRE(first.ok());
  CHECK(first->created);
  CHECK(first->ip_host);
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir + "/127.0.0.1.crt") == 0644);
  CHECK(mode_of(dir + "/127.0.0.1.key") == 0600);
  CHECK(derpserver::TlsContext::server(first->pem).ok());
  // A restart loads the same certificate, so a client's pin still matches.
  auto second = derpserver::load_or_create_manual_cert(dir, "127.0.0.1");
  REQUIRE(second.ok());
  CHECK_FALSE(second->created);
  CHECK(derpserver::cert_sha256_hex(second->pem.cert_pem).value() ==
        derpserver::cert_sha256_hex(first->pem.cert_pem).value());
  // IPv6: the file name drops the colons.
  auto v6 = derpserver::load_or_create_manual_cert(dir, "::1");
  REQUIRE(v6.ok());
  CHECK(v6->created);
  CHECK(mode_of(dir + "/1.crt") == 0644);
}

TEST_CASE("manual mode with a DNS host name needs both files") {
  TempDir tmp;
  auto missing = derpserver::load_or_create_manual_cert(tmp.path, "derp.example.com");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().to_string().find("derp.example.com.crt") != std::string::npos);
  auto pem = derpserver::make_self_signed("derp.example.com").value();
  {
    std::FILE* f = std::fopen((tmp.path + "/derp.example.com.crt").c_str(), "w");
    std::fputs(pem.cert_pem.c_str(), f);
    std::fclose(f);
    f = std::fopen((tmp.path + "/derp.example.com.key").c_str(), "w");
    std::fputs(pem.key_pem.c_str(), f);
    std::fclose(f);
  }
  auto loaded = derpserver::load_or_create_manual_cert(tmp.path, "derp.example.com");
  REQUIRE(loaded.ok());
  CHECK_FALSE(loaded->created);
  CHECK_FALSE(loaded->ip_host);
  CHECK(loaded->pem.cert_pem == pem.cert_pem);
}

}  // namespace
