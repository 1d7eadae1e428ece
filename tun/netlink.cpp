// SPDX-License-Identifier: MIT
#include "tun/netlink.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "base/log.hpp"

namespace tun {

namespace {

// Large enough for one RTM_NEWLINK without statistics (about 1.5 KiB) or a batch of
// multicast notifications; the kernel never splits a message across reads.
constexpr std::size_t kRecvBufferSize = 32 * 1024;
// Bounds one LinkMonitor::drain(): the fd stays readable if more is queued.
constexpr int kMaxReadsPerDrain = 256;
// The monitor's socket buffer: room for bursts of notifications before ENOBUFS.
constexpr int kMonitorRcvBuf = 1 << 20;

base::Error sys_error(int err, std::string_view what) {
  return base::Error{std::error_code(err, std::system_category()),
                     std::string(what) + ": " + std::strerror(err)};
}

struct Closer {
  void operator()(mnl_socket* s) const noexcept {
    if (s != nullptr) mnl_socket_close(s);
  }
};
using SocketPtr = std::unique_ptr<mnl_socket, Closer>;

base::Result<SocketPtr> open_socket(unsigned groups, int extra_flags) {
  SocketPtr s(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | extra_flags));
  if (!s) return sys_error(errno, "netlink socket");
  if (mnl_socket_bind(s.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
    return sys_error(errno, "netlink bind");
  }
  return s;
}

unsigned next_seq() {
  static std::atomic<unsigned> seq{1};
  return seq.fetch_add(1, std::memory_order_relaxed);
}

// Sends `req` (NLM_F_ACK set here) and feeds every reply to `cb` until the kernel's ack.
// A negative ack becomes an error whose message starts with `what`.
base::Status transact(nlmsghdr* req, mnl_cb_t cb, void* data, std::string_view what) {
  auto sock = open_socket(0, 0);
  if (!sock) return base::Error{sock.error().code, std::string(what) + ": " + sock.error().message};
  mnl_socket* s = sock->get();
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  req->nlmsg_seq = next_seq();
  const unsigned portid = mnl_socket_get_portid(s);
  if (mnl_socket_sendto(s, req, req->nlmsg_len) < 0) return sys_error(errno, what);
  std::vector<std::byte> buf(kRecvBufferSize);
  for (int i = 0; i < 64; ++i) {  // an ack comes after at most one reply; bound anyway
    const ssize_t n = mnl_socket_recvfrom(s, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(errno, what);
    }
    const int ret =
        mnl_cb_run(buf.data(), static_cast<std::size_t>(n), req->nlmsg_seq, portid, cb, data);
    if (ret == MNL_CB_ERROR) return sys_error(errno, what);
    if (ret == MNL_CB_STOP) return {};
  }
  return base::make_error(std::errc::protocol_error, std::string(what) + ": no netlink ack");
}

int collect_attr(const nlattr* attr, void* data, std::uint16_t max) {
  if (mnl_attr_type_valid(attr, max) < 0) return MNL_CB_OK;  // newer kernel: skip
  static_cast<const nlattr**>(data)[mnl_attr_get_type(attr)] = attr;
  return MNL_CB_OK;
}
int link_attr_cb(const nlattr* attr, void* data) {
  return collect_attr(attr, data, IFLA_MAX);
}
int linkinfo_attr_cb(const nlattr* attr, void* data) {
  return collect_attr(attr, data, IFLA_INFO_MAX);
}
int tun_attr_cb(const nlattr* attr, void* data) {
  return collect_attr(attr, data, IFLA_TUN_MAX);
}

bool get_u8(const nlattr* a, std::uint8_t& out) {
  if (a == nullptr || mnl_attr_validate(a, MNL_TYPE_U8) < 0) return false;
  out = mnl_attr_get_u8(a);
  return true;
}
bool get_u32(const nlattr* a, std::uint32_t& out) {
  if (a == nullptr || mnl_attr_validate(a, MNL_TYPE_U32) < 0) return false;
  out = mnl_attr_get_u32(a);
  return true;
}
bool get_str(const nlattr* a, std::string& out) {
  if (a == nullptr || mnl_attr_validate(a, MNL_TYPE_STRING) < 0) return false;
  out.assign(mnl_attr_get_str(a), strnlen(mnl_attr_get_str(a), mnl_attr_get_payload_len(a)));
  return true;
}

void parse_tun_data(const nlattr* data, LinkInfo& info) {
  const nlattr* tb[IFLA_TUN_MAX + 1] = {};
  if (mnl_attr_parse_nested(data, tun_attr_cb, tb) < 0) return;
  std::uint8_t v = 0;
  if (!get_u8(tb[IFLA_TUN_TYPE], v)) return;
  info.has_tun_info = true;
  info.tun_is_tap = (v & IFF_TAP) != 0;
  if (get_u8(tb[IFLA_TUN_MULTI_QUEUE], v)) info.tun_multi_queue = v != 0;
  if (get_u8(tb[IFLA_TUN_VNET_HDR], v)) info.tun_vnet_hdr = v != 0;
  if (get_u8(tb[IFLA_TUN_PERSIST], v)) info.tun_persist = v != 0;
  std::uint32_t q = 0;
  if (get_u32(tb[IFLA_TUN_NUM_QUEUES], q)) info.tun_num_queues = q;
}

// Fills `info` from an RTM_NEWLINK/RTM_DELLINK message; false if it is not one.
bool parse_link(const nlmsghdr* nlh, LinkInfo& info) {
  if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) return false;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(ifinfomsg)) return false;
  ifinfomsg ifm;
  std::memcpy(&ifm, mnl_nlmsg_get_payload(nlh), sizeof ifm);
  info.ifindex = ifm.ifi_index;
  info.flags = ifm.ifi_flags;
  const nlattr* tb[IFLA_MAX + 1] = {};
  if (mnl_attr_parse(nlh, sizeof(ifinfomsg), link_attr_cb, tb) < 0) return true;
  get_str(tb[IFLA_IFNAME], info.name);
  std::uint32_t mtu = 0;
  if (get_u32(tb[IFLA_MTU], mtu)) info.mtu = mtu;
  if (tb[IFLA_LINKINFO] != nullptr) {
    const nlattr* li[IFLA_INFO_MAX + 1] = {};
    if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, li) >= 0) {
      get_str(li[IFLA_INFO_KIND], info.kind);
      if (info.kind == "tun" && li[IFLA_INFO_DATA] != nullptr) {
        parse_tun_data(li[IFLA_INFO_DATA], info);
      }
    }
  }
  return true;
}

