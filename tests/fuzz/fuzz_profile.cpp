#include "fuzz_check.h"
#include "profiles.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view text = tourcast_fuzz::as_text(data, size);
  tourcast_fuzz::check_round_trip<tourcast::AttendeeProfile>(text, tourcast::parse_profile,
                                                             tourcast::profile_to_string);
  tourcast::AttendeeProfile profile;
  if (!tourcast::parse_profile(text, &profile, nullptr))
    return 0;
  // Whatever an attendee states, it must get settings the level chooser can start from.
  const tourcast::ProfileSettings s = tourcast::settings_for(profile.device, profile.network);
  FUZZ_CHECK(!tourcast::is_above(s.initial_level, s.ceiling), std::string(text));
  FUZZ_CHECK(!tourcast::is_above(s.battery_level, s.ceiling), std::string(text));
  FUZZ_CHECK(s.channels >= 1 && s.channels <= tourcast::level_spec(s.ceiling).channels,
             std::string(text));
  return 0;
}
