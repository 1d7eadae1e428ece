// SPDX-License-Identifier: MIT
// The certificate files of --certmode=manual, named and made as cmd/derper does
// (protocols/derp.md 2.2), so that a derper's flags and certificate directory work unchanged:
//
//   <certdir>/<stem>.crt and <certdir>/<stem>.key, the stem being the host name with every
//   character outside [A-Za-z0-9.-] removed ("::1" -> "1").
//
// When the host name is an IP address and a file is missing, a self-signed certificate for
// that address is made and written there (the directory and missing parents 0700,
// certificate 0644, key 0600), so its
// "sha256-raw:" pin stays the same across restarts. A DNS host name needs both files.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "derpserver/tls.hpp"

namespace derpserver {

std::string cert_file_stem(std::string_view hostname);

struct ManualCert {
  PemPair pem;
  bool ip_host = false;      // the host name is an IP address (clients pin the certificate)
  bool created = false;      // made by this call
  bool created_dir = false;  // certdir (or a parent of it) made by this call
};

base::Result<ManualCert> load_or_create_manual_cert(const std::string& certdir,
                                                    const std::string& hostname);

}  // namespace derpserver
