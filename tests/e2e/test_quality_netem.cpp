/* Quality measured across the link emulator: loss on the way to the
 * attendee shows in both ends' scores.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <sstream>

#include <glib/gstdio.h>

#include "e2e_util.h"
#include "launch_log.h"
#include "netem_harness.h"

using namespace tourcast::test;
using tourcast::netem::Emulator;
using tourcast::netem::number_after;
using tourcast::netem::read_file;

namespace {

constexpr int kRedisPort = 6390;

/* The worst tourcast-quality message with received packets in a
 * gst-launch -m log: {score, loss-rate}. (No std::regex: GCC 12 warns inside
 * it under -fsanitize=address, and the leak check builds with -Werror.) */
bool worst_quality(const std::string &log, int *score, double *loss) {
  bool found = false;
  *score = 101;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    double received = 0, s = 0, rate = 0;
    if (line.find("tourcast-quality, ") == std::string::npos ||
        !number_after(line, "packets-received=(gint64)", &received) || received == 0 ||
        !number_after(line, "score=(int)", &s) || !number_after(line, "loss-rate=(double)", &rate))
      continue;
    if (s < *score) {
      *score = (int)s;
      *loss = rate;
    }
    found = true;
  }
  return found;
}

}  // namespace

TEST(QualityNetem, LossOnTheLinkLowersBothScores) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root for network namespaces";
  Emulator::Options options;
  options.attendees = 1;
  options.profile = "ideal";
  /* 10 % random loss from the guide to the attendee; Redis is not impaired. */
  options.sets = {"a1 down loss=10"};
  options.bypass_port = kRedisPort;
  Emulator net(options);
  ASSERT_TRUE(net.ok()) << net.error();

  std::string dir = g_get_tmp_dir() + std::string("/tcn-quality-") + std::to_string(getpid());
  g_mkdir_with_parents(dir.c_str(), 0700);
  std::string redis_url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
  pid_t redis = net.spawn_redis(kRedisPort, dir + "/redis.log");
  ASSERT_GT(redis, 0);
  const std::string common = "tour=lossy language=en redis-url=" + redis_url +
                             " heartbeat-interval=500 quality-interval=1000";
  pid_t guide = net.spawn(net.guide_ns(),
                          {"gst-launch-1.0", "-m", "audiotestsrc", "is-live=true", "!",
                           "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", "tour=lossy",
                           "language=en", "redis-url=" + redis_url, "heartbeat-interval=500",
                           "quality-interval=1000", "ice-addresses=" + net.guide_addr()},
                          dir + "/guide.log");
  pid_t attendee =
      net.spawn(net.attendee_ns(1),
                {"gst-launch-1.0", "-m", "tourattendeesrc", "tour=lossy", "language=en",
                 "redis-url=" + redis_url, "heartbeat-interval=500", "quality-interval=1000",
                 "ice-addresses=" + net.attendee_addr(1), "!", "fakesink"},
                dir + "/attendee.log");
  ASSERT_GT(guide, 0);
  ASSERT_GT(attendee, 0);

  int attendee_score = 101, guide_score = 101;
  double attendee_loss = 0, guide_loss = 0;
  /* The guide learns of the loss from receiver reports, every few seconds.
   * One interval's loss is a sample: at 10 % a window of ~50 packets can
   * show 1-2 losses (the attendee measures once a second), so wait for the
   * measurement that shows it, up to the timeout. */
  bool measured = wait_until(
      [&] {
        return worst_quality(read_file(dir + "/attendee.log"), &attendee_score, &attendee_loss) &&
               attendee_score <= 30 &&
               worst_quality(read_file(dir + "/guide.log"), &guide_score, &guide_loss) &&
               guide_score <= 30;
      },
      40000);
  std::string attendee_log = read_file(dir + "/attendee.log");
  for (pid_t p : {attendee, guide, redis}) {
    kill(p, SIGINT);
  }
  for (pid_t p : {attendee, guide, redis})
    waitpid(p, nullptr, 0);
  for (const char *log : {"/redis.log", "/guide.log", "/attendee.log"})
    g_remove((dir + log).c_str());
  g_rmdir(dir.c_str());
  ASSERT_TRUE(measured) << "attendee score " << attendee_score << ", guide score " << guide_score
                        << "\n"
                        << attendee_log.substr(0, 3000);
  /* 10 % loss is past every loss step of the seed's formula: -20 -20 -30. */
  EXPECT_LE(attendee_score, 30) << "loss " << attendee_loss;
  EXPECT_GT(attendee_loss, 0.03);
  EXPECT_LE(guide_score, 30) << "loss " << guide_loss;
  EXPECT_GT(guide_loss, 0.03);
  /* No RTT penalty on this link: 100 - 70 = 30, the bottom of "poor". */
  EXPECT_NE(attendee_log.find("score=(int)30, category=(string)poor"), std::string::npos);
}
