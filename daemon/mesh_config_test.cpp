// SPDX-License-Identifier: MIT
#include "daemon/mesh_config.hpp"

#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "daemon/testing/uapi_test_support.hpp"
#include "derp/keys.hpp"

namespace {

using meshtund::testing::TempDir;

base::NodePublicKey node_key(int fill) {
  std::array<std::byte, 32> b{};
  b.fill(static_cast<std::byte>(fill));
  return base::NodePublicKey(b);
}
base::DiscoPublicKey disco_key(int fill) {
  std::array<std::byte, 32> b{};
  b.fill(static_cast<std::byte>(fill));
  return base::DiscoPublicKey(b);
}

// $NB / $DB: peer b's node and disco keys in base64; $NC / $DC: peer c's, in Tailscale's
// nodekey:/discokey: text; $NOWN: the node key check_mesh_config is told is ours.
std::string expand(std::string s) {
  const std::vector<std::pair<std::string, std::string>> subs = {
      {"$NB", node_key(0x0b).to_base64()},          {"$DB", disco_key(0xdb).to_base64()},
      {"$NC", derp::node_key_text(node_key(0x0c))}, {"$DC", derp::disco_key_text(disco_key(0xdc))},
      {"$NOWN", node_key(0x0a).to_base64()},
  };
  for (const auto& [from, to] : subs) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }
  return s;
}

const std::string kFull = R"(# mesh node a
[interface]
name = "mesh0"
private_key_file = "/var/lib/meshtun/node.key"
disco_key_file = "keys/disco.key"
listen_port = 41641
addresses = ["100.64.0.1/32", "fd7a:115c:a1e0::1/128"]
home_region = 1
derp_map_file = "/etc/meshtun/derpmap.json"

[[peers]]
name = "b"
node_key = "$NB"
disco_key = "$DB"
allowed_ips = ["100.64.0.2/32", "10.1.0.0/16"]
endpoints = ["198.51.100.7:41641", "[2001:db8::7]:41641"]
home_region = 2

[[peers]]
name = "c"
node_key = "$NC"
disco_key = "$DC"
allowed_ips = ["100.64.0.3/32"]
)";

derp::DerpMap two_regions() {
  auto m = derp::parse_derp_map(
      R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","RegionID":1,"HostName":"a"}]},)"
      R"("2":{"RegionID":2,"Nodes":[{"Name":"2a","RegionID":2,"HostName":"b"}]}}})");
  REQUIRE(m.ok());
  return *m;
}

TEST_CASE("a full mesh configuration file") {
  auto c = meshtund::parse_mesh_config(expand(kFull), "/etc/meshtun/mesh.toml");
  REQUIRE_MESSAGE(c.ok(), c.error().to_string());
  const meshtund::MeshInterface& i = c->interface;
  CHECK(i.name == "mesh0");
  CHECK(i.private_key_file == "/var/lib/meshtun/node.key");
  CHECK(i.disco_key_file == "/etc/meshtun/keys/disco.key");  // relative to the file
  CHECK(i.listen_port == 41641);
  CHECK(i.addresses == std::vector{*base::IpPrefix::parse("100.64.0.1/32"),
                                   *base::IpPrefix::parse("fd7a:115c:a1e0::1/128")});
  CHECK(i.home_region == 1);
  CHECK(i.derp_map_file == "/etc/meshtun/derpmap.json");
  CHECK(c->sources.home_region.line == 8);
  CHECK(c->sources.home_region.column == 15);

  REQUIRE(c->peers.size() == 2);
  const meshtund::MeshPeer& b = c->peers[0];
  CHECK(b.name == "b");
  CHECK(b.node_key == node_key(0x0b));
  CHECK(b.disco_key == disco_key(0xdb));
  CHECK(b.allowed_ips.size() == 2);
  CHECK(b.allowed_ips[1].to_string() == "10.1.0.0/16");
  REQUIRE(b.endpoints.size() == 2);
  CHECK(b.endpoints[1].to_string() == "[2001:db8::7]:41641");
  CHECK(b.home_region == 2);
  const meshtund::MeshPeer& cc = c->peers[1];
  CHECK(cc.node_key == node_key(0x0c));  // nodekey:<hex>
  CHECK(cc.disco_key == disco_key(0xdc));
  CHECK(cc.endpoints.empty());
  CHECK_FALSE(cc.home_region.has_value());
  CHECK(c->peer(node_key(0x0c)) == &cc);
  CHECK(c->peer(node_key(0x0d)) == nullptr);

  CHECK(meshtund::check_mesh_config(*c, node_key(0x0a), two_regions()).ok());
}