int get_link_cb(const nlmsghdr* nlh, void* data) {
  parse_link(nlh, *static_cast<LinkInfo*>(data));
  return MNL_CB_OK;
}

// Room for one request with a few attributes.
struct Request {
  alignas(nlmsghdr) std::byte buf[512];
};

nlmsghdr* start_link_request(Request& r, std::uint16_t type, int ifindex) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(r.buf);
  nlh->nlmsg_type = type;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  return nlh;
}

std::string link_name(int ifindex) {
  return "ifindex " + std::to_string(ifindex);
}

base::Result<LinkInfo> get_link_request(nlmsghdr* nlh, std::string_view what) {
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  LinkInfo info;
  auto st = transact(nlh, get_link_cb, &info, what);
  if (!st) return st.error();
  if (info.ifindex == 0) {
    return base::make_error(std::errc::no_such_device, std::string(what) + ": no such interface");
  }
  return info;
}

}  // namespace

bool LinkInfo::up() const noexcept {
  return (flags & IFF_UP) != 0;
}

base::Result<LinkInfo> get_link(int ifindex) {
  Request r;
  nlmsghdr* nlh = start_link_request(r, RTM_GETLINK, ifindex);
  return get_link_request(nlh, "get link " + link_name(ifindex));
}

base::Result<LinkInfo> get_link(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return base::make_error(std::errc::invalid_argument,
                            "get link: bad interface name '" + std::string(name) + "'");
  }
  Request r;
  nlmsghdr* nlh = start_link_request(r, RTM_GETLINK, 0);
  const std::string n(name);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, n.c_str());
  return get_link_request(nlh, "get link " + n);
}

base::Result<unsigned> get_mtu(int ifindex) {
  auto info = get_link(ifindex);
  if (!info) return info.error();
  return info->mtu;
}

base::Status set_mtu(int ifindex, unsigned mtu) {
  Request r;
  nlmsghdr* nlh = start_link_request(r, RTM_NEWLINK, ifindex);
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  return transact(nlh, nullptr, nullptr,
                  "set mtu " + std::to_string(mtu) + " on " + link_name(ifindex));
}

base::Status set_link_up(int ifindex, bool up) {
  Request r;
  nlmsghdr* nlh = start_link_request(r, RTM_NEWLINK, ifindex);
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  ifm->ifi_change = IFF_UP;
  ifm->ifi_flags = up ? static_cast<unsigned>(IFF_UP) : 0u;
  return transact(nlh, nullptr, nullptr,
                  std::string("set link ") + (up ? "up" : "down") + " on " + link_name(ifindex));
}

base::Status delete_link(int ifindex) {
  Request r;
  nlmsghdr* nlh = start_link_request(r, RTM_DELLINK, ifindex);
  return transact(nlh, nullptr, nullptr, "delete link " + link_name(ifindex));
}

