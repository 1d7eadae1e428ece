// SPDX-License-Identifier: MIT
#include "base/version.hpp"

#ifndef MESHTUN_VERSION
#error "MESHTUN_VERSION comes from cmake/meshtun.cmake"
#endif

namespace base {

std::string_view version() noexcept {
  return MESHTUN_VERSION;
}

}  // namespace base
