// SPDX-License-Identifier: MIT
// Two passes over the text: a Boost.JSON basic_parser that only checks syntax and repeated
// keys (Boost's value parser keeps the last of repeated keys without saying so, and its
// errors carry no position), then json::parse and a decoder that walks the value.
#include "derp/derp_map.hpp"

#include <cmath>
#include <set>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "base/bytes.hpp"
#include "derp/go_json.hpp"

namespace derp {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxDepth = 32;

base::Error error_at(const std::string& where, std::string_view field, const std::string& what) {
  std::string msg = where;
  if (!field.empty()) msg += ": " + std::string(field);
  return base::make_error(std::errc::invalid_argument, msg + ": " + what);
}

// ---- pass 1: syntax and repeated keys ----

// Tracks the keys seen in every open object. Keys arrive in parts when a key spans
// write_some calls; we hand the whole text in one call, but the parts are still joined.
class KeyCheck {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  const std::string& repeated() const { return repeated_; }
  const std::string& repeated_in() const { return repeated_in_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) {
    frames_.push_back(Frame{false, {}, {}});
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_object_begin(json::error_code&) {
    frames_.push_back(Frame{true, {}, {}});
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    part_.append(s.data(), s.size());
    Frame& f = frames_.back();
    if (!f.keys.insert(part_).second) {
      repeated_ = part_;
      repeated_in_ = path();
      ec = json::error::syntax;  // any error stops the parser; the caller reports ours
      return false;
    }
    f.key = std::move(part_);
    part_.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;  // the member being read
  };

  // "Regions.900.Nodes[]": where the repeated key sits, for the message.
  std::string path() const {
    std::string p;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      if (frames_[i].object) {
        if (!p.empty()) p += '.';
        p += frames_[i].key;
      } else {
        p += "[]";
      }
    }
    return p.empty() ? "the top-level object" : p;
  }

  std::vector<Frame> frames_;
  std::string part_;
  std::string repeated_;
  std::string repeated_in_;
};

std::string line_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + " column " + std::to_string(col);
}

base::Status check_syntax(std::string_view text) {
  json::parse_options opt;
  opt.max_depth = kMaxDepth;
  json::basic_parser<KeyCheck> p(opt);
  json::error_code ec;
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!p.handler().repeated().empty()) {
    return base::make_error(std::errc::invalid_argument,
                            line_column(text, n) + ": key \"" + p.handler().repeated() +
                                "\" appears twice in " + p.handler().repeated_in());
  }
  if (ec) {
    return base::make_error(std::errc::invalid_argument,
                            line_column(text, n) + ": JSON syntax: " + ec.message());
  }
  return {};
}

// ---- pass 2: decoding ----

// One JSON object's members, decoded as Go would into a struct. `where` names the object
// for messages ("region 900 node \"900a\"").
class Fields {
 public:
  Fields(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}

  const std::string& where() const { return where_; }
  base::Error error(std::string_view field, const std::string& what) const {
    return error_at(where_, field, what);
  }

  // The member matching `field` in any case; with several, the last (Go's rule).
  const json::value* find(std::string_view field) const {
    const json::value* found = nullptr;
    for (const auto& m : o_) {
      if (go_key_is(std::string_view(m.key()), field)) found = &m.value();
    }
    return found != nullptr && !found->is_null() ? found : nullptr;
  }

  base::Status get(std::string_view field, std::string& out) const {
    const json::value* v = find(field);
    if (v == nullptr) return {};
    if (!v->is_string()) return error(field, "want a string, got " + kind(*v));
    out = std::string(v->get_string());
    return {};
  }
  base::Status get(std::string_view field, bool& out) const {
    const json::value* v = find(field);
    if (v == nullptr) return {};
    if (!v->is_bool()) return error(field, "want true or false, got " + kind(*v));
    out = v->get_bool();
    return {};
  }
  // Go's int: an integer literal that fits 64 bits.
  base::Status get(std::string_view field, std::int64_t& out) const {
    const json::value* v = find(field);
    if (v == nullptr) return {};
    if (!v->is_int64()) return error(field, "want an integer, got " + kind(*v));
    out = v->get_int64();
    return {};
  }
  base::Status get(std::string_view field, std::optional<double>& out) const {
    const json::value* v = find(field);
    if (v == nullptr) return {};
    auto d = number(*v);
    if (!d) return error(field, "want a number, got " + kind(*v));
    out = *d;
    return {};
  }
  base::Status get_object(std::string_view field, const json::object*& out) const {
    const json::value* v = find(field);
    if (v == nullptr) return {};
    if (!v->is_object()) return error(field, "want an object, got " + kind(*v));
    out = &v->get_object();
    return {};
  }

