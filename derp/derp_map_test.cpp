// SPDX-License-Identifier: MIT
#include "derp/derp_map.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using Family = base::IpAddr::Family;

const std::string kPinHex = "4f2a1c0e9b8d7a6f5e4d3c2b1a0f9e8d7c6b5a493827160514131211100f0e0d";

// Shaped like what Tailscale's control plane and `derper --certmode=manual` produce: Go's
// field order, omitempty fields left out, plus fields this version does not know.
const std::string kMap = R"({
  "HomeParams": {"RegionScore": {"1": 0.8, "900": 1.5, "901": 0, "2": -1}},
  "Regions": {
    "1": {
      "RegionID": 1,
      "RegionCode": "nyc",
      "RegionName": "New York City",
      "Latitude": 40.7128,
      "Longitude": -74,
      "Nodes": [
        {"Name": "1a", "RegionID": 1, "HostName": "derp1a.example.net",
         "IPv4": "192.0.2.10", "IPv6": "2001:db8::10", "CanPort80": true},
        {"Name": "1b", "RegionID": 1, "HostName": "derp1b.example.net",
         "IPv6": "none", "STUNPort": -1, "DERPPort": 8443, "FutureField": {"x": [1, 2]}},
        {"Name": "1s", "RegionID": 1, "HostName": "stun1.example.net",
         "IPv4": "192.0.2.11", "IPv6": "none", "STUNPort": 3479, "STUNOnly": true}
      ]
    },
    "900": {
      "RegionID": 900,
      "RegionCode": "lab",
      "RegionName": "Lab",
      "Avoid": true,
      "NoMeasureNoHome": true,
      "Nodes": [
        {"Name": "900a", "RegionID": 900, "HostName": "198.51.100.5",
         "CertName": "sha256-raw:)" +
                         kPinHex + R"(",
         "IPv4": "198.51.100.5", "IPv6": "none", "DERPPort": 443},
        {"Name": "900b", "RegionID": 900, "HostName": "2001:db8::900",
         "CertName": "derp.lab.example", "IPv4": "none", "DERPPort": 3340,
         "InsecureForTests": true, "STUNTestIP": "127.0.0.1"}
      ]
    }
  },
  "omitDefaultRegions": true,
  "SomethingNew": 7
})";

