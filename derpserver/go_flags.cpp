// SPDX-License-Identifier: MIT
#include "derpserver/go_flags.hpp"

#include <array>
#include <cctype>

namespace derpserver {

namespace {

enum class Kind {
  kValue,       // takes a value: "=v" or the next argument
  kFlag,        // a CLI11 flag: bare, or "=true"/"=false"
  kBoolOption,  // ours takes "true"/"false" as a value, derper's is a Go bool
  kMissing,     // a derper flag we do not implement
};

struct Entry {
  DerperFlagInfo info;
  Kind kind;
};

constexpr std::array kEntries = {
    Entry{{"a", "addr"}, Kind::kValue},
    Entry{{"c", "config"}, Kind::kValue},
    Entry{{"hostname", "hostname"}, Kind::kValue},
    Entry{{"certmode", "certmode"}, Kind::kValue},
    Entry{{"certdir", "certdir"}, Kind::kValue},
    Entry{{"http-port", "http-port"}, Kind::kValue},
    Entry{{"stun-port", "stun-port"}, Kind::kValue},
    Entry{{"mesh-psk-file", "mesh-psk-file"}, Kind::kValue},
    Entry{{"mesh-with", "mesh-with"}, Kind::kValue},
    Entry{{"dev", "dev"}, Kind::kFlag},
    Entry{{"version", "version"}, Kind::kFlag},
    Entry{{"help", "help"}, Kind::kFlag},
    Entry{{"stun", "stun"}, Kind::kBoolOption},
    Entry{{"derp", ""}, Kind::kMissing},
    Entry{{"bootstrap-dns-names", ""}, Kind::kMissing},
    Entry{{"unpublished-bootstrap-dns-names", ""}, Kind::kMissing},
    Entry{{"verify-clients", ""}, Kind::kMissing},
    Entry{{"verify-client-url", ""}, Kind::kMissing},
    Entry{{"verify-client-url-fail-open", ""}, Kind::kMissing},
    Entry{{"accept-connection-limit", ""}, Kind::kMissing},
    Entry{{"accept-connection-burst", ""}, Kind::kMissing},
    Entry{{"tcp-keepalive-time", ""}, Kind::kMissing},
    Entry{{"tcp-user-timeout", ""}, Kind::kMissing},
    Entry{{"mbps", ""}, Kind::kMissing},
    Entry{{"logcollection", ""}, Kind::kMissing},
};

constexpr auto kInfos = [] {
  std::array<DerperFlagInfo, kEntries.size()> out{};
  for (std::size_t i = 0; i < kEntries.size(); ++i) out[i] = kEntries[i].info;
  return out;
}();

const Entry* find(std::string_view name) {
  for (const auto& e : kEntries) {
    if (e.info.derper == name) return &e;
  }
  return nullptr;
}

}  // namespace

std::span<const DerperFlagInfo> derper_flags() {
  return kInfos;
}

base::Result<std::vector<std::string>> normalize_derper_args(std::vector<std::string> args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == 0 || arg.size() < 2 || arg[0] != '-') {
      out.push_back(arg);
      continue;
    }
    if (arg == "--") {
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    const bool double_dash = arg[1] == '-';
    const std::string_view body = std::string_view(arg).substr(double_dash ? 2 : 1);
    // "-1" and the like are values (a negative port), not flags.
    if (body.empty() || std::isalpha(static_cast<unsigned char>(body[0])) == 0) {
      out.push_back(arg);
      continue;
    }
    const auto eq = body.find('=');
    const std::string_view name = body.substr(0, eq);
    const bool has_value = eq != std::string_view::npos;
    const std::string value = has_value ? std::string(body.substr(eq + 1)) : std::string();
    const Entry* e = find(name);
    if (e == nullptr) {
      // One of our own flags (or an unknown one, for CLI11 to refuse), in Go's single-dash
      // form; short flags such as "-h" stay as they are.
      out.push_back(!double_dash && name.size() > 1 ? "-" + arg : arg);
      continue;
    }
    const std::string ours = "--" + std::string(e->info.ours);
    switch (e->kind) {
      case Kind::kMissing:
        return base::make_error(std::errc::invalid_argument,
                                "derper flag -" + std::string(name) +
                                    " is not implemented by meshtun-derper (see --help)");
      case Kind::kValue:
        if (has_value) {
          out.push_back(ours + "=" + value);
        } else if (i + 1 < args.size()) {
          out.push_back(ours + "=" + args[++i]);
        } else {
          out.push_back(ours);  // CLI11 says the value is missing
        }
        break;
      case Kind::kFlag:
        out.push_back(has_value ? ours + "=" + value : ours);
        break;
      case Kind::kBoolOption:
        if (has_value) {
          out.push_back(ours + "=" + value);
        } else if (i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false")) {
          out.push_back(ours + "=" + args[++i]);
        } else {
          out.push_back(ours + "=true");
        }
        break;
    }
  }
  return out;
}

}  // namespace derpserver
