/* tourguidesink's spare peers: a peer made ahead, offer set and candidates
 * gathered, takes the next join; it is not an attendee anywhere.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

using namespace tourcast::test;

namespace {

constexpr int kConnectMs = 20000;
constexpr int kWindowMs = 500;
constexpr double kLevelFloorDbfs = -20;  // the guide sends a sine at volume 0.5 (-9 dBFS)

Listener join(const std::string &name, const std::string &url) {
  return listen(name, "spare", "en", url, "participant-id=" + name);
}

guint uint_property(Pipeline &guide, const char *name) {
  guint n = 0;
  g_object_get(guide.get("guide"), name, &n, nullptr);
  return n;
}

std::vector<std::string> status_attendees(Pipeline &guide) {
  std::vector<std::string> ids;
  GstStructure *status = nullptr;
  g_object_get(guide.get("guide"), "status", &status, nullptr);
  if (status == nullptr)
    return ids;
  const GValue *attendees = gst_structure_get_value(status, "attendees");
  for (guint i = 0; attendees && i < gst_value_array_get_size(attendees); i++) {
    const GstStructure *a = gst_value_get_structure(gst_value_array_get_value(attendees, i));
    ids.push_back(gst_structure_get_string(a, "peer-id"));
  }
  gst_structure_free(status);
  return ids;
}

/* The guide's diagnostics in Redis, once they list @count attendees. */
nlohmann::json diagnostics_with(RedisClient &client, size_t count) {
  nlohmann::json doc;
  wait_until(
      [&] {
        auto text = client.get("webrtc:diagnostics:spare:en");
        doc = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        return doc.is_object() && doc.value("attendeeCount", -1) == (int)count;
      },
      5000);
  return doc;
}

/* Whether the guide's joined message for @id says a spare peer took it
 * (nullopt: no such message). */
std::optional<bool> joined_on_spare(Pipeline &guide, const std::string &id) {
  std::optional<bool> on_spare;
  guide.for_each_element_message("tourcast-attendee-joined", [&](const GstStructure *s) {
    gboolean spare = FALSE;
    if (id == gst_structure_get_string(s, "peer-id") &&
        gst_structure_get_boolean(s, "spare-peer", &spare))
      on_spare = spare;
  });
  return on_spare;
}

void expect_hears_tone(const Listener &l) {
  ASSERT_TRUE(l.pipeline->wait_element_message("tourcast-first-audio", kConnectMs))
      << l.name << " heard nothing; errors: " << testing::PrintToString(l.pipeline->errors());
  ASSERT_TRUE(wait_until([&] { return l.meter->sample_count() >= 48 * 1500; }, kConnectMs))
      << l.name << " got " << l.meter->sample_count() << " samples";
  EXPECT_GT(l.meter->level_dbfs(kWindowMs), kLevelFloorDbfs) << l.name;
  EXPECT_GT(l.meter->tone_share(440, kWindowMs), 0.8) << l.name;
}

}  // namespace

TEST(SparePeers, AJoinTakesTheReadySpareAndAnotherIsMade) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  RedisClient client(redis.port());
  Pipeline guide(
      guide_description("guide", "spare", "en", 440, redis.url(), "report-interval=300"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(uint_property(guide, "spare-peers"), 1u) << "the default";

  /* Before anybody joins: one spare with its offer set, the first level's
   * encoder running, and still nobody attending. */
  ASSERT_TRUE(wait_until([&] { return uint_property(guide, "spares-ready") == 1; }, 10000));
  EXPECT_EQ(uint_property(guide, "encoders"), 1u) << "the spare keeps the first level warm";
  EXPECT_EQ(uint_property(guide, "attendee-count"), 0u);
  EXPECT_TRUE(status_attendees(guide).empty()) << testing::PrintToString(status_attendees(guide));
  nlohmann::json doc = diagnostics_with(client, 0);
  EXPECT_EQ(doc.value("attendeeCount", -1), 0) << doc.dump();
  EXPECT_TRUE(doc["attendees"].empty()) << doc.dump();

  Listener first = join("first", redis.url());
  expect_hears_tone(first);
  EXPECT_EQ(joined_on_spare(guide, "first"), std::optional<bool>(true));
  EXPECT_EQ(uint_property(guide, "attendee-count"), 1u);
  EXPECT_EQ(status_attendees(guide), std::vector<std::string>{"first"});
  doc = diagnostics_with(client, 1);
  ASSERT_EQ(doc["attendees"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["attendees"][0].value("id", ""), "first") << doc.dump();

  /* Made again once the first attendee is connected; the next join takes it. */
  ASSERT_TRUE(wait_until([&] { return uint_property(guide, "spares-ready") == 1; }, 10000));
  Listener second = join("second", redis.url());
  expect_hears_tone(second);
  EXPECT_EQ(joined_on_spare(guide, "second"), std::optional<bool>(true));
  EXPECT_EQ(uint_property(guide, "attendee-count"), 2u);
  expect_hears_tone(first);
  /* A spare measures no connection: every quality report names an attendee. */
  EXPECT_FALSE(guide
                   .find_element_message("tourcast-quality",
                                         [](const GstStructure *s) {
                                           const gchar *id = gst_structure_get_string(s, "peer-id");
                                           return id == nullptr || *id == '\0';
                                         })
                   .has_value());
  EXPECT_TRUE(guide.find_element_message("tourcast-quality").has_value());

  for (const Listener *l : {&first, &second})
    EXPECT_TRUE(l->pipeline->errors().empty()) << testing::PrintToString(l->pipeline->errors());
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
  EXPECT_TRUE(guide.warnings().empty()) << testing::PrintToString(guide.warnings());
}

TEST(SparePeers, WithoutSparesEveryJoinMakesItsPeerAndNoEncoderIdles) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "spare", "en", 440, redis.url(), "spare-peers=0"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Listener first = join("first", redis.url());
  expect_hears_tone(first);
  EXPECT_EQ(joined_on_spare(guide, "first"), std::optional<bool>(false));
  EXPECT_EQ(uint_property(guide, "spares-ready"), 0u);

  /* Raised while playing: a spare is made and the next join takes it. */
  g_object_set(guide.get("guide"), "spare-peers", 1u, nullptr);
  ASSERT_TRUE(wait_until([&] { return uint_property(guide, "spares-ready") == 1; }, 10000));
  Listener second = join("second", redis.url());
  expect_hears_tone(second);
  EXPECT_EQ(joined_on_spare(guide, "second"), std::optional<bool>(true));

  /* Lowered again: the spare made after the second join goes, and with both
   * attendees gone no encoder runs. */
  ASSERT_TRUE(wait_until([&] { return uint_property(guide, "spares-ready") == 1; }, 10000));
  g_object_set(guide.get("guide"), "spare-peers", 0u, nullptr);
  EXPECT_EQ(uint_property(guide, "spares-ready"), 0u);
  second.pipeline.reset();
  first.pipeline.reset();
  EXPECT_TRUE(wait_until([&] { return uint_property(guide, "attendee-count") == 0; }, 10000));
  EXPECT_TRUE(wait_until([&] { return uint_property(guide, "encoders") == 0; }, 5000))
      << uint_property(guide, "encoders") << " encoders with nobody listening and no spare";
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
}
