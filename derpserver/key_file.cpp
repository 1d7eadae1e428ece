// SPDX-License-Identifier: MIT
#include "derpserver/key_file.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "base/secret_file.hpp"
#include "derp/keys.hpp"

namespace derpserver {

base::Result<base::NodePrivateKey> load_or_create_key_file(const std::string& path) {
  auto text = base::read_secret_file(path);
  if (!text) return text.error();
  if (text->has_value()) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(**text, ec);
    const auto* obj = v.if_object();
    const auto* field = obj != nullptr ? obj->if_contains("PrivateKey") : nullptr;
    if (ec || field == nullptr || !field->is_string()) {
      return base::make_error(std::errc::invalid_argument,
                              path + ": want {\"PrivateKey\":\"privkey:<hex>\"}");
    }
    auto key = derp::parse_private_key_text(std::string(field->as_string()));
    if (!key)
      return base::make_error(std::errc::invalid_argument, path + ": " + key.error().to_string());
    return *key;
  }
  const auto key = base::NodePrivateKey::generate();
  const std::string json = "{\"PrivateKey\":\"" + derp::private_key_text(key) + "\"}\n";
  if (auto st = base::create_secret_file(path, json); !st) return st.error();
  return key;
}

base::Result<derp::MeshKey> load_mesh_key_file(const std::string& path) {
  auto text = base::read_secret_file(path);
  if (!text) return text.error();
  if (!text->has_value()) {
    return base::make_error(std::errc::no_such_file_or_directory, path + ": no such file");
  }
  auto key = derp::MeshKey::parse(**text);
  if (!key) {
    return base::make_error(std::errc::invalid_argument, path + ": " + key.error().to_string());
  }
  return *key;
}

}  // namespace derpserver
