// SPDX-License-Identifier: MIT
// Tun: a multi-queue Linux TUN interface (IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE), one
// non-blocking, close-on-exec fd per queue. Worker i reads and writes queue i through a
// tun::Queue (queue.hpp); the kernel picks the queue a packet is read from by flow hash and
// learns a flow's queue from the queue its packets are written to (fact sheet 13.2).
//
// Lifetime: the interface exists while any queue fd is open (unless someone made it
// persistent); destroying the Tun closes every fd, which deletes a non-persistent interface.
// An interface of the same name that already exists is reused only if it is a multi-queue
// TUN with no queue attached (e.g. `ip tuntap add mode tun multi_queue name wg0`).
//
// Thread safety: the accessors are immutable after open() and may be called from any thread;
// fd(q) may be used by one worker at a time for reads and by anyone for writes (the kernel
// serialises them). Move-only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "tun/queue.hpp"

namespace tun {

// Linux MAX_TAP_QUEUES.
inline constexpr std::size_t kMaxQueues = 256;

struct Options {
  // Interface name: 1..15 bytes, no '/', ':', whitespace, not "." or "..". May be a template
  // with one "%d" ("mt%d"); name() then gives the name the kernel chose.
  std::string name;
  std::size_t queues = 1;  // 1..kMaxQueues
  // Ask for IFF_VNET_HDR with TUN_F_CSUM|TSO4|TSO6 (fact sheet 13.1): reads may then be TCP
  // super-packets and writes may be merged. Falls back to TSO only without USO, and to no
  // offloads at all if the kernel refuses even TSO; offloads() says what was granted.
  bool offloads = false;
  bool udp_offload = true;  // with `offloads`: also ask for TUN_F_USO4|USO6 (Linux 6.2)
};

// Why open() failed, in error().code (std::errc): invalid_argument (bad name or queue count),
// file_exists (interface exists but is not a multi-queue TUN), device_or_resource_busy (in
// use by another process), operation_not_permitted (no CAP_NET_ADMIN), no_such_device (no
// /dev/net/tun), too_many_files_open, or the raw errno. error().message says it for people.
class Tun {
 public:
  static base::Result<Tun> open(const Options& options);

  Tun(Tun&& other) noexcept;
  Tun& operator=(Tun&& other) noexcept;
  Tun(const Tun&) = delete;
  Tun& operator=(const Tun&) = delete;
  ~Tun();

  // The interface name at open() (renaming the interface later does not update it).
  const std::string& name() const noexcept { return name_; }
  int ifindex() const noexcept { return ifindex_; }
  std::size_t queue_count() const noexcept { return fds_.size(); }
  // Queue q's fd (q < queue_count()); owned by this object, valid until close/destruction.
  int fd(std::size_t q) const noexcept { return fds_[q]; }
  // What every queue fd was opened with; pass it to tun::Queue.
  const Offloads& offloads() const noexcept { return offloads_; }

  // Closes every queue fd now. Idempotent.
  void close() noexcept;

 private:
  Tun() = default;
  static base::Result<int> attach_queue(Tun& t, std::size_t q, short flags);
  static base::Result<bool> open_queue_with_offloads(Tun& t, bool udp, unsigned& mask);

  std::string name_;
  int ifindex_ = 0;
  Offloads offloads_;
  std::vector<int> fds_;
};

// The checks Linux's dev_valid_name() makes, plus the "%d" template rule; nullopt-like
// empty string when fine, else why not.
std::string check_interface_name(std::string_view name);

}  // namespace tun
