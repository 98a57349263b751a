/* What tourcast writes to Redis, and what happens when participants go.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "e2e_util.h"
#include "redis_schema.h"

using namespace tourcast;
using namespace tourcast::test;

namespace {

constexpr int kConnectMs = 20000;

guint attendee_count(const Pipeline &guide) {
  guint count = 0;
  g_object_get(guide.get("guide"), "attendee-count", &count, nullptr);
  return count;
}

/* An attendee in a process of its own, so the test can kill it without a
 * goodbye. */
class AttendeeProcess {
 public:
  AttendeeProcess(const std::string &tour, const std::string &language, const std::string &url,
                  const std::string &id) {
    std::string description = "tourattendeesrc tour=" + tour + " language=" + language +
                              " redis-url=" + url + " participant-id=" + id +
                              " ice-addresses=" + attendee_address() +
                              " heartbeat-interval=500 ! fakesink";
    gchar **argv = nullptr;
    std::string command = "gst-launch-1.0 -q " + description;
    g_shell_parse_argv(command.c_str(), nullptr, &argv, nullptr);
    GError *error = nullptr;
    g_spawn_async(
        nullptr, argv, nullptr, (GSpawnFlags)(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD),
        [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGKILL); }, nullptr, &pid_, &error);
    g_strfreev(argv);
    if (error) {
      ADD_FAILURE() << error->message;
      g_clear_error(&error);
      pid_ = 0;
    }
  }
  ~AttendeeProcess() { kill_now(); }
  void kill_now() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = 0;
    }
  }

 private:
  GPid pid_ = 0;
};