TEST_CASE("a realistic DERP map decodes field by field") {
  auto m = derp::parse_derp_map(kMap);
  REQUIRE_MESSAGE(m.ok(), m.error().to_string());
  CHECK(m->omit_default_regions);
  REQUIRE(m->regions.size() == 2);
  CHECK(m->regions.begin()->first == 1);

  const derp::DerpRegion* nyc = m->region(1);
  REQUIRE(nyc != nullptr);
  CHECK(nyc->id == 1);
  CHECK(nyc->code == "nyc");
  CHECK(nyc->name == "New York City");
  CHECK(nyc->latitude == doctest::Approx(40.7128));
  CHECK(nyc->longitude == doctest::Approx(-74.0));
  CHECK_FALSE(nyc->avoid);
  CHECK_FALSE(nyc->no_measure_no_home);
  REQUIRE(nyc->nodes.size() == 3);

  const derp::DerpNode& a = nyc->nodes[0];
  CHECK(a.name == "1a");
  CHECK(a.region_id == 1);
  CHECK(a.ipv4.kind == derp::NodeAddr::Kind::fixed);
  CHECK(a.ipv4.addr == *base::IpAddr::parse("192.0.2.10"));
  CHECK(a.ipv6.addr == *base::IpAddr::parse("2001:db8::10"));
  CHECK(a.effective_stun_port() == 3478);
  CHECK(a.effective_derp_port() == 443);
  CHECK(a.can_port_80);
  CHECK_FALSE(a.pin.has_value());
  CHECK(a.derp_url() == "https://derp1a.example.net/derp");
  CHECK(a.tls_server_name() == "derp1a.example.net");
  CHECK(a.cert_dns_name() == "derp1a.example.net");
  const std::vector<base::Endpoint> a_stun = a.stun_endpoints();
  REQUIRE(a_stun.size() == 2);
  CHECK(a_stun[0].to_string() == "192.0.2.10:3478");
  CHECK(a_stun[1].to_string() == "[2001:db8::10]:3478");

  // 1b: IPv4 by DNS, IPv6 disabled, no STUN, DERP on 8443.
  const derp::DerpNode& b = nyc->nodes[1];
  CHECK(b.ipv4.kind == derp::NodeAddr::Kind::dns);
  CHECK(b.ipv6.kind == derp::NodeAddr::Kind::disabled);
  CHECK_FALSE(b.effective_stun_port().has_value());
  CHECK(b.stun_endpoints().empty());
  CHECK_FALSE(b.stun_needs_dns(Family::v4));  // STUN is off, nothing to look up
  CHECK(b.dials(Family::v4));
  CHECK_FALSE(b.dials(Family::v6));
  CHECK(b.derp_url() == "https://derp1b.example.net:8443/derp");

  const derp::DerpNode& s = nyc->nodes[2];
  CHECK(s.stun_only);
  CHECK(s.stun_endpoints() == std::vector{*base::Endpoint::parse("192.0.2.11:3479")});

  // DERP clients skip STUNOnly nodes; STUN skips nodes with STUNPort -1. Order is kept.
  const auto derp_nodes = nyc->derp_nodes();
  REQUIRE(derp_nodes.size() == 2);
  CHECK(derp_nodes[0]->name == "1a");
  CHECK(derp_nodes[1]->name == "1b");
  const auto stun_nodes = nyc->stun_nodes();
  REQUIRE(stun_nodes.size() == 2);
  CHECK(stun_nodes[0]->name == "1a");
  CHECK(stun_nodes[1]->name == "1s");

  const derp::DerpRegion* lab = m->region(900);
  REQUIRE(lab != nullptr);
  CHECK(lab->avoid);
  CHECK(lab->no_measure_no_home);
  CHECK_FALSE(lab->latitude.has_value());

  // 900a: a self-signed server pinned by hash, dialed by IP.
  const derp::DerpNode& pinned = lab->nodes[0];
  REQUIRE(pinned.pin.has_value());
  CHECK(base::to_hex(*pinned.pin) == kPinHex);
  CHECK(pinned.cert_name == "sha256-raw:" + kPinHex);
  CHECK(pinned.cert_dns_name() == "198.51.100.5");          // a pin is not a name
  CHECK(pinned.derp_url() == "https://198.51.100.5/derp");  // 443 written out, left out here

  // 900b: CertName as a name, IPv6 literal host, STUNTestIP overriding both families.
  const derp::DerpNode& t = lab->nodes[1];
  CHECK(t.cert_dns_name() == "derp.lab.example");
  CHECK(t.tls_server_name() == "2001:db8::900");
  CHECK(t.insecure_for_tests);
  CHECK(t.derp_url() == "https://[2001:db8::900]:3340/derp");
  CHECK(t.stun_endpoints() == std::vector{*base::Endpoint::parse("127.0.0.1:3478")});
  CHECK_FALSE(t.stun_endpoint(Family::v6).has_value());
  CHECK_FALSE(t.dials(Family::v4));
  CHECK(t.dials(Family::v6));

  CHECK(m->node("900b") == &t);
  CHECK(m->node("nope") == nullptr);
  CHECK(m->region(2) == nullptr);

  // Scores: as written, but zero, negative and absent ones count as 1.0.
  REQUIRE(m->region_score.has_value());
  CHECK(m->region_score->size() == 4);
  CHECK(m->score(1) == doctest::Approx(0.8));
  CHECK(m->score(900) == doctest::Approx(1.5));
  CHECK(m->score(901) == 1.0);
  CHECK(m->score(2) == 1.0);
  CHECK(m->score(3) == 1.0);
}

