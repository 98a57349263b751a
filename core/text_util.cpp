#include "text_util.h"

namespace tourcast {
namespace {

bool is_printable_ascii(unsigned char byte) {
  return byte >= 0x20 && byte < 0x7f;
}

void append_escaped(std::string *out, unsigned char byte, char quote) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (byte == quote || byte == '\\') {
    *out += '\\';
    *out += static_cast<char>(byte);
  } else if (is_printable_ascii(byte)) {
    *out += static_cast<char>(byte);
  } else {
    *out += "\\x";
    *out += kHex[byte >> 4];
    *out += kHex[byte & 0xf];
  }
}

}  // namespace

std::string quote_for_message(std::string_view value, size_t max_bytes) {
  std::string quoted = "\"";
  const std::string_view shown = value.substr(0, max_bytes);
  for (char c : shown)
    append_escaped(&quoted, static_cast<unsigned char>(c), '"');
  if (shown.size() < value.size())
    quoted += "...";
  quoted += '"';
  return quoted;
}

std::string describe_byte(char byte) {
  std::string described = "'";
  append_escaped(&described, static_cast<unsigned char>(byte), '\'');
  described += '\'';
  return described;
}

}  // namespace tourcast
