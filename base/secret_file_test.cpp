// SPDX-License-Identifier: MIT
#include "base/secret_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <stdlib.h>

#include <sys/stat.h>

namespace {

struct Dir {
  Dir() {
    std::string tmpl = "/tmp/meshtun-secret-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

unsigned mode_of(const std::string& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("a secret file is created 0600 in new 0700 directories and read back") {
  Dir d;
  const std::string p = d.path + "/a/b/key";
  CHECK_FALSE(base::read_secret_file(p)->has_value());  // missing is not an error
  REQUIRE(base::create_secret_file(p, "secret\n").ok());
  CHECK(mode_of(p) == 0600);
  CHECK(mode_of(d.path + "/a") == 0700);
  CHECK(mode_of(d.path + "/a/b") == 0700);
  auto back = base::read_secret_file(p);
  REQUIRE(back.ok());
  CHECK(**back == "secret\n");
  // never overwritten
  auto again = base::create_secret_file(p, "other");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == std::errc::file_exists);
  CHECK(**base::read_secret_file(p) == "secret\n");
}

TEST_CASE("a secret file others may read, or that is no file, is refused") {
  Dir d;
  const std::string p = d.path + "/key";
  std::ofstream(p) << "secret";
  for (unsigned mode : {0644u, 0640u, 0604u, 0620u, 0601u}) {
    CAPTURE(mode);
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    auto r = base::read_secret_file(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == std::errc::permission_denied);
    CHECK(r.error().message.find(p) != std::string::npos);
    CHECK(r.error().message.find("chmod 600") != std::string::npos);
  }
  REQUIRE(::chmod(p.c_str(), 0400) == 0);
  CHECK(base::read_secret_file(p).ok());
  auto dir = base::read_secret_file(d.path);
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().message.find("not a regular file") != std::string::npos);
  // a FIFO is refused at once instead of waiting for a writer
  REQUIRE(::mkfifo((d.path + "/fifo").c_str(), 0600) == 0);
  auto fifo = base::read_secret_file(d.path + "/fifo");
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().message.find("not a regular file") != std::string::npos);
  // a parent that is a file
  auto under_file = base::create_secret_file(p + "/x", "s");
  CHECK_FALSE(under_file.ok());
}

}  // namespace
