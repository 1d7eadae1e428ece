// SPDX-License-Identifier: MIT
// toml++ (Debian's shared build) reports syntax errors by exception only; parse_mesh_config
// catches toml::parse_error where it is thrown and returns it as a base::Result, so nothing
// escapes to the caller (STYLE.md section 6).
#include "daemon/mesh_config.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include <toml++/toml.h>

#include "daemon/key_file.hpp"
#include "derp/keys.hpp"

namespace meshtund {
namespace {

constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

SourcePos pos_of(const toml::source_region& r) {
  return SourcePos{r.begin.line, r.begin.column};
}

class Reporter {
 public:
  explicit Reporter(const std::string& path) : path_(path) {}

  base::Error at(SourcePos p, const std::string& what) const {
    return base::make_error(
        std::errc::invalid_argument,
        path_ + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + what);
  }
  base::Error at(const toml::node& n, const std::string& what) const {
    return at(pos_of(n.source()), what);
  }

 private:
  const std::string& path_;
};

#define MESH_TRY(expr)             \
  do {                             \
    if (auto st_ = (expr); !st_) { \
      return st_.error();          \
    }                              \
  } while (false)

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// One TOML table: the keys it may have, and typed getters whose errors carry positions.
// `label` names the table in messages: "[interface]", "[[peers]] #2 (\"b\")".
class Table {
 public:
  Table(const toml::table& t, std::string label, const Reporter& r,
        std::initializer_list<std::string_view> known)
      : t_(t), label_(std::move(label)), r_(r), known_(known) {}

  void relabel(std::string label) { label_ = std::move(label); }

  base::Status check_unknown() const {
    for (auto&& [k, v] : t_) {
      if (std::find(known_.begin(), known_.end(), k.str()) == known_.end()) {
        return r_.at(pos_of(k.source()), label_ + ": unknown key \"" + std::string(k.str()) + "\"");
      }
    }
    return {};
  }

  const toml::node* find(std::string_view key) const { return t_.get(key); }

  base::Error missing(std::string_view key) const {
    return r_.at(pos_of(t_.source()), label_ + ": " + std::string(key) + " is missing");
  }
  base::Error bad(const toml::node& n, std::string_view key, const std::string& what) const {
    return r_.at(n, label_ + " " + std::string(key) + ": " + what);
  }

  base::Result<const toml::node*> require(std::string_view key) const {
    const toml::node* n = find(key);
    if (n == nullptr) return missing(key);
    return n;
  }

  base::Result<std::string> string(const toml::node& n, std::string_view key) const {
    const auto* s = n.as_string();
    if (s == nullptr) return bad(n, key, "want a string, got " + type_name(n));
    return s->get();
  }

  base::Result<std::int64_t> integer(const toml::node& n, std::string_view key) const {
    const auto* i = n.as_integer();
    if (i == nullptr) return bad(n, key, "want an integer, got " + type_name(n));
    return i->get();
  }

  // An array of strings; each element handed to `each(text, node)`.
  template <class Fn>
  base::Status strings(const toml::node& n, std::string_view key, Fn&& each) const {
    const auto* a = n.as_array();
    if (a == nullptr) return bad(n, key, "want an array of strings, got " + type_name(n));
    for (const toml::node& el : *a) {
      const auto* s = el.as_string();
      if (s == nullptr) return bad(el, key, "want a string, got " + type_name(el));
      MESH_TRY(each(s->get(), el));
    }
    return {};
  }

  base::Result<derp::RegionId> region(const toml::node& n, std::string_view key) const {
    auto id = integer(n, key);
    if (!id) return id.error();
    if (*id < 1 || *id > derp::kMaxRegionId) {
      return bad(n, key, std::to_string(*id) + " is not a DERP region ID (1 or more)");
    }
    return *id;
  }

  const toml::table& raw() const { return t_; }

 private:
  const toml::table& t_;
  std::string label_;
  const Reporter& r_;
  std::vector<std::string_view> known_;
};

std::string resolve(const std::string& config_path, const std::string& file) {
  if (file.starts_with('/')) return file;
  const auto slash = config_path.find_last_of('/');
  if (slash == std::string::npos) return file;
  return config_path.substr(0, slash + 1) + file;
}

// Linux's dev_valid_name(): 1-15 bytes, not "." or "..", no '/', ':' or whitespace.
bool valid_interface_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxInterfaceName || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
  });
}

base::Result<std::string> file_name(const Table& t, std::string_view key, const std::string& path) {
  auto n = t.require(key);
  if (!n) return n.error();
  auto s = t.string(**n, key);
  if (!s) return s.error();
  if (s->empty()) return t.bad(**n, key, "empty file name");
  return resolve(path, *s);
}

