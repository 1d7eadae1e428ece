// SPDX-License-Identifier: MIT
// Go-style command lines for meshtun-derper: cmd/derper parses its flags with Go's flag
// package, so its users type "-hostname=x", "-a :443", "-certmode manual", "-dev=false".
// normalize_derper_args() rewrites such an argv into the "--name=value" form our CLI11 parser
// reads, before it runs:
//
//   - "-name" and "--name" are the same flag, with "=value" or the value as the next argument;
//   - derper's names map to ours where they differ ("-a" -> "--addr", "-c" -> "--config");
//   - a boolean takes "=true"/"=false" (Go's only form); "-stun" alone means "--stun=true";
//   - a derper flag meshtun-derper does not implement is an error naming it, never ignored;
//   - any other single-dash long flag becomes "--name", for CLI11 to accept or refuse;
//   - "--" ends the flags; argv[0] and arguments that are not flags are kept as they are.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace derpserver {

// derper's flags (cmd/derper/derper.go) that meshtun-derper accepts, with our name for each,
// and those it refuses; for --help and the README.
struct DerperFlagInfo {
  std::string_view derper;  // without the dash
  std::string_view ours;    // empty: not implemented
};
std::span<const DerperFlagInfo> derper_flags();

// `args` is the whole argv, program name first.
base::Result<std::vector<std::string>> normalize_derper_args(std::vector<std::string> args);

}  // namespace derpserver
