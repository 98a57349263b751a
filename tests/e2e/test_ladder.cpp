/* The guide's encoder ladder: attendees on different levels, one encoder per
 * level in use, level changes without a gap, status and diagnostics.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

using namespace tourcast::test;

namespace {

constexpr int kConnectMs = 20000;
constexpr int kWindowMs = 500;
constexpr double kLevelFloorDbfs = -20;  // the guide sends a sine at volume 0.5 (-9 dBFS)
constexpr double kDropoutFloorDbfs = -35;

Listener join(const std::string &name, const std::string &url, const std::string &extra) {
  Listener l = listen(name, "ladder", "en", url, "participant-id=" + name + " " + extra);
  EXPECT_TRUE(l.pipeline->ok()) << l.pipeline->parse_error();
  return l;
}

/* The decoder's onset (the first 100 ms of a stream ramp up from about -35
 * dBFS) is not a dropout: the checked second starts after it. */
constexpr size_t kOnsetSamples = 48 * 200;

void expect_hears_tone(const Listener &l, const std::string &when) {
  size_t enough = std::max(l.meter->sample_count(), kOnsetSamples) + 48 * 1000;
  ASSERT_TRUE(wait_until([&] { return l.meter->sample_count() >= enough; }, kConnectMs))
      << l.name << " " << when;
  EXPECT_GT(l.meter->level_dbfs(kWindowMs), kLevelFloorDbfs) << l.name << " " << when;
  EXPECT_GT(l.meter->tone_share(440, kWindowMs), 0.8) << l.name << " " << when;
  /* No dropout: every 20 ms of the last second carries the tone. A missing
   * frame is silence or concealment fading out (below -40 dBFS); a packet
   * late on a starved machine (the leak check runs under AddressSanitizer)
   * costs a few dB, which is not what this looks for. */
  EXPECT_GT(l.meter->quietest_chunk_dbfs(1000, 20), kDropoutFloorDbfs)
      << l.name << " " << when << "; dBFS of each 20 ms: " << l.meter->chunk_profile(1000, 20);
}

guint encoders(Pipeline &guide) {
  guint n = 0;
  g_object_get(guide.get("guide"), "encoders", &n, nullptr);
  return n;
}

/* peer-id -> level, from the guide's status property. */
std::map<std::string, std::string> levels(Pipeline &guide) {
  std::map<std::string, std::string> out;
  GstStructure *status = nullptr;
  g_object_get(guide.get("guide"), "status", &status, nullptr);
  if (status == nullptr)
    return out;
  const GValue *attendees = gst_structure_get_value(status, "attendees");
  for (guint i = 0; attendees && i < gst_value_array_get_size(attendees); i++) {
    const GstStructure *a = gst_value_get_structure(gst_value_array_get_value(attendees, i));
    out[gst_structure_get_string(a, "peer-id")] = gst_structure_get_string(a, "level");
  }
  gst_structure_free(status);
  return out;
}

int64_t packets_lost(const Listener &l) {
  int64_t lost = 0;
  l.pipeline->for_each_element_message("tourcast-quality", [&](const GstStructure *s) {
    gint64 n = 0;
    if (gst_structure_get_int64(s, "packets-lost", &n))
      lost += n;
  });
  return lost;
}

bool level_changed(Pipeline &guide, const std::string &peer, const std::string &to) {
  return guide
      .find_element_message("tourcast-level-changed",
                            [&](const GstStructure *s) {
                              return peer == gst_structure_get_string(s, "peer-id") &&
                                     to == gst_structure_get_string(s, "new-level");
                            })
      .has_value();
}

}  // namespace