TEST_CASE("optional keys take their defaults; a file with no peers is valid") {
  auto c = meshtund::parse_mesh_config(R"([interface]
name = "m"
private_key_file = "n.key"
disco_key_file = "d.key"
home_region = 900
derp_map_file = "map.json"
)",
                                       "mesh.toml");
  REQUIRE_MESSAGE(c.ok(), c.error().to_string());
  CHECK(c->interface.listen_port == 0);
  CHECK(c->interface.addresses.empty());
  CHECK(c->interface.private_key_file == "n.key");  // no directory in the file's name
  CHECK(c->peers.empty());
}

struct Row {
  int n;
  std::string text;
  int line;
  int column;
  std::string want;
};

const std::string kIface = R"([interface]
name = "mesh0"
private_key_file = "node.key"
disco_key_file = "disco.key"
home_region = 1
derp_map_file = "derpmap.json"
)";  // lines 1-6

const std::string kPeerB = R"([[peers]]
name = "b"
node_key = "$NB"
disco_key = "$DB"
allowed_ips = ["100.64.0.2/32"]
)";  // five lines

TEST_CASE("every configuration error names the file, line and column") {
  const std::vector<Row> rows = {
      // syntax
      {1, kIface + "listen_port = \n", 7, 15, "mesh.toml:7:15: "},
      {2, "[interface]\nname = \"a\"\nname = \"b\"\n", 3, 8,
       "cannot redefine existing string 'name'"},
      {3, kIface + "[interface]\n", 7, 1, "interface"},
      // the shape of the file
      {4, "", 1, 1, "[interface] is missing"},
      {5, "interface = 3\n", 1, 13, "interface: want a table, got an integer"},
      {6, kIface + "[peer]\nname = \"b\"\n", 7, 2, "the file: unknown key \"peer\""},
      {7, "peers = 3\n" + kIface, 1, 9, "peers: want [[peers]] tables, got an integer"},
      {8, kIface + "mtu = 1280\n", 7, 1, "[interface]: unknown key \"mtu\""},
      // [interface]
      {9, "[interface]\nprivate_key_file = \"k\"\n", 1, 1, "[interface]: name is missing"},
      {10, "[interface]\nname = 7\n", 2, 8, "[interface] name: want a string, got an integer"},
      {11, "[interface]\nname = \"a-very-long-name0\"\n", 2, 8, "is not an interface name"},
      {12, "[interface]\nname = \"a/b\"\n", 2, 8, "is not an interface name"},
      {13, "[interface]\nname = \"m\"\ndisco_key_file = \"d\"\n", 1, 1,
       "private_key_file is missing"},
      {14, "[interface]\nname = \"m\"\nprivate_key_file = \"\"\n", 3, 20,
       "private_key_file: empty file name"},
      {15, "[interface]\nname = \"m\"\nprivate_key_file = \"k\"\ndisco_key_file = \"k\"\n", 4, 18,
       "disco_key_file: is the same file as private_key_file"},
      {16, kIface + "listen_port = 65536\n", 7, 15, "listen_port: 65536 is not a port"},
      {17, kIface + "listen_port = -1\n", 7, 15, "listen_port: -1 is not a port"},
      {18, kIface + "listen_port = \"41641\"\n", 7, 15,
       "listen_port: want an integer, got a string"},
      {19, kIface + "listen_port = 4.5\n", 7, 15, "want an integer, got a float"},
      {20, kIface + "addresses = \"100.64.0.1/32\"\n", 7, 13,
       "addresses: want an array of strings, got a string"},
      {21, kIface + "addresses = [\"100.64.0.1/32\", 5]\n", 7, 31,
       "addresses: want a string, got an integer"},
      {22, kIface + "addresses = [\"100.64.0.1/33\"]\n", 7, 14,
       "addresses: \"100.64.0.1/33\" is not an IP prefix"},
      {23, kIface + "addresses = [\"mesh0.local\"]\n", 7, 14, "is not an IP prefix"},
      {24, "[interface]\nname = \"m\"\nprivate_key_file = \"k\"\ndisco_key_file = \"d\"\n", 1, 1,
       "home_region is missing"},
      {25,
       "[interface]\nname = \"m\"\nprivate_key_file = \"k\"\ndisco_key_file = \"d\"\n"
       "home_region = 0\n",
       5, 15, "home_region: 0 is not a DERP region ID"},
      {26,
       "[interface]\nname = \"m\"\nprivate_key_file = \"k\"\ndisco_key_file = \"d\"\n"
       "home_region = \"1\"\n",
       5, 15, "home_region: want an integer, got a string"},
      {27,
       "[interface]\nname = \"m\"\nprivate_key_file = \"k\"\ndisco_key_file = \"d\"\n"
       "home_region = 1\n",
       1, 1, "derp_map_file is missing"},
      // [[peers]]
      {28, kIface + "[[peers]]\nnode_key = \"$NB\"\n", 7, 1, "[[peers]] #1: name is missing"},
      {29, kIface + "[[peers]]\nname = \"\"\n", 8, 8, "[[peers]] #1 name: empty"},
      {30, kIface + "[[peers]]\nname = \"b\"\n", 7, 1, "[[peers]] #1 (\"b\"): node_key is missing"},
      {31, kIface + "[[peers]]\nname = \"b\"\nnode_key = \"xyz\"\n", 9, 12,
       "[[peers]] #1 (\"b\") node_key: \"xyz\" is not a key (want 44 characters of base64, or "
       "\"nodekey:\" and 64 hex digits)"},
      {32, kIface + "[[peers]]\nname = \"b\"\nnode_key = \"nodekey:abcd\"\n", 9, 12,
       "node_key: \"nodekey:abcd\" is not a key"},
      {33, kIface + "[[peers]]\nname = \"b\"\nnode_key = \"$DC\"\n", 9, 12,
       "is not a key"},  // a disco key where a node key belongs
      {34,
       kIface + "[[peers]]\nname = \"b\"\nnode_key = "
                "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n",
       9, 12, "node_key: the all-zero key is not a key"},
      {35, kIface + "[[peers]]\nname = \"b\"\nnode_key = \"$NB\"\n", 7, 1, "disco_key is missing"},
      {36, kIface + "[[peers]]\nname = \"b\"\nnode_key = \"$NB\"\ndisco_key = \"$NC\"\n", 10, 13,
       "disco_key: \"nodekey:"},
      {37, kIface + "[[peers]]\nname = \"b\"\nnode_key = \"$NB\"\ndisco_key = \"$DB\"\n", 7, 1,
       "allowed_ips is missing"},
      {38, kIface + kPeerB + "endpoints = [\"peer-b.example:41641\"]\n", 12, 14,
       "endpoints: \"peer-b.example:41641\" is not an endpoint (want ip:port or [ipv6]:port; "
       "names are not resolved)"},
      {39, kIface + kPeerB + "endpoints = [\"198.51.100.7\"]\n", 12, 14, "is not an endpoint"},
      {40, kIface + kPeerB + "endpoints = [\"198.51.100.7:0\"]\n", 12, 14, "is not an endpoint"},
      {41, kIface + kPeerB + "endpoints = [\"2001:db8::7:41641\"]\n", 12, 14, "is not an endpoint"},
      {42,
       kIface + "[[peers]]\nname = \"b\"\nnode_key = \"$NB\"\ndisco_key = \"$DB\"\n"
                "allowed_ips = [\"100.64.0.2/24\"]\n",
       11, 16, "\"100.64.0.2/24\" has bits set beyond /24 (did you mean 100.64.0.0/24?)"},
      {43,
       kIface + "[[peers]]\nname = \"b\"\nnode_key = \"$NB\"\ndisco_key = \"$DB\"\n"
                "allowed_ips = [\"100.64.0.2/\"]\n",
       11, 16, "allowed_ips: \"100.64.0.2/\" is not an IP prefix"},
      {44, kIface + kPeerB + "home_region = -3\n", 12, 15, "home_region: -3 is not a DERP region"},
      {45, kIface + kPeerB + "endpoint = [\"198.51.100.7:41641\"]\n", 12, 1,
       "[[peers]] #1: unknown key \"endpoint\""},
      {46, kIface + kPeerB + "\n" + kPeerB, 14, 8,
       "[[peers]] #2 (\"b\") name: also the name of "
       "[[peers]] #1"},
      {47,
       kIface + kPeerB +
           "\n[[peers]]\nname = \"c\"\nnode_key = \"$NB\"\ndisco_key = \"$DC\"\n"
           "allowed_ips = []\n",
       15, 12, "[[peers]] #2 (\"c\") node_key: also the node key of peer \"b\""},
      {48,
       kIface + kPeerB +
           "\n[[peers]]\nname = \"c\"\nnode_key = \"$NC\"\ndisco_key = \"$DB\"\n"
           "allowed_ips = []\n",
       16, 13, "[[peers]] #2 (\"c\") disco_key: also the disco key of peer \"b\""},
      {49, kIface + "[peers]\nname = \"b\"\n", 7, 1, "peers: want [[peers]] tables, got a table"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.n);
    auto c = meshtund::parse_mesh_config(expand(row.text), "mesh.toml");
    REQUIRE_FALSE(c.ok());
    const std::string& msg = c.error().message;
    const std::string where =
        "mesh.toml:" + std::to_string(row.line) + ":" + std::to_string(row.column) + ": ";
    CHECK_MESSAGE(msg.starts_with(where), msg);
    CHECK_MESSAGE(msg.find(row.want) != std::string::npos, msg);
  }
}

