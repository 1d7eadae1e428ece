// SPDX-License-Identifier: MIT
#include "base/secret_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

namespace base {
namespace {

Error io_error(const std::string& what) {
  const int err = errno;
  return Error{std::error_code(err, std::generic_category()), what + ": " + std::strerror(err)};
}

// mkdir -p with mode 0700 for every directory it creates.
Status make_parents(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return make_error(std::errc::not_a_directory, dir + " is not a directory");
    }
    return {};
  }
  if (errno != ENOENT) return io_error("stat " + dir);
  if (auto st_parent = make_parents(dir); !st_parent) return st_parent;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir " + dir);
  return {};
}

}  // namespace

Result<std::optional<std::string>> read_secret_file(const std::string& path) {
  // O_NONBLOCK: a FIFO put where a key belongs must not hang the open; it is then refused as
  // not a regular file. On a regular file the flag changes nothing.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return io_error("open " + path);
  }
  // fstat on the opened file, so the mode checked is the mode of what is read.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = io_error("stat " + path);
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(std::errc::invalid_argument, path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(std::errc::permission_denied,
                      path + " has mode " + mode + ": others may read it; chmod 600 it");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = io_error("read " + path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > (1u << 20)) {
      ::close(fd);
      return make_error(std::errc::file_too_large, path + " is too large for a key file");
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

Status create_secret_file(const std::string& path, std::string_view text) {
  if (auto st = make_parents(path); !st) return st;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) return io_error("create " + path);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = io_error("write " + path);
      ::close(fd);
      ::unlink(path.c_str());
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Error e = io_error("fsync " + path);
    ::close(fd);
    ::unlink(path.c_str());
    return e;
  }
  ::close(fd);
  return {};
}

}  // namespace base
