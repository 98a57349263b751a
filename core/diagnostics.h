// The state of one channel as the guide sees it, and the seed's diagnostic report: what a
// person can act on, attendee by attendee. Pure: the guide fills the structs, this judges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adaptation.h"
#include "quality.h"

namespace tourcast {

struct AttendeeStatus {
  std::string id;
  std::string state;  // a ConnectionState name
  QualityLevel level = QualityLevel::kHigh;
  bool fec = false;                          // the level's encoder sends in-band FEC
  std::optional<ConnectionMetrics> metrics;  // the latest report; none before the first
  std::string profile;                       // as the attendee stated it; may be empty
  bool battery_saving = false;
  int64_t connected_for_ms = -1;  // -1: not connected
  uint32_t level_changes = 0;
  std::string last_change_reason;  // empty before the first change
};

struct ChannelStatus {
  std::string tour;
  std::string language;
  std::vector<AttendeeStatus> attendees;
  uint32_t max_attendees = 0;       // 0: no limit
  uint32_t encoders_running = 0;    // bit 1 << level per running encoder
  uint64_t level_changes = 0;       // all attendees, since the guide started
  uint64_t failed_connections = 0;  // peers dropped because they failed
};

// Connected, and its latest report (if any) scores fair or better (>= 50).
bool is_healthy(const AttendeeStatus &attendee);

// Sentences for a person, worst first, e.g. "attendee a1: 6.0% packet loss; FEC is on and its
// level went down to low; check its Wi-Fi or mobile signal". Empty when nothing needs doing.
std::vector<std::string> recommendations(const ChannelStatus &channel);

// The report as JSON: {"tour","language","timestamp","attendeeCount","healthyCount",
// "encoders":["high",...],"levelChanges","failedConnections","attendees":[{"id","state",
// "level","healthy","score","category","rttMs","jitterMs","lossRate","fec","profile",
// "batterySaving","connectedForMs","levelChanges","lastChangeReason"}],"recommendations":[..]}.
std::string diagnostics_to_json(const ChannelStatus &channel, int64_t timestamp_ms);

// The report as a reader of webrtc:diagnostics:{tour}:{language} gets it back (tourcast-server's
// metrics and attendee view). Derived fields (healthy, healthyCount, attendeeCount,
// recommendations) are not read back; max_attendees is not in the report and stays 0.
struct ChannelReport {
  ChannelStatus channel;
  int64_t timestamp_ms = 0;
};
constexpr size_t kMaxDiagnosticsBytes = 4 * 1024 * 1024;
// Strict like the Redis schema's decoders: every field diagnostics_to_json writes is required
// (rttMs and jitterMs only when known; score, category and lossRate together or not at all),
// names must be valid, state a connection state name, level a quality level name, score
// 0-100, lossRate 0-1, delays 0-kMaxDelayMs. Never throws; explains the first problem.
bool diagnostics_from_json(std::string_view json, ChannelReport *out, std::string *error);
std::string diagnostics_to_json(const ChannelReport &report);

}  // namespace tourcast
