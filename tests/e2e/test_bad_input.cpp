/* Bad input gets a clear error, and nothing crashes or hangs.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include "e2e_util.h"
#include "redis_schema.h"

using namespace tourcast;
using namespace tourcast::test;

namespace {

/* Builds "audiotestsrc ! tourguidesink" or "tourattendeesrc ! fakesink" by
 * hand, since a name with a space cannot be written on a launch line. */
struct Built {
  GstElement *pipeline;
  GstElement *bin;
};

Built build(bool guide) {
  Built b;
  b.pipeline = gst_pipeline_new(nullptr);
  if (guide) {
    GstElement *src = gst_element_factory_make("audiotestsrc", nullptr);
    g_object_set(src, "is-live", TRUE, nullptr);
    b.bin = gst_element_factory_make("tourguidesink", nullptr);
    gst_bin_add_many(GST_BIN(b.pipeline), src, b.bin, nullptr);
    gst_element_link(src, b.bin);
  } else {
    b.bin = gst_element_factory_make("tourattendeesrc", nullptr);
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    gst_bin_add_many(GST_BIN(b.pipeline), b.bin, sink, nullptr);
    gst_element_link(b.bin, sink);
  }
  return b;
}

/* Plays @b and returns the first error message text (empty if none came). */
std::string first_error(Built b, int timeout_ms) {
  GstBus *bus = gst_element_get_bus(b.pipeline);
  GstStateChangeReturn ret = gst_element_set_state(b.pipeline, GST_STATE_PLAYING);
  std::string text;
  GstMessage *m =
      gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_ms * GST_MSECOND, GST_MESSAGE_ERROR);
  if (m) {
    GError *error = nullptr;
    gst_message_parse_error(m, &error, nullptr);
    text = error->message;
    g_clear_error(&error);
    gst_message_unref(m);
  } else if (ret == GST_STATE_CHANGE_FAILURE) {
    text = "(state change failed without an error message)";
  }
  gst_element_set_state(b.pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(b.pipeline);
  return text;
}

}  // namespace

TEST(BadInput, TourNameWithASpace) {
  Built b = build(true);
  g_object_set(b.bin, "tour", "my tour", "language", "en", nullptr);
  std::string error = first_error(b, 5000);
  EXPECT_NE(error.find("tour name \"my tour\" is invalid"), std::string::npos) << error;
  EXPECT_NE(error.find("' '"), std::string::npos) << error;
}

TEST(BadInput, LanguageNameWithAColon) {
  Built b = build(false);
  g_object_set(b.bin, "tour", "t1", "language", "en:fr", nullptr);
  std::string error = first_error(b, 5000);
  EXPECT_NE(error.find("language \"en:fr\" is invalid"), std::string::npos) << error;
  EXPECT_NE(error.find("':'"), std::string::npos) << error;
}

TEST(BadInput, MissingTour) {
  Built b = build(false);
  g_object_set(b.bin, "language", "en", nullptr);
  std::string error = first_error(b, 5000);
  EXPECT_NE(error.find("tour name"), std::string::npos) << error;
}

TEST(BadInput, MalformedRedisUrl) {
  Built b = build(true);
  g_object_set(b.bin, "tour", "t1", "language", "en", "redis-url", "http://127.0.0.1:6379",
               nullptr);
  std::string error = first_error(b, 5000);
  EXPECT_NE(error.find("redis-url"), std::string::npos) << error;
}

