/* Fault injection across the link emulator: the link between guide and
 * attendee goes down, the guide is killed and started again; the attendee's
 * tourrecoverybin brings the connection back by the cheapest level that
 * works. Guide, attendee and redis-server are processes in the emulator's
 * namespaces (gst-launch-1.0 -m logs); Redis bypasses the emulated link, so
 * signaling works while the media path is down.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

#include <glib/gstdio.h>

#include "e2e_util.h"
#include "netem_harness.h"
#include "redis_schema.h"

using namespace tourcast::test;
using tourcast::netem::Emulator;
using tourcast::netem::ScopedNetns;

namespace {

constexpr int kRedisPort = 6391;
constexpr const char *kTour = "rec";

std::string read_log(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_with(const std::string &log, const std::string &needle,
                                    size_t from = 0) {
  std::vector<std::string> found;
  std::istringstream lines(log.substr(std::min(from, log.size())));
  std::string line;
  while (std::getline(lines, line))
    if (line.find(needle) != std::string::npos)
      found.push_back(line);
  return found;
}

/* The value of "key=(type)value" in a gst-launch -m line ("" if absent). */
std::string field(const std::string &line, const std::string &key) {
  size_t at = line.find(" " + key + "=(");
  if (at == std::string::npos)
    return "";
  at = line.find(')', at);
  if (at == std::string::npos)
    return "";
  size_t end = line.find_first_of(",;", at + 1);
  std::string value =
      line.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  return value;
}

/* Loudest RMS (dBFS) of the level messages after byte @from of @log. */
double loudest_after(const std::string &log, size_t from) {
  double loudest = -1000;
  for (const std::string &line : lines_with(log, "level, ", from)) {
    size_t at = line.find("rms=(GValueArray)< ");
    if (at != std::string::npos)
      loudest = std::max(loudest, g_ascii_strtod(line.c_str() + at + 19, nullptr));
  }
  return loudest;
}

