// parse_redis_url() and redis_url_to_string(), declared in redis_schema.h.
#include <cctype>
#include <cstdint>
#include <string>
#include <utility>

#include "redis_schema.h"
#include "text_util.h"

namespace tourcast {
namespace {

constexpr std::string_view kScheme = "redis://";
constexpr int kMaxDb = 2147483647;

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i])
      return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view text, std::string *out) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size())
      return false;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0)
      return false;
    decoded += static_cast<char>(high * 16 + low);
    i += 2;
  }
  *out = std::move(decoded);
  return true;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += c;
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0xf];
    }
  }
  return encoded;
}

bool parse_number(std::string_view digits, int64_t min, int64_t max, int *out) {
  if (digits.empty())
    return false;
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + (c - '0');
    if (value > max)
      return false;
  }
  if (value < min)
    return false;
  *out = static_cast<int>(value);
  return true;
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool is_ipv4_address(std::string_view text) {
  int parts = 0;
  for (size_t start = 0;; ++parts) {
    const size_t dot = text.find('.', start);
    const std::string_view part =
        text.substr(start, dot == std::string_view::npos ? dot : dot - start);
    int value = 0;
    if (part.size() > 3 || !parse_number(part, 0, 255, &value))
      return false;
    if (dot == std::string_view::npos)
      return parts == 3;
    start = dot + 1;
  }
}

// Colon-separated groups of 1-4 hex digits; the last may be a dotted IPv4 address, which
// counts as two groups.
bool count_ipv6_groups(std::string_view text, int *groups) {
  for (size_t start = 0;;) {
    const size_t colon = text.find(':', start);
    const std::string_view group =
        text.substr(start, colon == std::string_view::npos ? colon : colon - start);
    if (colon == std::string_view::npos && group.find('.') != std::string_view::npos) {
      *groups += 2;
      return is_ipv4_address(group);
    }
    if (group.empty() || group.size() > 4)
      return false;
    for (char c : group) {
      if (!std::isxdigit(static_cast<unsigned char>(c)))
        return false;
    }
    ++*groups;
    if (colon == std::string_view::npos)
      return true;
    start = colon + 1;
  }
}

// RFC 4291 text form: eight groups, or fewer with one "::" standing for the missing zeros.
bool is_ipv6_address(std::string_view text) {
  const size_t gap = text.find("::");
  int groups = 0;
  if (gap == std::string_view::npos)
    return count_ipv6_groups(text, &groups) && groups == 8;
  const std::string_view head = text.substr(0, gap);
  const std::string_view tail = text.substr(gap + 2);
  if (tail.find("::") != std::string_view::npos)
    return false;
  if (!head.empty() &&
      (head.find('.') != std::string_view::npos || !count_ipv6_groups(head, &groups))) {
    return false;
  }
  return (tail.empty() || count_ipv6_groups(tail, &groups)) && groups <= 7;
}

// The URL as it may appear in a log: whatever sits between the first ':' of the userinfo
// and the last '@' is replaced, even when the rest of the URL is malformed.
std::string mask_password(std::string_view url) {
  const size_t scheme_end = url.find("://");
  const size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start)
    return std::string(url);
  const size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at)
    return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

}  // namespace

bool parse_redis_url(std::string_view url, RedisUrl *out, std::string *error) {
  auto fail = [&](const std::string &why) {
    if (error != nullptr) {
      *error = "redis-url " + quote_for_message(mask_password(url), 200) + " is invalid: " + why;
    }
    return false;
  };
  if (!starts_with_ignoring_case(url, kScheme)) {
    if (starts_with_ignoring_case(url, "rediss://")) {
      return fail("scheme must be redis:// (TLS, rediss://, is not supported)");
    }
    return fail("scheme must be redis://");
  }
  RedisUrl parsed;
  std::string_view rest = url.substr(kScheme.size());
  // Raw passwords often contain '/', '?' or '#'; the last '@' still ends the userinfo.
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), &parsed.user)) {
      return fail("user has a bad %-escape (use % followed by two hex digits)");
    }
    if (colon != std::string_view::npos &&
        !percent_decode(userinfo.substr(colon + 1), &parsed.password)) {
      return fail("password has a bad %-escape (use % followed by two hex digits)");
    }
    rest.remove_prefix(at + 1);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail("query strings and fragments ('?', '#') are not supported");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return fail("IPv6 address is missing its closing ']'");
    host = authority.substr(1, close - 1);
    if (!is_ipv6_address(host))
      return fail("brackets must hold an IPv6 address");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return fail("expected ':port' after ']'");
    has_port = !after.empty();
    port = has_port ? after.substr(1) : "";
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    has_port = colon != std::string_view::npos;
    port = has_port ? authority.substr(colon + 1) : "";
    if (host.empty())
      return fail("host is missing");
    for (size_t i = 0; i < host.size(); ++i) {
      if (!is_host_char(host[i])) {
        return fail("host has character " + describe_byte(host[i]) + " at position " +
                    std::to_string(i) + " (IPv6 addresses go in [brackets])");
      }
    }
  }
  parsed.host = std::string(host);
  if (has_port && !parse_number(port, 1, 65535, &parsed.port)) {
    return fail("port must be a number from 1 to 65535");
  }
  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_number(db, 0, kMaxDb, &parsed.db)) {
      return fail("database must be a number from 0 to " + std::to_string(kMaxDb));
    }
  }
  *out = std::move(parsed);
  return true;
}

std::string redis_url_to_string(const RedisUrl &url, bool hide_password) {
  std::string text(kScheme);
  if (!url.user.empty() || !url.password.empty()) {
    text += percent_encode(url.user);
    if (!url.password.empty())
      text += ":" + (hide_password ? "***" : percent_encode(url.password));
    text += '@';
  }
  const bool ipv6 = url.host.find(':') != std::string::npos;
  text += ipv6 ? "[" + url.host + "]" : url.host;
  text += ":" + std::to_string(url.port) + "/" + std::to_string(url.db);
  return text;
}

}  // namespace tourcast
