/* tourattendeesrc's adaptive receive latency (latency -1): a clean link keeps
 * the low start, a jittery one raises it and the tone is heard whole again.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <algorithm>

#include <glib/gstdio.h>

#include "e2e_util.h"
#include "launch_log.h"
#include "netem_harness.h"

using namespace tourcast::test;
using tourcast::netem::Emulator;
using tourcast::netem::lines_with;
using tourcast::netem::number_after;
using tourcast::netem::read_file;

namespace {

constexpr int kRedisPort = 6393;

gint current_latency(GstElement *attendee) {
  gint latency = -2;
  g_object_get(attendee, "current-latency", &latency, nullptr);
  return latency;
}

}  // namespace

/* Loopback: the adaptive attendee (a desktop: its profile's fixed value would
 * be 60) starts at min-latency, 20, hears the tone and stays there; one with
 * an explicit latency keeps it. */
TEST(ReceiveLatency, CleanLinkKeepsTheLowStartAndHearsTheTone) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "rl", "en", 440, redis.url()));
  ASSERT_TRUE(guide.ok()) << guide.parse_error();
  guide.play();
  Listener adaptive = listen("adaptive", "rl", "en", redis.url(), "latency=-1");
  Listener fixed = listen("fixed", "rl", "en", redis.url(), "latency=50");
  ASSERT_TRUE(adaptive.pipeline->ok()) << adaptive.pipeline->parse_error();
  ASSERT_TRUE(fixed.pipeline->ok()) << fixed.pipeline->parse_error();
  /* Four seconds of audio each: two of the controller's windows. */
  bool heard = wait_until(
      [&] {
        return adaptive.meter->sample_count() >= 4 * 48000 &&
               fixed.meter->sample_count() >= 4 * 48000;
      },
      30000);
  ASSERT_TRUE(heard) << adaptive.meter->sample_count() << " / " << fixed.meter->sample_count();
  for (Listener *l : {&adaptive, &fixed}) {
    EXPECT_GT(l->meter->tone_share(440, 1000), 0.9) << l->name;
    EXPECT_GT(l->meter->level_dbfs(1000), -12) << l->name;
  }
  /* On an idle machine it stays at 20. This machine is shared: a stall of the
   * test process (guide and attendee both) delays packets as a link would,
   * and may raise it a step or two, each for a delay it measured; it stays
   * below the profile's fixed 60 (what latency -1 meant before). */
  std::string raises;
  bool every_raise_measured = true;
  adaptive.pipeline->for_each_element_message(
      "tourcast-latency-changed", [&](const GstStructure *s) {
        gchar *text = gst_structure_to_string(s);
        raises += std::string(text) + "\n";
        g_free(text);
        gint old_ms = 0;
        gdouble delay_ms = 0;
        gst_structure_get_int(s, "old-latency-ms", &old_ms);
        gst_structure_get_double(s, "delay-ms", &delay_ms);
        every_raise_measured = every_raise_measured && delay_ms + 2 > old_ms;
      });
  const gint latency = current_latency(adaptive.pipeline->get("adaptive"));
  EXPECT_GE(latency, 20) << raises;
  EXPECT_LE(latency, 40) << raises;
  EXPECT_TRUE(every_raise_measured) << raises;
  if (!raises.empty())
    printf("raised on loopback (machine load):\n%s", raises.c_str());
  EXPECT_EQ(current_latency(fixed.pipeline->get("fixed")), 50);
  EXPECT_FALSE(fixed.pipeline->find_element_message("tourcast-latency-changed"));
  EXPECT_TRUE(adaptive.pipeline->errors().empty());
}

