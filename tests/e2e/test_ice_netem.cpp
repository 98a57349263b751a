/* ICE across the link emulator: on a geostationary satellite hop (600 ms round
 * trip) the attendee lengthens libnice's check retransmission timeout past the
 * round trip (adaptive-check-timeout), the guide's shared agent keeps
 * libnice's; on a short link both keep libnice's.
 * An attendee that lengthened it still waits libnice's 5 s for the guide's
 * nomination before its ICE fails.
 * Guide, attendees and redis-server are gst-launch-1.0 -m processes in the
 * emulator's namespaces; Redis bypasses the emulated links.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

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

void replace_all(std::string *text, const std::string &from, const std::string &to) {
  for (size_t at = text->find(from); at != std::string::npos; at = text->find(from, at + to.size()))
    text->replace(at, from.size(), to);
}

/* A guide and one gst-launch-1.0 -m process per attendee (the last argument
 * of each: its name, also the log's), in the emulator's namespaces, until
 * every attendee hears the tone or @timeout_ms; then all are stopped. */
struct TourRun {
  bool heard = false;
  std::string guide_log;
  std::vector<std::string> attendee_logs;
};

TourRun run_tour(Emulator &net, const std::string &tour,
                 const std::vector<std::vector<std::string>> &attendees, int timeout_ms) {
  TourRun run;
  std::string dir = g_get_tmp_dir() + std::string("/tcn-") + tour + "-" + std::to_string(getpid());
  g_mkdir_with_parents(dir.c_str(), 0700);
  std::string redis_url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
  std::vector<pid_t> pids = {net.spawn_redis(kRedisPort, dir + "/redis.log")};
  pids.push_back(net.spawn(
      net.guide_ns(),
      {"gst-launch-1.0", "-m", "audiotestsrc", "is-live=true", "freq=440", "!",
       "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", "tour=" + tour, "language=en",
       "redis-url=" + redis_url, "quality-interval=0", "ice-addresses=" + net.guide_addr()},
      dir + "/guide.log"));
  std::vector<std::string> logs;
  for (size_t k = 0; k < attendees.size(); k++) {
    std::vector<std::string> argv = {"gst-launch-1.0", "-m"};
    argv.insert(argv.end(), attendees[k].begin(), attendees[k].end() - 1);
    for (std::string &arg : argv) {
      replace_all(&arg, "@REDIS@", redis_url);
      replace_all(&arg, "@ADDRESS@", net.attendee_addr(static_cast<int>(k) + 1));
    }
    logs.push_back(dir + "/" + attendees[k].back() + ".log");
    pids.push_back(net.spawn(net.attendee_ns(static_cast<int>(k) + 1), argv, logs.back()));
  }
  /* A bound on the wait, not a timing claim. */
  if (std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p > 0; }))
    run.heard = wait_until(
        [&] {
          return std::all_of(logs.begin(), logs.end(), [](const std::string &log) {
            return loudest(read_file(log)) > -20.0;
          });
        },
        timeout_ms);
  run.guide_log = read_file(dir + "/guide.log");
  for (const std::string &log : logs)
    run.attendee_logs.push_back(read_file(log));
  /* Attendees, then the guide, then Redis: each gone before the next stops. */
  for (auto p = pids.rbegin(); p != pids.rend(); ++p)
    if (*p > 0) {
      kill(*p, SIGINT);
      waitpid(*p, nullptr, 0);
    }
  if (!g_getenv("TOURCAST_KEEP_LOGS")) {
    logs.push_back(dir + "/redis.log");
    logs.push_back(dir + "/guide.log");
    for (const std::string &log : logs)
      g_remove(log.c_str());
    g_rmdir(dir.c_str());
  }
  return run;
}

/* @source (gst-launch-1.0 syntax, decoded audio out) into a level that posts
 * its messages, then the attendee's name (see run_tour). */
std::vector<std::string> listening(std::vector<std::string> source, const std::string &name) {
  for (const char *element :
       {"!", "audioconvert", "!", "level", "interval=250000000", "!", "fakesink", "sync=false"})
    source.push_back(element);
  source.push_back(name);
  return source;
}

