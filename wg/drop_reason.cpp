// SPDX-License-Identifier: MIT
#include "wg/drop_reason.hpp"

namespace wg {

std::string_view to_string(DropReason r) noexcept {
  switch (r) {
#define WG_DROP_NAME(name) \
  case DropReason::name:   \
    return #name;
    WG_DROP_REASONS(WG_DROP_NAME)
#undef WG_DROP_NAME
    case DropReason::count_:
      break;
  }
  return "invalid";
}

}  // namespace wg