/* A guide, one attendee and redis-server across the link emulator. */
class RecoveryNetem : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "needs root for network namespaces";
    Emulator::Options options;
    options.attendees = 1;
    options.profile = "ideal";
    options.bypass_port = kRedisPort;
    net_ = std::make_unique<Emulator>(options);
    ASSERT_TRUE(net_->ok()) << net_->error();
    dir_ = g_get_tmp_dir() + std::string("/tcn-recovery-") + std::to_string(getpid());
    g_mkdir_with_parents(dir_.c_str(), 0700);
    redis_url_ = "redis://" + net_->guide_addr() + ":" + std::to_string(kRedisPort);
    redis_ = net_->spawn(net_->guide_ns(),
                         /* 127.0.0.1 too: RedisClient, for the test's own look. */
                         {"redis-server", "--port", std::to_string(kRedisPort), "--bind",
                          net_->guide_addr() + " 127.0.0.1", "--save", "", "--appendonly", "no",
                          "--protected-mode", "no"},
                         dir_ + "/redis.log");
    ASSERT_GT(redis_, 0);
    g_usleep(300 * 1000);
  }

  void TearDown() override {
    for (pid_t p : {attendee_, guide_, redis_}) {
      if (p > 0)
        kill(p, SIGINT);
    }
    for (pid_t p : {attendee_, guide_, redis_}) {
      if (p > 0)
        waitpid(p, nullptr, 0);
    }
    if (g_getenv("TOURCAST_KEEP_LOGS"))  // for a look at what happened
      return;
    for (const char *log : {"/redis.log", "/guide.log", "/guide2.log", "/attendee.log"})
      g_remove((dir_ + log).c_str());
    if (!dir_.empty())
      g_rmdir(dir_.c_str());
  }

  pid_t start_guide(const std::string &log) {
    return net_->spawn(
        net_->guide_ns(),
        {"gst-launch-1.0", "-m", "audiotestsrc", "is-live=true", "freq=440", "!",
         "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", std::string("tour=") + kTour,
         "language=en", "redis-url=" + redis_url_, "heartbeat-interval=500", "quality-interval=0",
         "ice-addresses=" + net_->guide_addr()},
        dir_ + "/" + log);
  }

  /* @recovery: extra settings of the attendee (peer:: for its tourrecoverybin).
   * @wait_for_audio: return once it heard a second of the tone. */
  void start(const std::vector<std::string> &recovery, bool verbose = false,
             bool wait_for_audio = true) {
    guide_ = start_guide("guide.log");
    /* Through sh, for gst-launch's stderr (errors) in the log too. */
    std::vector<std::string> argv = {"sh",
                                     "-c",
                                     "exec \"$0\" \"$@\" 2>&1",
                                     "gst-launch-1.0",
                                     verbose ? "-mv" : "-m",
                                     "tourattendeesrc",
                                     std::string("tour=") + kTour,
                                     "language=en",
                                     "redis-url=" + redis_url_,
                                     "heartbeat-interval=500",
                                     "quality-interval=0",
                                     "ice-addresses=" + net_->attendee_addr(1),
                                     "peer::media-timeout=1000"};
    argv.insert(argv.end(), recovery.begin(), recovery.end());
    for (const char *tail :
         {"!", "audioconvert", "!", "level", "interval=250000000", "!", "fakesink", "sync=false"})
      argv.push_back(tail);
    attendee_ = net_->spawn(net_->attendee_ns(1), argv, dir_ + "/attendee.log");
    ASSERT_GT(guide_, 0);
    ASSERT_GT(attendee_, 0);
    if (!wait_for_audio)
      return;
    ASSERT_TRUE(wait_until(
        [&] { return attendee_log().find("tourcast-first-audio") != std::string::npos; }, 30000))
        << attendee_log().substr(0, 4000);
    /* A second of audio before the fault. */
    g_usleep(G_USEC_PER_SEC);
    ASSERT_GT(loudest_after(attendee_log(), 0), -20.0);
  }

  std::string attendee_log() const { return read_log(dir_ + "/attendee.log"); }
  std::string guide_log() const { return read_log(dir_ + "/guide.log"); }

  /* The first "recovered" tourcast-recovery line, after waiting for it. */
  std::string wait_recovered(int timeout_ms) {
    std::string line;
    wait_until(
        [&] {
          auto found = lines_with(attendee_log(), "event=(string)recovered");
          if (!found.empty())
            line = found.front();
          return !found.empty();
        },
        timeout_ms);
    return line;
  }

  /* Audio at the tone's level once recovered. */
  void expect_tone_after(const std::string &recovered_line) {
    size_t from = attendee_log().find(recovered_line);
    ASSERT_NE(from, std::string::npos);
    EXPECT_TRUE(wait_until([&] { return loudest_after(attendee_log(), from) > -20.0; }, 5000))
        << "no audio after the recovery";
  }

  std::unique_ptr<Emulator> net_;
  std::string dir_;
  std::string redis_url_;
  pid_t redis_ = -1, guide_ = -1, attendee_ = -1;
};

}  // namespace

/* 3 s without a link: the media watchdog notices after 1 s, and an ICE
 * restart (new credentials on both sides, same session and webrtcbin) brings
 * it back once the link is up. */
TEST_F(RecoveryNetem, LinkDownThreeSecondsIceRestartBringsItBack) {
  start({});
  ASSERT_TRUE(net_->set("a1 both down=1"));
  g_usleep(3 * G_USEC_PER_SEC);
  ASSERT_TRUE(net_->set("a1 both down=0"));
  std::string recovered = wait_recovered(30000);
  std::string log = attendee_log();
  ASSERT_FALSE(recovered.empty()) << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  EXPECT_EQ(field(recovered, "level"), "ice_restart") << recovered;
  EXPECT_TRUE(lines_with(log, "event=(string)attempt-failed").empty()) << "a level failed";

  /* The ICE restart really gave both ends new credentials (webrtcbin alone
   * would have reused them). */
  auto restarts = lines_with(log, "tourcast-ice-restart");
  ASSERT_FALSE(restarts.empty());
  const std::string &r = restarts.front();
  EXPECT_NE(field(r, "local-ufrag"), "");
  EXPECT_NE(field(r, "remote-ufrag"), "");
  EXPECT_NE(field(r, "local-ufrag"), field(r, "old-local-ufrag")) << r;
  EXPECT_NE(field(r, "remote-ufrag"), field(r, "old-remote-ufrag")) << r;
  EXPECT_FALSE(field(r, "old-local-ufrag").empty()) << r;

  /* The peer went reconnecting, then connected again. */
  size_t reconnecting = log.find("new-state=(string)reconnecting");
  ASSERT_NE(reconnecting, std::string::npos);
  EXPECT_NE(log.find("new-state=(string)connected", reconnecting), std::string::npos);
  expect_tone_after(recovered);
}

