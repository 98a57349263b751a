/* 200 attendees join a guide, hear it and leave: the guide's process comes
 * back to its resident memory (VmRSS) and open file descriptors of before,
 * +-5 %. What matters is a long-running guide, so the attendees are not in
 * the measured process: each wave of 4 runs in a child process of its own
 * (this binary again, CyclesWave.AttendeesHearTheGuide, which checks that
 * each heard the 440 Hz tone), and the test's process holds only the guide
 * (and the test's own record of its bus, dropped before each measure).
 * Baseline after 20 warm-up cycles, measured again after 200 more, without
 * malloc_trim in the test: what a guide really keeps resident.
 *
 * Findings (docs/performance.md, "Join/leave cycles"): fds 12 -> 12 and
 * threads 5 -> 5 every run. RSS grew +5.9 % (+10 KiB per cycle, not levelling
 * off) until the guide trimmed malloc's free pages after each departure
 * (gst/tourguidesink.cpp, finish_removal): +1.8..2.6 % since (3 runs), still
 * creeping about 4 KiB per cycle, mostly with get-stats (quality-interval=0
 * makes it 0.5 KiB). A 16 KiB block leaked per departure fails it (+10 %).
 * The heap in use (mallinfo2) still grows about 1.5 KiB per cycle (+6 %,
 * reported, not asserted): 6 GQuarks per cycle (~0.6 KiB) that webrtcbin
 * 1.22 makes from its get-stats ids and never frees, the rest not found yet.
 *
 * Run it by hand (from build/, with the environment meson gives e2e tests):
 *   ../tests/e2e/netns-run.sh tests/e2e/tourcast-e2e --gtest_filter=Cycles.*
 * TOURCAST_CYCLES_TRACE=1 prints RSS, heap, fds, threads and the next GQuark
 * every 40 cycles; TOURCAST_CYCLES_COUNT=N runs N cycles instead of 200 and
 * TOURCAST_CYCLES_WARM_UP=N warms up with N; TOURCAST_CYCLES_EXTRA adds
 * properties to both ends (e.g. quality-interval=0) to bisect;
 * TOURCAST_CYCLES_EXIT=1 ends the process right after measuring, for a heap
 * profiler to see what is still allocated then.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <dirent.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "e2e_util.h"

using namespace tourcast::test;

namespace {

constexpr int kConnectMs = 20000;
constexpr double kToneHz = 440;
/* Set in the child processes the test starts: "<redis url> <first> <count>". */
constexpr const char *kWaveVariable = "TOURCAST_CYCLES_WAVE";
/* Set too when the attendees stay until the child's stdin is closed. */
constexpr const char *kHoldVariable = "TOURCAST_CYCLES_HOLD";

/* A line of /proc/self/status in KiB (or a plain count), -1 if missing. */
long status_field(const char *field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0)
      return std::stol(line.substr(prefix.size()));
  }
  return -1;
}

/* Heap in use in KiB: the allocated chunks of every malloc arena plus
 * mmapped blocks. RSS also counts what malloc keeps mapped but free. */
long heap_kib() {
  struct mallinfo2 info = mallinfo2();
  return static_cast<long>((info.uordblks + info.hblkhd) / 1024);
}

/* The number the next new GQuark gets: quarks are never freed, so a count
 * that keeps rising is memory that keeps growing. */
GQuark next_quark() {
  static int probe = 0;
  return g_quark_from_string(("tourcast-cycles-probe-" + std::to_string(probe++)).c_str());
}

/* This process's threads by name, digits dropped ("nicesrc12" and "nicesrc3"
 * are one kind): "name x count, ...". */
std::string thread_kinds() {
  std::map<std::string, int> kinds;
  GDir *dir = g_dir_open("/proc/self/task", 0, nullptr);
  while (const gchar *task = dir ? g_dir_read_name(dir) : nullptr) {
    gchar *comm = nullptr;
    gchar *path = g_strdup_printf("/proc/self/task/%s/comm", task);
    if (g_file_get_contents(path, &comm, nullptr, nullptr)) {
      std::string name;
      for (const gchar *c = g_strstrip(comm); *c; c++)
        if (!g_ascii_isdigit(*c))
          name += *c;
      kinds[name]++;
    }
    g_free(comm);
    g_free(path);
  }
  if (dir)
    g_dir_close(dir);
  std::string text;
  for (const auto &[name, count] : kinds)
    text += (text.empty() ? "" : ", ") + name + " x " + std::to_string(count);
  return text;
}

