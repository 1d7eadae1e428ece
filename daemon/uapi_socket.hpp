// SPDX-License-Identifier: MIT
// The config socket's file: <dir>/<iface>.sock (fact sheet 12.1), made the way wireguard-go
// makes it, plus the inotify watch that tells when it is gone.
//
// open_uapi_socket():
//   1. creates <dir> (and missing parents) with mode 0755;
//   2. binds a SOCK_STREAM UNIX socket at the path with umask 077 around bind(), then sets the
//      file to 0600 (root only: the socket hands out private keys);
//   3. if the path exists, probes it: a live listener -> "interface <iface> is already in use"
//      (EADDRINUSE); nobody listening (ECONNREFUSED) -> a stale file: unlink and bind again;
//   4. listens, and remembers the file's device and inode so that later checks and the final
//      unlink touch only our own file, never a successor's.
// umask is process-wide: call it while no other thread creates files (daemon start-up).
#pragma once

#include <string>

#include <sys/types.h>

#include "base/result.hpp"

namespace meshtund {

// The bound, listening, non-blocking, close-on-exec socket and the identity of its file.
// Owns fd (closed by the destructor unless released).
class UapiSocketFile {
 public:
  UapiSocketFile() = default;
  UapiSocketFile(int fd, std::string path, dev_t dev, ino_t ino) noexcept
      : fd_(fd), path_(std::move(path)), dev_(dev), ino_(ino) {}
  UapiSocketFile(UapiSocketFile&& o) noexcept;
  UapiSocketFile& operator=(UapiSocketFile&& o) noexcept;
  UapiSocketFile(const UapiSocketFile&) = delete;
  UapiSocketFile& operator=(const UapiSocketFile&) = delete;
  ~UapiSocketFile();

  int fd() const noexcept { return fd_; }
  // Hands the listening fd to the caller (who closes it); the file identity stays here.
  int release_fd() noexcept;
  const std::string& path() const noexcept { return path_; }

  // True while the path still names the socket file we created (not deleted, renamed away
  // or replaced).
  bool is_ours() const noexcept;
  // Unlinks the path if it is still ours; otherwise leaves it alone. Idempotent.
  void remove_if_ours() noexcept;

 private:
  int fd_ = -1;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Interface names as the kernel takes them: 1..15 bytes, no '/', no whitespace, not "." or
// "..". The name is also the socket's file name, so this keeps it inside `dir`.
base::Status check_interface_name(const std::string& name);

// Steps 1-4 above. Errors name the path and the failing call.
base::Result<UapiSocketFile> open_uapi_socket(const std::string& dir, const std::string& iface);

// An inotify descriptor (non-blocking, close-on-exec) watching `socket.path()` for
// IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF (IN_ATTRIB is what an unlink of a socket that is
// still bound raises: its link count changes) and its directory for IN_DELETE |
// IN_MOVED_FROM | IN_MOVED_TO of any entry. Any event means: check is_ours() again.
base::Result<int> watch_uapi_socket(const UapiSocketFile& socket);

}  // namespace meshtund