base::Result<base::IpPrefix> prefix(const Table& t, std::string_view key, const std::string& text,
                                    const toml::node& n, bool host_bits_allowed) {
  auto p = base::IpPrefix::parse(text, /*allow_bare=*/true);
  if (!p) return t.bad(n, key, "\"" + text + "\" is not an IP prefix (want addr/bits)");
  if (!host_bits_allowed && p->masked() != *p) {
    return t.bad(n, key,
                 "\"" + text + "\" has bits set beyond /" + std::to_string(p->bits) +
                     " (did you mean " + p->masked().to_string() + "?)");
  }
  return *p;
}

base::Status parse_interface(const toml::table& tt, const std::string& path, const Reporter& r,
                             MeshConfig& c) {
  Table t(tt, "[interface]", r,
          {"name", "private_key_file", "disco_key_file", "listen_port", "addresses", "home_region",
           "derp_map_file"});
  MESH_TRY(t.check_unknown());
  MeshInterface& i = c.interface;

  auto name = t.require("name");
  if (!name) return name.error();
  auto name_text = t.string(**name, "name");
  if (!name_text) return name_text.error();
  if (!valid_interface_name(*name_text)) {
    return t.bad(**name, "name",
                 "\"" + *name_text +
                     "\" is not an interface name (1 to 15 characters, no '/', ':' or spaces)");
  }
  i.name = *name_text;

  auto key_file = file_name(t, "private_key_file", path);
  if (!key_file) return key_file.error();
  i.private_key_file = *key_file;
  auto disco_file = file_name(t, "disco_key_file", path);
  if (!disco_file) return disco_file.error();
  i.disco_key_file = *disco_file;
  if (i.disco_key_file == i.private_key_file) {
    return t.bad(*t.find("disco_key_file"), "disco_key_file",
                 "is the same file as private_key_file");
  }

  if (const toml::node* n = t.find("listen_port")) {
    auto port = t.integer(*n, "listen_port");
    if (!port) return port.error();
    if (*port < 0 || *port > 65535) {
      return t.bad(*n, "listen_port",
                   std::to_string(*port) + " is not a port (0 to 65535; 0 picks one)");
    }
    i.listen_port = static_cast<std::uint16_t>(*port);
  }

  if (const toml::node* n = t.find("addresses")) {
    MESH_TRY(t.strings(*n, "addresses",
                       [&](const std::string& text, const toml::node& el) -> base::Status {
                         auto p = prefix(t, "addresses", text, el, /*host_bits_allowed=*/true);
                         if (!p) return p.error();
                         i.addresses.push_back(*p);
                         return {};
                       }));
  }

  auto home = t.require("home_region");
  if (!home) return home.error();
  auto home_id = t.region(**home, "home_region");
  if (!home_id) return home_id.error();
  i.home_region = *home_id;
  c.sources.home_region = pos_of((*home)->source());

  auto map_file = file_name(t, "derp_map_file", path);
  if (!map_file) return map_file.error();
  i.derp_map_file = *map_file;
  return {};
}

template <class Key>
base::Result<Key> parse_key_text(const Table& t, const toml::node& n, std::string_view key,
                                 std::string_view prefix) {
  auto text = t.string(n, key);
  if (!text) return text.error();
  base::Result<Key> k = text->starts_with(prefix) ? Key::from_hex(text->substr(prefix.size()))
                                                  : Key::from_base64(*text);
  if (!k) {
    return t.bad(n, key,
                 "\"" + *text + "\" is not a key (want 44 characters of base64, or \"" +
                     std::string(prefix) + "\" and 64 hex digits)");
  }
  if (k->is_zero()) return t.bad(n, key, "the all-zero key is not a key");
  return *k;
}

