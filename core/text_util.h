// Internal helpers for building error messages; not part of the public API.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tourcast {

// `value` in double quotes for an error message: '"' and '\' are backslash-escaped, control,
// DEL and non-ASCII bytes become \xNN, and anything past max_bytes is cut and marked "...",
// so hostile input cannot flood a log or forge extra log lines.
std::string quote_for_message(std::string_view value, size_t max_bytes = 80);

// One byte as it would appear inside quote_for_message(): 'a', '\x0A'.
std::string describe_byte(char byte);

}  // namespace tourcast
