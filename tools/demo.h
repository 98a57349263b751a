// `tourcast demo`: a guide and N attendees in one process, talking through Redis and WebRTC
// over loopback, with a live view of what every attendee hears.
#pragma once

#include <string>

namespace tourcast_tools {

struct DemoOptions {
  int attendees = 3;
  int duration_s = 0;     // 0: until Ctrl-C
  std::string redis_url;  // empty: start an embedded redis-server
  std::string tour = "demo";
  std::string language = "en";
  double frequency = 440;
  int latency_ms = -1;  // -1: tourattendeesrc's default, from the attendee's profile
  std::string ice_address = "127.0.0.1";
  bool json = false;
  bool verbose = false;
};

// Checks the options that need no GStreamer; false with a message for the user.
bool validate_demo_options(const DemoOptions &options, std::string *error);

// gst_init must have run. Returns the exit code: 0 only if every attendee heard the tone.
int run_demo(const DemoOptions &options);

}  // namespace tourcast_tools
