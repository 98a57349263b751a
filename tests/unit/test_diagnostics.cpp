#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "diagnostics.h"

using namespace tourcast;

namespace {

AttendeeStatus connected(const std::string &id, double loss, std::optional<double> rtt = 20,
                         std::optional<double> jitter = 2) {
  AttendeeStatus a;
  a.id = id;
  a.state = "connected";
  a.connected_for_ms = 10000;
  RawStats raw;
  raw.rtt_ms = rtt;
  raw.jitter_ms = jitter;
  raw.packets_received = 1000;
  raw.packets_lost = static_cast<int64_t>(loss * 1000 / (1 - loss) + 0.5);
  a.metrics = compute_metrics(raw);
  return a;
}

}  // namespace

TEST(Diagnostics, HealthyChannelNeedsNothing) {
  ChannelStatus c;
  c.attendees = {connected("a1", 0), connected("a2", 0.004)};
  EXPECT_TRUE(recommendations(c).empty());
  EXPECT_TRUE(is_healthy(c.attendees[0]));
}

TEST(Diagnostics, EachProblemGetsASentenceAPersonCanActOn) {
  struct Case {
    AttendeeStatus attendee;
    const char *expected;
  };
  AttendeeStatus lossy = connected("a1", 0.06);
  lossy.fec = true;
  lossy.level = QualityLevel::kLow;
  lossy.level_changes = 2;
  AttendeeStatus slow = connected("a2", 0, 450.0);
  AttendeeStatus jittery = connected("a3", 0, 20.0, 80.0);
  AttendeeStatus failed;
  failed.id = "a4";
  failed.state = "failed";
  AttendeeStatus waiting;
  waiting.id = "a5";
  waiting.state = "connecting";
  AttendeeStatus battery = connected("a6", 0);
  battery.battery_saving = true;
  battery.level = QualityLevel::kLow;
  const Case cases[] = {
      {lossy,
       "attendee a1: 6.0% packet loss; FEC is on and its level went down to low; check "
       "its Wi-Fi or mobile signal"},
      {slow,
       "attendee a2: 450 ms round trip, its link is congested or far away; level high (a "
       "less busy network helps)"},
      {jittery, "attendee a3: 80 ms jitter; raise its jitterbuffer latency or check its network"},
      {failed,
       "attendee a4: connection failed; it has to join again (check that UDP reaches "
       "this machine from its network)"},
      {waiting,
       "attendee a5: still connecting; if this lasts more than a few seconds, check "
       "that UDP reaches this machine from its network"},
      {battery, "attendee a6: saving battery, held at level low"},
  };
  for (const Case &c : cases) {
    ChannelStatus channel;
    channel.attendees = {c.attendee};
    std::vector<std::string> r = recommendations(channel);
    ASSERT_EQ(r.size(), 1u) << c.expected;
    EXPECT_EQ(r[0], c.expected);
  }
}

TEST(Diagnostics, WorstFirstAndChannelWideFindings) {
  ChannelStatus c;
  c.tour = "t";
  c.language = "en";
  c.max_attendees = 5;
  AttendeeStatus failed;
  failed.id = "f";
  failed.state = "failed";
  c.attendees = {connected("a", 0, 20.0, 80.0), failed, failed, failed, connected("b", 0.1)};
  std::vector<std::string> r = recommendations(c);
  ASSERT_GE(r.size(), 4u);
  EXPECT_EQ(r[0].rfind("attendee f: connection failed", 0), 0u) << r[0];
  bool uplink = false, full = false;
  for (const std::string &s : r) {
    uplink |= s.find("most attendees (4 of 5)") != std::string::npos;
    full |= s.find("5 of 5 places taken") != std::string::npos;
  }
  EXPECT_TRUE(uplink);
  EXPECT_TRUE(full);
}

TEST(Diagnostics, JsonCarriesEveryAttendeeAndTheEncoders) {
  ChannelStatus c;
  c.tour = "t";
  c.language = "en";
  c.encoders_running = (1u << 1) | (1u << 3);
  c.level_changes = 3;
  c.attendees = {connected("a", 0.06), AttendeeStatus()};
  c.attendees[1].id = "b";
  c.attendees[1].state = "signaling";
  auto doc = nlohmann::json::parse(diagnostics_to_json(c, 1234));
  EXPECT_EQ(doc["attendeeCount"], 2);
  EXPECT_EQ(doc["healthyCount"], 0);  // a scores poor (6% loss), b is not connected
  EXPECT_EQ(doc["encoders"], nlohmann::json({"high", "low"}));
  EXPECT_EQ(doc["attendees"][0]["category"], "poor");
  EXPECT_FALSE(doc["attendees"][1].contains("score"));
  EXPECT_EQ(doc["recommendations"].size(), 2u);
  EXPECT_EQ(doc["timestamp"], 1234);
}
