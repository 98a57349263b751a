/* Adaptation across the link emulator: loss on one attendee's link lowers its
 * level (FEC on, tone still heard) and only its; the level climbs back after
 * the hold once the loss stops; the guide never runs more than two encoders.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <glib/gstdio.h>
#include <nlohmann/json.hpp>

#include "e2e_util.h"
#include "launch_log.h"
#include "netem_harness.h"

using namespace tourcast::test;
using tourcast::netem::Emulator;
using tourcast::netem::lines_with;
using tourcast::netem::read_file;
using tourcast::netem::ScopedNetns;

namespace {

constexpr int kRedisPort = 6391;

/* Level changes of @peer in the guide's gst-launch -m log, as new levels. */
std::vector<std::string> new_levels(const std::string &log, const std::string &peer) {
  std::vector<std::string> out;
  for (const std::string &line :
       lines_with(log, "tourcast-level-changed", "peer-id=(string)" + peer + ",")) {
    const std::string key = "new-level=(string)";
    size_t at = line.find(key);
    if (at == std::string::npos)
      continue;
    size_t end = line.find_first_of(",;", at);
    out.push_back(line.substr(at + key.size(), end - at - key.size()));
  }
  return out;
}

/* The last `level` message's RMS in dB from an attendee's log. */
double last_rms(const std::string &log) {
  std::vector<std::string> lines = lines_with(log, "level, ", "rms=(GValueArray)< ");
  if (lines.empty())
    return -INFINITY;
  const std::string &line = lines.back();
  size_t at = line.find("rms=(GValueArray)< ");
  return g_ascii_strtod(line.c_str() + at + 19, nullptr);
}

}  // namespace