/* Down past the level-1 and level-2 windows (one attempt each, 2 s
 * timeouts): both fail, and a full reconnect (new webrtcbin, new join) brings
 * it back. */
TEST_F(RecoveryNetem, LinkDownPastLevelsOneAndTwoFullReconnectBringsItBack) {
  start({"max-recovery-attempts=1", "peer::ice-restart-timeout=2000",
         "peer::signaling-reset-timeout=2000"});
  ASSERT_TRUE(net_->set("a1 both down=1"));
  /* Level 2 timed out by 1 + 1.2 + 2 + 3 + 2 = 9.2 s; level 3 waits at least
   * 5 s more. */
  ASSERT_TRUE(wait_until(
      [&] {
        auto failed = lines_with(attendee_log(), "event=(string)attempt-failed");
        return failed.size() >= 2;
      },
      20000))
      << attendee_log();
  ASSERT_TRUE(net_->set("a1 both down=0"));
  std::string recovered = wait_recovered(40000);
  std::string log = attendee_log();
  ASSERT_FALSE(recovered.empty()) << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  EXPECT_EQ(field(recovered, "level"), "full_reconnect") << recovered;
  auto failed = lines_with(log, "event=(string)attempt-failed");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(field(failed[0], "level"), "ice_restart");
  EXPECT_EQ(field(failed[1], "level"), "signaling_reset");
  expect_tone_after(recovered);

  /* The guide's totals for the diagnostics report, in its participant
   * record: one recovery at each level. */
  tourcast::ParticipantRecord guide;
  bool counted = wait_until(
      [&] {
        ScopedNetns in(net_->guide_ns());
        RedisClient redis(kRedisPort);
        auto raw = redis.get(tourcast::participant_key(kTour, "en", "guide"));
        std::string error;
        return raw && tourcast::decode_participant(*raw, &guide, &error) &&
               guide.recoveries == std::array<int64_t, 3>{1, 1, 1};
      },
      5000);
  EXPECT_TRUE(counted) << guide.has_recoveries << " " << guide.recoveries[0] << " "
                       << guide.recoveries[1] << " " << guide.recoveries[2];
}

/* The guide is SIGKILLed and started again: the attendee hears it again
 * without doing anything, and no participant is left over once the dead
 * guide's keys expired. */
TEST_F(RecoveryNetem, GuideKilledAndRestartedAttendeeHearsItAgain) {
  start({});
  kill(guide_, SIGKILL);
  waitpid(guide_, nullptr, 0);
  guide_ = -1;
  g_usleep(2 * G_USEC_PER_SEC);
  guide_ = start_guide("guide2.log");
  ASSERT_GT(guide_, 0);
  std::string recovered = wait_recovered(40000);
  std::string log = attendee_log();
  ASSERT_FALSE(recovered.empty()) << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  EXPECT_EQ(field(recovered, "level"), "full_reconnect") << recovered;
  expect_tone_after(recovered);

  /* Participant keys live 3 heartbeats (1.5 s): after that only the new
   * guide and the attendee have one. */
  g_usleep(2 * G_USEC_PER_SEC);
  std::vector<std::string> keys;
  {
    ScopedNetns in(net_->guide_ns());
    ASSERT_TRUE(in.ok());
    RedisClient redis(kRedisPort);
    ASSERT_TRUE(redis.connected());
    keys = redis.scan(tourcast::participant_key_pattern(kTour, "en"));
  }
  std::set<std::string> ids;
  const std::string prefix = tourcast::participant_key(kTour, "en", "");
  for (const std::string &key : keys)
    ids.insert(key.substr(prefix.size()));
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count("guide"), 1u);
}

/* The link never comes back: one attempt per level, then the recovery gives
 * up with an element error and the state failed. */
