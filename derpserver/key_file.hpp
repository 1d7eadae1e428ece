// SPDX-License-Identifier: MIT
// meshtun-derper's key file (-c): {"PrivateKey":"privkey:<64 hex>"}, as Go's derper writes
// it. Created with mode 0600 (in a new 0700 directory if need be) when missing; a file that
// others may read is refused (base/secret_file.hpp).
#pragma once

#include <string>

#include "base/keys.hpp"
#include "base/result.hpp"

namespace derpserver {

// Loads the key at `path`, or creates the file with a new key when it does not exist.
base::Result<base::NodePrivateKey> load_or_create_key_file(const std::string& path);

}  // namespace derpserver
