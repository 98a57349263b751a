/* Connection quality measured on real peers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>

#include "e2e_util.h"

using namespace tourcast::test;

namespace {

/* Every number in a quality message is finite, and the score matches its
 * category's range. */
bool well_formed(const GstStructure *s) {
  for (int i = 0; i < gst_structure_n_fields(s); i++) {
    const GValue *v = gst_structure_get_value(s, gst_structure_nth_field_name(s, i));
    if (G_VALUE_HOLDS_DOUBLE(v) && !std::isfinite(g_value_get_double(v)))
      return false;
  }
  gint score = -1;
  return gst_structure_get_int(s, "score", &score) && score >= 0 && score <= 100 &&
         gst_structure_get_string(s, "category") != nullptr;
}

/* Two monitors on one webrtcbin, both in @pipeline: `direct` at its defaults
 * (reads the RTP session), `requests` always through get-stats. */
class MonitorPair {
 public:
  bool add(Pipeline &pipeline, GstElement *webrtcbin) {
    direct_ = gst_element_factory_make("tourqualitymonitor", "direct");
    requests_ = gst_element_factory_make("tourqualitymonitor", "requests");
    g_object_set(direct_, "webrtcbin", webrtcbin, "interval", 200, nullptr);
    g_object_set(requests_, "webrtcbin", webrtcbin, "interval", 200, "read-rtp-session", FALSE,
                 nullptr);
    bool ok = true;
    for (GstElement *monitor : {direct_, requests_}) {
      gst_bin_add(GST_BIN(pipeline.element()), monitor);
      ok = gst_element_sync_state_with_parent(monitor) && ok;
    }
    return ok;
  }
  /* Whether both have measured and @same holds for their last measurements. */
  bool agree(const std::function<bool(const GstStructure *, const GstStructure *)> &same) {
    GstStructure *a = nullptr, *b = nullptr;
    g_object_get(direct_, "metrics", &a, nullptr);
    g_object_get(requests_, "metrics", &b, nullptr);
    bool agreed = false;
    if (a && b) {
      gchar *text_a = gst_structure_to_string(a), *text_b = gst_structure_to_string(b);
      last_ = std::string("rtp session: ") + text_a + "\nget-stats: " + text_b;
      g_free(text_a);
      g_free(text_b);
      agreed = same(a, b);
    }
    if (a)
      gst_structure_free(a);
    if (b)
      gst_structure_free(b);
    return agreed;
  }
  const std::string &last() const { return last_; }
  guint64 direct_requests() const { return requests_made(direct_); }
  guint64 stats_requests() const { return requests_made(requests_); }

 private:
  static guint64 requests_made(GstElement *monitor) {
    guint64 n = 0;
    g_object_get(monitor, "stats-requests", &n, nullptr);
    return n;
  }
  GstElement *direct_ = nullptr, *requests_ = nullptr;
  std::string last_;
};

}  // namespace

TEST(Quality, CleanLinkScoresExcellentOnBothSides) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "q", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(attendee_description("a", "q", "en", redis.url()) +
                    " tourqualitymonitor name=monitor target=webrtcbin interval=300 peer-id=guide");
  ASSERT_TRUE(attendee.ok()) << attendee.parse_error();
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", 20000));

  /* The guide side measures the attendee from its receiver reports. */
  GstElement *peer = nullptr;
  ASSERT_TRUE(wait_until(
      [&] {
        GstElement *found = gst_bin_get_by_name(GST_BIN(guide.get("guide")), "webrtcbin");
        if (found)
          peer = found;
        return found != nullptr;
      },
      5000));
  GstElement *monitor = gst_element_factory_make("tourqualitymonitor", "guide-monitor");
  g_object_set(monitor, "webrtcbin", peer, "interval", 300, "peer-id", "a", nullptr);
  gst_object_unref(peer);
  gst_bin_add(GST_BIN(guide.element()), monitor);
  ASSERT_TRUE(gst_element_sync_state_with_parent(monitor));

  auto received_audio = [](const GstStructure *s) {
    gint64 received = 0;
    return gst_structure_get_int64(s, "packets-received", &received) && received > 0;
  };
  ASSERT_TRUE(attendee.wait_element_message("tourcast-quality", 10000, received_audio));
  auto with_rtt = [](const GstStructure *s) { return gst_structure_has_field(s, "rtt-ms"); };
  /* RTCP receiver reports come every few seconds at first. */
  ASSERT_TRUE(guide.wait_element_message("tourcast-quality", 15000, with_rtt));

  for (Pipeline *p : {&attendee, &guide}) {
    auto message = p->find_element_message("tourcast-quality", received_audio);
    ASSERT_TRUE(message.has_value());
    GstStructure *s = gst_structure_from_string(message->c_str(), nullptr);
    ASSERT_NE(s, nullptr) << *message;
    EXPECT_TRUE(well_formed(s)) << *message;
    gint score = 0;
    gst_structure_get_int(s, "score", &score);
    EXPECT_EQ(score, 100) << *message;
    EXPECT_STREQ(gst_structure_get_string(s, "category"), "excellent") << *message;
    gst_structure_free(s);
  }
  auto rtt_message = guide.find_element_message("tourcast-quality", with_rtt);
  GstStructure *s = gst_structure_from_string(rtt_message->c_str(), nullptr);
  gdouble rtt = -1;
  ASSERT_TRUE(gst_structure_get_double(s, "rtt-ms", &rtt));
  EXPECT_GE(rtt, 0);
  EXPECT_LT(rtt, 100) << "loopback inside one namespace";
  gst_structure_free(s);

  /* The last measurement is also a property. */
  GstStructure *last = nullptr;
  g_object_get(attendee.get("monitor"), "metrics", &last, nullptr);
  ASSERT_NE(last, nullptr);
  EXPECT_TRUE(well_formed(last));
  gst_structure_free(last);
}

