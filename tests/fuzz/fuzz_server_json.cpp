// JSON bodies tourcast-server reads: the seed's POST /api/tour/offer request, a browser
// attendee's report, and the resource record it keeps in Redis. The first byte picks which.
#include "fuzz_check.h"
#include "server_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view text = tourcast_fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      tourcast_fuzz::check_round_trip<tourcast::SeedOfferRequest>(
          text, tourcast::decode_seed_offer_request, tourcast::encode_seed_offer_request);
      break;
    case 1:
      tourcast_fuzz::check_round_trip<tourcast::AttendeeReport>(
          text, tourcast::decode_attendee_report, tourcast::encode_attendee_report);
      break;
    default:
      tourcast_fuzz::check_round_trip<tourcast::HttpResource>(
          text, tourcast::decode_http_resource, tourcast::encode_http_resource);
      break;
  }
  return 0;
}