TEST(BadInput, UnreachableRedisIsAnErrorNotAHang) {
  /* Nothing listens on this port: the redis-server that had it is gone. */
  int port;
  {
    RedisServer gone;
    ASSERT_TRUE(gone.running()) << gone.error();
    port = gone.port();
  }
  for (bool guide : {true, false}) {
    Built b = build(guide);
    std::string url = "redis://127.0.0.1:" + std::to_string(port);
    g_object_set(b.bin, "tour", "t1", "language", "en", "redis-url", url.c_str(), nullptr);
    std::string error = first_error(b, 15000);
    EXPECT_NE(error.find("cannot reach Redis at redis://127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("after 5 attempts"), std::string::npos) << error;
  }
}

TEST(BadInput, MalformedCoordinationJsonIsReportedAndKept) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  RedisClient client(redis.port());
  const std::string junk = "{\"guideReady\": tru";
  client.set(coordination_key("bad", "en"), junk);

  Pipeline guide(guide_description("guide", "bad", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(attendee_description("a", "bad", "en", redis.url()));
  ToneMeter meter(attendee.get("a_out"));
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);

  /* Media does not depend on the coordination record: the tone still comes. */
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", 20000))
      << testing::PrintToString(attendee.errors());
  ASSERT_TRUE(wait_until([&] { return meter.sample_count() >= 48 * 1000; }, 10000));
  EXPECT_GT(meter.tone_share(440, 500), 0.8);

  ASSERT_TRUE(wait_until([&] { return !guide.warnings().empty(); }, 5000));
  std::string warning = guide.warnings().front();
  EXPECT_NE(warning.find("webrtc:coordination:bad:en does not hold a tourcast coordination JSON"),
            std::string::npos)
      << warning;
  EXPECT_EQ(client.get(coordination_key("bad", "en")), junk) << "someone else's value was lost";
  EXPECT_TRUE(guide.errors().empty());
}

TEST(BadInput, MalformedSignalingMessageIsIgnored) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  RedisClient client(redis.port());
  Pipeline guide(guide_description("guide", "noisy", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(
      wait_until([&] { return client.exists(participant_key("noisy", "en", "guide")); }, 5000));
  const std::vector<std::string> garbage = {"not json", "{\"type\":\"offer\"}", "[1,2,3]",
                                            "{\"type\":\"join\",\"from\":\"a b\",\"ts\":1}"};
  for (const auto &g : garbage)
    EXPECT_EQ(client.publish(signal_channel("noisy", "en", "guide"), g), 1);
  ASSERT_TRUE(wait_until([&] { return guide.warnings().size() >= garbage.size(); }, 5000))
      << testing::PrintToString(guide.warnings());
  for (const auto &w : guide.warnings())
    EXPECT_NE(w.find("ignored a malformed signaling message on webrtc:signal:noisy:en:guide"),
              std::string::npos)
        << w;
  /* And the guide still serves a real attendee. */
  Pipeline attendee(attendee_description("a", "noisy", "en", redis.url()));
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  EXPECT_TRUE(attendee.wait_element_message("tourcast-first-audio", 20000));
  EXPECT_TRUE(guide.errors().empty());
}

TEST(BadInput, WrongRedisPasswordIsAnError) {
  RedisServer redis({"--requirepass", "right"});
  ASSERT_TRUE(redis.running()) << redis.error();
  Built b = build(false);
  std::string url = "redis://:wrong@127.0.0.1:" + std::to_string(redis.port());
  g_object_set(b.bin, "tour", "t1", "language", "en", "redis-url", url.c_str(), nullptr);
  std::string error = first_error(b, 15000);
  EXPECT_NE(error.find("refused authentication"), std::string::npos) << error;
  EXPECT_EQ(error.find("wrong"), std::string::npos) << "the password leaked into: " << error;
}

TEST(BadInput, IceAddressThisMachineDoesNotHave) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Built b = build(false);
  /* 192.0.2.1 is documentation space: no interface of the test's namespace has it. */
  g_object_set(b.bin, "tour", "t1", "language", "en", "redis-url", redis.url().c_str(),
               "ice-addresses", "192.0.2.1", nullptr);
  std::string error = first_error(b, 10000);
  EXPECT_NE(error.find("\"192.0.2.1\" is not an address of this machine"), std::string::npos)
      << error;
  Built c = build(false);
  g_object_set(c.bin, "tour", "t1", "language", "en", "redis-url", redis.url().c_str(),
               "ice-addresses", "not-an-ip", nullptr);
  error = first_error(c, 10000);
  EXPECT_NE(error.find("\"not-an-ip\" is not an IP address"), std::string::npos) << error;
}

TEST(BadInput, UnknownAttendeeProfile) {
  Built b = build(false);
  g_object_set(b.bin, "tour", "t1", "language", "en", "profile", "tablet/5g", nullptr);
  std::string error = first_error(b, 5000);
  EXPECT_NE(error.find("tablet"), std::string::npos) << error;
}
