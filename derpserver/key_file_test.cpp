// SPDX-License-Identifier: MIT
#include "derpserver/key_file.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

namespace {

// A fresh directory under $TMPDIR, removed with everything in it.
struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "derper-keys-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

void write(const std::string& p, const std::string& text, unsigned mode) {
  std::ofstream(p) << text;
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

const std::string kMeshHex = std::string(32, 'a') + std::string(32, '5');

TEST_CASE("mesh key file: 0600 is read; group- or world-readable is refused, naming the file") {
  TempDir d;
  const std::string p = d.path + "/mesh.key";
  // 1. 0600, with the newline an editor leaves.
  write(p, kMeshHex + "\n", 0600);
  auto ok = derpserver::load_mesh_key_file(p);
  REQUIRE_MESSAGE(ok.ok(), ok.error().to_string());
  CHECK(ok->to_string() == kMeshHex);
  // 2..4. Others may read it: refused, with the way out in the message.
  for (unsigned mode : {0644U, 0640U, 0604U}) {
    CAPTURE(mode);
    write(p, kMeshHex + "\n", mode);
    auto bad = derpserver::load_mesh_key_file(p);
    REQUIRE_FALSE(bad.ok());
    const std::string msg = bad.error().to_string();
    CHECK(msg.find(p) != std::string::npos);
    CHECK(msg.find("chmod 600") != std::string::npos);
  }
  // 5. Missing: an error (a mesh key is never invented).
  auto missing = derpserver::load_mesh_key_file(d.path + "/none");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().to_string().find(d.path + "/none") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(d.path + "/none"));
  // 6. Not a mesh key.
  write(p, "not hex\n", 0600);
  auto junk = derpserver::load_mesh_key_file(p);
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().to_string().find(p) != std::string::npos);
}

TEST_CASE("node key file: refused when others may read it, like the mesh key file") {
  TempDir d;
  const std::string p = d.path + "/derper.key";
  auto made = derpserver::load_or_create_key_file(p);
  REQUIRE_MESSAGE(made.ok(), made.error().to_string());
  REQUIRE(::chmod(p.c_str(), 0644) == 0);
  auto bad = derpserver::load_or_create_key_file(p);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().to_string().find("chmod 600") != std::string::npos);
}

}  // namespace
