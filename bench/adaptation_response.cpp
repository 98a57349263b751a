/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * adaptation-response: the seed's "Quality Adaptation Response" table, measured on the
 * link emulator. A guide (tourguidesink) and one attendee (tourattendeesrc) run as
 * gst-launch-1.0 processes in two network namespaces joined by tourcast-netem; once the
 * attendee listens at level high, its link is impaired and the guide's messages say when
 * it noticed (the first tourcast-quality report past a trigger) and when it moved the
 * attendee (tourcast-level-changed). Both carry epoch-ms timestamps. Battery low is the
 * attendee's status message, published into Redis as its signaller does.
 *
 * Each scenario runs for tourcast's defaults (RTCP every ~0.5 s, stats every 1 s and on
 * every RTCP report) and for
 * the same elements at webrtcbin's defaults (RTCP every ~5 s, stats every 5 s), in the
 * same session, alternating. A plain webrtcbin fan-out with one shared encoder (the
 * naive baseline of the other benchmarks) never adapts: it is listed with null times.
 *
 * Prints one JSON document on stdout, progress on stderr. Needs root (namespaces).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <glib.h>
#include <glib/gstdio.h>
#include <nlohmann/json.hpp>

#include "bench_stats.h"
#include "launch_log.h"
#include "netem_harness.h"

using tourcast::netem::Emulator;
using tourcast::netem::number_after;
using tourcast::netem::read_file;
using Json = nlohmann::json;

namespace {

constexpr int kRedisPort = 6392;

struct Scenario {
  const char *name;
  const char *seed_trigger;  // the seed's row
  double seed_detection_s, seed_adaptation_s, seed_total_s;
  const char *impairment;  // tourcast-netem set command, or "" for battery
  const char *trigger;     // the metric the detection looks for
};

const Scenario kScenarios[] = {
    {"high_rtt", "High RTT", 5, 2, 7, "a1 both delay=200", "rtt"},
    {"packet_loss", "Packet Loss", 3, 1.5, 4.5, "a1 down loss=10", "loss"},
    {"low_bandwidth", "Low Bandwidth", 8, 3, 11, "a1 down rate=48 queue_ms=400", "any"},
    {"battery_low", "Battery Low", 0, 1, 1, "", "battery"},
};

struct Config {
  const char *name;
  int rtcp_interval_ms;
  int quality_interval_ms;
};

const Config kConfigs[] = {
    {"tourcast", 500, 1000},
    {"webrtcbin_defaults", 5000, 5000},
};

int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Times {
  std::optional<double> detection_ms, adaptation_ms, total_ms, settled_ms;
  std::string first_level;
};

/* Reads the guide's gst-launch -m log: quality reports and level changes of a1 after t0. */
Times measure(const std::string &log, int64_t t0, const char *trigger) {
  Times t;
  std::istringstream lines(log);
  std::string line;
  std::optional<int64_t> detected, first_change, last_change;
  while (std::getline(lines, line)) {
    if (line.find("peer-id=(string)a1") == std::string::npos)
      continue;
    double ts = 0;
    if (!number_after(line, "timestamp=(gint64)", &ts) || ts < t0)
      continue;
    if (line.find("tourcast-quality, ") != std::string::npos && !detected) {
      double rtt = 0, loss = 0, jitter = 0;
      bool rtt_bad = number_after(line, "rtt-ms=(double)", &rtt) && rtt > 300;
      bool loss_bad = number_after(line, "loss-rate=(double)", &loss) && loss > 0.02;
      bool jitter_bad = number_after(line, "jitter-ms=(double)", &jitter) && jitter > 50;
      std::string what = trigger;
      if ((what == "rtt" && rtt_bad) || (what == "loss" && loss_bad) ||
          (what == "any" && (rtt_bad || loss_bad || jitter_bad)))
        detected = static_cast<int64_t>(ts);
    }
    if (line.find("tourcast-level-changed, ") != std::string::npos) {
      if (!first_change) {
        first_change = static_cast<int64_t>(ts);
        size_t at = line.find("new-level=(string)");
        if (at != std::string::npos)
          t.first_level = line.substr(at + 18, line.find_first_of(",;", at) - at - 18);
      }
      last_change = static_cast<int64_t>(ts);
    }
  }
  std::string what = trigger;
  if (what == "battery" && first_change)
    detected = t0;  // the attendee says so itself: nothing to detect
  if (detected)
    t.detection_ms = static_cast<double>(*detected - t0);
  if (first_change) {
    t.total_ms = static_cast<double>(*first_change - t0);
    if (detected)
      t.adaptation_ms = static_cast<double>(*first_change - *detected);
    t.settled_ms = static_cast<double>(*last_change - t0);
  }
  return t;
}

double round2(double value) {
  return std::round(value * 100.0) / 100.0;
}

bool wait_for(const std::function<bool()> &condition, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    if (condition())
      return true;
    g_usleep(50 * 1000);
  }
  return condition();
}

