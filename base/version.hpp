// SPDX-License-Identifier: MIT
// The version every binary's --version prints: `git describe --always --dirty` of the
// checkout when the build was configured, or the project version (CMakeLists.txt) when it
// was not a git checkout.
#pragma once

#include <string_view>

namespace base {

std::string_view version() noexcept;

}  // namespace base
