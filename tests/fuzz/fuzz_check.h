// Shared checks for the libFuzzer targets: a decode that succeeds must survive
// encode -> decode -> encode unchanged, and a decode that fails must explain itself in a
// bounded, printable message (errors end up in logs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(condition, detail)                                                       \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n%s\n", __FILE__, __LINE__, #condition, \
                   std::string(detail).c_str());                                            \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

namespace tourcast_fuzz {

inline std::string_view as_text(const uint8_t *data, size_t size) {
  return std::string_view(reinterpret_cast<const char *>(data), size);
}

inline void check_error_message(const std::string &error) {
  FUZZ_CHECK(!error.empty(), "failure without an error message");
  FUZZ_CHECK(error.size() < 2048, error);
  for (char c : error)
    FUZZ_CHECK(c >= 0x20 && c < 0x7f, "unprintable byte in: " + error);
}

// decode(text, &record, &error) -> bool; encode(record) -> std::string.
template <typename Record, typename Decode, typename Encode>
void check_round_trip(std::string_view input, Decode decode, Encode encode) {
  Record first;
  std::string error;
  if (!decode(input, &first, &error)) {
    check_error_message(error);
    return;
  }
  const std::string encoded = encode(first);
  Record second;
  FUZZ_CHECK(decode(encoded, &second, &error), "re-decoding " + encoded + " failed: " + error);
  const std::string reencoded = encode(second);
  FUZZ_CHECK(reencoded == encoded, "unstable round trip:\n" + encoded + "\n" + reencoded);
}

}  // namespace tourcast_fuzz
