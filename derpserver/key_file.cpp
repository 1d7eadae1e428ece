// SPDX-License-Identifier: MIT
#include "derpserver/key_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <sys/stat.h>

#include "derp/keys.hpp"

namespace derpserver {
namespace {

base::Error io_error(const std::string& what) {
  return base::make_error(std::errc::io_error, what + ": " + std::strerror(errno));
}

}  // namespace

base::Result<base::NodePrivateKey> load_or_create_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      return base::make_error(std::errc::permission_denied,
                              path + " is readable by others; chmod 600 it");
    }
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(ss.str(), ec);
    const auto* obj = v.if_object();
    const auto* field = obj != nullptr ? obj->if_contains("PrivateKey") : nullptr;
    if (ec || field == nullptr || !field->is_string()) {
      return base::make_error(std::errc::invalid_argument,
                              path + ": want {\"PrivateKey\":\"privkey:<hex>\"}");
    }
    auto key = derp::parse_private_key_text(std::string(field->as_string()));
    if (!key)
      return base::make_error(std::errc::invalid_argument, path + ": " + key.error().to_string());
    return *key;
  }
  if (errno != ENOENT) return io_error("stat " + path);
  const auto key = base::NodePrivateKey::generate();
  const std::string text = "{\"PrivateKey\":\"" + derp::private_key_text(key) + "\"}\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create " + path);
  const ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return io_error("write " + path);
  return key;
}

}  // namespace derpserver
