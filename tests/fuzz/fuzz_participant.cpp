#include "fuzz_check.h"
#include "redis_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tourcast_fuzz::check_round_trip<tourcast::ParticipantRecord>(tourcast_fuzz::as_text(data, size),
                                                               tourcast::decode_participant,
                                                               tourcast::encode_participant);
  return 0;
}