TEST_CASE("DERP map zero values and Go's decoding rules") {
  // 1. a minimal node: every port and address at its zero value
  auto m = derp::parse_derp_map(
      R"({"Regions":{"7":{"RegionID":7,"Nodes":[{"Name":"7a","RegionID":7,"HostName":"h"}]}}})");
  REQUIRE_MESSAGE(m.ok(), m.error().to_string());
  const derp::DerpNode& n = m->region(7)->nodes[0];
  CHECK(n.ipv4.kind == derp::NodeAddr::Kind::dns);
  CHECK(n.ipv6.kind == derp::NodeAddr::Kind::dns);
  CHECK(n.stun_needs_dns(Family::v4));
  CHECK(n.stun_needs_dns(Family::v6));
  CHECK(n.stun_endpoints().empty());
  CHECK(n.effective_stun_port() == 3478);
  CHECK(n.effective_derp_port() == 443);
  CHECK_FALSE(m->omit_default_regions);
  CHECK_FALSE(m->region_score.has_value());  // no HomeParams: scores unchanged

  // 2. field names in any case, null as "unset", as Go's encoding/json
  auto c = derp::parse_derp_map(
      R"({"OMITDEFAULTREGIONS":true,"regions":{"7":{"regionid":7,"RegionCode":null,)"
      R"("nodes":[{"name":"7a","regionID":7,"hostname":"h","stunport":-1,"IPv4":null}]}}})");
  REQUIRE_MESSAGE(c.ok(), c.error().to_string());
  CHECK(c->omit_default_regions);
  CHECK(c->region(7)->nodes[0].stun_port == -1);

  // 3. an empty RegionScore resets scores; an empty document is an empty map
  auto r = derp::parse_derp_map(R"({"HomeParams":{"RegionScore":{}}})");
  REQUIRE(r.ok());
  REQUIRE(r->region_score.has_value());
  CHECK(r->region_score->empty());
  CHECK(r->regions.empty());
  auto e = derp::parse_derp_map("{}");
  REQUIRE(e.ok());
  CHECK_FALSE(e->region_score.has_value());

  // 4. the largest region ID JavaScript can hold
  auto big = derp::parse_derp_map(
      R"({"Regions":{"9007199254740991":{"RegionID":9007199254740991,)"
      R"("Nodes":[{"Name":"x","RegionID":9007199254740991,"HostName":"h"}]}}})");
  REQUIRE_MESSAGE(big.ok(), big.error().to_string());
  CHECK(big->region(derp::kMaxRegionId) != nullptr);

  // 5. an upper-case pin is read too (Tailscale compares lower-case text, so it would not match)
  auto up = derp::parse_derp_map(
      R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a","RegionID":1,"HostName":"h",)"
      R"("CertName":"sha256-raw:4F2A1C0E9B8D7A6F5E4D3C2B1A0F9E8D7C6B5A493827160514131211100F0E0D"}]}}})");
  REQUIRE_MESSAGE(up.ok(), up.error().to_string());
  CHECK(base::to_hex(*up->region(1)->nodes[0].pin) == kPinHex);
}

TEST_CASE("a DERP map written out reads back equal, in Go's field order") {
  auto m = derp::parse_derp_map(kMap);
  REQUIRE(m.ok());
  const std::string out = derp::derp_map_json(*m);
  auto back = derp::parse_derp_map(out);
  REQUIRE_MESSAGE(back.ok(), back.error().to_string());
  CHECK(*back == *m);
  // omitempty: zero values are left out, as Go leaves them out
  auto small = derp::parse_derp_map(
      R"({"Regions":{"7":{"RegionID":7,"Nodes":[{"Name":"7a","RegionID":7,"HostName":"h",)"
      R"("IPv6":"none","STUNPort":-1}]}}})");
  REQUIRE(small.ok());
  CHECK(derp::derp_map_json(*small) ==
        R"({"Regions":{"7":{"RegionID":7,"RegionCode":"","RegionName":"","Nodes":[{"Name":"7a",)"
        R"("RegionID":7,"HostName":"h","IPv6":"none","STUNPort":-1}]}}})");
  // an empty RegionScore stays "reset", not "no change"
  auto reset = derp::parse_derp_map(R"({"HomeParams":{"RegionScore":{}}})");
  REQUIRE(reset.ok());
  CHECK(derp::derp_map_json(*reset) == R"({"HomeParams":{"RegionScore":{}},"Regions":{}})");
}

