// SPDX-License-Identifier: MIT
// Files that hold a secret (private keys): read only when no one else may read them, created
// with mode 0600 inside a directory of mode 0700. Shared by meshtun-derper's key file and
// meshtund's node and disco keys; the text inside is the caller's business.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace base {

// The contents of `path`, or nullopt when it does not exist. Refused (permission_denied, a
// message naming the file and saying "chmod 600") when group or others have any permission
// on it, and refused when it is not a regular file. Symbolic links are followed, as wg(8)
// and Go's os.ReadFile do.
Result<std::optional<std::string>> read_secret_file(const std::string& path);

// Creates `path` with mode 0600 and writes `text` to it, fsynced. Fails if it already exists
// (no secret is ever overwritten). A missing parent directory is created with mode 0700
// (with its own missing parents, also 0700); one that exists is left as it is. On a failed
// write the partial file is removed.
Status create_secret_file(const std::string& path, std::string_view text);

}  // namespace base