TEST_F(RecoveryNetem, LinkNeverBackGivesUpWithAnErrorAndStateFailed) {
  start({"max-recovery-attempts=1", "peer::ice-restart-timeout=2000",
         "peer::signaling-reset-timeout=2000", "peer::full-reconnect-timeout=3000"},
        true);
  ASSERT_TRUE(net_->set("a1 both down=1"));
  /* About 1 + 1.2 + 2 + 3 + 2 + 7.5 + 3 = 19.7 s at the most; gst-launch exits
   * on the error. */
  int status = 0;
  bool exited =
      wait_until([&] { return waitpid(attendee_, &status, WNOHANG) == attendee_; }, 40000);
  std::string log = attendee_log();
  ASSERT_TRUE(exited) << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  attendee_ = -1;
  auto gave_up = lines_with(log, "event=(string)gave-up");
  ASSERT_EQ(gave_up.size(), 1u) << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  EXPECT_EQ(field(gave_up[0], "total-attempt"), "3");
  auto failed = lines_with(log, "event=(string)attempt-failed");
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(field(failed[0], "level"), "ice_restart");
  EXPECT_EQ(field(failed[1], "level"), "signaling_reset");
  EXPECT_EQ(field(failed[2], "level"), "full_reconnect");
  EXPECT_TRUE(lines_with(log, "event=(string)recovered").empty());
  EXPECT_FALSE(lines_with(log, "ERROR: from element").empty()) << "no element error";
  EXPECT_FALSE(lines_with(log, "not recovered").empty()) << "no element error";
  EXPECT_NE(WEXITSTATUS(status), 0);
  /* -v prints property changes: the attendee's state went reconnecting, then
   * failed. */
  auto states = lines_with(log, "TourRecoveryBin:peer: state = ");
  ASSERT_GE(states.size(), 2u);
  EXPECT_NE(states[states.size() - 2].find("reconnecting"), std::string::npos);
  EXPECT_NE(states.back().find("failed"), std::string::npos) << states.back();
}

/* The first connection fails before any media (the media path is down while
 * ICE runs, as when a loss burst swallows the guide's nomination): libnice
 * declares ICE failed and cannot come back by itself, and recovery used to
 * wait for a first media that never came. Now the attendee rejoins with a new
 * peer (level 3 at once), hears the tone once the path is up, and the guide
 * frees the peer of the failed connection. */
TEST_F(RecoveryNetem, FirstConnectionFailedBeforeAnyMediaRejoins) {
  ASSERT_TRUE(net_->set("a1 both down=1"));
  start({}, false, false);
  /* Signaling bypasses the link: offer and answer pass, the checks do not. */
  ASSERT_TRUE(wait_until(
      [&] { return attendee_log().find("new-state=(string)reconnecting") != std::string::npos; },
      40000))
      << attendee_log();
  EXPECT_EQ(attendee_log().find("tourcast-first-audio"), std::string::npos);
  ASSERT_TRUE(net_->set("a1 both down=0"));
  std::string recovered = wait_recovered(40000);
  std::string log = attendee_log();
  ASSERT_FALSE(recovered.empty()) << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  EXPECT_EQ(field(recovered, "level"), "full_reconnect") << recovered;
  /* gst-launch -m escapes the spaces. */
  EXPECT_NE(
      recovered.find(R"x(reason=(string)"the\ first\ connection\ failed\ before\ any\ media")x"),
      std::string::npos)
      << recovered;
  /* No ICE restart or signaling reset was tried: nothing to resume. */
  for (const std::string &attempt : lines_with(log, "event=(string)attempt,"))
    EXPECT_EQ(field(attempt, "level"), "full_reconnect") << attempt;
  expect_tone_after(recovered);
  /* The old peer's teardown says nothing about the connection: webrtcbin can
   * report `connected` while it stops a failed connection's transports. */
  EXPECT_EQ(log.find(R"x(reason=(string)"connection\ restored")x"), std::string::npos)
      << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);

  /* The guide replaced the failed connection's peer: one attendee left. */
  EXPECT_TRUE(wait_until(
      [&] {
        auto left = lines_with(guide_log(), "tourcast-attendee-left");
        auto joined = lines_with(guide_log(), "tourcast-attendee-joined");
        return !left.empty() && joined.size() >= 2 &&
               field(joined.back(), "attendee-count") == "1" &&
               field(left.back(), "attendee-count") == "0";
      },
      10000))
      << guide_log().substr(0, 6000);
}