TEST_CASE("checks against our node key and the DERP map name the line too") {
  const derp::DerpMap map = two_regions();
  struct CheckRow {
    int n;
    std::string text;
    std::string want;
  };
  const std::vector<CheckRow> rows = {
      {1, std::string(kIface).replace(kIface.find("home_region = 1"), 15, "home_region = 3"),
       "mesh.toml:5:15: [interface] home_region: region 3 is not in the DERP map derpmap.json"},
      {2, kIface + kPeerB + "home_region = 900\n",
       "mesh.toml:12:15: [[peers]] #1 (\"b\") home_region: region 900 is not in the DERP map "
       "derpmap.json"},
      {3,
       kIface + kPeerB +
           "\n[[peers]]\nname = \"self\"\nnode_key = \"$NOWN\"\ndisco_key = \"$DC\"\n"
           "allowed_ips = []\n",
       "mesh.toml:15:12: [[peers]] #2 (\"self\") node_key: is our own node key (from node.key)"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.n);
    auto c = meshtund::parse_mesh_config(expand(row.text), "mesh.toml");
    REQUIRE_MESSAGE(c.ok(), c.error().to_string());
    auto st = meshtund::check_mesh_config(*c, node_key(0x0a), map);
    REQUIRE_FALSE(st.ok());
    CHECK_MESSAGE(st.error().message == row.want, st.error().message);
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST_CASE("load_mesh_config reads the file, creates the keys and reads the DERP map") {
  TempDir d;
  const std::string conf = d.path() + "/mesh.toml";
  write_file(d.path() + "/derpmap.json",
             R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","RegionID":1,)"
             R"("HostName":"derp.example"}]}}})");
  write_file(conf,
             "[interface]\nname = \"mesh0\"\nprivate_key_file = \"state/node.key\"\n"
             "disco_key_file = \"state/disco.key\"\nhome_region = 1\n"
             "derp_map_file = \"derpmap.json\"\n");

  // On reload, vanished keys are an error rather than a new identity.
  auto refused = meshtund::load_mesh_config(conf, meshtund::MissingKeys::refuse);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("key file is missing") != std::string::npos);

  auto first = meshtund::load_mesh_config(conf);
  REQUIRE_MESSAGE(first.ok(), first.error().to_string());
  struct stat st {};
  REQUIRE(::stat((d.path() + "/state/node.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(first->derp_map.region(1) != nullptr);

  auto second = meshtund::load_mesh_config(conf, meshtund::MissingKeys::refuse);
  REQUIRE(second.ok());
  CHECK(second->node_key == first->node_key);
  CHECK(second->disco_key == first->disco_key);
  CHECK(meshtund::diff_mesh_config(*first, *second).empty());

  // A bad DERP map names the map's file and the region.
  write_file(d.path() + "/derpmap.json", R"({"Regions":{"1":{"RegionID":1,"Nodes":[]}}})");
  auto bad_map = meshtund::load_mesh_config(conf);
  REQUIRE_FALSE(bad_map.ok());
  CHECK(bad_map.error().message ==
        d.path() + "/derpmap.json: region 1: Nodes: the region has no nodes");

  // A key file others may read stops the load.
  write_file(d.path() + "/derpmap.json",
             R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","RegionID":1,)"
             R"("HostName":"derp.example"}]}}})");
  REQUIRE(::chmod((d.path() + "/state/disco.key").c_str(), 0644) == 0);
  auto open_key = meshtund::load_mesh_config(conf);
  REQUIRE_FALSE(open_key.ok());
  CHECK(open_key.error().message.find("chmod 600") != std::string::npos);
}

TEST_CASE("the diff of two configurations: peers added, removed, changed; interface keys") {
  auto before = meshtund::parse_mesh_config(expand(kFull), "/etc/meshtun/mesh.toml");
  REQUIRE(before.ok());

  // 1. the same file: nothing
  CHECK(meshtund::diff_mesh_config(*before, *before).empty());

  // 2. b changes endpoints, c leaves, d arrives, the port moves
  std::string text = expand(kFull);
  text.replace(text.find("\"198.51.100.7:41641\", "), 22, "");
  text.replace(text.find("listen_port = 41641"), 19, "listen_port = 41642");
  text.replace(
      text.find("name = \"c\""), std::string::npos,
      expand("name = \"d\"\nnode_key = \"$NOWN\"\ndisco_key = \"$DC\"\nallowed_ips = []\n"));
  auto after = meshtund::parse_mesh_config(text, "/etc/meshtun/mesh.toml");
  REQUIRE_MESSAGE(after.ok(), after.error().to_string());
  const meshtund::MeshConfigDiff d = meshtund::diff_mesh_config(*before, *after);
  REQUIRE(d.changed.size() == 1);
  CHECK(d.changed[0].name == "b");
  CHECK(d.changed[0].endpoints.size() == 1);  // the new value
  REQUIRE(d.removed.size() == 1);
  CHECK(d.removed[0].name == "c");
  REQUIRE(d.added.size() == 1);
  CHECK(d.added[0].name == "d");
  CHECK(d.interface_changed == std::vector<std::string>{"listen_port"});

  // 3. a rename keeps the node key: changed, not removed and added
  std::string renamed = expand(kFull);
  renamed.replace(renamed.find("name = \"b\""), 10, "name = \"bee\"");
  auto r = meshtund::parse_mesh_config(renamed, "/etc/meshtun/mesh.toml");
  REQUIRE(r.ok());
  const auto dr = meshtund::diff_mesh_config(*before, *r);
  REQUIRE(dr.changed.size() == 1);
  CHECK(dr.changed[0].name == "bee");
  CHECK(dr.added.empty());
  CHECK(dr.removed.empty());

  // 4. moving lines around (peer order) changes nothing that matters
  std::string swapped = expand(kIface);
  swapped += expand(
      "[[peers]]\nname = \"c\"\nnode_key = \"$NC\"\ndisco_key = \"$DC\"\n"
      "allowed_ips = [\"100.64.0.3/32\"]\n");
  auto s1 = meshtund::parse_mesh_config(swapped + expand(kPeerB), "x/mesh.toml");
  auto s2 = meshtund::parse_mesh_config(
      expand(kIface) + expand(kPeerB) +
          expand("[[peers]]\nname = \"c\"\nnode_key = \"$NC\"\ndisco_key = \"$DC\"\n"
                 "allowed_ips = [\"100.64.0.3/32\"]\n"),
      "x/mesh.toml");
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  CHECK(meshtund::diff_mesh_config(*s1, *s2).empty());

  // 5. every interface key is reported by name
  auto other = meshtund::parse_mesh_config(R"([interface]
name = "mesh1"
private_key_file = "/k/node.key"
disco_key_file = "/k/disco.key"
listen_port = 41641
addresses = ["100.64.0.9/32"]
home_region = 2
derp_map_file = "/k/map.json"
)",
                                           "/etc/meshtun/mesh.toml");
  REQUIRE(other.ok());
  const auto di = meshtund::diff_mesh_config(*before, *other);
  CHECK(di.interface_changed == std::vector<std::string>{"name", "private_key_file",
                                                         "disco_key_file", "addresses",
                                                         "home_region", "derp_map_file"});
  CHECK(di.removed.size() == 2);
}

}  // namespace
