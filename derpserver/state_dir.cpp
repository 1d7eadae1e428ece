// SPDX-License-Identifier: MIT
#include "derpserver/state_dir.hpp"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>

namespace derpserver {

base::Result<bool> make_private_dirs(const std::string& dir) {
  bool made = false;
  // Each prefix ending before a '/', then `dir` itself: "/a/b" -> "/a", "/a/b".
  for (std::size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    const std::string part = dir.substr(0, end);
    if (!part.empty() && ::mkdir(part.c_str(), 0700) == 0) {
      // mkdir's mode passes through the umask; say exactly 0700.
      if (::chmod(part.c_str(), 0700) != 0) {
        return base::make_error(std::errc::io_error,
                                "chmod 0700 " + part + ": " + std::strerror(errno));
      }
      made = true;
    } else if (!part.empty() && errno != EEXIST) {
      return base::make_error(std::errc::io_error, "mkdir " + part + ": " + std::strerror(errno));
    }
    if (end == std::string::npos) break;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return base::make_error(std::errc::not_a_directory, dir + " is not a directory");
  }
  return made;
}

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace derpserver
