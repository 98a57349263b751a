#include "fuzz_check.h"
#include "redis_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tourcast_fuzz::check_round_trip<tourcast::CandidateRecord>(
      tourcast_fuzz::as_text(data, size), tourcast::decode_candidate, tourcast::encode_candidate);
  return 0;
}
