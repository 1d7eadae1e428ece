// SPDX-License-Identifier: MIT
#include "derpserver/state_dir.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>

namespace {

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

TEST_CASE("make_private_dirs makes the directory and its parents 0700, once") {
  std::string tmpl = "/tmp/meshtun-state-dir-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string root = tmpl;
  const auto old_mask = ::umask(022);
  auto made = derpserver::make_private_dirs(root + "/a/b/c");
  ::umask(old_mask);
  REQUIRE(made);
  CHECK(*made);
  CHECK(mode_of(root + "/a") == 0700);
  CHECK(mode_of(root + "/a/b") == 0700);
  CHECK(mode_of(root + "/a/b/c") == 0700);
  auto again = derpserver::make_private_dirs(root + "/a/b/c");
  REQUIRE(again);
  CHECK_FALSE(*again);
  std::ofstream(root + "/file") << "x";
  CHECK_FALSE(derpserver::make_private_dirs(root + "/file"));
  CHECK_FALSE(derpserver::make_private_dirs(root + "/file/below"));
  std::filesystem::remove_all(root);
}

TEST_CASE("dir_of") {
  CHECK(derpserver::dir_of("/var/lib/meshtun-derper/derper.key") == "/var/lib/meshtun-derper");
  CHECK(derpserver::dir_of("derper.key") == ".");
  CHECK(derpserver::dir_of("/derper.key") == "/");
  CHECK(derpserver::dir_of("a/derper.key") == "a");
}

}  // namespace