int open_fds() {
  int n = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == nullptr)
    return -1;
  while (struct dirent *entry = readdir(dir))
    n += entry->d_name[0] != '.';
  closedir(dir);
  return n - 1; /* the directory itself */
}

struct Footprint {
  long rss_kib;
  long heap_kib;
  int fds;
  long threads;
  GQuark next_quark;
};

Footprint measure() {
  return Footprint{status_field("VmRSS"), heap_kib(), open_fds(), status_field("Threads"),
                   next_quark()};
}

guint attendee_count(const Pipeline &guide) {
  guint count = 0;
  g_object_get(guide.get("guide"), "attendee-count", &count, nullptr);
  return count;
}

const char *extra_properties() {
  const char *extra = g_getenv("TOURCAST_CYCLES_EXTRA");
  return extra ? extra : "";
}

/* @count attendees join at once in a child process of their own (this test
 * binary again, running CyclesWave.AttendeesHearTheGuide), hear the tone and
 * leave when it exits. The guide's process then holds only the guide. */
gchar **wave_environment(const std::string &url, int first, int count) {
  std::string wave_value = url + " " + std::to_string(first) + " " + std::to_string(count);
  gchar **envp = g_environ_setenv(g_get_environ(), kWaveVariable, wave_value.c_str(), TRUE);
  /* A heap profiler preloaded into the guide's process (heaptrack) is not
   * the attendees' business. */
  return g_environ_unsetenv(envp, "LD_PRELOAD");
}

void die_with_parent(gpointer) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

void wave(const std::string &url, int first, int count) {
  std::string self = "/proc/self/exe";
  std::vector<char *> argv = {self.data(), const_cast<char *>("--gtest_filter=CyclesWave.*"),
                              nullptr};
  gchar **envp = wave_environment(url, first, count);
  gchar *output = nullptr;
  gchar *errors = nullptr;
  gint status = -1;
  GError *error = nullptr;
  g_spawn_sync(nullptr, argv.data(), envp, G_SPAWN_DEFAULT, die_with_parent, nullptr, &output,
               &errors, &status, &error);
  g_strfreev(envp);
  if (error) {
    ADD_FAILURE() << error->message;
    g_clear_error(&error);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    /* The end of its log is enough to tell what went wrong. */
    std::string log = errors ? errors : "";
    ADD_FAILURE() << "wave of attendees " << first << ".." << first + count - 1 << ": "
                  << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exit status " + std::to_string(WEXITSTATUS(status)))
                  << "\n"
                  << (output ? output : "") << "\n...\n"
                  << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  }
  g_free(output);
  g_free(errors);
}

/* A wave whose attendees stay connected until finish_held_wave. */
struct HeldWave {
  GPid pid = 0;
  int stdin_fd = -1;
};

HeldWave start_held_wave(const std::string &url, int first, int count) {
  std::string self = "/proc/self/exe";
  std::vector<char *> argv = {self.data(), const_cast<char *>("--gtest_filter=CyclesWave.*"),
                              nullptr};
  gchar **envp = g_environ_setenv(wave_environment(url, first, count), kHoldVariable, "1", TRUE);
  HeldWave held;
  GError *error = nullptr;
  g_spawn_async_with_pipes(nullptr, argv.data(), envp, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent,
                           nullptr, &held.pid, &held.stdin_fd, nullptr, nullptr, &error);
  g_strfreev(envp);
  if (error) {
    ADD_FAILURE() << error->message;
    g_clear_error(&error);
  }
  return held;
}

void finish_held_wave(HeldWave &held) {
  if (held.pid == 0)
    return;
  close(held.stdin_fd);
  int status = -1;
  waitpid(held.pid, &status, 0);
  g_spawn_close_pid(held.pid);
  held.pid = 0;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the held wave of attendees failed (status " << status << ")";
}

}  // namespace

/* One wave of attendees, in the child process the cycle test starts; skipped
 * when run any other way. */
