// SPDX-License-Identifier: MIT
#include "daemon/uapi_socket.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace meshtund {

namespace {

constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

base::Error sys_error(int err, const std::string& what) {
  return base::Error{std::error_code(err, std::generic_category()),
                     what + ": " + std::strerror(err)};
}

// Restores the process umask when it goes out of scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) noexcept : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// mkdir -p with mode 0755 for the parts that are missing.
base::Status make_directories(const std::string& dir) {
  if (dir.empty()) return base::make_error(std::errc::invalid_argument, "empty socket directory");
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return sys_error(errno, "mkdir " + part);
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return sys_error(errno, "stat " + dir);
  if (!S_ISDIR(st.st_mode)) return sys_error(ENOTDIR, dir);
  return {};
}

// What answers at `addr`: 0 when a listener accepted (or queued) our connection, else the
// errno of connect(). Non-blocking, so a live listener with a full backlog (EAGAIN) does not
// stall start-up.
int probe(const sockaddr_un& addr) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return errno;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return 0;
  return errno;
}

}  // namespace

UapiSocketFile::UapiSocketFile(UapiSocketFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      dev_(o.dev_),
      ino_(std::exchange(o.ino_, 0)) {}

UapiSocketFile& UapiSocketFile::operator=(UapiSocketFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    dev_ = o.dev_;
    ino_ = std::exchange(o.ino_, 0);
  }
  return *this;
}

UapiSocketFile::~UapiSocketFile() {
  if (fd_ >= 0) ::close(fd_);
}

int UapiSocketFile::release_fd() noexcept {
  return std::exchange(fd_, -1);
}

bool UapiSocketFile::is_ours() const noexcept {
  if (path_.empty() || ino_ == 0) return false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) return false;
  return S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_;
}

void UapiSocketFile::remove_if_ours() noexcept {
  // A successor may bind the path between the check and the unlink; wireguard-go has the
  // same window (it unlinks on close unconditionally), ours is only a few instructions long.
  if (is_ours()) ::unlink(path_.c_str());
  ino_ = 0;
}

base::Status check_interface_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..") {
    return base::make_error(std::errc::invalid_argument,
                            "interface name must be 1 to 15 bytes: \"" + name + "\"");
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || u <= 0x20 || u == 0x7f || c == ':') {
      return base::make_error(std::errc::invalid_argument,
                              "interface name has a '/', ':', space or control character");
    }
  }
  return {};
}

base::Result<UapiSocketFile> open_uapi_socket(const std::string& dir, const std::string& iface) {
  if (auto ok = check_interface_name(iface); !ok) return ok.error();
  if (auto ok = make_directories(dir); !ok) return ok.error();

  const std::string path = dir + "/" + iface + ".sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return base::make_error(std::errc::filename_too_long, "socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return sys_error(errno, "socket");

  {
    ScopedUmask umask_guard(077);
    auto do_bind = [&] {
      return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ? 0
                                                                                          : errno;
    };
    int err = do_bind();
    if (err == EADDRINUSE) {
      const int probed = probe(addr);
      if (probed == 0 || probed == EAGAIN) {
        return base::make_error(std::errc::address_in_use,
                                "interface " + iface + " is already in use (" + path + ")");
      }
      if (probed == ECONNREFUSED) {
        // Stale: the process that made it is gone (wireguard-go and wg(8) do the same).
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          return sys_error(errno, "unlink stale " + path);
        }
      } else if (probed != ENOENT) {
        return sys_error(probed, "connect to existing " + path);
      }
      err = do_bind();
    }
    if (err != 0) return sys_error(err, "bind " + path);
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return sys_error(errno, "lstat " + path);
  UapiSocketFile file(fd.release(), path, st.st_dev, st.st_ino);
  // From here on, `file` unlinks nothing by itself; on failure remove what we made.
  if (::chmod(path.c_str(), 0600) != 0) {
    const int err = errno;
    file.remove_if_ours();
    return sys_error(err, "chmod " + path);
  }
  if (::listen(file.fd(), SOMAXCONN) != 0) {
    const int err = errno;
    file.remove_if_ours();
    return sys_error(err, "listen " + path);
  }
  return file;
}

base::Result<int> watch_uapi_socket(const UapiSocketFile& socket) {
  Fd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (fd.get() < 0) return sys_error(errno, "inotify_init1");
  const std::string& path = socket.path();
  if (::inotify_add_watch(fd.get(), path.c_str(),
                          IN_ATTRIB | IN_DELETE_SELF | IN_DELETE | IN_MOVE_SELF) < 0) {
    return sys_error(errno, "inotify_add_watch " + path);
  }
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::inotify_add_watch(fd.get(), dir.empty() ? "/" : dir.c_str(),
                          IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF) < 0) {
    return sys_error(errno, "inotify_add_watch " + dir);
  }
  return fd.release();
}

}  // namespace meshtund
