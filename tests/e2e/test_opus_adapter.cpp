/* touropusadapter: levels follow quality reports and manual choices, while
 * the audio keeps decoding.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include "e2e_util.h"

using namespace tourcast::test;

namespace {

GstStructure *report(gint64 lost, gint64 received) {
  return gst_structure_new("tourcast-quality", "packets-lost", G_TYPE_INT64, lost,
                           "packets-received", G_TYPE_INT64, received, "rtt-ms", G_TYPE_DOUBLE, 5.0,
                           nullptr);
}

void send_report(GstElement *adapter, gint64 lost, gint64 received) {
  GstStructure *s = report(lost, received);
  g_signal_emit_by_name(adapter, "report", s);
  gst_structure_free(s);
}

int encoder_int(GstElement *adapter, const char *property) {
  GstElement *encoder = gst_bin_get_by_name(GST_BIN(adapter), "encoder");
  gint value = -1;
  g_object_get(encoder, property, &value, nullptr);
  gst_object_unref(encoder);
  return value;
}

std::string level_of(GstElement *adapter) {
  gint level = -1;
  g_object_get(adapter, "level", &level, nullptr);
  GEnumClass *klass = G_ENUM_CLASS(g_type_class_ref(g_type_from_name("TourQualityLevel")));
  std::string nick = g_enum_get_value(klass, level)->value_nick;
  g_type_class_unref(klass);
  return nick;
}

}  // namespace

TEST(OpusAdapter, LevelsFollowReportsAndManualChoice) {
  Pipeline p(
      "audiotestsrc is-live=true wave=sine volume=0.5 freq=440 ! audio/x-raw,rate=48000,channels=1"
      " ! touropusadapter name=adapter level=high ! opusdec ! audioconvert ! audioresample !"
      " audio/x-raw,format=F32LE,channels=1,rate=48000 ! appsink name=out");
  ASSERT_TRUE(p.ok()) << p.parse_error();
  ToneMeter meter(p.get("out"));
  ASSERT_NE(p.play(), GST_STATE_CHANGE_FAILURE);
  GstElement *adapter = p.get("adapter");
  ASSERT_TRUE(wait_until([&] { return meter.sample_count() >= 48 * 500; }, 10000));
  EXPECT_EQ(level_of(adapter), "high");
  EXPECT_EQ(encoder_int(adapter, "bitrate"), 96000);

  /* 6 % loss: one level down, FEC on and told the loss. */
  send_report(adapter, 6, 94);
  ASSERT_TRUE(p.wait_element_message("tourcast-level-changed", 2000));
  EXPECT_EQ(level_of(adapter), "medium");
  EXPECT_EQ(encoder_int(adapter, "bitrate"), 64000);
  EXPECT_EQ(encoder_int(adapter, "packet-loss-percentage"), 8);
  gboolean fec = FALSE;
  GstElement *encoder = gst_bin_get_by_name(GST_BIN(adapter), "encoder");
  g_object_get(encoder, "inband-fec", &fec, nullptr);
  gst_object_unref(encoder);
  EXPECT_TRUE(fec);
  auto message = p.find_element_message("tourcast-level-changed");
  EXPECT_NE(message->find("old-level=(string)high"), std::string::npos) << *message;
  EXPECT_NE(message->find("new-level=(string)medium"), std::string::npos) << *message;
  EXPECT_NE(message->find("loss"), std::string::npos) << *message;

  /* A second bad report right away does not crash it down another level. */
  send_report(adapter, 6, 94);
  EXPECT_EQ(level_of(adapter), "medium");

  /* By hand: minimum, and reports no longer move it. */
  g_object_set(adapter, "level", 4 /* minimum */, nullptr);
  EXPECT_EQ(level_of(adapter), "minimum");
  EXPECT_EQ(encoder_int(adapter, "bitrate"), 16000);
  gboolean automatic = TRUE;
  g_object_get(adapter, "auto-quality", &automatic, nullptr);
  EXPECT_FALSE(automatic);
  send_report(adapter, 0, 100);
  EXPECT_EQ(level_of(adapter), "minimum");
  guint changes = 0;
  g_object_get(adapter, "level-changes", &changes, nullptr);
  EXPECT_EQ(changes, 2u);

  /* Audio never stopped: the tone is still there at 16 kb/s narrowband. */
  size_t before = meter.sample_count();
  ASSERT_TRUE(wait_until([&] { return meter.sample_count() >= before + 48 * 600; }, 10000));
  EXPECT_GT(meter.tone_share(440, 500), 0.5);
  EXPECT_GT(meter.level_dbfs(500), -20);
  EXPECT_TRUE(p.errors().empty()) << testing::PrintToString(p.errors());
}
