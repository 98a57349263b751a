// SDP offers posted to tourcast-server (WHEP/WHIP bodies) and the Opus payload type lookup.
#include "fuzz_check.h"
#include "server_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text = tourcast_fuzz::as_text(data, size);
  std::string error;
  if (!tourcast::check_sdp_offer(text, &error))
    tourcast_fuzz::check_error_message(error);
  int pt = tourcast::opus_payload_type(text);
  FUZZ_CHECK(pt >= -1 && pt <= 127, std::to_string(pt));
  return 0;
}