  static std::optional<double> number(const json::value& v) {
    // Boost reads 1e999 as infinity where Go's ParseFloat reports a range error.
    if (v.is_double()) {
      if (!std::isfinite(v.get_double())) return std::nullopt;
      return v.get_double();
    }
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    return std::nullopt;
  }

  static std::string kind(const json::value& v) {
    switch (v.kind()) {
      case json::kind::string:
        return "a string";
      case json::kind::bool_:
        return "a boolean";
      case json::kind::int64:
      case json::kind::uint64:
        return v.is_int64() ? "an integer" : "an integer out of range";
      case json::kind::double_:
        return std::isfinite(v.get_double()) ? "a number with a fraction or exponent"
                                             : "a number out of range";
      case json::kind::object:
        return "an object";
      case json::kind::array:
        return "an array";
      case json::kind::null:
        return "null";
    }
    return "something else";
  }

 private:
  const json::object& o_;
  std::string where_;
};

#define DERP_MAP_TRY(expr)         \
  do {                             \
    if (auto st_ = (expr); !st_) { \
      return st_.error();          \
    }                              \
  } while (false)

// A map key naming a region: decimal digits only, 1..2^53-1. Go's ParseInt would also take
// a sign; Tailscale never writes one.
std::optional<RegionId> parse_region_key(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  RegionId id = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  if (id < 1 || id > kMaxRegionId) return std::nullopt;
  return id;
}

base::Status parse_node_addr(const Fields& f, std::string_view field, base::IpAddr::Family family,
                             NodeAddr& out) {
  std::string text;
  DERP_MAP_TRY(f.get(field, text));
  if (text.empty()) {
    out = NodeAddr{};
    return {};
  }
  if (text == kDisabledAddr) {
    out = NodeAddr{NodeAddr::Kind::disabled, {}};
    return {};
  }
  auto addr = base::IpAddr::parse(text);
  if (!addr || addr->family() != family) {
    const char* fam = family == base::IpAddr::Family::v4 ? "IPv4" : "IPv6";
    return f.error(field, "\"" + text + "\" is not an " + fam +
                              " address (want an address, \"none\" or empty)");
  }
  out = NodeAddr{NodeAddr::Kind::fixed, *addr};
  return {};
}