/* The guide's monitor reads its peer's RTP session instead of asking
 * get-stats: the figures from the receiver reports must be get-stats' own. */
TEST(Quality, GuideReadsTheRtpSessionAsGetStatsReportsIt) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  /* No spare peer: the guide's only webrtcbin is the attendee's. */
  Pipeline guide(guide_description("guide", "qs", "en", 440, redis.url(), "spare-peers=0"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(attendee_description("a", "qs", "en", redis.url()));
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", 20000));
  GstElement *peer = gst_bin_get_by_name(GST_BIN(guide.get("guide")), "webrtcbin");
  ASSERT_NE(peer, nullptr);
  MonitorPair monitors;
  const bool added = monitors.add(guide, peer);
  gst_object_unref(peer);
  ASSERT_TRUE(added);

  /* Both last read after the same receiver report (one every 250-750 ms):
   * then every figure the report carries is the same to the last bit. */
  auto same_report = [](const GstStructure *a, const GstStructure *b) {
    gdouble rtt_a, rtt_b, jitter_a, jitter_b;
    gint64 lost_a, lost_b;
    return gst_structure_get_double(a, "rtt-ms", &rtt_a) &&
           gst_structure_get_double(b, "rtt-ms", &rtt_b) && rtt_a == rtt_b &&
           gst_structure_get_double(a, "jitter-ms", &jitter_a) &&
           gst_structure_get_double(b, "jitter-ms", &jitter_b) && jitter_a == jitter_b &&
           gst_structure_get_int64(a, "packets-lost", &lost_a) &&
           gst_structure_get_int64(b, "packets-lost", &lost_b) && lost_a == lost_b &&
           g_strcmp0(gst_structure_get_string(a, "audio-codec"),
                     gst_structure_get_string(b, "audio-codec")) == 0 &&
           gst_structure_get_string(a, "audio-codec") != nullptr;
  };
  EXPECT_TRUE(wait_until([&] { return monitors.agree(same_report); }, 15000)) << monitors.last();
  EXPECT_EQ(monitors.direct_requests(), 0u) << "a sending webrtcbin is read without get-stats";
  EXPECT_GT(monitors.stats_requests(), 0u);
}

/* The attendee's monitor reads its peer's RTP session and jitterbuffer
 * instead of asking get-stats: the same figures, without a request. */
TEST(Quality, AttendeeReadsTheRtpSessionAsGetStatsReportsIt) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "qr", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(attendee_description("a", "qr", "en", redis.url()));
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", 20000));
  GstElement *peer = gst_bin_get_by_name(GST_BIN(attendee.element()), "webrtcbin");
  ASSERT_NE(peer, nullptr);
  MonitorPair monitors;
  const bool added = monitors.add(attendee, peer);
  gst_object_unref(peer);
  ASSERT_TRUE(added);

  /* Packets arrive every 20 ms, so the two read a few packets apart: the
   * counters agree within a second's worth, loss and codec exactly. */
  auto agree = [](const GstStructure *a, const GstStructure *b) {
    gdouble jitter_a, jitter_b;
    gint64 lost_a, lost_b, received_a, received_b;
    return gst_structure_get_int64(a, "packets-received", &received_a) &&
           gst_structure_get_int64(b, "packets-received", &received_b) && received_a > 0 &&
           std::llabs(received_a - received_b) <= 50 &&
           gst_structure_get_double(a, "jitter-ms", &jitter_a) &&
           gst_structure_get_double(b, "jitter-ms", &jitter_b) && jitter_a >= 0 &&
           jitter_a < 1000 && gst_structure_get_int64(a, "packets-lost", &lost_a) &&
           gst_structure_get_int64(b, "packets-lost", &lost_b) && lost_a == lost_b &&
           g_strcmp0(gst_structure_get_string(a, "audio-codec"),
                     gst_structure_get_string(b, "audio-codec")) == 0;
  };
  EXPECT_TRUE(wait_until([&] { return monitors.agree(agree); }, 15000)) << monitors.last();
  EXPECT_EQ(monitors.direct_requests(), 0u) << "a receiving webrtcbin is read without get-stats";
  EXPECT_GT(monitors.stats_requests(), 0u);
}

