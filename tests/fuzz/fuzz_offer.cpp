#include "fuzz_check.h"
#include "redis_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tourcast_fuzz::check_round_trip<tourcast::OfferRecord>(
      tourcast_fuzz::as_text(data, size), tourcast::decode_offer, tourcast::encode_offer);
  return 0;
}