base::Result<DerpNode> parse_node(const json::value& v, RegionId region, std::size_t index) {
  const std::string at = "region " + std::to_string(region) + " node " + std::to_string(index);
  if (!v.is_object()) return error_at(at, "", "want an object, got " + Fields::kind(v));
  DerpNode n;
  {
    const Fields unnamed(v.get_object(), at);
    DERP_MAP_TRY(unnamed.get("Name", n.name));
    if (n.name.empty()) return unnamed.error("Name", "missing (every node needs a unique name)");
  }
  const Fields f(v.get_object(), "region " + std::to_string(region) + " node \"" + n.name + "\"");

  std::int64_t rid = 0;
  DERP_MAP_TRY(f.get("RegionID", rid));
  if (rid != region) {
    return f.error("RegionID",
                   std::to_string(rid) + " is not the region's ID " + std::to_string(region));
  }
  n.region_id = rid;

  DERP_MAP_TRY(f.get("HostName", n.host_name));
  if (n.host_name.empty()) return f.error("HostName", "missing (it is required)");

  DERP_MAP_TRY(f.get("CertName", n.cert_name));
  if (n.cert_name.starts_with(kCertPinPrefix)) {
    const std::string_view hex = std::string_view(n.cert_name).substr(kCertPinPrefix.size());
    CertPin pin{};
    if (hex.size() != 2 * pin.size() || !base::from_hex(hex, pin)) {
      return f.error("CertName", "\"" + n.cert_name + "\": want \"sha256-raw:\" and 64 hex digits");
    }
    n.pin = pin;
  }

  DERP_MAP_TRY(parse_node_addr(f, "IPv4", base::IpAddr::Family::v4, n.ipv4));
  DERP_MAP_TRY(parse_node_addr(f, "IPv6", base::IpAddr::Family::v6, n.ipv6));

  std::int64_t stun_port = 0;
  DERP_MAP_TRY(f.get("STUNPort", stun_port));
  if (stun_port < -1 || stun_port > 65535) {
    return f.error("STUNPort",
                   std::to_string(stun_port) + " is not a port (0 means 3478, -1 disables STUN)");
  }
  n.stun_port = static_cast<int>(stun_port);

  std::int64_t derp_port = 0;
  DERP_MAP_TRY(f.get("DERPPort", derp_port));
  if (derp_port < 0 || derp_port > 65535) {
    return f.error("DERPPort", std::to_string(derp_port) + " is not a port (0 means 443)");
  }
  n.derp_port = static_cast<int>(derp_port);

  DERP_MAP_TRY(f.get("STUNOnly", n.stun_only));
  DERP_MAP_TRY(f.get("InsecureForTests", n.insecure_for_tests));
  DERP_MAP_TRY(f.get("CanPort80", n.can_port_80));

  std::string test_ip;
  DERP_MAP_TRY(f.get("STUNTestIP", test_ip));
  if (!test_ip.empty()) {
    auto ip = base::IpAddr::parse(test_ip);
    if (!ip) return f.error("STUNTestIP", "\"" + test_ip + "\" is not an IP address");
    n.stun_test_ip = *ip;
  }
  return n;
}

base::Result<DerpRegion> parse_region(const json::value& v, RegionId key) {
  const std::string at = "region " + std::to_string(key);
  if (!v.is_object()) return error_at(at, "", "want an object, got " + Fields::kind(v));
  const Fields f(v.get_object(), at);
  DerpRegion r;
  std::int64_t rid = 0;
  DERP_MAP_TRY(f.get("RegionID", rid));
  if (rid != key) {
    return f.error("RegionID",
                   std::to_string(rid) + " differs from its key \"" + std::to_string(key) + "\"");
  }
  r.id = rid;
  DERP_MAP_TRY(f.get("RegionCode", r.code));
  DERP_MAP_TRY(f.get("RegionName", r.name));
  DERP_MAP_TRY(f.get("Latitude", r.latitude));
  DERP_MAP_TRY(f.get("Longitude", r.longitude));
  DERP_MAP_TRY(f.get("Avoid", r.avoid));
  DERP_MAP_TRY(f.get("NoMeasureNoHome", r.no_measure_no_home));

  const json::value* nodes = f.find("Nodes");
  if (nodes != nullptr && !nodes->is_array()) {
    return f.error("Nodes", "want an array, got " + Fields::kind(*nodes));
  }
  if (nodes == nullptr || nodes->get_array().empty()) {
    return f.error("Nodes", "the region has no nodes");
  }
  std::size_t index = 0;
  for (const auto& nv : nodes->get_array()) {
    auto n = parse_node(nv, key, index++);
    if (!n) return n.error();
    r.nodes.push_back(std::move(*n));
  }
  return r;
}

}  // namespace

std::optional<std::uint16_t> DerpNode::effective_stun_port() const noexcept {
  if (stun_port < 0) return std::nullopt;
  return stun_port == 0 ? kDefaultStunPort : static_cast<std::uint16_t>(stun_port);
}

std::uint16_t DerpNode::effective_derp_port() const noexcept {
  return derp_port == 0 ? kDefaultDerpPort : static_cast<std::uint16_t>(derp_port);
}