TEST(CyclesWave, AttendeesHearTheGuide) {
  const char *wave_value = g_getenv(kWaveVariable);
  if (wave_value == nullptr)
    GTEST_SKIP() << "started by Cycles.* only";
  char url[256];
  int first = 0;
  int count = 0;
  ASSERT_EQ(std::sscanf(wave_value, "%255s %d %d", url, &first, &count), 3) << wave_value;
  {
    /* Meters first: destroyed after the pipelines that feed them. */
    std::vector<std::unique_ptr<ToneMeter>> meters;
    std::vector<std::unique_ptr<Pipeline>> attendees;
    for (int i = 0; i < count; i++) {
      std::string name = "c" + std::to_string(first + i);
      attendees.push_back(std::make_unique<Pipeline>(
          attendee_description(name, "cycle", "en", url, extra_properties())));
      meters.push_back(std::make_unique<ToneMeter>(attendees.back()->get((name + "_out").c_str())));
      ASSERT_NE(attendees.back()->play(), GST_STATE_CHANGE_FAILURE);
    }
    for (int i = 0; i < count; i++) {
      ASSERT_TRUE(attendees[i]->wait_element_message("tourcast-first-audio", kConnectMs))
          << "attendee " << first + i << ": " << testing::PrintToString(attendees[i]->errors());
      ASSERT_TRUE(wait_until([&] { return meters[i]->sample_count() >= 48 * 300; }, kConnectMs));
      EXPECT_GT(meters[i]->tone_share(kToneHz, 200), 0.8) << "attendee " << first + i;
      EXPECT_TRUE(attendees[i]->errors().empty()) << testing::PrintToString(attendees[i]->errors());
    }
    /* Connected until the test that started this process has counted. */
    if (g_getenv(kHoldVariable)) {
      char byte;
      while (read(STDIN_FILENO, &byte, 1) > 0) {
      }
    }
  }
  /* The attendees have left (their pipelines are NULL). What this process
   * does at exit is not what the cycle test measures: 1 exit in about 170
   * ended with a failing status after the test had passed, which would fail
   * the guide's test for the attendees' sake (docs/performance.md). */
  std::fflush(stdout);
  _exit(HasFailure() ? 1 : 0);
}

namespace {

/* Warm-up, baseline, @default_cycles joins and leaves (TOURCAST_CYCLES_COUNT
 * overrides it), measured again: RSS and fds within +-5 %. */
void expect_cycles_come_back_to_baseline(const std::string &guide_properties, int default_cycles) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description("guide", "cycle", "en", kToneHz, redis.url(),
                                   std::string(extra_properties()) + " " + guide_properties));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  constexpr int kPerWave = 4;
  auto settle = [&] {
    EXPECT_TRUE(wait_until([&] { return attendee_count(guide) == 0; }, 10000));
    /* Peers are freed on the worker after their branch is unlinked. */
    g_usleep(500 * 1000);
    /* The test's own copies of the guide's messages are not the guide's. */
    guide.forget_element_messages();
  };
  const bool trace = g_getenv("TOURCAST_CYCLES_TRACE") != nullptr;
  auto print = [](const char *when, const Footprint &f) {
    std::printf("%s: RSS %ld KiB, heap %ld KiB, fds %d, threads %ld, next quark %u\n", when,
                f.rss_kib, f.heap_kib, f.fds, f.threads, f.next_quark);
    std::fflush(stdout);
  };

  /* Warm-up: one-time allocations (types, DTLS certificate, codecs, the
   * worker thread, malloc arenas of the threads webrtcbin starts). */
  const char *warm_up_value = g_getenv("TOURCAST_CYCLES_WARM_UP");
  const int warm_up = warm_up_value ? std::atoi(warm_up_value) : 20;
  for (int i = 0; i < warm_up; i += kPerWave) {
    wave(redis.url(), i, kPerWave);
    if (testing::Test::HasFailure())
      return;
    settle();
  }
  const Footprint before = measure();
  ASSERT_GT(before.rss_kib, 0);
  ASSERT_GT(before.fds, 0);
  if (trace)
    print("baseline", before);

  const char *count_value = g_getenv("TOURCAST_CYCLES_COUNT");
  const int cycles = count_value ? std::atoi(count_value) : default_cycles;
  for (int i = 0; i < cycles; i += kPerWave) {
    wave(redis.url(), 1000 + i, kPerWave);
    if (testing::Test::HasFailure())
      return;
    settle();
    if (trace && (i + kPerWave) % 40 == 0)
      print(("after " + std::to_string(i + kPerWave)).c_str(), measure());
  }
  const Footprint after = measure();
  for (const auto &[name, value] :
       std::vector<std::pair<std::string, long>>{{"rss_before_kib", before.rss_kib},
                                                 {"rss_after_kib", after.rss_kib},
                                                 {"heap_before_kib", before.heap_kib},
                                                 {"heap_after_kib", after.heap_kib},
                                                 {"fds_before", before.fds},
                                                 {"fds_after", after.fds},
                                                 {"threads_before", before.threads},
                                                 {"threads_after", after.threads}})
    testing::Test::RecordProperty(name, std::to_string(value));
  std::printf(
      "RSS %ld -> %ld KiB, heap %ld -> %ld KiB, fds %d -> %d, threads %ld -> %ld, %u new "
      "quarks\n",
      before.rss_kib, after.rss_kib, before.heap_kib, after.heap_kib, before.fds, after.fds,
      before.threads, after.threads, after.next_quark - before.next_quark - 1);
  std::fflush(stdout);
  /* For a heap profiler: what is still allocated at this point. */
  if (g_getenv("TOURCAST_CYCLES_EXIT"))
    _exit(0);
  EXPECT_LE(after.rss_kib, before.rss_kib * 105 / 100);
  EXPECT_GE(after.rss_kib, before.rss_kib * 95 / 100);
  EXPECT_LE(after.fds, before.fds + before.fds * 5 / 100);
  EXPECT_GE(after.fds, before.fds - before.fds * 5 / 100);
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
}

}  // namespace

