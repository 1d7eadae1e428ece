// SPDX-License-Identifier: MIT
// The derper's state directories (that of the -c key file, and --certdir when it keeps a
// self-signed certificate for an IP host name), made on a fresh host.
#pragma once

#include <string>

#include "base/result.hpp"

namespace derpserver {

// Makes `dir` and any missing parents with mode 0700. True when something was made, false
// when `dir` already was a directory (its mode is left alone).
base::Result<bool> make_private_dirs(const std::string& dir);

// The directory part of `path` ("." when it has none).
std::string dir_of(const std::string& path);

}  // namespace derpserver
