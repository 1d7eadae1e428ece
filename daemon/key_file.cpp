// SPDX-License-Identifier: MIT
#include "daemon/key_file.hpp"

#include "base/secret_file.hpp"

namespace meshtund {
namespace {

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

template <class Key>
base::Result<Key> load_or_create(const std::string& path) {
  auto text = base::read_secret_file(path);
  if (!text) return text.error();
  if (text->has_value()) {
    auto key = Key::from_base64(trim(**text));
    if (!key) {
      return base::make_error(std::errc::invalid_argument,
                              path +
                                  ": want one key, 44 characters of base64 as `wg genkey` "
                                  "writes it");
    }
    if (key->is_zero()) {
      return base::make_error(std::errc::invalid_argument, path + ": the key is all zeros");
    }
    return *key;
  }
  const Key key = Key::generate();
  if (auto st = base::create_secret_file(path, key.to_base64() + "\n"); !st) return st.error();
  return key;
}

}  // namespace

base::Result<base::NodePrivateKey> load_or_create_node_key(const std::string& path) {
  return load_or_create<base::NodePrivateKey>(path);
}

base::Result<base::DiscoPrivateKey> load_or_create_disco_key(const std::string& path) {
  return load_or_create<base::DiscoPrivateKey>(path);
}

}  // namespace meshtund
