// SPDX-License-Identifier: MIT
#include "base/bytes.hpp"

#include <doctest/doctest.h>

namespace {

TEST_CASE("endian loads and stores") {
  std::byte b[8];
  base::store_le32(b, 0x11223344);
  CHECK(base::to_hex(std::span(b, 4)) == "44332211");
  CHECK(base::load_le32(b) == 0x11223344u);
  CHECK(base::load_be32(b) == 0x44332211u);
  base::store_be16(b, 0xabcd);
  CHECK(base::to_hex(std::span(b, 2)) == "abcd");
  base::store_le64(b, 0x0102030405060708ull);
  CHECK(base::to_hex(b) == "0807060504030201");
  CHECK(base::load_be64(b) == 0x0807060504030201ull);
}

TEST_CASE("hex accepts both cases and rejects everything else") {
  std::byte out[2];
  CHECK(base::from_hex("aBcD", out));
  CHECK(base::to_hex(out) == "abcd");
  CHECK_FALSE(base::from_hex("abc", out));     // odd length
  CHECK_FALSE(base::from_hex("abcdef", out));  // too long for out
  CHECK_FALSE(base::from_hex("zz00", out));    // not hex
  CHECK_FALSE(base::from_hex("ab:d", out));    // separator
  CHECK_FALSE(base::hex_bytes("0").has_value());
  CHECK(base::hex_bytes("").value().empty());
}

TEST_CASE("constant-time helpers") {
  const auto a = base::hex_bytes("00010203").value();
  const auto b = base::hex_bytes("00010204").value();
  CHECK(base::constant_time_equal(a, a));
  CHECK_FALSE(base::constant_time_equal(a, b));
  CHECK_FALSE(base::constant_time_equal(a, std::span(b).first(3)));
  CHECK(base::is_all_zero(base::hex_bytes("0000").value()));
  CHECK_FALSE(base::is_all_zero(a));
  auto w = a;
  base::secure_wipe(w);
  CHECK(base::is_all_zero(w));
}

}  // namespace