namespace {

struct JitterRun {
  bool heard = false;
  std::vector<int> raises;  // new-latency-ms of each tourcast-latency-changed
  /* Over the 6 s measured once the raises had 8 s to settle, in 20 ms
   * chunks: how many, how many silent (a packet the jitterbuffer gave up on
   * as late), the loudest (dBFS). */
  size_t chunks = 0, silent_chunks = 0;
  double loudest = -INFINITY;
  std::string log_tail;
};

/* Guide and one attendee as gst-launch processes (gst-launch recalculates the
 * pipeline latency on each LATENCY message) across the emulator; the
 * guide->attendee link has +-60 ms of uniform jitter that reorders packets.
 * The attendee plays to a syncing sink through audiorate (a packet the
 * jitterbuffer gave up on is a 20 ms hole of silence) and a level every
 * 20 ms. */
JitterRun run_on_jittery_link(const std::string &latency) {
  JitterRun run;
  Emulator::Options options;
  options.attendees = 1;
  options.profile = "ideal";
  options.sets = {"a1 down jitter=60 reorder=1"};
  options.bypass_port = kRedisPort;
  Emulator net(options);
  EXPECT_TRUE(net.ok()) << net.error();
  if (!net.ok())
    return run;
  std::string dir = g_get_tmp_dir() + std::string("/tcn-latency-") + std::to_string(getpid());
  g_mkdir_with_parents(dir.c_str(), 0700);
  std::string redis_url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
  pid_t redis = net.spawn_redis(kRedisPort, dir + "/redis.log");
  pid_t guide = net.spawn(
      net.guide_ns(),
      {"gst-launch-1.0", "audiotestsrc", "is-live=true", "volume=0.5", "freq=440", "!",
       "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", "tour=jitter", "language=en",
       "redis-url=" + redis_url, "heartbeat-interval=500", "ice-addresses=" + net.guide_addr()},
      dir + "/guide.log");
  const std::vector<std::string> attendee_argv = {"gst-launch-1.0",
                                                  "-m",
                                                  "tourattendeesrc",
                                                  "tour=jitter",
                                                  "language=en",
                                                  "redis-url=" + redis_url,
                                                  "heartbeat-interval=500",
                                                  "latency=" + latency,
                                                  "ice-addresses=" + net.attendee_addr(1),
                                                  "!",
                                                  "audiorate",
                                                  "!",
                                                  "audioconvert",
                                                  "!",
                                                  "level",
                                                  "interval=20000000",
                                                  "!",
                                                  "fakesink",
                                                  "sync=true"};
  pid_t attendee = net.spawn(net.attendee_ns(1), attendee_argv, dir + "/attendee.log");
  const std::string log_path = dir + "/attendee.log";
  run.heard = wait_until(
      [&] {
        std::vector<std::string> levels = lines_with(read_file(log_path), "level, ", "rms=");
        double rms = -INFINITY;
        return levels.size() > 50 && number_after(levels.back(), "rms=(GValueArray)< ", &rms) &&
               rms > -20;
      },
      30000);
  size_t measured_from = 0;
  if (run.heard) {
    g_usleep(8 * G_USEC_PER_SEC);
    measured_from = read_file(log_path).size();
    g_usleep(6 * G_USEC_PER_SEC);
  }
  const std::string log = read_file(log_path);
  for (pid_t p : {attendee, guide, redis})
    kill(p, SIGINT);
  for (pid_t p : {attendee, guide, redis})
    waitpid(p, nullptr, 0);
  for (const char *name : {"/redis.log", "/guide.log", "/attendee.log"})
    g_remove((dir + name).c_str());
  g_rmdir(dir.c_str());

  for (const std::string &line : lines_with(log, "tourcast-latency-changed", "new-latency-ms")) {
    double value = 0;
    if (number_after(line, "new-latency-ms=(int)", &value))
      run.raises.push_back(static_cast<int>(value));
  }
  run.log_tail = log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  if (!run.heard)
    return run;
  for (const std::string &line :
       lines_with(log.substr(std::min(measured_from, log.size())), "level, ", "rms=")) {
    double rms = -INFINITY;
    if (!number_after(line, "rms=(GValueArray)< ", &rms))
      continue;
    run.chunks++;
    /* The tone is at -9 dBFS; a hole is -inf (level prints -700). */
    if (rms < -30)
      run.silent_chunks++;
    run.loudest = std::max(run.loudest, rms);
  }
  printf("latency %s: raises", latency.c_str());
  for (int raise : run.raises)
    printf(" %d", raise);
  printf("; in 6 s %zu of %zu chunks of 20 ms silent, loudest %.1f dBFS\n", run.silent_chunks,
         run.chunks, run.loudest);
  return run;
}

}  // namespace

/* Adaptive: raised past the jitter, then no packet comes too late. */
TEST(ReceiveLatencyNetem, JitteryLinkRaisesTheLatencyAndTheToneIsHeardWhole) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root for network namespaces";
  JitterRun run = run_on_jittery_link("-1");
  ASSERT_TRUE(run.heard) << run.log_tail;
  ASSERT_FALSE(run.raises.empty()) << run.log_tail;
  EXPECT_GE(run.raises.back(), 50);
  EXPECT_LE(run.raises.back(), 300);
  /* Each raise is a gap the listener hears once: the link's spread makes few. */
  EXPECT_LE(run.raises.size(), 4u);
  ASSERT_GE(run.chunks, 200u) << run.log_tail;  // 6 s of 20 ms, give or take
  EXPECT_GT(run.loudest, -12) << "the tone's energy";
  /* One allowed for a stall of this shared machine. */
  EXPECT_LE(run.silent_chunks, 1u);
}

/* The same link at the fixed 20 ms the adaptive one starts at: what the raise
 * saves the listener from (and the check that the test above can fail). */
TEST(ReceiveLatencyNetem, JitteryLinkAtAFixedLowLatencyLosesPackets) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root for network namespaces";
  JitterRun run = run_on_jittery_link("20");
  ASSERT_TRUE(run.heard) << run.log_tail;
  EXPECT_TRUE(run.raises.empty());
  ASSERT_GE(run.chunks, 200u) << run.log_tail;
  /* 7 in 6 s, and 25 in 8 s by hand, when tried; the adaptive one: none. */
  EXPECT_GE(run.silent_chunks, 3u);
}