TEST(AdaptationNetem, LossLowersOnlyThatAttendeesLevelAndItClimbsBack) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root for network namespaces";
  Emulator::Options options;
  options.attendees = 2;
  options.profile = "ideal";
  options.bypass_port = kRedisPort;
  Emulator net(options);
  ASSERT_TRUE(net.ok()) << net.error();

  std::string dir = g_get_tmp_dir() + std::string("/tcn-adapt-") + std::to_string(getpid());
  g_mkdir_with_parents(dir.c_str(), 0700);
  std::string redis_url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
  pid_t redis =
      net.spawn(net.guide_ns(),
                {"redis-server", "--port", std::to_string(kRedisPort), "--bind", net.guide_addr(),
                 "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"},
                dir + "/redis.log");
  ASSERT_GT(redis, 0);
  g_usleep(300 * 1000);
  pid_t guide =
      net.spawn(net.guide_ns(),
                {"gst-launch-1.0", "-m", "audiotestsrc", "is-live=true", "volume=0.5", "freq=440",
                 "!", "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", "tour=adapt",
                 "language=en", "redis-url=" + redis_url, "heartbeat-interval=500",
                 "upgrade-hold=4000", "report-interval=300", "ice-addresses=" + net.guide_addr(),
                 /* Counts the encoders of the attendees' levels only: a
                  * spare peer keeps initial-level's running. */
                 "spare-peers=0"},
                dir + "/guide.log");
  std::vector<pid_t> attendees;
  for (int k : {1, 2})
    attendees.push_back(net.spawn(
        net.attendee_ns(k),
        {"gst-launch-1.0", "-m", "tourattendeesrc", "participant-id=a" + std::to_string(k),
         "tour=adapt", "language=en", "redis-url=" + redis_url, "heartbeat-interval=500",
         "ice-addresses=" + net.attendee_addr(k), "!", "audioconvert", "!", "level",
         "interval=250000000", "!", "fakesink"},
        dir + "/a" + std::to_string(k) + ".log"));

  RedisClient *client = nullptr;
  {
    /* The test reads the guide's diagnostics from inside its namespace. */
    ScopedNetns in_guide(net.guide_ns());
    ASSERT_TRUE(in_guide.ok());
    client = new RedisClient(kRedisPort);
  }
  std::unique_ptr<RedisClient> owned(client);
  unsigned most_encoders = 0;
  nlohmann::json last_report;
  auto report = [&] {
    auto text = client->get("webrtc:diagnostics:adapt:en");
    if (!text)
      return false;
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded())
      return false;
    last_report = doc;
    most_encoders = std::max<unsigned>(most_encoders, doc["encoders"].size());
    return true;
  };
  auto attendee_field = [&](const std::string &id, const char *field) {
    for (const auto &a : last_report["attendees"])
      if (a["id"] == id && a.contains(field))
        return a[field];
    return nlohmann::json();
  };

  bool both_heard = wait_until(
      [&] {
        return report() && last_report["healthyCount"] == 2 &&
               last_rms(read_file(dir + "/a1.log")) > -20 &&
               last_rms(read_file(dir + "/a2.log")) > -20;
      },
      30000);
  bool degraded = false, fec = false, climbed = false, steady_after_loss = false;
  double rms_lossy = -INFINITY;
  std::string degraded_a1, final_a2;
  if (both_heard) {
    /* 10 % random loss towards a1 only. */
    EXPECT_TRUE(net.set("a1 down loss=10"));
    degraded = wait_until(
        [&] {
          report();
          std::vector<std::string> a1 = new_levels(read_file(dir + "/guide.log"), "a1");
          return !a1.empty() && (a1.back() == "low" || a1.back() == "minimum") &&
                 attendee_field("a1", "fec") == true;
        },
        30000);
    fec = attendee_field("a1", "fec") == true;
    /* Between moves the ladder runs a1's level and a2's, nothing else. */
    steady_after_loss =
        wait_until([&] { return report() && last_report["encoders"].size() == 2; }, 10000);
    rms_lossy = last_rms(read_file(dir + "/a1.log"));
    final_a2 = attendee_field("a2", "level").is_string() ? attendee_field("a2", "level") : "";
    std::vector<std::string> a1_levels = new_levels(read_file(dir + "/guide.log"), "a1");
    degraded_a1 = a1_levels.empty() ? "" : a1_levels.back();
    /* Loss gone: after the hold of good reports a1 climbs again. gst-launch
     * escapes the spaces of the reason "good for N ms". */
    auto upgrades = [&] {
      return lines_with(read_file(dir + "/guide.log"), "peer-id=(string)a1,",
                        "reason=(string)\"good\\ for")
          .size();
    };
    size_t upgrades_before = upgrades();
    EXPECT_TRUE(net.set("a1 down loss=0"));
    climbed = wait_until([&] { return upgrades() > upgrades_before; }, 30000);
  }
  std::string guide_log = read_file(dir + "/guide.log");
  for (pid_t p : attendees)
    kill(p, SIGINT);
  kill(guide, SIGINT);
  kill(redis, SIGINT);
  for (pid_t p : attendees)
    waitpid(p, nullptr, 0);
  waitpid(guide, nullptr, 0);
  waitpid(redis, nullptr, 0);
  for (const char *log : {"/redis.log", "/guide.log", "/a1.log", "/a2.log"})
    g_remove((dir + log).c_str());
  g_rmdir(dir.c_str());

  ASSERT_TRUE(both_heard) << last_report.dump() << "\n" << guide_log.substr(0, 3000);
  EXPECT_TRUE(degraded) << last_report.dump();
  EXPECT_TRUE(fec) << "FEC is not on for a1: " << last_report.dump();
  EXPECT_GT(rms_lossy, -20) << "a1 no longer hears the tone under loss";
  /* a2's clean link only ever moves it up (high, then maximum after the hold). */
  EXPECT_TRUE(final_a2 == "high" || final_a2 == "maximum") << final_a2;
  EXPECT_TRUE(steady_after_loss) << last_report.dump();
  /* A move needs its old and new level for a frame or two: three at most. */
  EXPECT_LE(most_encoders, 3u) << "the guide ran more encoders than levels in use";
  EXPECT_TRUE(climbed) << last_report.dump();
  EXPECT_TRUE(degraded_a1 == "low" || degraded_a1 == "minimum") << degraded_a1;
  for (const std::string &level : new_levels(guide_log, "a2"))
    EXPECT_EQ(level, "maximum") << "a2 moved down";
}
