// SPDX-License-Identifier: MIT
#include "derpserver/cert_files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include "derpserver/state_dir.hpp"

namespace derpserver {
namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

base::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return base::make_error(std::errc::io_error, "opening " + path + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

base::Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return base::make_error(std::errc::io_error, "create " + path + ": " + std::strerror(errno));
  }
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    return base::make_error(std::errc::io_error, "write " + path + ": " + std::strerror(saved));
  }
  return {};
}

}  // namespace

std::string cert_file_stem(std::string_view hostname) {
  std::string out;
  for (const char c : hostname) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.';
    if (keep) out.push_back(c);
  }
  return out;
}

base::Result<ManualCert> load_or_create_manual_cert(const std::string& certdir,
                                                    const std::string& hostname) {
  ManualCert m;
  m.ip_host = is_ip_literal(hostname);
  const std::string stem = certdir + "/" + cert_file_stem(hostname);
  const std::string crt = stem + ".crt";
  const std::string key = stem + ".key";
  if (m.ip_host && (!exists(crt) || !exists(key))) {
    auto pem = make_self_signed(hostname);
    if (!pem) return pem.error();
    auto made = make_private_dirs(certdir);
    if (!made) return made.error();
    m.created_dir = *made;
    if (auto st = write_file(crt, pem->cert_pem, 0644); !st) return st.error();
    if (auto st = write_file(key, pem->key_pem, 0600); !st) return st.error();
    m.pem = std::move(*pem);
    m.created = true;
    return m;
  }
  auto cert_pem = read_file(crt);
  if (!cert_pem) return cert_pem.error();
  auto key_pem = read_file(key);
  if (!key_pem) return key_pem.error();
  m.pem = PemPair{std::move(*cert_pem), std::move(*key_pem)};
  return m;
}

}  // namespace derpserver