std::optional<base::Endpoint> DerpNode::stun_endpoint(base::IpAddr::Family family) const {
  const auto port = effective_stun_port();
  if (!port) return std::nullopt;
  if (stun_test_ip) {
    if (stun_test_ip->family() != family) return std::nullopt;
    return base::Endpoint{*stun_test_ip, *port};
  }
  const NodeAddr& a = family == base::IpAddr::Family::v4 ? ipv4 : ipv6;
  if (a.kind != NodeAddr::Kind::fixed) return std::nullopt;
  return base::Endpoint{a.addr, *port};
}

std::vector<base::Endpoint> DerpNode::stun_endpoints() const {
  std::vector<base::Endpoint> out;
  for (auto fam : {base::IpAddr::Family::v4, base::IpAddr::Family::v6}) {
    if (auto ep = stun_endpoint(fam)) out.push_back(*ep);
  }
  return out;
}

bool DerpNode::stun_needs_dns(base::IpAddr::Family family) const noexcept {
  if (!effective_stun_port() || stun_test_ip) return false;
  const NodeAddr& a = family == base::IpAddr::Family::v4 ? ipv4 : ipv6;
  return a.kind == NodeAddr::Kind::dns;
}

bool DerpNode::dials(base::IpAddr::Family family) const noexcept {
  const NodeAddr& a = family == base::IpAddr::Family::v4 ? ipv4 : ipv6;
  return a.kind != NodeAddr::Kind::disabled;
}

const std::string& DerpNode::cert_dns_name() const noexcept {
  return cert_name.empty() || pin ? host_name : cert_name;
}

std::string DerpNode::derp_url() const {
  std::string host = host_name;
  const bool v6_literal = host.find(':') != std::string::npos;
  if (derp_port != 0 && derp_port != kDefaultDerpPort) {
    host = (v6_literal ? "[" + host + "]" : host) + ":" + std::to_string(derp_port);
  } else if (v6_literal) {
    host = "[" + host + "]";
  }
  return "https://" + host + "/derp";
}

std::vector<const DerpNode*> DerpRegion::derp_nodes() const {
  std::vector<const DerpNode*> out;
  for (const auto& n : nodes) {
    if (!n.stun_only) out.push_back(&n);
  }
  return out;
}

std::vector<const DerpNode*> DerpRegion::stun_nodes() const {
  std::vector<const DerpNode*> out;
  for (const auto& n : nodes) {
    if (n.effective_stun_port()) out.push_back(&n);
  }
  return out;
}

const DerpRegion* DerpMap::region(RegionId id) const {
  auto it = regions.find(id);
  return it == regions.end() ? nullptr : &it->second;
}

const DerpNode* DerpMap::node(std::string_view name) const {
  for (const auto& [id, r] : regions) {
    for (const auto& n : r.nodes) {
      if (n.name == name) return &n;
    }
  }
  return nullptr;
}

double DerpMap::score(RegionId id) const {
  if (!region_score) return 1.0;
  auto it = region_score->find(id);
  if (it == region_score->end() || !std::isfinite(it->second) || it->second <= 0) return 1.0;
  return it->second;
}

namespace {

std::string node_addr_text(const NodeAddr& a) {
  switch (a.kind) {
    case NodeAddr::Kind::dns:
      return {};
    case NodeAddr::Kind::disabled:
      return std::string(kDisabledAddr);
    case NodeAddr::Kind::fixed:
      return a.addr.to_string();
  }
  return {};
}

json::object node_json(const DerpNode& n) {
  json::object o;
  o["Name"] = n.name;
  o["RegionID"] = n.region_id;
  o["HostName"] = n.host_name;
  if (!n.cert_name.empty()) o["CertName"] = n.cert_name;
  if (auto t = node_addr_text(n.ipv4); !t.empty()) o["IPv4"] = t;
  if (auto t = node_addr_text(n.ipv6); !t.empty()) o["IPv6"] = t;
  if (n.stun_port != 0) o["STUNPort"] = n.stun_port;
  if (n.stun_only) o["STUNOnly"] = true;
  if (n.derp_port != 0) o["DERPPort"] = n.derp_port;
  if (n.insecure_for_tests) o["InsecureForTests"] = true;
  if (n.stun_test_ip) o["STUNTestIP"] = n.stun_test_ip->to_string();
  if (n.can_port_80) o["CanPort80"] = true;
  return o;
}

}  // namespace

