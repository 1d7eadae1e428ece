// SPDX-License-Identifier: MIT
#include "derp/json.hpp"

#include <charconv>

namespace derp {
namespace {

base::Error json_error(std::string what) {
  return base::make_error(std::errc::invalid_argument, "json: " + std::move(what));
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  base::Status parse_top(const JsonMemberFn& on_member) {
    skip_ws();
    if (!eat('{')) return json_error("want an object");
    skip_ws();
    if (!eat('}')) {
      for (;;) {
        skip_ws();
        std::string key;
        if (auto st = parse_string(key); !st) return st;
        skip_ws();
        if (!eat(':')) return json_error("want ':'");
        JsonValue v;
        if (auto st = parse_value(v, 1); !st) return st;
        if (auto st = on_member(key, v); !st) return st;
        skip_ws();
        if (eat(',')) continue;
        if (eat('}')) break;
        return json_error("want ',' or '}'");
      }
    }
    skip_ws();
    if (pos_ != s_.size()) return json_error("trailing data after the object");
    return {};
  }

 private:
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  base::Status parse_value(JsonValue& v, int depth) {
    if (depth > kMaxJsonDepth) return json_error("nested too deeply");
    skip_ws();
    if (pos_ >= s_.size()) return json_error("unexpected end");
    const char c = s_[pos_];
    if (c == '"') {
      v.kind = JsonValue::Kind::string;
      return parse_string(v.string);
    }
    if (c == '{' || c == '[') {
      v.kind = c == '{' ? JsonValue::Kind::object : JsonValue::Kind::array;
      return skip_container(depth);
    }
    if (literal("true")) {
      v.kind = JsonValue::Kind::boolean;
      v.boolean = true;
      return {};
    }
    if (literal("false")) {
      v.kind = JsonValue::Kind::boolean;
      v.boolean = false;
      return {};
    }
    if (literal("null")) {
      v.kind = JsonValue::Kind::null;
      return {};
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = JsonValue::Kind::number;
      return parse_number(v.number);
    }
    return json_error("unexpected character");
  }

  // Called at '{' or '['; validates through the matching close.
  base::Status skip_container(int depth) {
    const bool object = s_[pos_] == '{';
    ++pos_;
    skip_ws();
    if (eat(object ? '}' : ']')) return {};
    for (;;) {
      skip_ws();
      if (object) {
        std::string key;
        if (auto st = parse_string(key); !st) return st;
        skip_ws();
        if (!eat(':')) return json_error("want ':'");
      }
      JsonValue inner;
      if (auto st = parse_value(inner, depth + 1); !st) return st;
      skip_ws();
      if (eat(',')) continue;
      if (eat(object ? '}' : ']')) return {};
      return json_error("want ',' or a closing bracket");
    }
  }

  base::Status parse_number(std::string_view& text) {
    const std::size_t start = pos_;
    eat('-');
    if (pos_ >= s_.size()) return json_error("bad number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      return json_error("bad number");
    }
    if (eat('.')) {
      if (!digits()) return json_error("bad fraction");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!eat('+')) eat('-');
      if (!digits()) return json_error("bad exponent");
    }
    text = s_.substr(start, pos_ - start);
    return {};
  }
  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(std::uint32_t& out) {
    if (s_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_val(s_[pos_++]);
      if (h < 0) return false;
      out = out << 4 | static_cast<std::uint32_t>(h);
    }
    return true;
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  base::Status parse_string(std::string& out) {
    if (!eat('"')) return json_error("want a string");
    for (;;) {
      if (pos_ >= s_.size()) return json_error("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return {};
      if (static_cast<unsigned char>(c) < 0x20) return json_error("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return json_error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return json_error("bad \\u escape");
          if (cp >= 0xd800 && cp < 0xdc00) {
            // A high surrogate: pair it with a following low one, else U+FFFD (as Go does).
            const std::size_t save = pos_;
            std::uint32_t lo = 0;
            if (s_.substr(pos_, 2) == "\\u" && (pos_ += 2, hex4(lo)) && lo >= 0xdc00 &&
                lo < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else {
              pos_ = save;
              cp = 0xfffd;
            }
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            cp = 0xfffd;
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return json_error("bad escape");
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<std::int64_t> JsonValue::as_int() const noexcept {
  if (kind != Kind::number) return std::nullopt;
  std::int64_t v = 0;
  const auto* end = number.data() + number.size();
  const auto r = std::from_chars(number.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

base::Status parse_json_object(std::string_view text, const JsonMemberFn& on_member) {
  return Parser(text).parse_top(on_member);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

bool json_key_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace derp