TEST(Cycles, TwoHundredJoinLeaveCyclesComeBackToBaseline) {
  expect_cycles_come_back_to_baseline("", 200);
}

/* On a shared libnice agent, each departed peer's stream (and its socket)
 * must leave the agent: a stream left behind is an fd per cycle. 3 peers per
 * agent: each wave of 4 spans two agents, made and freed again every wave.
 * (The 200 cycles above run on the default, 64 per agent.) */
TEST(Cycles, SharedIceAgentJoinLeaveCyclesComeBackToBaseline) {
  expect_cycles_come_back_to_baseline("shared-ice-agent=true ice-agent-peers=3", 60);
}

/* With shared-ice-agent, a peer of the guide has no receive thread (a
 * TourSharedIceSrc pushes from its agent's thread where libnice's nicesrc ran
 * one of its own) and ice-agent-peers peers share an agent and its thread: 4
 * threads per attendee (webrtcbin:pc, the receive queue, dtlsenc's src,
 * rtpsession-rtcp) and one per agent. A structural count, in the guide's
 * process, which holds only the guide. The receive path still works: the
 * attendees hear (DTLS records reach the guide) and the guide measures a
 * round trip to each of them (their RTCP receiver reports reach it). */
TEST(Cycles, SharedIceAgentGuideHasFourThreadsPerAttendee) {
  constexpr int kAttendees = 8;
  constexpr int kPerAgent = 4;
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  Pipeline guide(guide_description(
      "guide", "cycle", "en", kToneHz, redis.url(),
      "shared-ice-agent=true spare-peers=0 quality-interval=300 ice-agent-peers=" +
          std::to_string(kPerAgent)));
  ASSERT_NE(guide.play(), GST_STATE_CHANGE_FAILURE);
  /* No peer before: GStreamer's tasks run on a shared thread pool that keeps
   * the threads of ended tasks (a departed peer's) for the next ones. */
  ASSERT_TRUE(wait_until([&] { return threads_named("tourcast-worker") == 1; }, 5000));
  const long before = status_field("Threads");
  const std::string kinds_before = thread_kinds();

  HeldWave held = start_held_wave(redis.url(), 100, kAttendees);
  std::set<std::string> measured;
  const bool all_measured = wait_until(
      [&] {
        guide.for_each_element_message("tourcast-quality", [&](const GstStructure *s) {
          const gchar *peer = gst_structure_get_string(s, "peer-id");
          if (peer && gst_structure_has_field(s, "rtt-ms"))
            measured.insert(peer);
        });
        return measured.size() >= kAttendees && attendee_count(guide) == kAttendees;
      },
      40000);
  const long during = status_field("Threads");
  const std::string kinds_during = thread_kinds();
  const int agents = threads_named("tourcast-ice");
  finish_held_wave(held);
  EXPECT_TRUE(wait_until([&] { return attendee_count(guide) == 0; }, 10000));
  EXPECT_TRUE(wait_until([&] { return threads_named("tourcast-ice") == 0; }, 5000))
      << "an agent outlived its last peer";
  ASSERT_TRUE(all_measured) << "round trips measured for " << measured.size() << " of "
                            << kAttendees;
  std::printf(
      "guide threads %ld -> %ld with %d attendees (%.2f per attendee), %d agents\n"
      "  before: %s\n  during: %s\n",
      before, during, kAttendees, double(during - before) / kAttendees, agents,
      kinds_before.c_str(), kinds_during.c_str());
  EXPECT_EQ(agents, kAttendees / kPerAgent);
  /* +2: a thread some library starts meanwhile; with libnice's nicesrc it
   * would be 8 more. */
  EXPECT_LE(during - before, 4 * kAttendees + kAttendees / kPerAgent + 2);
  EXPECT_TRUE(guide.errors().empty()) << testing::PrintToString(guide.errors());
}
