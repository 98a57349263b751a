#include "fuzz_check.h"
#include "redis_schema.h"

namespace {

std::string canonical(const tourcast::RedisUrl &url) {
  return tourcast::redis_url_to_string(url, /*hide_password=*/false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tourcast_fuzz::check_round_trip<tourcast::RedisUrl>(tourcast_fuzz::as_text(data, size),
                                                      tourcast::parse_redis_url, canonical);
  return 0;
}
