// The seed's device and network optimisations as settings for one attendee, chosen from
// what the attendee states about itself ("mobile/3g"), which arrives in its participant
// record's `profile` field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "adaptation.h"

namespace tourcast {

enum class DeviceProfile { kDesktop, kMobile, kIos };
constexpr int kDeviceProfileCount = 3;
// "desktop", "mobile", "ios".
const char *to_string(DeviceProfile device);
bool device_profile_from_string(std::string_view text, DeviceProfile *out);

enum class NetworkProfile { kUnknown, kWifi, k4g, k3g, k2g };
constexpr int kNetworkProfileCount = 5;
// "unknown", "wifi", "4g", "3g", "2g". Parsing also takes "slow-2g" as 2g: it is what the
// browser's Network Information API (the seed's effectiveType) reports for the worst links.
const char *to_string(NetworkProfile network);
bool network_profile_from_string(std::string_view text, NetworkProfile *out);

struct ProfileSettings {
  QualityLevel initial_level = QualityLevel::kHigh;  // before any RTCP arrives
  QualityLevel ceiling = QualityLevel::kMaximum;     // LevelChooser's ceiling
  int channels = 2;                                  // most the attendee accepts
  int64_t heartbeat_interval_ms = 5000;
  int64_t connection_timeout_ms = 15000;
  bool battery_saving = false;  // honour the attendee's "battery low" (set_battery_saving)
  QualityLevel battery_level = QualityLevel::kLow;
  int jitter_latency_ms = 60;  // see below; the adaptive latency starts from it
};

// The seed gives bitrate/sample-rate pairs; read the bitrate as where to start and the
// sample rate as how far adaptation may climb, each mapped to the level with that figure:
//
//   desktop   seed: defaults        initial high, ceiling maximum (stereo), heartbeat
//                                   5000 ms (the signaller's default), timeout 15000 ms
//                                   (the state machine's signaling/connecting timeouts)
//   mobile    32 kb/s, 24 kHz       initial low (32 kb/s), ceiling medium (24 kHz), mono,
//                                   heartbeat 45000 ms, battery saving
//   ios       mono, 24 kHz          as mobile (an iOS device is a mobile one), mono required
//   2g, 3g    16 kb/s, 16 kHz       initial minimum (16 kb/s), ceiling low (16 kHz),
//                                   timeout 60000 ms
//   wifi, 4g, unknown               no constraint (the seed has none)
//
// Device and network combine by the more conservative value of each field: the lower level,
// the fewer channels, the longer timeout and heartbeat. channels is at most what the ceiling
// level carries. battery_level is low (32 kb/s wideband, still clearly intelligible speech;
// Opus sends a packet every 20 ms whatever the bitrate, so going lower saves little radio
// time) and never above the ceiling.
//
// jitter_latency_ms is how long the attendee's jitterbuffer holds packets (webrtcbin's
// latency; its own default, 200 ms, is also the time to first audio on a LAN): 60 ms (three
// Opus frames) on wifi and on a desktop whose network is unknown, 120 ms on 4g and on a
// phone whose network is unknown (cellular jitter of 20-50 ms), 200 ms on 3g and 2g. A
// stated network decides alone: a phone on wifi gets wifi's.
// tourattendeesrc's adaptive latency (latency -1, core/receive_latency) starts at its
// min-latency where this is 60 or less and at this value above it, and raises it on late
// packets.
ProfileSettings settings_for(DeviceProfile device, NetworkProfile network);

struct AttendeeProfile {
  DeviceProfile device = DeviceProfile::kDesktop;
  NetworkProfile network = NetworkProfile::kUnknown;
};

// "<device>" or "<device>/<network>", lower case, no spaces: "desktop", "ios/4g",
// "mobile/2g", "mobile/slow-2g". Anything else, including "", fails with a message naming
// what was wrong and what is accepted. error may be nullptr.
bool parse_profile(std::string_view text, AttendeeProfile *out, std::string *error);
// Canonical form: "<device>" when the network is unknown, else "<device>/<network>".
std::string profile_to_string(const AttendeeProfile &profile);

}  // namespace tourcast