std::vector<std::string> attendee_src(const std::string &tour, const std::string &name) {
  return listening({"tourattendeesrc", "tour=" + tour, "language=en", "participant-id=" + name,
                    "redis-url=@REDIS@", "quality-interval=0", "ice-addresses=@ADDRESS@"},
                   name);
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
  const TourRun run =
      run_tour(net, "ice", {attendee_src("ice", "sat"), attendee_src("ice", "lan")}, 60000);
  const std::string &guide_log = run.guide_log;
  const std::string &sat_log = run.attendee_logs[0];
  const std::string &lan_log = run.attendee_logs[1];
  ASSERT_TRUE(run.heard) << "satellite attendee:\n"
                         << sat_log.substr(0, 3000) << "\nLAN attendee:\n"
                         << lan_log.substr(0, 3000);

  /* The attendee's checks to the guide outlast the round trip: no response
   * comes for a forgotten check, which ends the crossing. */
  EXPECT_GT(check_timeout_ms(sat_log, "guide"), kSatelliteRoundTripMs) << sat_log.substr(0, 3000);
  /* On the short link libnice's own timeout stays, or at least a shorter one
   * than on the satellite hop: the delay is measured, not assumed. */
  const double lan_attendee = check_timeout_ms(lan_log, "guide");
  EXPECT_GE(lan_attendee, 500);
  EXPECT_LT(lan_attendee, check_timeout_ms(sat_log, "guide"));
  /* The guide's agent is shared (tourguidesink's default): its Ta is every
   * peer's and would become their check pace when libnice next makes its check
   * tick, so it keeps libnice's timeout, on the satellite hop too (see
   * core/check_timeout.h, check_timeout_for_agent). The guide measured the
   * hop all the same: the attendee's first check takes one way of the hop,
   * less the time the answer took through Redis (not on the emulated link),
   * so about half the round trip (297 ms of 300 in one run), not the LAN's few
   * ms. */
  EXPECT_EQ(check_timeout_ms(guide_log, "sat"), 500) << guide_log.substr(0, 3000);
  /* The LAN attendee's first check can reach the guide before its answer
   * does (through Redis): the guide measures nothing then (no message). */
  const double lan_guide = check_timeout_ms(guide_log, "lan");
  if (lan_guide >= 0) {
    EXPECT_EQ(lan_guide, 500) << guide_log.substr(0, 3000);
  }
  double sat_delay = -1;
  for (const std::string &line :
       lines_with(guide_log, "tourcast-ice-timing, ", "peer-id=(string)sat,"))
    number_after(line, "first-request-delay-ms=(gint64)", &sat_delay);
  EXPECT_GT(sat_delay, kSatelliteRoundTripMs / 4) << guide_log.substr(0, 3000);
}

/* An attendee whose check succeeded waits for the guide's nomination: libnice
 * gives it idle-timeout, counted in Ta per check tick. Checks that cross
 * (answerer-check-delay=0) bring the nomination one one-way trip (200 ms) after
 * the attendee's own check succeeded, and the hop makes the attendee raise Ta
 * to its check timeout (about 620 ms) while its tick runs every 5 ms. With
 * libnice's 5 s idle-timeout left as it was, that grace was 9 ticks (45 ms):
 * every such attendee's ICE failed for good (a bare tourwebrtcbin has no
 * recovery), 3 of 3. Scaled along with Ta it is about 97 ticks (485 ms). */
TEST(IceNetem, AttendeeWithALongerCheckTimeoutWaitsForTheNomination) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root for network namespaces";
  constexpr int kAttendees = 3;
  Emulator::Options options;
  options.attendees = kAttendees;
  options.profile = "ideal";
  options.sets = {"all both delay=200"};
  options.bypass_port = kRedisPort;
  Emulator net(options);
  ASSERT_TRUE(net.ok()) << net.error();
  std::vector<std::vector<std::string>> attendees;
  for (int k = 1; k <= kAttendees; k++)
    attendees.push_back(listening(
        {"tourwebrtcbin", "role=attendee", "signaller::tour=nominate", "signaller::language=en",
         "signaller::redis-url=@REDIS@", "ice-addresses=@ADDRESS@", "answerer-check-delay=0", "!",
         "rtpopusdepay", "!", "opusdec"},
        "cross" + std::to_string(k)));
  const TourRun run = run_tour(net, "nominate", attendees, 60000);
  ASSERT_TRUE(run.heard) << run.attendee_logs[0].substr(0, 3000);
  for (const std::string &log : run.attendee_logs) {
    /* What makes the grace short: a Ta above the 5 ms tick. */
    EXPECT_GT(check_timeout_ms(log, "guide"), 500) << log.substr(0, 3000);
    EXPECT_TRUE(lines_with(log, "tourcast-state, ", "new-state=(string)reconnecting").empty())
        << log.substr(0, 6000);
  }
}