/* The guide's sender reports (every 250-750 ms) carry none of the
 * attendee's figures, so they do not make it measure: with a minute's
 * interval, a few seconds of audio bring at most the one aligned tick. */
TEST(Quality, AttendeeMeasuresAtTheIntervalNotOnEachSenderReport) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "qi", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(attendee_description("a", "qi", "en", redis.url(), "quality-interval=60000"));
  ASSERT_TRUE(attendee.ok()) << attendee.parse_error();
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", 20000));
  /* The guide hears the attendee's receiver reports meanwhile: RTCP flows
   * both ways. */
  auto guide_heard_report = [](const GstStructure *s) {
    return gst_structure_has_field(s, "rtt-ms");
  };
  EXPECT_TRUE(guide.wait_element_message("tourcast-quality", 15000, guide_heard_report));
  g_usleep(4 * G_USEC_PER_SEC);
  const size_t measurements =
      attendee.for_each_element_message("tourcast-quality", [](const GstStructure *) {});
  EXPECT_LE(measurements, 1u);
}

TEST(Quality, NoStatsYetIsNotANumberProblem) {
  /* A monitor on a webrtcbin that never connects: no RTCP, no packets. */
  Pipeline lonely("webrtcbin name=w tourqualitymonitor name=monitor target=w interval=100");
  ASSERT_TRUE(lonely.ok()) << lonely.parse_error();
  ASSERT_NE(lonely.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(lonely.wait_element_message("tourcast-quality", 5000));
  auto message = lonely.find_element_message("tourcast-quality");
  GstStructure *s = gst_structure_from_string(message->c_str(), nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(well_formed(s)) << *message;
  EXPECT_FALSE(gst_structure_has_field(s, "rtt-ms")) << *message;
  gst_structure_free(s);
}

TEST(Quality, TargetThatIsNotAWebrtcbinIsAnError) {
  Pipeline wrong("fakesrc name=f ! fakesink tourqualitymonitor target=f");
  ASSERT_TRUE(wrong.ok()) << wrong.parse_error();
  wrong.play();
  ASSERT_TRUE(wrong.wait_error(5000));
  EXPECT_NE(wrong.errors().front().find("target \"f\" is not a webrtcbin"), std::string::npos)
      << wrong.errors().front();
}

TEST(Quality, GuideAndAttendeeBinsReportEveryConnection) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "qb", "en", 440, redis.url(), "quality-interval=300"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline a1(attendee_description("a1", "qb", "en", redis.url(),
                                   "participant-id=first quality-interval=300"));
  Pipeline a2(attendee_description("a2", "qb", "en", redis.url(),
                                   "participant-id=second quality-interval=300"));
  ASSERT_NE(a1.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_NE(a2.play(), GST_STATE_CHANGE_FAILURE);
  auto about = [](const char *peer) {
    return [peer](const GstStructure *s) {
      gint64 received = 0;
      return g_strcmp0(gst_structure_get_string(s, "peer-id"), peer) == 0 &&
             gst_structure_get_int64(s, "packets-received", &received) && received > 0 &&
             well_formed(s);
    };
  };
  /* The guide scores each attendee; each attendee scores the guide. */
  EXPECT_TRUE(guide.wait_element_message("tourcast-quality", 20000, about("first")));
  EXPECT_TRUE(guide.wait_element_message("tourcast-quality", 20000, about("second")));
  EXPECT_TRUE(a1.wait_element_message("tourcast-quality", 20000, about("guide")));
  EXPECT_TRUE(a2.wait_element_message("tourcast-quality", 20000, about("guide")));

  /* quality-interval=0 switches monitoring off. */
  Pipeline quiet(attendee_description("q", "qb", "en", redis.url(), "quality-interval=0"));
  ASSERT_NE(quiet.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(quiet.wait_element_message("tourcast-first-audio", 20000));
  g_usleep(1000 * 1000);
  EXPECT_FALSE(quiet.find_element_message("tourcast-quality").has_value());
}
