// The guide's channel report (webrtc:diagnostics:{tour}:{language}) as tourcast-server reads
// it for /metrics and the listener view: whatever is in Redis, a decode that succeeds
// re-encodes stably, and a failure explains itself.
#include "diagnostics.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tourcast_fuzz::check_round_trip<tourcast::ChannelReport>(
      tourcast_fuzz::as_text(data, size), tourcast::diagnostics_from_json,
      [](const tourcast::ChannelReport &r) { return tourcast::diagnostics_to_json(r); });
  return 0;
}
