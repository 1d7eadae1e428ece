// SPDX-License-Identifier: MIT
// meshtun-derper's secret files, read through base/secret_file.hpp, so a file that group or
// others may read (or that is not a regular file) is refused with a message naming it.
//
// Key file (-c): {"PrivateKey":"privkey:<64 hex>"}, as Go's derper writes it. Created with
// mode 0600 (in a new 0700 directory if need be) when missing.
//
// Mesh key file (--mesh-psk-file): the region's shared mesh key, 64 hex digits
// (derp::MeshKey::parse). Never created: a missing file is an error.
#pragma once

#include <string>

#include "base/keys.hpp"
#include "base/result.hpp"
#include "derp/keys.hpp"

namespace derpserver {

// Loads the key at `path`, or creates the file with a new key when it does not exist.
base::Result<base::NodePrivateKey> load_or_create_key_file(const std::string& path);

// Reads and parses the mesh key at `path`.
base::Result<derp::MeshKey> load_mesh_key_file(const std::string& path);

}  // namespace derpserver
