// SPDX-License-Identifier: MIT
// What Go's encoding/json does that Boost.JSON does not, for decoders of Go-written JSON.
#pragma once

#include <algorithm>
#include <cctype>
#include <string_view>

namespace derp {

// Go's encoding/json matches object keys to struct fields ignoring ASCII case ("regionid"
// fills RegionID). Map keys, such as the region IDs of a DERP map, match exactly.
inline bool go_key_is(std::string_view key, std::string_view field) noexcept {
  return key.size() == field.size() &&
         std::equal(key.begin(), key.end(), field.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

}  // namespace derp