std::string derp_map_json(const DerpMap& m) {
  json::object top;
  if (m.region_score) {
    json::object scores;
    for (const auto& [id, score] : *m.region_score) scores[std::to_string(id)] = score;
    json::object home;
    home["RegionScore"] = std::move(scores);
    top["HomeParams"] = std::move(home);
  }
  json::object regions;
  for (const auto& [id, r] : m.regions) {
    json::object o;
    o["RegionID"] = r.id;
    o["RegionCode"] = r.code;
    o["RegionName"] = r.name;
    if (r.latitude) o["Latitude"] = *r.latitude;
    if (r.longitude) o["Longitude"] = *r.longitude;
    if (r.avoid) o["Avoid"] = true;
    if (r.no_measure_no_home) o["NoMeasureNoHome"] = true;
    json::array nodes;
    for (const auto& n : r.nodes) nodes.emplace_back(node_json(n));
    o["Nodes"] = std::move(nodes);
    regions[std::to_string(id)] = std::move(o);
  }
  top["Regions"] = std::move(regions);
  if (m.omit_default_regions) top["omitDefaultRegions"] = true;
  return json::serialize(top);
}

base::Result<DerpMap> parse_derp_map(std::string_view text) {
  DERP_MAP_TRY(check_syntax(text));
  json::parse_options opt;
  opt.max_depth = kMaxDepth;
  json::error_code ec;
  const json::value doc = json::parse(json::string_view(text.data(), text.size()), ec, {}, opt);
  if (ec) return base::make_error(std::errc::invalid_argument, "JSON: " + ec.message());
  if (!doc.is_object()) {
    return error_at("DERP map", "", "want a JSON object, got " + Fields::kind(doc));
  }
  const Fields top(doc.get_object(), "DERP map");
  DerpMap m;
  DERP_MAP_TRY(top.get("omitDefaultRegions", m.omit_default_regions));

  const json::object* home = nullptr;
  DERP_MAP_TRY(top.get_object("HomeParams", home));
  if (home != nullptr) {
    const Fields hp(*home, "DERP map HomeParams");
    const json::object* scores = nullptr;
    DERP_MAP_TRY(hp.get_object("RegionScore", scores));
    if (scores != nullptr) {
      std::map<RegionId, double> out;
      for (const auto& s : *scores) {
        const std::string key(s.key());
        auto id = parse_region_key(key);
        if (!id) return hp.error("RegionScore", "\"" + key + "\" is not a region ID");
        auto d = Fields::number(s.value());
        if (!d) {
          return hp.error("RegionScore",
                          "region " + key + ": want a number, got " + Fields::kind(s.value()));
        }
        if (!out.emplace(*id, *d).second) {
          return hp.error("RegionScore", "region " + key + " is given twice");
        }
      }
      m.region_score = std::move(out);
    }
  }

  const json::object* regions = nullptr;
  DERP_MAP_TRY(top.get_object("Regions", regions));
  if (regions != nullptr) {
    std::set<std::string> names;
    for (const auto& rv : *regions) {
      const std::string key(rv.key());
      auto id = parse_region_key(key);
      if (!id) {
        return error_at("DERP map", "Regions",
                        "key \"" + key + "\" is not a region ID (decimal, 1 to 2^53-1)");
      }
      if (m.regions.contains(*id)) {
        return error_at("DERP map", "Regions", "region " + std::to_string(*id) + " is given twice");
      }
      auto r = parse_region(rv.value(), *id);
      if (!r) return r.error();
      for (const auto& n : r->nodes) {
        if (!names.insert(n.name).second) {
          return error_at("region " + std::to_string(*id) + " node \"" + n.name + "\"", "Name",
                          "another node has the same name");
        }
      }
      m.regions.emplace(*id, std::move(*r));
    }
  }
  return m;
}

}  // namespace derp
