// SPDX-License-Identifier: MIT
#include "disco/drop_reason.hpp"

namespace disco {

std::string_view to_string(DropReason r) noexcept {
  switch (r) {
#define DISCO_DROP_NAME(name) \
  case DropReason::name:      \
    return #name;
    DISCO_DROP_REASONS(DISCO_DROP_NAME)
#undef DISCO_DROP_NAME
    case DropReason::count_:
      break;
  }
  return "unknown";
}

}  // namespace disco
