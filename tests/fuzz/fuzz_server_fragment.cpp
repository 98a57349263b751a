// trickle-ice-sdpfrag bodies (PATCH /whep/...): a parsed fragment's candidates go back into an
// SDP and must come out of it again unchanged.
#include "fuzz_check.h"
#include "server_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tourcast::SdpFragment fragment;
  std::string error;
  if (!tourcast::parse_trickle_fragment(tourcast_fuzz::as_text(data, size), &fragment, &error)) {
    tourcast_fuzz::check_error_message(error);
    return 0;
  }
  std::string sdp = "v=0\r\n";
  uint32_t sections = 0;
  for (const auto &c : fragment.candidates)
    sections = c.mline + 1 > sections ? c.mline + 1 : sections;
  for (uint32_t i = 0; i < sections; i++)
    sdp += "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  std::string merged = tourcast::add_candidates_to_sdp(sdp, fragment.candidates);
  tourcast::SdpFragment again;
  FUZZ_CHECK(tourcast::parse_trickle_fragment(merged.substr(5), &again, &error), error);
  FUZZ_CHECK(again.candidates.size() == fragment.candidates.size(), merged);
  for (size_t i = 0; i < again.candidates.size(); i++)
    FUZZ_CHECK(again.candidates[i].candidate == fragment.candidates[i].candidate, merged);
  return 0;
}
