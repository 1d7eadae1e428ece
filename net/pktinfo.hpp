// SPDX-License-Identifier: MIT
// The packet-info control messages (IP_PKTINFO / IPV6_PKTINFO): which local address and
// interface a datagram arrived on, and which source address a reply leaves from.
#pragma once

#include <cstddef>

#include <sys/socket.h>

#include "base/ip.hpp"

namespace net {

// If c is a complete IP_PKTINFO or IPV6_PKTINFO message, stores the local address and
// interface it names and returns true; otherwise leaves them and returns false.
bool read_pktinfo(const cmsghdr& c, base::IpAddr& local, int& ifindex) noexcept;

// Writes the packet-info message that makes a send leave from source (through ifindex, 0 for
// any) at ctrl, which must be aligned for cmsghdr and hold CMSG_SPACE(sizeof(in6_pktinfo)); returns
// the bytes used.
std::size_t put_pktinfo(const base::IpAddr& source, int ifindex, std::byte* ctrl) noexcept;

}  // namespace net
