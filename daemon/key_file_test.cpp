// SPDX-License-Identifier: MIT
#include "daemon/key_file.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include <sys/stat.h>

#include "daemon/testing/uapi_test_support.hpp"

namespace {

using meshtund::testing::TempDir;

unsigned mode_of(const std::string& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const std::string& p, const std::string& text, unsigned mode) {
  std::ofstream(p) << text;
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

TEST_CASE("a missing key file is created 0600, in a new 0700 directory, as wg genkey writes") {
  TempDir d;
  const std::string p = d.path() + "/state/node.key";
  auto key = meshtund::load_or_create_node_key(p);
  REQUIRE_MESSAGE(key.ok(), key.error().to_string());
  CHECK(mode_of(p) == 0600);
  CHECK(mode_of(d.path() + "/state") == 0700);
  CHECK(slurp(p) == key->to_base64() + "\n");
  CHECK(slurp(p).size() == 45);
  // loading again gives the same key, not a new one
  auto again = meshtund::load_or_create_node_key(p);
  REQUIRE(again.ok());
  CHECK(*again == *key);

  auto disco = meshtund::load_or_create_disco_key(d.path() + "/state/disco.key");
  REQUIRE(disco.ok());
  CHECK_FALSE(disco->is_zero());
  CHECK(disco->to_base64() != key->to_base64());
}

TEST_CASE("a key file written by wg genkey loads; surrounding whitespace is ignored") {
  TempDir d;
  const std::string p = d.path() + "/k";
  // the private key of wireguard-tools' documentation examples
  const std::string text = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
  write(p, "  " + text + "\r\n\n", 0600);
  auto key = meshtund::load_or_create_node_key(p);
  REQUIRE_MESSAGE(key.ok(), key.error().to_string());
  CHECK(key->to_base64() == text);
  CHECK(key->public_key().to_base64() == "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=");
}

TEST_CASE("key files others may read, and key files without one key, are refused") {
  TempDir d;
  const std::string good = base::NodePrivateKey::generate().to_base64() + "\n";
  struct Row {
    int n;
    std::string text;
    unsigned mode;
    std::string want;
  };
  const std::vector<Row> rows = {
      {1, good, 0644, "chmod 600"},
      {2, good, 0640, "has mode 0640"},
      {3, good, 0604, "others may read it"},
      {4, "not a key\n", 0600, "want one key, 44 characters of base64"},
      {5, "", 0600, "want one key"},
      {6, good + good, 0600, "want one key"},
      {7, "privkey:" + std::string(64, 'a') + "\n", 0600, "want one key"},
      {8, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0600, "the key is all zeros"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.n);
    const std::string p = d.path() + "/key" + std::to_string(row.n);
    write(p, row.text, row.mode);
    auto key = meshtund::load_or_create_disco_key(p);
    REQUIRE_FALSE(key.ok());
    CHECK_MESSAGE(key.error().message.find(p) != std::string::npos, key.error().message);
    CHECK_MESSAGE(key.error().message.find(row.want) != std::string::npos, key.error().message);
    CHECK(slurp(p) == row.text);  // a refused file is never rewritten
  }
}

}  // namespace
