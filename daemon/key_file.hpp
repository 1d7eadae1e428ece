// SPDX-License-Identifier: MIT
// meshtund's node and disco private keys on disk, in the format `wg genkey` writes: 44
// characters of base64 and a newline. Surrounding whitespace is ignored when reading.
//
// A missing file is created with a fresh key, mode 0600, its missing parent directories 0700
// (mesh-mode.md section 2: disco keys persist so a static peer file can name them). A file
// that group or others may read is refused, as is one that does not hold exactly one key or
// holds the all-zero key. See base/secret_file.hpp.
#pragma once

#include <string>

#include "base/keys.hpp"
#include "base/result.hpp"

namespace meshtund {

base::Result<base::NodePrivateKey> load_or_create_node_key(const std::string& path);
base::Result<base::DiscoPrivateKey> load_or_create_disco_key(const std::string& path);

}  // namespace meshtund
