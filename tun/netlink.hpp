// SPDX-License-Identifier: MIT
// rtnetlink through libmnl: link queries, MTU, link up/down, addresses, and LinkMonitor, which
// tells the daemon when its interface is deleted, goes up or down, or changes MTU.
//
// Every request function opens a NETLINK_ROUTE socket in the calling thread's network
// namespace, sends one request, waits for the kernel's answer (the kernel answers at once) and
// closes the socket. They are control-plane calls: they allocate, may take a few microseconds,
// and are safe to call from any thread. Errors carry the kernel's errno and a message that
// names the interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/ip.hpp"
#include "base/result.hpp"

struct mnl_socket;

namespace tun {

// What the kernel reports about one interface (RTM_NEWLINK).
struct LinkInfo {
  int ifindex = 0;
  std::string name;
  unsigned mtu = 0;
  unsigned flags = 0;  // IFF_* from <net/if.h>: IFF_UP (administratively up), IFF_RUNNING, ...
  std::string kind;    // IFLA_INFO_KIND: "tun", "veth", "wireguard", ...; empty when none

  // TUN/TAP details (IFLA_INFO_DATA of kind "tun"); valid only when has_tun_info.
  bool has_tun_info = false;
  bool tun_is_tap = false;
  bool tun_multi_queue = false;
  bool tun_vnet_hdr = false;
  bool tun_persist = false;
  unsigned tun_num_queues = 0;  // queues attached now (each an open fd somewhere)

  bool up() const noexcept;
};

// ENODEV when there is no such interface.
base::Result<LinkInfo> get_link(int ifindex);
base::Result<LinkInfo> get_link(std::string_view name);

base::Result<unsigned> get_mtu(int ifindex);
// The kernel checks the range (TUN: 68..65535, less for IPv6-carrying links): EINVAL outside.
base::Status set_mtu(int ifindex, unsigned mtu);
// Administrative state (ip link set dev X up/down).
base::Status set_link_up(int ifindex, bool up);
// Adds prefix.addr with prefix length prefix.bits (ip addr add 10.0.0.1/24 dev X). IPv6
// addresses are added with IFA_F_NODAD so they are usable at once. EEXIST if present.
base::Status add_address(int ifindex, const base::IpPrefix& prefix);
// ip link del; for tests and cleanup.
base::Status delete_link(int ifindex);

struct LinkEvent {
  enum class Kind : std::uint8_t {
    deleted,      // the interface is gone (deleted, or moved to another namespace)
    up,           // IFF_UP was set
    down,         // IFF_UP was cleared
    mtu_changed,  // `mtu` holds the new value
  };
  Kind kind = Kind::deleted;
  unsigned mtu = 0;

  friend bool operator==(const LinkEvent&, const LinkEvent&) = default;
};
const char* to_string(LinkEvent::Kind kind) noexcept;

// Watches one interface. The socket is non-blocking and subscribed to RTNLGRP_LINK; the owner
// waits for fd() to become readable (an Asio posix::stream_descriptor with async_wait, or
// epoll) and then calls drain().
//
// Events are changes relative to the state read at open() (or at the previous drain), so a
// burst of RTM_NEWLINK messages that change nothing yields nothing. If the kernel dropped
// messages (ENOBUFS on a full socket buffer), drain() re-reads the link and reports the
// differences, so a deletion is never missed.
//
// Not thread safe: one owner thread. Movable; fd() is stable across moves.
class LinkMonitor {
 public:
  // ENODEV if the interface does not exist now.
  static base::Result<LinkMonitor> open(int ifindex);

  LinkMonitor(LinkMonitor&&) noexcept;
  LinkMonitor& operator=(LinkMonitor&&) noexcept;
  ~LinkMonitor();

  int fd() const noexcept;
  int ifindex() const noexcept { return ifindex_; }
  bool deleted() const noexcept { return deleted_; }
  bool up() const noexcept { return up_; }
  unsigned mtu() const noexcept { return mtu_; }

  // Reads every message queued on fd() without blocking and appends the watched link's
  // changes to `out`, oldest first; returns how many were appended. After `deleted` nothing
  // more is reported. `ec` is set (and reading stops) only on an unexpected socket error.
  std::size_t drain(std::vector<LinkEvent>& out, std::error_code& ec);

 private:
  struct SocketCloser {
    void operator()(mnl_socket* s) const noexcept;
  };
  LinkMonitor(std::unique_ptr<mnl_socket, SocketCloser> sock, const LinkInfo& info);
  void apply(bool present, unsigned flags, unsigned mtu, std::vector<LinkEvent>& out);
  void resync(std::vector<LinkEvent>& out);
  void discard_queued();

  std::unique_ptr<mnl_socket, SocketCloser> sock_;
  std::vector<std::byte> buf_;
  int ifindex_ = 0;
  bool deleted_ = false;
  bool up_ = false;
  unsigned mtu_ = 0;
};

}  // namespace tun
