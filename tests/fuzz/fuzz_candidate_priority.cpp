#include "fuzz_check.h"
#include "ice_buffer.h"

// No encoder to round-trip through, so check that the optional prefixes really are optional:
// the bare attribute, "candidate:" + it and "a=candidate:" + it must agree.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view input = tourcast_fuzz::as_text(data, size);
  uint32_t priority = 0;
  const bool ok = tourcast::parse_candidate_priority(input, &priority);
  if (input.substr(0, 2) == "a=" || input.substr(0, 10) == "candidate:")
    return 0;
  for (const char *prefix : {"candidate:", "a=candidate:"}) {
    uint32_t prefixed_priority = 0;
    const std::string prefixed = prefix + std::string(input);
    FUZZ_CHECK(tourcast::parse_candidate_priority(prefixed, &prefixed_priority) == ok, prefixed);
    FUZZ_CHECK(!ok || prefixed_priority == priority, prefixed);
  }
  return 0;
}