base::Result<MeshPeer> parse_peer(const toml::table& pt, std::size_t index, const Reporter& r,
                                  MeshConfig& c) {
  const std::string number = "[[peers]] #" + std::to_string(index + 1);
  Table t(pt, number, r,
          {"name", "node_key", "disco_key", "allowed_ips", "endpoints", "home_region"});
  MESH_TRY(t.check_unknown());
  MeshPeer p;

  auto name = t.require("name");
  if (!name) return name.error();
  auto name_text = t.string(**name, "name");
  if (!name_text) return name_text.error();
  if (name_text->empty()) return t.bad(**name, "name", "empty");
  p.name = *name_text;
  t.relabel(number + " (\"" + p.name + "\")");

  auto node_key = t.require("node_key");
  if (!node_key) return node_key.error();
  auto nk = parse_key_text<base::NodePublicKey>(t, **node_key, "node_key", derp::kNodeKeyPrefix);
  if (!nk) return nk.error();
  p.node_key = *nk;

  auto disco_key = t.require("disco_key");
  if (!disco_key) return disco_key.error();
  auto dk =
      parse_key_text<base::DiscoPublicKey>(t, **disco_key, "disco_key", derp::kDiscoKeyPrefix);
  if (!dk) return dk.error();
  p.disco_key = *dk;

  auto allowed = t.require("allowed_ips");
  if (!allowed) return allowed.error();
  MESH_TRY(t.strings(**allowed, "allowed_ips",
                     [&](const std::string& text, const toml::node& el) -> base::Status {
                       auto pr = prefix(t, "allowed_ips", text, el, /*host_bits_allowed=*/false);
                       if (!pr) return pr.error();
                       p.allowed_ips.push_back(*pr);
                       return {};
                     }));

  if (const toml::node* n = t.find("endpoints")) {
    MESH_TRY(t.strings(*n, "endpoints",
                       [&](const std::string& text, const toml::node& el) -> base::Status {
                         auto ep = base::Endpoint::parse(text);
                         if (!ep || ep->port == 0) {
                           return t.bad(el, "endpoints",
                                        "\"" + text +
                                            "\" is not an endpoint (want ip:port or "
                                            "[ipv6]:port; names are not resolved)");
                         }
                         p.endpoints.push_back(*ep);
                         return {};
                       }));
  }

  SourcePos home_pos;
  if (const toml::node* n = t.find("home_region")) {
    auto id = t.region(*n, "home_region");
    if (!id) return id.error();
    p.home_region = *id;
    home_pos = pos_of(n->source());
  }
  c.sources.peer_node_key.push_back(pos_of((*node_key)->source()));
  c.sources.peer_home_region.push_back(home_pos);
  return p;
}

}  // namespace

const MeshPeer* MeshConfig::peer(const base::NodePublicKey& node_key) const {
  for (const auto& p : peers) {
    if (p.node_key == node_key) return &p;
  }
  return nullptr;
}

base::Result<MeshConfig> parse_mesh_config(std::string_view text, const std::string& path) {
  const Reporter r(path);
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return r.at(pos_of(e.source()), std::string(e.description()));
  }

  MeshConfig c;
  c.path = path;
  Table top(doc, "the file", r, {"interface", "peers"});
  MESH_TRY(top.check_unknown());

  const toml::node* iface = doc.get("interface");
  if (iface == nullptr) return r.at(SourcePos{1, 1}, "[interface] is missing");
  if (!iface->is_table()) return r.at(*iface, "interface: want a table, got " + type_name(*iface));
  MESH_TRY(parse_interface(*iface->as_table(), path, r, c));

  const toml::node* peers = doc.get("peers");
  if (peers == nullptr) return c;
  const toml::array* list = peers->as_array();
  if (list == nullptr || (!list->empty() && !list->is_array_of_tables())) {
    return r.at(*peers, "peers: want [[peers]] tables, got " + type_name(*peers));
  }
  std::map<std::string, std::size_t> names;
  std::map<base::NodePublicKey, std::size_t> node_keys;
  std::map<base::DiscoPublicKey, std::size_t> disco_keys;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const toml::table& pt = *list->get(i)->as_table();
    auto p = parse_peer(pt, i, r, c);
    if (!p) return p.error();
    const std::string label = "[[peers]] #" + std::to_string(i + 1) + " (\"" + p->name + "\")";
    if (auto [it, fresh] = names.emplace(p->name, i); !fresh) {
      return r.at(*pt.get("name"),
                  label + " name: also the name of [[peers]] #" + std::to_string(it->second + 1));
    }
    if (auto [it, fresh] = node_keys.emplace(p->node_key, i); !fresh) {
      return r.at(*pt.get("node_key"), label + " node_key: also the node key of peer \"" +
                                           c.peers[it->second].name + "\"");
    }
    if (auto [it, fresh] = disco_keys.emplace(p->disco_key, i); !fresh) {
      return r.at(*pt.get("disco_key"), label + " disco_key: also the disco key of peer \"" +
                                            c.peers[it->second].name + "\"");
    }
    c.peers.push_back(std::move(*p));
  }
  return c;
}