base::Status add_address(int ifindex, const base::IpPrefix& prefix) {
  const std::string what = "add address " + prefix.to_string() + " on " + link_name(ifindex);
  if (!prefix.addr.valid() || prefix.bits > prefix.addr.bit_length()) {
    return base::make_error(std::errc::invalid_argument, what + ": invalid prefix");
  }
  Request r;
  nlmsghdr* nlh = mnl_nlmsg_put_header(r.buf);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = prefix.addr.is_v4() ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = prefix.bits;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  const auto bytes = prefix.addr.bytes();
  mnl_attr_put(nlh, IFA_LOCAL, bytes.size(), bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, bytes.size(), bytes.data());
  if (prefix.addr.is_v6()) mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  return transact(nlh, nullptr, nullptr, what);
}

const char* to_string(LinkEvent::Kind kind) noexcept {
  switch (kind) {
    case LinkEvent::Kind::deleted:
      return "deleted";
    case LinkEvent::Kind::up:
      return "up";
    case LinkEvent::Kind::down:
      return "down";
    case LinkEvent::Kind::mtu_changed:
      return "mtu_changed";
  }
  return "unknown";
}

// ---- LinkMonitor ----

void LinkMonitor::SocketCloser::operator()(mnl_socket* s) const noexcept {
  if (s != nullptr) mnl_socket_close(s);
}

LinkMonitor::LinkMonitor(std::unique_ptr<mnl_socket, SocketCloser> sock, const LinkInfo& info)
    : sock_(std::move(sock)),
      buf_(kRecvBufferSize),
      ifindex_(info.ifindex),
      up_(info.up()),
      mtu_(info.mtu) {}

LinkMonitor::LinkMonitor(LinkMonitor&&) noexcept = default;
LinkMonitor& LinkMonitor::operator=(LinkMonitor&&) noexcept = default;
LinkMonitor::~LinkMonitor() = default;

base::Result<LinkMonitor> LinkMonitor::open(int ifindex) {
  // Subscribe first, then read the state: a change in between shows up as a message that
  // matches the state read, which yields no event; none can be lost.
  auto sock = open_socket(RTMGRP_LINK, SOCK_NONBLOCK);
  if (!sock) return sock.error();
  const int fd = mnl_socket_get_fd(sock->get());
  int rcvbuf = kMonitorRcvBuf;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    base::logger("tun")->debug("link monitor SO_RCVBUF failed err={}", std::strerror(errno));
  }
  auto info = get_link(ifindex);
  if (!info) return info.error();
  return LinkMonitor(std::unique_ptr<mnl_socket, SocketCloser>(sock->release()), *info);
}

int LinkMonitor::fd() const noexcept {
  return sock_ ? mnl_socket_get_fd(sock_.get()) : -1;
}

void LinkMonitor::apply(bool present, unsigned flags, unsigned mtu, std::vector<LinkEvent>& out) {
  if (deleted_) return;
  if (!present) {
    deleted_ = true;
    out.push_back({LinkEvent::Kind::deleted, mtu_});
    return;
  }
  const bool up = (flags & IFF_UP) != 0;
  if (up != up_) {
    up_ = up;
    out.push_back({up ? LinkEvent::Kind::up : LinkEvent::Kind::down, mtu_});
  }
  if (mtu != 0 && mtu != mtu_) {
    mtu_ = mtu;
    out.push_back({LinkEvent::Kind::mtu_changed, mtu});
  }
}

void LinkMonitor::resync(std::vector<LinkEvent>& out) {
  auto info = get_link(ifindex_);
  if (info) {
    apply(true, info->flags, info->mtu, out);
  } else if (info.error().code == std::errc::no_such_device) {
    apply(false, 0, 0, out);
  } else {
    base::logger("tun")->warn("link monitor resync failed ifindex={} err={}", ifindex_,
                              info.error().to_string());
  }
}

void LinkMonitor::discard_queued() {
  for (int i = 0; i < kMaxReadsPerDrain; ++i) {
    const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf_.data(), buf_.size());
    if (n < 0 && errno != EINTR && errno != ENOBUFS) return;
  }
}

std::size_t LinkMonitor::drain(std::vector<LinkEvent>& out, std::error_code& ec) {
  ec.clear();
  const std::size_t before = out.size();
  if (!sock_) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return 0;
  }
  for (int i = 0; i < kMaxReadsPerDrain && !deleted_; ++i) {
    const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf_.data(), buf_.size());
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EINTR) continue;
      if (err == ENOBUFS) {
        // Notifications were lost. What is still queued is older than the loss: discard it
        // and read the current state instead.
        discard_queued();
        resync(out);
        continue;
      }
      ec = std::error_code(err, std::system_category());
      break;
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      LinkInfo info;
      if (!parse_link(nlh, info) || info.ifindex != ifindex_) continue;
      apply(nlh->nlmsg_type == RTM_NEWLINK, info.flags, info.mtu, out);
    }
  }
  return out.size() - before;
}

}  // namespace tun