// Region 1 with node "1a" in it, the rest of whose fields are `node`.
std::string with_node(const std::string& node) {
  return R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","RegionID":1,)" + node + "}]}}}";
}

TEST_CASE("DERP map errors name the region, node and field") {
  struct Row {
    int n;
    std::string json;
    std::string want;  // a substring of the message
  };
  const std::vector<Row> rows = {
      {1, R"({"Regions":{"1":)", "line 1 column 17: JSON syntax"},
      {2, "{\n  \"Regions\": [] x", "line 2 column 17: JSON syntax"},
      {3, "[]", "DERP map: want a JSON object, got an array"},
      {4, R"({"Regions":[]})", "DERP map: Regions: want an object, got an array"},
      {5, R"({"Regions":{"x1":{}}})", "Regions: key \"x1\" is not a region ID"},
      {6, R"({"Regions":{"0":{}}})", "key \"0\" is not a region ID"},
      {7, R"({"Regions":{"9007199254740992":{}}})", "key \"9007199254740992\" is not a region ID"},
      {8, R"({"Regions":{"-1":{}}})", "key \"-1\" is not a region ID"},
      {9, "{\"Regions\":{\"1\":{},\n\"1\":{}}}",
       "line 2 column 3: key \"1\" appears twice in Regions"},
      {10,
       R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"a","RegionID":1,"HostName":"h"}]},)"
       R"("01":{"RegionID":1,"Nodes":[{"Name":"b","RegionID":1,"HostName":"h"}]}}})",
       "Regions: region 1 is given twice"},
      {11, R"({"Regions":{"1":{"RegionID":2,"Nodes":[]}}})",
       "region 1: RegionID: 2 differs from its key \"1\""},
      {12, R"({"Regions":{"1":{"Nodes":[]}}})", "region 1: RegionID: 0 differs"},
      {13, R"({"Regions":{"1":{"RegionID":1}}})", "region 1: Nodes: the region has no nodes"},
      {14, R"({"Regions":{"1":{"RegionID":1,"Nodes":[]}}})", "region 1: Nodes: the region has no"},
      {15, R"({"Regions":{"1":{"RegionID":1,"Nodes":{}}}})",
       "region 1: Nodes: want an array, got an object"},
      {16, R"({"Regions":{"1":{"RegionID":"1","Nodes":[]}}})",
       "region 1: RegionID: want an integer, got a string"},
      {17, R"({"Regions":{"1":{"RegionID":1.0,"Nodes":[]}}})",
       "RegionID: want an integer, got a number with a fraction or exponent"},
      {18, R"({"Regions":{"1":{"RegionID":1,"Avoid":"yes","Nodes":[]}}})",
       "region 1: Avoid: want true or false, got a string"},
      {19, R"({"Regions":{"1":{"RegionID":1,"Latitude":"52N","Nodes":[]}}})",
       "region 1: Latitude: want a number, got a string"},
      {20, R"({"Regions":{"1":"derp.example"}})", "region 1: want an object, got a string"},
      {21, R"({"Regions":{"1":{"RegionID":1,"Nodes":[null]}}})",
       "region 1 node 0: want an object, got null"},
      {22, R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"RegionID":1,"HostName":"h"}]}}})",
       "region 1 node 0: Name: missing"},
      {23,
       R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","RegionID":2,"HostName":"h"}]}}})",
       "region 1 node \"1a\": RegionID: 2 is not the region's ID 1"},
      {24, R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","HostName":"h"}]}}})",
       "region 1 node \"1a\": RegionID: 0 is not the region's ID 1"},
      {25, R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"1a","RegionID":1}]}}})",
       "region 1 node \"1a\": HostName: missing"},
      {26, with_node(R"("HostName":7)"), "region 1 node \"1a\": HostName: want a string"},
      {27, with_node(R"("HostName":"h","IPv4":"192.0.2.300")"),
       "region 1 node \"1a\": IPv4: \"192.0.2.300\" is not an IPv4 address"},
      {28, with_node(R"("HostName":"h","IPv4":"2001:db8::1")"),
       "IPv4: \"2001:db8::1\" is not an IPv4 address"},
      {29, with_node(R"("HostName":"h","IPv6":"192.0.2.1")"),
       "region 1 node \"1a\": IPv6: \"192.0.2.1\" is not an IPv6 address"},
      {30, with_node(R"("HostName":"h","IPv6":"None")"), "IPv6: \"None\" is not an IPv6"},
      {31, with_node(R"("HostName":"h","STUNPort":-2)"),
       "region 1 node \"1a\": STUNPort: -2 is not a port"},
      {32, with_node(R"("HostName":"h","STUNPort":65536)"), "STUNPort: 65536 is not a port"},
      {33, with_node(R"("HostName":"h","STUNPort":3478.5)"), "STUNPort: want an integer"},
      {34, with_node(R"("HostName":"h","DERPPort":-1)"),
       "region 1 node \"1a\": DERPPort: -1 is not a port"},
      {35, with_node(R"("HostName":"h","DERPPort":70000)"), "DERPPort: 70000 is not a port"},
      {36, with_node(R"("HostName":"h","DERPPort":18446744073709551615)"),
       "DERPPort: want an integer, got an integer out of range"},
      {37, with_node(R"("HostName":"h","STUNOnly":1)"), "STUNOnly: want true or false"},
      {38, with_node(R"("HostName":"h","STUNTestIP":"localhost")"),
       "STUNTestIP: \"localhost\" is not an IP address"},
      {39, with_node(R"("HostName":"h","CertName":"sha256-raw:abcd")"),
       "region 1 node \"1a\": CertName: \"sha256-raw:abcd\": want \"sha256-raw:\" and 64 hex"},
      {40, with_node(R"("HostName":"h","CertName":"sha256-raw:)" + std::string(64, 'g') + "\""),
       "CertName"},
      {41,
       R"({"Regions":{"1":{"RegionID":1,"Nodes":[{"Name":"x","RegionID":1,"HostName":"h"}]},)"
       R"("2":{"RegionID":2,"Nodes":[{"Name":"x","RegionID":2,"HostName":"h"}]}}})",
       "region 2 node \"x\": Name: another node has the same name"},
      {42, R"({"HomeParams":[]})", "DERP map: HomeParams: want an object, got an array"},
      {43, R"({"HomeParams":{"RegionScore":{"abc":1}}})",
       "DERP map HomeParams: RegionScore: \"abc\" is not a region ID"},
      {44, R"({"HomeParams":{"RegionScore":{"1":"fast"}}})",
       "RegionScore: region 1: want a number, got a string"},
      {45, R"({"HomeParams":{"RegionScore":{"1":1,"01":2}}})",
       "RegionScore: region 01 is given twice"},
      {46, R"({"omitDefaultRegions":"true"})", "omitDefaultRegions: want true or false"},
      {47, with_node(R"("HostName":"h","HostName":"g")"),
       "key \"HostName\" appears twice in Regions.1.Nodes[]"},
      {48, std::string(40, '[') + std::string(40, ']'), "JSON syntax"},
      {49, R"({"HomeParams":{"RegionScore":{"1":-150e657}}})",
       "RegionScore: region 1: want a number, got a number out of range"},
      {50, R"({"Regions":{"1":{"RegionID":1,"Longitude":1e400,"Nodes":[]}}})",
       "region 1: Longitude: want a number, got a number out of range"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.n);
    auto m = derp::parse_derp_map(row.json);
    REQUIRE_FALSE(m.ok());
    CHECK_MESSAGE(m.error().message.find(row.want) != std::string::npos, m.error().message);
  }
}

}  // namespace