base::Status check_mesh_config(const MeshConfig& c, const base::NodePublicKey& own,
                               const derp::DerpMap& derp_map) {
  const Reporter r(c.path);
  if (derp_map.region(c.interface.home_region) == nullptr) {
    return r.at(c.sources.home_region, "[interface] home_region: region " +
                                           std::to_string(c.interface.home_region) +
                                           " is not in the DERP map " + c.interface.derp_map_file);
  }
  for (std::size_t i = 0; i < c.peers.size(); ++i) {
    const MeshPeer& p = c.peers[i];
    const std::string label = "[[peers]] #" + std::to_string(i + 1) + " (\"" + p.name + "\")";
    if (p.node_key == own) {
      return r.at(c.sources.peer_node_key[i], label + " node_key: is our own node key (from " +
                                                  c.interface.private_key_file + ")");
    }
    if (p.home_region && derp_map.region(*p.home_region) == nullptr) {
      return r.at(c.sources.peer_home_region[i],
                  label + " home_region: region " + std::to_string(*p.home_region) +
                      " is not in the DERP map " + c.interface.derp_map_file);
    }
  }
  return {};
}

base::Result<LoadedMeshConfig> load_mesh_config(const std::string& path, MissingKeys missing) {
  std::ifstream in(path);
  if (!in) return base::make_error(std::errc::no_such_file_or_directory, path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  auto config = parse_mesh_config(text.str(), path);
  if (!config) return config.error();
  const MeshInterface& i = config->interface;

  if (missing == MissingKeys::refuse) {
    for (const std::string* f : {&i.private_key_file, &i.disco_key_file}) {
      if (::access(f->c_str(), F_OK) != 0) {
        return base::make_error(std::errc::no_such_file_or_directory,
                                *f + ": key file is missing (not creating a new key on reload)");
      }
    }
  }
  auto node_key = load_or_create_node_key(i.private_key_file);
  if (!node_key) return node_key.error();
  auto disco_key = load_or_create_disco_key(i.disco_key_file);
  if (!disco_key) return disco_key.error();

  std::ifstream map_in(i.derp_map_file);
  if (!map_in) {
    return base::make_error(std::errc::no_such_file_or_directory,
                            i.derp_map_file + ": cannot open the DERP map");
  }
  std::stringstream map_text;
  map_text << map_in.rdbuf();
  auto derp_map = derp::parse_derp_map(map_text.str());
  if (!derp_map) {
    return base::make_error(std::errc::invalid_argument,
                            i.derp_map_file + ": " + derp_map.error().message);
  }
  MESH_TRY(check_mesh_config(*config, node_key->public_key(), *derp_map));
  return LoadedMeshConfig{std::move(*config), *node_key, *disco_key, std::move(*derp_map)};
}

MeshConfigDiff diff_mesh_config(const MeshConfig& before, const MeshConfig& after) {
  MeshConfigDiff d;
  const MeshInterface& a = before.interface;
  const MeshInterface& b = after.interface;
  if (a.name != b.name) d.interface_changed.emplace_back("name");
  if (a.private_key_file != b.private_key_file)
    d.interface_changed.emplace_back("private_key_file");
  if (a.disco_key_file != b.disco_key_file) d.interface_changed.emplace_back("disco_key_file");
  if (a.listen_port != b.listen_port) d.interface_changed.emplace_back("listen_port");
  if (a.addresses != b.addresses) d.interface_changed.emplace_back("addresses");
  if (a.home_region != b.home_region) d.interface_changed.emplace_back("home_region");
  if (a.derp_map_file != b.derp_map_file) d.interface_changed.emplace_back("derp_map_file");

  std::map<base::NodePublicKey, const MeshPeer*> old_peers;
  std::set<base::NodePublicKey> new_keys;
  for (const MeshPeer& p : before.peers) old_peers.emplace(p.node_key, &p);
  for (const MeshPeer& p : after.peers) {
    new_keys.insert(p.node_key);
    auto it = old_peers.find(p.node_key);
    if (it == old_peers.end()) {
      d.added.push_back(p);
    } else if (!(*it->second == p)) {
      d.changed.push_back(p);
    }
  }
  for (const MeshPeer& p : before.peers) {
    if (!new_keys.contains(p.node_key)) d.removed.push_back(p);
  }
  return d;
}

MeshConfigDiff diff_mesh_config(const LoadedMeshConfig& before, const LoadedMeshConfig& after) {
  MeshConfigDiff d = diff_mesh_config(before.config, after.config);
  if (!(before.node_key == after.node_key)) d.interface_changed.emplace_back("node key");
  if (!(before.disco_key == after.disco_key)) d.interface_changed.emplace_back("disco key");
  if (!(before.derp_map == after.derp_map)) d.interface_changed.emplace_back("DERP map");
  return d;
}

}  // namespace meshtund
