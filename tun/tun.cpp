// SPDX-License-Identifier: MIT
#include "tun/tun.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <unistd.h>

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include "base/log.hpp"
#include "tun/netlink.hpp"
#include "tun/virtio_hdr.hpp"

namespace tun {

namespace {

base::Error errno_error(int err, std::string message) {
  return base::Error{std::error_code(err, std::system_category()),
                     std::move(message) + ": " + std::strerror(err)};
}

base::Error errc_error(std::errc code, std::string message) {
  return base::make_error(code, std::move(message));
}

// Explains why an existing interface called `name` cannot be used, or nullopt if it can
// (or does not exist, or the kernel does not say).
std::optional<base::Error> diagnose_existing(const std::string& name) {
  auto info = get_link(name);
  if (!info) return std::nullopt;
  const std::string what = "interface " + name + " already exists";
  if (info->kind != "tun") {
    return errc_error(std::errc::file_exists,
                      what + " and is not a TUN device (kind=" +
                          (info->kind.empty() ? std::string("none") : info->kind) +
                          "); delete it (ip link del " + name + ") or choose another name");
  }
  if (!info->has_tun_info) return std::nullopt;
  if (info->tun_is_tap) {
    return errc_error(std::errc::file_exists,
                      what + " as a TAP device; delete it or choose another name");
  }
  if (!info->tun_multi_queue) {
    return errc_error(std::errc::file_exists,
                      what +
                          " as a single-queue TUN (made by another program, e.g. "
                          "wireguard-go); meshtun needs a multi-queue TUN: delete it (ip link "
                          "del " +
                          name + ") or choose another name");
  }
  if (info->tun_num_queues > 0) {
    return errc_error(std::errc::device_or_resource_busy,
                      "interface " + name + " is in use by another process (" +
                          std::to_string(info->tun_num_queues) + " queues attached)");
  }
  return std::nullopt;
}

base::Error open_device_error(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return errc_error(std::errc::no_such_device,
                        "no /dev/net/tun: load the tun module (modprobe tun), or pass the device "
                        "into the container");
    case EACCES:
    case EPERM:
      return errc_error(std::errc::operation_not_permitted,
                        "cannot open /dev/net/tun: permission denied (needs root or "
                        "CAP_NET_ADMIN)");
    case EMFILE:
    case ENFILE:
      return errc_error(std::errc::too_many_files_open,
                        "cannot open /dev/net/tun: too many open files");
    default:
      return errno_error(err, "open /dev/net/tun");
  }
}

base::Error attach_error(int err, const std::string& name, std::size_t queue) {
  if (queue == 0 && (err == EINVAL || err == EBUSY)) {
    if (auto why = diagnose_existing(name)) return *why;
  }
  switch (err) {
    case EPERM:
    case EACCES:
      return errc_error(
          std::errc::operation_not_permitted,
          "no permission to create or attach TUN interface " + name + " (needs CAP_NET_ADMIN)");
    case EBUSY:
      return errc_error(std::errc::device_or_resource_busy,
                        "interface " + name + " is busy (in use by another process)");
    case EINVAL:
      return errc_error(std::errc::file_exists,
                        "interface " + name +
                            " exists with other settings than a multi-queue TUN; delete it or "
                            "choose another name");
    case E2BIG:
      return errc_error(std::errc::invalid_argument, "interface " + name +
                                                         ": too many queues (the kernel allows " +
                                                         std::to_string(kMaxQueues) + ")");
    default:
      return errno_error(err, "TUNSETIFF " + name + " queue " + std::to_string(queue));
  }
}

}  // namespace

// Opens /dev/net/tun and attaches it as queue q of t.name_ with `flags`; the fd joins t.fds_
// (so ~Tun closes it on a later failure). Queue 0 learns the kernel's name for a template.
base::Result<int> Tun::attach_queue(Tun& t, std::size_t q, short flags) {
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return open_device_error(errno);
  t.fds_.push_back(fd);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, t.name_.data(), t.name_.size());
  ifr.ifr_flags = flags;
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) return attach_error(errno, t.name_, q);
  if (q == 0) t.name_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  return fd;
}

