// SPDX-License-Identifier: MIT
#include "derp/json.hpp"

#include <doctest/doctest.h>

#include <map>

namespace {

std::map<std::string, derp::JsonValue> members(std::string_view text, bool* ok) {
  std::map<std::string, derp::JsonValue> out;
  auto st = derp::parse_json_object(text, [&](std::string_view k, const derp::JsonValue& v) {
    out[std::string(k)] = v;
    return base::Status{};
  });
  *ok = st.ok();
  return out;
}

TEST_CASE("valid objects") {
  bool ok = false;
  auto m = members(R"( { "a" : "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00" , "b":-0, "c":1e5,
                         "d":true,"e":false,"f":null,"g":[],"h":{} } )",
                   &ok);
  REQUIRE(ok);
  CHECK(m["a"].string == "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(m["b"].as_int() == 0);
  CHECK_FALSE(m["c"].as_int().has_value());
  CHECK(m["d"].boolean);
  CHECK(m["f"].kind == derp::JsonValue::Kind::null);
  CHECK(m["g"].kind == derp::JsonValue::Kind::array);
  CHECK(m["h"].kind == derp::JsonValue::Kind::object);
}

TEST_CASE("invalid texts") {
  const char* bad[] = {
      "",
      "{",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\":1,}",
      "{a:1}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":tru}",
      "{\"a\":\"\x01\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\":[1,]}",
      "{} {}",
      "{\"a\":\"\\u12\"}",
      "null",
  };
  for (const char* t : bad) {
    CAPTURE(t);
    bool ok = true;
    members(t, &ok);
    CHECK_FALSE(ok);
  }
}

TEST_CASE("nesting is bounded") {
  std::string deep = "{\"a\":";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}";
  bool ok = true;
  members(deep, &ok);
  CHECK_FALSE(ok);
}

TEST_CASE("lone surrogates decode to U+FFFD like Go") {
  bool ok = false;
  auto m = members(R"({"a":"\ud800x"})", &ok);
  REQUIRE(ok);
  CHECK(m["a"].string == "\xef\xbf\xbdx");
}

TEST_CASE("json_key_equal folds ASCII case only") {
  CHECK(derp::json_key_equal("MeshKey", "meshkey"));
  CHECK_FALSE(derp::json_key_equal("meshkey", "meshke"));
}

}  // namespace