/* One run: fresh namespaces, Redis, guide and attendee. */
std::optional<Times> run_once(const Scenario &scenario, const Config &config,
                              const std::string &redis_cli, int settle_s) {
  Emulator::Options options;
  options.attendees = 1;
  options.profile = "ideal";
  options.bypass_port = kRedisPort;
  Emulator net(options);
  if (!net.ok()) {
    std::cerr << "emulator: " << net.error() << "\n";
    return std::nullopt;
  }
  char tmpl[] = "/tmp/tc-adapt-bench.XXXXXX";
  if (!mkdtemp(tmpl))
    return std::nullopt;
  std::string dir = tmpl;
  std::string url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
  pid_t redis =
      net.spawn(net.guide_ns(),
                {"redis-server", "--port", std::to_string(kRedisPort), "--bind", net.guide_addr(),
                 "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"},
                dir + "/redis.log");
  g_usleep(300 * 1000);
  std::string rtcp = "rtcp-interval=" + std::to_string(config.rtcp_interval_ms);
  std::string quality = "quality-interval=" + std::to_string(config.quality_interval_ms);
  pid_t guide = net.spawn(
      net.guide_ns(),
      {"gst-launch-1.0", "-m", "audiotestsrc", "is-live=true", "!",
       "audio/x-raw,rate=48000,channels=1", "!", "tourguidesink", "tour=bench", "language=en",
       "redis-url=" + url, "heartbeat-interval=500", "upgrade-hold=3600000", rtcp, quality,
       "report-interval=0", "ice-addresses=" + net.guide_addr()},
      dir + "/guide.log");
  pid_t attendee =
      net.spawn(net.attendee_ns(1),
                {"gst-launch-1.0", "-m", "tourattendeesrc", "participant-id=a1", "tour=bench",
                 "language=en", "redis-url=" + url, "heartbeat-interval=500", rtcp, quality,
                 "ice-addresses=" + net.attendee_addr(1), "!", "fakesink"},
                dir + "/attendee.log");
  /* Listening, and the guide has had a receiver report: the link is measured. */
  bool ready = wait_for(
      [&] {
        std::string log = read_file(dir + "/guide.log");
        return log.find("tourcast-quality") != std::string::npos &&
               log.find("rtt-ms=(double)") != std::string::npos;
      },
      30000);
  std::optional<Times> result;
  if (ready) {
    g_usleep(static_cast<gulong>(settle_s) * 1000 * 1000);
    int64_t t0 = epoch_ms();
    bool applied;
    if (*scenario.impairment) {
      applied = net.set(scenario.impairment);
    } else {
      std::string status = R"({"type":"status","from":"a1","ts":)" + std::to_string(t0) +
                           R"(,"profile":"mobile","batterySaving":true,"to":"guide"})";
      pid_t cli = net.spawn(net.guide_ns(),
                            {redis_cli, "-h", net.guide_addr(), "-p", std::to_string(kRedisPort),
                             "PUBLISH", "webrtc:signal:bench:en:guide", status},
                            dir + "/cli.log");
      int st = 0;
      applied = cli > 0 && waitpid(cli, &st, 0) == cli && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    if (applied) {
      wait_for(
          [&] {
            return read_file(dir + "/guide.log").find("tourcast-level-changed") !=
                   std::string::npos;
          },
          30000);
      /* Let further steps (bandwidth needs several) happen. */
      g_usleep(8 * 1000 * 1000);
      result = measure(read_file(dir + "/guide.log"), t0, scenario.trigger);
    }
  } else {
    std::cerr << "  attendee never reported; guide log head:\n"
              << read_file(dir + "/guide.log").substr(0, 1500) << "\n";
  }
  for (pid_t p : {attendee, guide, redis})
    if (p > 0)
      kill(p, SIGINT);
  for (pid_t p : {attendee, guide, redis})
    if (p > 0)
      waitpid(p, nullptr, 0);
  for (const char *f : {"/redis.log", "/guide.log", "/attendee.log", "/cli.log"})
    g_remove((dir + f).c_str());
  g_rmdir(dir.c_str());
  return result;
}

void usage() {
  std::cerr << "usage: adaptation-response [--runs N] [--scenario NAME]... [--settle S]\n"
               "  --runs N        repetitions per scenario and configuration (default 3)\n"
               "  --scenario NAME high_rtt, packet_loss, low_bandwidth, battery_low (default: "
               "all)\n"
               "  --settle S      seconds of clean link before the impairment (default 2)\n";
}

}  // namespace