// Queue 0 with IFF_VNET_HDR, then TUNSETOFFLOAD: CSUM|TSO4|TSO6 (+USO4|USO6 if asked and
// the kernel knows them). If even TSO is refused, queue 0 is closed again and the caller
// opens it without offloads. Returns whether offloads were granted; `mask` gets them.
base::Result<bool> Tun::open_queue_with_offloads(Tun& t, bool udp, unsigned& mask) {
  auto fd =
      attach_queue(t, 0, static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR));
  if (!fd) return fd.error();
  int hdr_size = static_cast<int>(VnetHdr::kSize);  // a reused device may have been set to 12
  if (::ioctl(*fd, TUNSETVNETHDRSZ, &hdr_size) != 0) {
    return errno_error(errno, "TUNSETVNETHDRSZ on " + t.name_);
  }
  const unsigned tso = kTunFCsum | kTunFTso4 | kTunFTso6;
  const unsigned uso = kTunFUso4 | kTunFUso6;  // the kernel takes both or neither
  if (udp && ::ioctl(*fd, TUNSETOFFLOAD, tso | uso) == 0) {
    mask = tso | uso;
    t.offloads_ = Offloads{true, true, true};
    return true;
  }
  if (::ioctl(*fd, TUNSETOFFLOAD, tso) == 0) {
    mask = tso;
    t.offloads_ = Offloads{true, true, false};
    return true;
  }
  base::logger("tun")->info("tun {} refuses TSO offloads (err={}); opening without", t.name_,
                            std::strerror(errno));
  ::close(*fd);
  t.fds_.clear();
  return false;
}

std::string check_interface_name(std::string_view name) {
  if (name.empty()) return "interface name is empty";
  if (name.size() >= IFNAMSIZ) {
    return "interface name '" + std::string(name) + "' is too long (at most " +
           std::to_string(IFNAMSIZ - 1) + " bytes)";
  }
  if (name == "." || name == "..") return "interface name '" + std::string(name) + "' is invalid";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f) {
      return "interface name '" + std::string(name) + "' contains a character not allowed " +
             "('/', ':', whitespace or control)";
    }
  }
  const auto pct = name.find('%');
  if (pct != std::string_view::npos && (pct + 1 >= name.size() || name[pct + 1] != 'd' ||
                                        name.find('%', pct + 1) != std::string_view::npos)) {
    return "interface name '" + std::string(name) + "': '%' is allowed only as one \"%d\"";
  }
  return {};
}

base::Result<Tun> Tun::open(const Options& options) {
  if (auto why = check_interface_name(options.name); !why.empty()) {
    return errc_error(std::errc::invalid_argument, why);
  }
  if (options.queues == 0 || options.queues > kMaxQueues) {
    return errc_error(std::errc::invalid_argument, "queue count " + std::to_string(options.queues) +
                                                       " is not in 1.." +
                                                       std::to_string(kMaxQueues));
  }
  const bool is_template = options.name.find('%') != std::string::npos;
  if (!is_template) {
    if (auto why = diagnose_existing(options.name)) return *why;
  }

  Tun t;
  t.name_ = options.name;
  t.fds_.reserve(options.queues);
  short flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
  unsigned offload_mask = 0;
  if (options.offloads) {
    if (auto granted = open_queue_with_offloads(t, options.udp_offload, offload_mask); !granted) {
      return granted.error();
    } else if (*granted) {
      flags = static_cast<short>(flags | IFF_VNET_HDR);
    }
  }
  for (std::size_t q = t.fds_.size(); q < options.queues; ++q) {
    auto fd = attach_queue(t, q, flags);
    if (!fd) return fd.error();
    // Offloads are per device, but set them on every queue as nebula does: harmless, and
    // right on kernels that would reset them on attach.
    if (offload_mask != 0 && ::ioctl(*fd, TUNSETOFFLOAD, offload_mask) != 0) {
      return errno_error(errno, "TUNSETOFFLOAD on " + t.name_ + " queue " + std::to_string(q));
    }
  }
  const unsigned idx = ::if_nametoindex(t.name_.c_str());
  if (idx == 0) return errno_error(errno, "if_nametoindex " + t.name_);
  t.ifindex_ = static_cast<int>(idx);
  base::logger("tun")->info("opened tun name={} ifindex={} queues={} vnet_hdr={} tso={} uso={}",
                            t.name_, t.ifindex_, t.fds_.size(), t.offloads_.vnet_hdr,
                            t.offloads_.tso, t.offloads_.uso);
  return t;
}

Tun::Tun(Tun&& other) noexcept
    : name_(std::move(other.name_)),
      ifindex_(other.ifindex_),
      offloads_(other.offloads_),
      fds_(std::move(other.fds_)) {
  other.fds_.clear();
  other.ifindex_ = 0;
}

Tun& Tun::operator=(Tun&& other) noexcept {
  if (this != &other) {
    close();
    name_ = std::move(other.name_);
    ifindex_ = other.ifindex_;
    offloads_ = other.offloads_;
    fds_ = std::move(other.fds_);
    other.fds_.clear();
    other.ifindex_ = 0;
  }
  return *this;
}

Tun::~Tun() {
  close();
}

void Tun::close() noexcept {
  for (const int fd : fds_) ::close(fd);
  fds_.clear();
}

}  // namespace tun