/* The guide's tourwebrtcbin for attendee @id (not a new reference), or nullptr. */
GstElement *peer_of(Pipeline &guide, const std::string &id) {
  GstElement *found = nullptr;
  GstIterator *it = gst_bin_iterate_elements(GST_BIN(guide.get("guide")));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    GstElement *e = GST_ELEMENT(g_value_get_object(&item));
    if (g_str_equal(G_OBJECT_TYPE_NAME(e), "TourWebRTCBin")) {
      gchar *peer_id = nullptr;
      g_object_get(e, "peer-id", &peer_id, nullptr);
      if (id == (peer_id ? peer_id : ""))
        found = e;
      g_free(peer_id);
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

CoordinationState coordination(RedisClient &client, const std::string &tour,
                               const std::string &language) {
  CoordinationState state;
  auto raw = client.get(coordination_key(tour, language));
  std::string error;
  if (!raw || !decode_coordination(*raw, &state, &error))
    ADD_FAILURE() << "coordination: " << (raw ? *raw : "(missing)") << " " << error;
  return state;
}

}  // namespace

TEST(RedisKeys, CoordinationParticipantsAndExpiry) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  RedisClient client(redis.port());
  Pipeline guide(guide_description("guide", "castle", "it", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline stayer(
      attendee_description("stayer", "castle", "it", redis.url(), "participant-id=stayer"));
  ASSERT_NE(stayer.play(), GST_STATE_CHANGE_FAILURE);
  AttendeeProcess walker("castle", "it", redis.url(), "walker");

  ASSERT_TRUE(wait_until([&] { return attendee_count(guide) == 2; }, kConnectMs));
  ASSERT_TRUE(wait_until(
      [&] {
        CoordinationState c = coordination(client, "castle", "it");
        return c.attendees.count("walker") && c.attendees["walker"].connected &&
               c.attendees.count("stayer") && c.attendees["stayer"].connected && c.guide.connected;
      },
      kConnectMs))
      << client.get(coordination_key("castle", "it")).value_or("(none)");

  CoordinationState c = coordination(client, "castle", "it");
  EXPECT_TRUE(c.guide_ready);
  EXPECT_TRUE(c.attendee_ready);
  EXPECT_TRUE(c.ice_exchange_started);
  EXPECT_EQ(c.phase, ConnectionPhase::kConnected);
  EXPECT_GT(c.last_heartbeat, 0);

  /* Participant records: the guide and both attendees, expiring after three
   * missed heartbeats of 500 ms. */
  for (const char *id : {"guide", "stayer", "walker"}) {
    std::string key = participant_key("castle", "it", id);
    auto raw = client.get(key);
    ASSERT_TRUE(raw.has_value()) << key;
    ParticipantRecord record;
    std::string error;
    ASSERT_TRUE(decode_participant(*raw, &record, &error)) << error;
    EXPECT_EQ(record.id, id);
    EXPECT_EQ(record.tour, "castle");
    EXPECT_EQ(record.language, "it");
    long long ttl = client.pttl(key);
    EXPECT_GT(ttl, 0) << key;
    EXPECT_LE(ttl, 1500) << key;
  }
  EXPECT_GT(client.llen(ice_candidates_key("castle", "it")), 0);

  /* An attendee that vanishes without a goodbye expires, and the guide frees
   * its peer (the webrtcbin finalized, the count down) within the heartbeat
   * timeout (3 x 500 ms) plus 5 s of the kill. */
  GstElement *walker_peer = peer_of(guide, "walker");
  ASSERT_NE(walker_peer, nullptr);
  g_object_add_weak_pointer(G_OBJECT(walker_peer), reinterpret_cast<gpointer *>(&walker_peer));
  walker.kill_now();
  const gint64 killed_at = g_get_monotonic_time();
  const int heartbeat_timeout_ms = 3 * 500;
  EXPECT_TRUE(wait_until([&] { return attendee_count(guide) == 1 && walker_peer == nullptr; },
                         heartbeat_timeout_ms + 5000))
      << "attendee-count " << attendee_count(guide) << ", peer freed " << (walker_peer == nullptr);
  EXPECT_LE(g_get_monotonic_time() - killed_at,
            (heartbeat_timeout_ms + 5000) * G_GINT64_CONSTANT(1000));
  if (walker_peer)
    g_object_remove_weak_pointer(G_OBJECT(walker_peer), reinterpret_cast<gpointer *>(&walker_peer));
  EXPECT_FALSE(client.exists(participant_key("castle", "it", "walker")));
  EXPECT_TRUE(wait_until(
      [&] { return coordination(client, "castle", "it").attendees.count("walker") == 0; }, 5000));

  /* One that stops says goodbye: its keys go at once. */
  stayer.stop();
  EXPECT_FALSE(client.exists(participant_key("castle", "it", "stayer")));
  EXPECT_FALSE(client.exists(offer_key("castle", "it", "stayer")));
  EXPECT_TRUE(wait_until([&] { return attendee_count(guide) == 0; }, 5000));
  EXPECT_EQ(coordination(client, "castle", "it").attendees.count("stayer"), 0u);

  guide.stop();
  EXPECT_FALSE(coordination(client, "castle", "it").guide_ready);
  EXPECT_FALSE(client.exists(participant_key("castle", "it", "guide")));
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
}

TEST(RedisKeys, LeavingAttendeeFreesItsPeerInTheGuide) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  /* Counts the guide's tourwebrtcbins: no spare peer among them. */
  Pipeline guide(guide_description("guide", "fort", "es", 440, redis.url(), "spare-peers=0"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  GstBin *guide_bin = GST_BIN(guide.get("guide"));
  auto peers_in_guide = [&] {
    int n = 0;
    GstIterator *it = gst_bin_iterate_elements(guide_bin);
    GValue item = G_VALUE_INIT;
    while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      GstElement *e = GST_ELEMENT(g_value_get_object(&item));
      n += g_str_equal(G_OBJECT_TYPE_NAME(e), "TourWebRTCBin");
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    return n;
  };
  for (int round = 0; round < 3; round++) {
    GstElement *peer = nullptr;
    {
      Pipeline attendee(attendee_description("a", "fort", "es", redis.url()));
      ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
      ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", kConnectMs));
      EXPECT_EQ(attendee_count(guide), 1u);
      EXPECT_EQ(peers_in_guide(), 1);
      GstIterator *it = gst_bin_iterate_elements(guide_bin);
      GValue item = G_VALUE_INIT;
      while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
        GstElement *e = GST_ELEMENT(g_value_get_object(&item));
        if (g_str_equal(G_OBJECT_TYPE_NAME(e), "TourWebRTCBin"))
          peer = e;
        g_value_reset(&item);
      }
      g_value_unset(&item);
      gst_iterator_free(it);
      ASSERT_NE(peer, nullptr);
      g_object_add_weak_pointer(G_OBJECT(peer), reinterpret_cast<gpointer *>(&peer));
    }
    /* The attendee said goodbye: the guide drops the peer and finalizes it. */
    EXPECT_TRUE(wait_until([&] { return attendee_count(guide) == 0; }, 5000));
    EXPECT_TRUE(wait_until([&] { return peers_in_guide() == 0; }, 5000));
    EXPECT_TRUE(wait_until([&] { return peer == nullptr; }, 5000))
        << "peer leaked, refcount " << (peer ? G_OBJECT(peer)->ref_count : 0);
    if (peer)
      g_object_remove_weak_pointer(G_OBJECT(peer), reinterpret_cast<gpointer *>(&peer));
  }
  EXPECT_TRUE(guide.find_element_message("tourcast-attendee-left").has_value());
}

/* A guide taking one join at a time (max-joining=1) keeps an attendee waiting
 * for longer than that attendee's initializing-timeout: the guide's `queued`
 * messages keep it waiting instead of failing, and it hears once its turn
 * comes. Without them it fails after 2 s in initializing. */
TEST(RedisKeys, QueuedAttendeeWaitsForItsTurnPastItsTimeout) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  RedisClient client(redis.port());
  Pipeline guide(guide_description("guide", "harbor", "en", 440, redis.url(), "max-joining=1"));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  /* A join nobody will answer holds the guide's only joining slot (its
   * participant record keeps the guide from expiring it). */
  ParticipantRecord ghost;
  ghost.id = "ghost";
  ghost.tour = "harbor";
  ghost.language = "en";
  ghost.state = "initializing";
  client.set(participant_key("harbor", "en", "ghost"), encode_participant(ghost));
  SignalMessage join;
  join.type = SignalType::kJoin;
  join.from = "ghost";
  join.to = "guide";
  join.session = "ghost-join";
  join.timestamp = g_get_real_time() / 1000;
  ASSERT_TRUE(wait_until(
      [&] {
        return client.publish(signal_channel("harbor", "en", "guide"), encode_signal(join)) > 0 &&
               attendee_count(guide) == 1;
      },
      kConnectMs));

  Listener late = listen("late", "harbor", "en", redis.url(),
                         "participant-id=late peer::webrtc::initializing-timeout=2000");
  ASSERT_TRUE(late.pipeline->ok());
  auto failed = [&] {
    return late.pipeline
        ->find_element_message("tourcast-state",
                               [](const GstStructure *s) {
                                 return g_strcmp0(gst_structure_get_string(s, "new-state"),
                                                  "failed") == 0;
                               })
        .has_value();
  };
  /* Twice its initializing-timeout in the queue: still waiting, no offer. */
  EXPECT_FALSE(wait_until(failed, 4000))
      << late.pipeline->find_element_message("tourcast-state").value_or("(no state)");
  EXPECT_FALSE(late.pipeline->find_element_message("tourcast-first-audio").has_value());
  EXPECT_EQ(attendee_count(guide), 1u);

  SignalMessage leave = join;
  leave.type = SignalType::kLeave;
  client.publish(signal_channel("harbor", "en", "guide"), encode_signal(leave));
  ASSERT_TRUE(late.pipeline->wait_element_message("tourcast-first-audio", kConnectMs));
  ASSERT_TRUE(wait_until([&] { return late.meter->tone_share(440, 500) > 0.8; }, kConnectMs));
  EXPECT_FALSE(failed());
  EXPECT_TRUE(late.pipeline->errors().empty()) << late.pipeline->errors().front();
}

TEST(RedisKeys, PasswordAndDatabaseFromTheUrl) {
  RedisServer redis({"--requirepass", "s3cret"});
  ASSERT_TRUE(redis.running()) << redis.error();
  std::string url = "redis://:s3cret@127.0.0.1:" + std::to_string(redis.port()) + "/3";
  Pipeline guide(guide_description("guide", "vault", "en", 440, url));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(attendee_description("a", "vault", "en", url, "participant-id=keyholder"));
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", kConnectMs))
      << testing::PrintToString(attendee.errors()) << testing::PrintToString(guide.errors());
  /* Everything went to database 3, nothing to database 0. */
  RedisClient db3(redis.port(), "s3cret", 3);
  RedisClient db0(redis.port(), "s3cret", 0);
  ASSERT_TRUE(db3.connected() && db0.connected());
  EXPECT_TRUE(db3.exists(participant_key("vault", "en", "keyholder")));
  EXPECT_TRUE(db3.exists(coordination_key("vault", "en")));
  EXPECT_TRUE(db0.scan("webrtc:*").empty());
}

TEST(RedisKeys, AttendeeProfileSetsHeartbeatAndIsPublished) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  RedisClient client(redis.port());
  Pipeline guide(guide_description("guide", "bus", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  /* heartbeat-interval=0: the profile chooses (a phone: 45 s). */
  Pipeline phone(attendee_description("p", "bus", "en", redis.url(),
                                      "participant-id=phone profile=mobile/3g "
                                      "heartbeat-interval=0"));
  ASSERT_NE(phone.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(phone.wait_element_message("tourcast-first-audio", kConnectMs));
  std::string key = participant_key("bus", "en", "phone");
  auto raw = client.get(key);
  ASSERT_TRUE(raw.has_value());
  ParticipantRecord record;
  std::string error;
  ASSERT_TRUE(decode_participant(*raw, &record, &error)) << error;
  EXPECT_EQ(record.profile, "mobile/3g");
  long long ttl = client.pttl(key);
  EXPECT_GT(ttl, 3 * 5000) << "not the desktop heartbeat";
  EXPECT_LE(ttl, 3 * 45000);
}

/* Media does not depend on Redis: while it is gone the audio goes on, and
 * once an empty one is back the signallers write their state again. */
TEST(RedisKeys, RedisRestartedEmptyMidSession) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "phoenix", "en", 440, redis.url()));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  Pipeline attendee(
      attendee_description("a", "phoenix", "en", redis.url(), "participant-id=survivor"));
  ToneMeter meter(attendee.get("a_out"));
  ASSERT_NE(attendee.play(), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(attendee.wait_element_message("tourcast-first-audio", kConnectMs));

  redis.kill_now();
  size_t at_kill = meter.sample_count();
  const gint64 killed_at = g_get_monotonic_time();
  /* Two seconds without Redis: still hearing the guide. */
  ASSERT_TRUE(wait_until([&] { return meter.sample_count() >= at_kill + 48 * 2000; }, 10000));
  EXPECT_GT(meter.tone_share(440, 500), 0.8);

  ASSERT_TRUE(redis.start_again()) << redis.error();
  const gint64 restarted_at = g_get_monotonic_time();
  RedisClient client(redis.port());
  EXPECT_TRUE(wait_until(
      [&] {
        auto raw = client.get(coordination_key("phoenix", "en"));
        CoordinationState c;
        std::string error;
        return raw && decode_coordination(*raw, &c, &error) && c.guide_ready &&
               c.attendees.count("survivor") == 1;
      },
      5000))
      << client.get(coordination_key("phoenix", "en")).value_or("(none)");
  EXPECT_TRUE(wait_until(
      [&] {
        return client.exists(participant_key("phoenix", "en", "guide")) &&
               client.exists(participant_key("phoenix", "en", "survivor"));
      },
      5000));
  /* Coordination written again within 5 s of Redis coming back (the two
   * waits above share that bound). */
  EXPECT_LE(g_get_monotonic_time() - restarted_at, 5 * G_USEC_PER_SEC + 500 * 1000);
  /* No gap in the audio from the kill until now: as many samples as
   * milliseconds went by (48 a ms, less a 100 ms allowance for where the
   * count was read), and no recovery was needed. */
  const gint64 elapsed_ms = (g_get_monotonic_time() - killed_at) / 1000;
  EXPECT_GE((gint64)(meter.sample_count() - at_kill), 48 * (elapsed_ms - 100))
      << elapsed_ms << " ms went by";
  EXPECT_FALSE(attendee.find_element_message("tourcast-recovery").has_value());
  /* Lost Redis is a warning, not an error. */
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
  EXPECT_TRUE(attendee.errors().empty()) << testing::PrintToString(attendee.errors());

  /* A newcomer can join through the new Redis. */
  Pipeline late(attendee_description("late", "phoenix", "en", redis.url()));
  ASSERT_NE(late.play(), GST_STATE_CHANGE_FAILURE);
  EXPECT_TRUE(late.wait_element_message("tourcast-first-audio", kConnectMs));
  EXPECT_GT(meter.tone_share(440, 500), 0.8);
}
