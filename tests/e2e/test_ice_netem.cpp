/* ICE across the link emulator: on a geostationary satellite hop (600 ms round
 * trip) both ends lengthen libnice's check retransmission timeout past the
 * round trip (adaptive-check-timeout); on a short link they keep libnice's.
 * Guide, attendees and redis-server are gst-launch-1.0 -m processes in the
 * emulator's namespaces; Redis bypasses the emulated links.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <csignal>

#include <glib/gstdio.h>
#include <sys/wait.h>

#include "e2e_util.h"
#include "launch_log.h"
#include "netem_harness.h"

using namespace tourcast::test;
using tourcast::netem::Emulator;
using tourcast::netem::lines_with;
using tourcast::netem::number_after;
using tourcast::netem::read_file;

namespace {

constexpr int kRedisPort = 6392;
/* high-latency: 300 ms each way. */
constexpr double kSatelliteRoundTripMs = 600;

/* check-timeout-ms of the tourcast-ice-timing message about @peer in @log
 * (-1: none). */
double check_timeout_ms(const std::string &log, const std::string &peer) {
  double timeout = -1;
  for (const std::string &line :
       lines_with(log, "tourcast-ice-timing, ", "peer-id=(string)" + peer + ","))
    number_after(line, "check-timeout-ms=(gint64)", &timeout);
  return timeout;
}

/* Loudest RMS (dBFS) of the level messages in @log. */
double loudest(const std::string &log) {
  double loudest = -1000;
  for (const std::string &line : lines_with(log, "level, ", "rms=(GValueArray)< ")) {
    double rms = -1000;
    if (number_after(line, "rms=(GValueArray)< ", &rms))
      loudest = std::max(loudest, rms);
  }
  return loudest;
}

}  // namespace

TEST(IceNetem, SatelliteLinkCheckTimeoutExceedsTheRoundTrip) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root for network namespaces";
  Emulator::Options options;
  options.attendees = 2;
  options.profile = "ideal";
  options.sets = {"a1 both profile=high-latency"};
  options.bypass_port = kRedisPort;
  Emulator net(options);
  ASSERT_TRUE(net.ok()) << net.error();

  std::string dir = g_get_tmp_dir() + std::string("/tcn-ice-") + std::to_string(getpid());
  g_mkdir_with_parents(dir.c_str(), 0700);
  std::string redis_url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
  pid_t redis = net.spawn_redis(kRedisPort, dir + "/redis.log");
  ASSERT_GT(redis, 0);
  pid_t guide = net.spawn(
      net.guide_ns(),
      {"gst-launch-1.0", "-m", "audiotestsrc", "is-live=true", "freq=440", "!",
       "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", "tour=ice", "language=en",
       "redis-url=" + redis_url, "quality-interval=0", "ice-addresses=" + net.guide_addr()},
      dir + "/guide.log");
  const char *names[] = {"sat", "lan"};
  pid_t attendees[2];
  for (int k = 0; k < 2; k++)
    attendees[k] = net.spawn(
        net.attendee_ns(k + 1),
        {"gst-launch-1.0", "-m", "tourattendeesrc", "tour=ice", "language=en",
         std::string("participant-id=") + names[k], "redis-url=" + redis_url, "quality-interval=0",
         "ice-addresses=" + net.attendee_addr(k + 1), "!", "audioconvert", "!", "level",
         "interval=250000000", "!", "fakesink", "sync=false"},
        dir + "/" + names[k] + ".log");
  ASSERT_GT(guide, 0);
  /* Both hear the guide's tone (a bound on the wait, not a timing claim). */
  bool heard = wait_until(
      [&] {
        return loudest(read_file(dir + "/sat.log")) > -20.0 &&
               loudest(read_file(dir + "/lan.log")) > -20.0;
      },
      60000);
  const std::string guide_log = read_file(dir + "/guide.log");
  const std::string sat_log = read_file(dir + "/sat.log");
  const std::string lan_log = read_file(dir + "/lan.log");
  for (pid_t p : {attendees[0], attendees[1], guide, redis})
    if (p > 0)
      kill(p, SIGINT);
  for (pid_t p : {attendees[0], attendees[1], guide, redis})
    if (p > 0)
      waitpid(p, nullptr, 0);
  if (!g_getenv("TOURCAST_KEEP_LOGS")) {
    for (const char *log : {"/redis.log", "/guide.log", "/sat.log", "/lan.log"})
      g_remove((dir + log).c_str());
    g_rmdir(dir.c_str());
  }
  ASSERT_TRUE(heard) << "satellite attendee:\n"
                     << sat_log.substr(0, 3000) << "\nLAN attendee:\n"
                     << lan_log.substr(0, 3000);

  /* The attendee's and the guide's checks to each other outlast the round
   * trip: no response comes for a forgotten check. */
  EXPECT_GT(check_timeout_ms(sat_log, "guide"), kSatelliteRoundTripMs) << sat_log.substr(0, 3000);
  EXPECT_GT(check_timeout_ms(guide_log, "sat"), kSatelliteRoundTripMs) << guide_log.substr(0, 3000);
  /* On the short link libnice's own timeout stays, or at least a shorter one
   * than on the satellite hop: the delay is measured, not assumed. */
  const double lan_attendee = check_timeout_ms(lan_log, "guide");
  const double lan_guide = check_timeout_ms(guide_log, "lan");
  EXPECT_GE(lan_attendee, 500);
  EXPECT_LT(lan_attendee, check_timeout_ms(sat_log, "guide"));
  EXPECT_GE(lan_guide, 500);
  EXPECT_LT(lan_guide, check_timeout_ms(guide_log, "sat"));
}