int main(int argc, char **argv) {
  int runs = 3, settle_s = 2;
  std::vector<std::string> only;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--runs")
      runs = std::atoi(value().c_str());
    else if (a == "--scenario")
      only.push_back(value());
    else if (a == "--settle")
      settle_s = std::atoi(value().c_str());
    else {
      usage();
      return 2;
    }
  }
  if (runs < 1 || settle_s < 0) {
    usage();
    return 2;
  }
  for (const std::string &name : only) {
    bool known = false;
    for (const Scenario &s : kScenarios)
      known |= name == s.name;
    if (!known) {
      std::cerr << "unknown scenario " << name << "\n";
      usage();
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::cerr << "adaptation-response needs root (network namespaces)\n";
    return 2;
  }
  if (!g_getenv("GST_PLUGIN_PATH"))
    g_setenv("GST_PLUGIN_PATH", ADAPT_PLUGIN_DIR, TRUE);
  if (!g_getenv("TOURCAST_NETEM"))
    g_setenv("TOURCAST_NETEM", ADAPT_NETEM, TRUE);
  gchar *redis_cli = g_find_program_in_path("redis-cli");
  if (!redis_cli) {
    std::cerr << "redis-cli not found\n";
    return 2;
  }

  Json doc;
  doc["benchmark"] = "adaptation-response";
  doc["runs"] = runs;
  doc["naive_baseline"] = {{"what", "plain webrtcbin fan-out, one shared encoder"},
                           {"adapts", false},
                           {"total_response_ms", nullptr}};
  Json scenarios = Json::array();
  bool all_adapted = true;
  for (const Scenario &scenario : kScenarios) {
    if (!only.empty() && std::find(only.begin(), only.end(), scenario.name) == only.end())
      continue;
    Json row;
    row["scenario"] = scenario.name;
    row["seed"] = {{"trigger", scenario.seed_trigger},
                   {"detection_s", scenario.seed_detection_s},
                   {"adaptation_s", scenario.seed_adaptation_s},
                   {"total_s", scenario.seed_total_s}};
    row["impairment"] = *scenario.impairment ? scenario.impairment : "status: batterySaving";
    std::map<std::string, std::array<bench::Samples, 4>> samples;
    std::map<std::string, std::vector<std::string>> first_levels;
    for (int r = 0; r < runs; r++) {
      for (const Config &config : kConfigs) {
        std::cerr << scenario.name << " " << config.name << " run " << (r + 1) << "/" << runs
                  << "\n";
        std::optional<Times> t = run_once(scenario, config, redis_cli, settle_s);
        auto &s = samples[config.name];
        s[0].push_back(t ? t->detection_ms : std::nullopt);
        s[1].push_back(t ? t->adaptation_ms : std::nullopt);
        s[2].push_back(t ? t->total_ms : std::nullopt);
        s[3].push_back(t ? t->settled_ms : std::nullopt);
        first_levels[config.name].push_back(t ? t->first_level : "");
        if (!t || !t->total_ms)
          all_adapted = false;
      }
    }
    for (const Config &config : kConfigs) {
      auto &s = samples[config.name];
      row[config.name] = {{"rtcp_interval_ms", config.rtcp_interval_ms},
                          {"quality_interval_ms", config.quality_interval_ms},
                          {"detection_ms", bench::summarize(s[0])},
                          {"adaptation_ms", bench::summarize(s[1])},
                          {"total_response_ms", bench::summarize(s[2])},
                          {"settled_ms", bench::summarize(s[3])},
                          {"first_new_level", first_levels[config.name]}};
    }
    auto ours = bench::median(samples["tourcast"][2]);
    auto defaults = bench::median(samples["webrtcbin_defaults"][2]);
    row["total_vs_seed"] =
        ours ? Json(round2(*ours / (scenario.seed_total_s * 1000))) : Json(nullptr);
    row["total_vs_webrtcbin_defaults"] =
        ours && defaults && *defaults > 0 ? Json(round2(*ours / *defaults)) : Json(nullptr);
    scenarios.push_back(row);
  }
  doc["scenarios"] = scenarios;
  g_free(redis_cli);
  std::cout << doc.dump() << std::endl;
  return all_adapted ? 0 : 1;
}
