/* tourwebrtcbin's direct-send: the guide protects its attendees' RTP with the
 * DTLS keys and hands it to libnice itself, past webrtcbin's transport chain.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "e2e_util.h"

using namespace tourcast::test;

namespace {

constexpr int kConnectMs = 20000;
constexpr int kWindowMs = 500;
constexpr double kLevelFloorDbfs = -20;  // the guide sends a sine at volume 0.5 (-9 dBFS)

/* The guide's one peer (a new reference), once there is one. */
GstElement *the_peer(Pipeline &guide) {
  GstElement *peer = nullptr;
  GstIterator *it = gst_bin_iterate_elements(GST_BIN(guide.get("guide")));
  GValue item = G_VALUE_INIT;
  while (peer == nullptr && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto *element = GST_ELEMENT(g_value_get_object(&item));
    if (g_strcmp0(G_OBJECT_TYPE_NAME(element), "TourWebRTCBin") == 0)
      peer = GST_ELEMENT(gst_object_ref(element));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return peer;
}

guint64 direct_packets(GstElement *peer) {
  guint64 n = 0;
  g_object_get(peer, "direct-packets-sent", &n, nullptr);
  return n;
}

/* Counts the RTP packets webrtcbin's own SRTP encoder protects for @peer. */
class SrtpencCounter {
 public:
  explicit SrtpencCounter(GstElement *peer) {
    GstIterator *it = gst_bin_iterate_recurse(GST_BIN(peer));
    GValue item = G_VALUE_INIT;
    while (pad_ == nullptr && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      auto *element = GST_ELEMENT(g_value_get_object(&item));
      GstElementFactory *factory = gst_element_get_factory(element);
      if (factory && g_strcmp0(GST_OBJECT_NAME(factory), "srtpenc") == 0)
        pad_ = gst_element_get_static_pad(element, "rtp_sink_0");
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    if (pad_)
      probe_ = gst_pad_add_probe(pad_, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &count_, nullptr);
  }
  ~SrtpencCounter() {
    if (pad_) {
      gst_pad_remove_probe(pad_, probe_);
      gst_object_unref(pad_);
    }
  }
  bool found() const { return pad_ != nullptr; }
  guint64 count() const { return count_.load(); }

 private:
  static GstPadProbeReturn on_buffer(GstPad *, GstPadProbeInfo *, gpointer data) {
    static_cast<std::atomic<guint64> *>(data)->fetch_add(1);
    return GST_PAD_PROBE_OK;
  }
  GstPad *pad_ = nullptr;
  gulong probe_ = 0;
  std::atomic<guint64> count_{0};
};

void expect_hears_tone(const Listener &l, size_t samples_before = 0) {
  ASSERT_TRUE(
      wait_until([&] { return l.meter->sample_count() >= samples_before + 48 * 1000; }, kConnectMs))
      << l.name << " got " << l.meter->sample_count() - samples_before << " new samples";
  EXPECT_GT(l.meter->level_dbfs(kWindowMs), kLevelFloorDbfs) << l.name;
  EXPECT_GT(l.meter->tone_share(440, kWindowMs), 0.8) << l.name;
  EXPECT_GT(l.meter->quietest_chunk_dbfs(kWindowMs, 20), -35)
      << l.meter->chunk_profile(kWindowMs, 20);
}

}  // namespace

/* What the attendee hears, the guide protected and sent itself: webrtcbin's
 * SRTP encoder sees none of the packets. (That they are the packets srtpenc
 * would have made, byte for byte, is the unit tests' SrtpProtector.*.) */
TEST(DirectSend, TheAttendeeHearsWhatTheGuideSentPastWebrtcbin) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "direct", "en", 440, redis.url(), "spare-peers=0"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  gboolean guide_default = FALSE;
  g_object_get(guide.get("guide"), "direct-send", &guide_default, nullptr);
  EXPECT_TRUE(guide_default);
  Listener attendee = listen("a", "direct", "en", redis.url());
  ASSERT_TRUE(attendee.pipeline->wait_element_message("tourcast-first-audio", kConnectMs))
      << testing::PrintToString(attendee.pipeline->errors());
  expect_hears_tone(attendee);

  GstElement *peer = the_peer(guide);
  ASSERT_NE(peer, nullptr);
  SrtpencCounter srtpenc(peer);
  ASSERT_TRUE(srtpenc.found());
  guint64 direct_before = direct_packets(peer);
  size_t samples = attendee.meter->sample_count();
  expect_hears_tone(attendee, samples);
  EXPECT_GE(direct_packets(peer), direct_before + 25) << "about 50 per second";
  EXPECT_EQ(srtpenc.count(), 0u) << "webrtcbin's encoder protected packets too";
  guint64 dropped = 1;
  g_object_get(peer, "direct-packets-dropped", &dropped, nullptr);
  EXPECT_EQ(dropped, 0u);

  gst_object_unref(peer);
  EXPECT_TRUE(attendee.pipeline->errors().empty())
      << testing::PrintToString(attendee.pipeline->errors());
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
  EXPECT_TRUE(guide.warnings().empty()) << testing::PrintToString(guide.warnings());
}

TEST(DirectSend, OffEveryPacketTakesWebrtcbinsChain) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "direct", "en", 440, redis.url(),
                                   "spare-peers=0 direct-send=false"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Listener attendee = listen("a", "direct", "en", redis.url());
  ASSERT_TRUE(attendee.pipeline->wait_element_message("tourcast-first-audio", kConnectMs));
  expect_hears_tone(attendee);
  GstElement *peer = the_peer(guide);
  ASSERT_NE(peer, nullptr);
  gboolean on = TRUE;
  g_object_get(peer, "direct-send", &on, nullptr);
  EXPECT_FALSE(on);
  EXPECT_EQ(direct_packets(peer), 0u);
  gst_object_unref(peer);
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
}
