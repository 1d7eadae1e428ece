// SPDX-License-Identifier: MIT
// ScopedNetns: runs the calling thread in a fresh, private network namespace for the lifetime
// of the object, for tests that open real TUN devices and sockets as root.
//
// Only the calling thread moves (unshare(CLONE_NEWNET) acts per task); threads and child
// processes it starts afterwards inherit the new namespace. The namespace holds only `lo`
// (brought up here). When the object is destroyed the thread returns to its original
// namespace; the new one disappears with the last socket or device fd that refers to it, so
// nothing a test makes inside it (interfaces, addresses, routes) can leak, even if the test
// process dies.
//
// Use /proc/thread-self (not /proc/self) for anything namespace-specific, and do not trust
// /sys/class/net inside: sysfs shows the namespace it was mounted in.
//
// Not copyable or movable; destroy it on the thread that made it.
#pragma once

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <string>
#include <unistd.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace base::testing {

inline bool is_root() noexcept {
  return ::geteuid() == 0;
}

class ScopedNetns {
 public:
  ScopedNetns() {
    orig_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (orig_ < 0) {
      error_ = std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno);
      return;
    }
    if (::unshare(CLONE_NEWNET) != 0) {
      error_ = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      ::close(orig_);
      orig_ = -1;
      return;
    }
    entered_ = true;
    if (!bring_up_loopback()) return;
    ok_ = true;
  }
  ~ScopedNetns() {
    if (entered_) ::setns(orig_, CLONE_NEWNET);
    if (orig_ >= 0) ::close(orig_);
  }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  // False when the namespace could not be made (not root, seccomp, no CONFIG_NET_NS).
  bool ok() const noexcept { return ok_; }
  const std::string& error() const noexcept { return error_; }

 private:
  bool bring_up_loopback() {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      error_ = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool good = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    if (good) {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      good = ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    }
    if (!good) error_ = std::string("bring up lo: ") + std::strerror(errno);
    ::close(s);
    return good;
  }

  int orig_ = -1;
  bool entered_ = false;
  bool ok_ = false;
  std::string error_;
};

}  // namespace base::testing
