#include <functional>

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

TEST(Diagnostics, ReportReadsBackWhatTheGuideWrote) {
  ChannelReport written;
  ChannelStatus &c = written.channel;
  c.tour = "museum";
  c.language = "en";
  c.encoders_running = (1u << 0) | (1u << 2);
  c.level_changes = 7;
  c.failed_connections = 2;
  c.attendees = {connected("web-1.a", 0.02, 150.0, std::nullopt), AttendeeStatus()};
  c.attendees[0].level = QualityLevel::kMedium;
  c.attendees[0].fec = true;
  c.attendees[0].profile = "mobile/4g";
  c.attendees[0].level_changes = 3;
  c.attendees[0].last_change_reason = "loss 2.0% over 1.0%";
  c.attendees[1].id = "b";
  c.attendees[1].state = "reconnecting";
  written.timestamp_ms = 1700000000123;
  ChannelReport read;
  std::string error;
  ASSERT_TRUE(diagnostics_from_json(diagnostics_to_json(written), &read, &error)) << error;
  EXPECT_EQ(read.channel.tour, "museum");
  EXPECT_EQ(read.channel.language, "en");
  EXPECT_EQ(read.timestamp_ms, 1700000000123);
  EXPECT_EQ(read.channel.encoders_running, c.encoders_running);
  EXPECT_EQ(read.channel.level_changes, 7u);
  EXPECT_EQ(read.channel.failed_connections, 2u);
  ASSERT_EQ(read.channel.attendees.size(), 2u);
  const AttendeeStatus &a = read.channel.attendees[0];
  EXPECT_EQ(a.id, "web-1.a");
  EXPECT_EQ(a.state, "connected");
  EXPECT_EQ(a.level, QualityLevel::kMedium);
  ASSERT_TRUE(a.metrics.has_value());
  EXPECT_EQ(a.metrics->score, c.attendees[0].metrics->score);
  EXPECT_EQ(a.metrics->category, c.attendees[0].metrics->category);
  EXPECT_EQ(a.metrics->rtt_ms, 150.0);
  EXPECT_FALSE(a.metrics->jitter_ms.has_value());
  EXPECT_DOUBLE_EQ(a.metrics->loss_rate, c.attendees[0].metrics->loss_rate);
  EXPECT_TRUE(a.fec);
  EXPECT_EQ(a.profile, "mobile/4g");
  EXPECT_EQ(a.level_changes, 3u);
  EXPECT_EQ(a.last_change_reason, "loss 2.0% over 1.0%");
  EXPECT_EQ(a.connected_for_ms, 10000);
  EXPECT_EQ(read.channel.attendees[1].state, "reconnecting");
  EXPECT_FALSE(read.channel.attendees[1].metrics.has_value());
  EXPECT_EQ(diagnostics_to_json(read), diagnostics_to_json(written));
}

TEST(Diagnostics, ReportRefusesWhatTheGuideNeverWrites) {
  ChannelReport base;
  base.channel.tour = "t";
  base.channel.language = "en";
  base.channel.attendees = {connected("a", 0)};
  const nlohmann::json good = nlohmann::json::parse(diagnostics_to_json(base));
  struct Case {
    const char *name;
    std::function<void(nlohmann::json &)> change;
    const char *expected;  // the error contains it
  };
  const Case cases[] = {
      {"no tour", [](auto &j) { j.erase("tour"); }, "field 'tour' is missing"},
      {"bad tour", [](auto &j) { j["tour"] = "a:b"; }, "tour name \"a:b\" is invalid"},
      {"timestamp text", [](auto &j) { j["timestamp"] = "1"; }, "'timestamp' must be an integer"},
      {"negative changes", [](auto &j) { j["levelChanges"] = -1; }, "'levelChanges' must be"},
      {"encoders", [](auto &j) { j["encoders"] = {"loud"}; }, "quality level names"},
      {"attendees object", [](auto &j) { j["attendees"] = nlohmann::json::object(); },
       "'attendees' must be an array"},
      {"attendee number", [](auto &j) { j["attendees"][0] = 3; },
       "'attendees[0]' must be an object"},
      {"state", [](auto &j) { j["attendees"][0]["state"] = "happy"; },
       "'attendees[0].state' has unknown value \"happy\""},
      {"level", [](auto &j) { j["attendees"][0]["level"] = "loud"; },
       "'attendees[0].level' has unknown value"},
      {"score range", [](auto &j) { j["attendees"][0]["score"] = 101; },
       "'attendees[0].score' must be between 0 and 100"},
      {"score float", [](auto &j) { j["attendees"][0]["score"] = 50.5; }, "must be an integer"},
      {"category", [](auto &j) { j["attendees"][0]["category"] = "meh"; },
       "'attendees[0].category' has unknown value"},
      {"loss", [](auto &j) { j["attendees"][0]["lossRate"] = 1.5; },
       "'attendees[0].lossRate' must be between 0 and 1"},
      {"rtt", [](auto &j) { j["attendees"][0]["rttMs"] = -1; }, "'attendees[0].rttMs' must be"},
      {"category alone", [](auto &j) { j["attendees"][0].erase("score"); },
       "'attendees[0].category' needs a score beside it"},
      {"no changes", [](auto &j) { j["attendees"][0].erase("levelChanges"); },
       "'attendees[0].levelChanges' is missing"},
      {"bad id", [](auto &j) { j["attendees"][0]["id"] = ""; }, "attendees[0].id"},
      {"connected for", [](auto &j) { j["attendees"][0]["connectedForMs"] = -2; },
       "must be -1 or more"},
  };
  ChannelReport out;
  std::string error;
  ASSERT_TRUE(diagnostics_from_json(good.dump(), &out, &error)) << error;
  for (const Case &c : cases) {
    nlohmann::json doc = good;
    c.change(doc);
    error.clear();
    EXPECT_FALSE(diagnostics_from_json(doc.dump(), &out, &error)) << c.name;
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.name << ": " << error;
    EXPECT_EQ(error.rfind("diagnostics JSON: ", 0), 0u) << error;
  }
  EXPECT_FALSE(diagnostics_from_json("[]", &out, &error));
  EXPECT_FALSE(diagnostics_from_json("{", &out, &error));
  EXPECT_FALSE(diagnostics_from_json(std::string(kMaxDiagnosticsBytes + 1, ' '), &out, &error));
  EXPECT_NE(error.find("over"), std::string::npos);
}