TEST(Ladder, OneEncoderPerLevelInUseAndSwitchesWithoutAGap) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  /* A clean link: nothing moves by itself (no degrade, no upgrade). No spare
   * peer: it would keep the high encoder running for the next attendee
   * (test_spare_peers.cpp). */
  Pipeline guide(guide_description("guide", "ladder", "en", 440, redis.url(),
                                   "upgrade-hold=3600000 report-interval=500 spare-peers=0"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(encoders(guide), 0u) << "an encoder runs with nobody listening";

  /* Profiles set where each starts: desktop high, mobile low, 2g minimum. */
  Listener desk = join("desk", redis.url(), "");
  Listener phone = join("phone", redis.url(), "profile=mobile");
  Listener slow = join("slow", redis.url(), "profile=mobile/2g");
  Listener desk2 = join("desk2", redis.url(), "");
  for (Listener *l : {&desk, &phone, &slow, &desk2})
    ASSERT_TRUE(l->pipeline->wait_element_message("tourcast-first-audio", kConnectMs))
        << l->name << ": " << testing::PrintToString(l->pipeline->errors());
  std::map<std::string, std::string> expected = {
      {"desk", "high"}, {"phone", "low"}, {"slow", "minimum"}, {"desk2", "high"}};
  EXPECT_TRUE(wait_until([&] { return levels(guide) == expected; }, 5000))
      << testing::PrintToString(levels(guide));
  EXPECT_EQ(encoders(guide), 3u);
  for (Listener *l : {&desk, &phone, &slow, &desk2})
    expect_hears_tone(*l, "on its first level");

  /* By hand, while it listens: desk joins the phone's encoder... */
  gboolean ok = FALSE;
  g_signal_emit_by_name(guide.get("guide"), "set-attendee-level", "desk", "low", &ok);
  EXPECT_TRUE(ok);
  ASSERT_TRUE(wait_until([&] { return level_changed(guide, "desk", "low"); }, 5000));
  EXPECT_EQ(encoders(guide), 3u) << "desk2 still needs the high encoder";
  expect_hears_tone(desk, "after moving to low");
  /* ...and with desk2 there too, nobody needs high any more: it stops. */
  g_signal_emit_by_name(guide.get("guide"), "set-attendee-level", "desk2", "low", &ok);
  ASSERT_TRUE(wait_until([&] { return level_changed(guide, "desk2", "low"); }, 5000));
  EXPECT_TRUE(wait_until([&] { return encoders(guide) == 2u; }, 5000)) << encoders(guide);
  /* Up again, past the phone's ceiling for desk (a desktop has none). */
  g_signal_emit_by_name(guide.get("guide"), "set-attendee-level", "desk", "maximum", &ok);
  ASSERT_TRUE(wait_until([&] { return level_changed(guide, "desk", "maximum"); }, 5000));
  expect_hears_tone(desk, "after moving to maximum");
  expect_hears_tone(desk2, "after moving to low");

  /* The renumbering kept one continuous stream: the attendees' jitterbuffers
   * saw no sequence gap on this clean link. */
  EXPECT_TRUE(wait_until(
      [&] { return desk.pipeline->find_element_message("tourcast-quality").has_value(); }, 5000));
  EXPECT_EQ(packets_lost(desk), 0);
  EXPECT_EQ(packets_lost(desk2), 0);

  /* Unknown attendee or level: refused, nothing moves. */
  g_signal_emit_by_name(guide.get("guide"), "set-attendee-level", "nobody", "low", &ok);
  EXPECT_FALSE(ok);
  g_signal_emit_by_name(guide.get("guide"), "set-attendee-level", "desk", "loud", &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(levels(guide)["desk"], "maximum");

  guint64 changes = 0;
  g_object_get(guide.get("guide"), "level-changes", &changes, nullptr);
  EXPECT_GE(changes, 5u);  // phone and slow by profile, then desk twice and desk2

  /* The diagnostics reach Redis for `tourcast diagnostics`. */
  RedisClient client(redis.port());
  ASSERT_TRUE(wait_until(
      [&] {
        auto json = client.get("webrtc:diagnostics:ladder:en");
        return json && nlohmann::json::parse(*json, nullptr, false).value("attendeeCount", 0) == 4;
      },
      5000));
  auto doc = nlohmann::json::parse(*client.get("webrtc:diagnostics:ladder:en"));
  EXPECT_EQ(doc["encoders"], nlohmann::json({"maximum", "low", "minimum"}));
  EXPECT_GT(client.pttl("webrtc:diagnostics:ladder:en"), 0);
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
  /* The one warning is the refused level, naming what is accepted. */
  std::vector<std::string> warnings = guide.warnings();
  ASSERT_EQ(warnings.size(), 1u) << testing::PrintToString(warnings);
  EXPECT_NE(warnings[0].find("unknown level \"loud\": use maximum, high, medium, low, minimum"),
            std::string::npos)
      << warnings[0];
}

TEST(Ladder, BatterySavingMovesTheAttendeeDownAtOnce) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(
      guide_description("guide", "ladder", "en", 440, redis.url(), "upgrade-hold=3600000"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Listener phone = join("phone", redis.url(), "profile=ios");
  ASSERT_TRUE(phone.pipeline->wait_element_message("tourcast-first-audio", kConnectMs));
  /* iOS starts low and may climb to medium: put it there by hand first. */
  gboolean ok = FALSE;
  g_signal_emit_by_name(guide.get("guide"), "set-attendee-level", "phone", "medium", &ok);
  ASSERT_TRUE(wait_until([&] { return level_changed(guide, "phone", "medium"); }, 5000));

  g_object_set(phone.pipeline->get("phone"), "battery-saving", TRUE, nullptr);
  /* The bound only keeps a broken build from hanging; bench/ measures it. */
  ASSERT_TRUE(wait_until(
      [&] {
        return guide
            .find_element_message("tourcast-level-changed",
                                  [](const GstStructure *s) {
                                    return g_str_has_prefix(gst_structure_get_string(s, "reason"),
                                                            "battery saving");
                                  })
            .has_value();
      },
      5000));
  EXPECT_EQ(levels(guide)["phone"], "low");
  expect_hears_tone(phone, "saving battery");
  GstStructure *diagnostics = nullptr;
  g_object_get(guide.get("guide"), "diagnostics", &diagnostics, nullptr);
  ASSERT_NE(diagnostics, nullptr);
  const GValue *r = gst_structure_get_value(diagnostics, "recommendations");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(gst_value_array_get_size(r), 1u);
  EXPECT_STREQ(g_value_get_string(gst_value_array_get_value(r, 0)),
               "attendee phone: saving battery, held at level low");
  gst_structure_free(diagnostics);
}

TEST(Ladder, AttendeeAsksToBeHeldAtALevel) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(
      guide_description("guide", "ladder", "en", 440, redis.url(), "upgrade-hold=3600000"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  /* Asked for from the start (with the join), then changed while listening. */
  Listener saver = join("saver", redis.url(), "auto-quality=false level=minimum");
  ASSERT_TRUE(saver.pipeline->wait_element_message("tourcast-first-audio", kConnectMs));
  EXPECT_TRUE(wait_until([&] { return levels(guide)["saver"] == "minimum"; }, 5000))
      << levels(guide)["saver"];
  expect_hears_tone(saver, "at minimum");
  g_object_set(saver.pipeline->get("saver"), "level", 2 /* medium */, nullptr);
  ASSERT_TRUE(wait_until([&] { return level_changed(guide, "saver", "medium"); }, 5000));
  /* Handing the choice back keeps the level until the reports say otherwise. */
  g_object_set(saver.pipeline->get("saver"), "auto-quality", TRUE, nullptr);
  g_usleep(500 * 1000);
  EXPECT_EQ(levels(guide)["saver"], "medium");
  expect_hears_tone(saver, "at medium");
}
