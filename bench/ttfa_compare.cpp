/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ttfa-compare: time to first audio of one attendee, tourcast against the naive
 * baseline, in the same session. Both are cold processes (each pays GStreamer start-up
 * and DTLS certificate generation) and are run alternately, so that machine load
 * drifting during the session hits both alike.
 *
 * It runs inside a network namespace of its own holding only `lo`, so nothing can leave
 * the machine whatever the programs under test do; that needs root (or --no-netns).
 */
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_process.h"
#include "bench_stats.h"

#ifndef TTFA_NAIVE_FANOUT
#define TTFA_NAIVE_FANOUT ""
#endif
#ifndef TTFA_TOURCAST
#define TTFA_TOURCAST ""
#endif

namespace {

using nlohmann::json;

struct Options {
  int runs = 5;
  std::vector<int> latencies = {200, 50};
  int duration_s = 4;
  std::string naive = TTFA_NAIVE_FANOUT;
  std::string tourcast = TTFA_TOURCAST;
  std::vector<std::string> naive_args;
  bool matched = true;
  bool netns = true;
  bool tourcast_adaptive = false;  // the demo's attendee at latency -1 at every point
};

// A new network namespace with only the loopback interface, brought up. The children
// inherit it.
bool enter_private_network(std::string *why) {
  if (unshare(CLONE_NEWNET) != 0) {
    *why = std::string("unshare(CLONE_NEWNET): ") + strerror(errno) +
           " (run as root, or pass --no-netns to use this namespace's loopback)";
    return false;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request = {};
  g_strlcpy(request.ifr_name, "lo", sizeof request.ifr_name);
  bool ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags |= IFF_UP;
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  if (!ok)
    *why = std::string("bringing up lo: ") + strerror(errno);
  if (fd >= 0)
    close(fd);
  return ok;
}

json compare_at(const Options &options, int latency) {
  bench::Samples naive_first, naive_connected, tourcast_first;
  json failures = json::array();
  bool all_heard = true;
  for (int run = 1; run <= options.runs; run++) {
    fprintf(stderr, "== latency %d ms, run %d/%d: naive-fanout\n", latency, run, options.runs);
    std::vector<std::string> naive = {options.naive, "--attendees=1",
                                      "--runs=1",    "--cold",
                                      "--steady=0",  "--latency=" + std::to_string(latency)};
    naive.insert(naive.end(), options.naive_args.begin(), options.naive_args.end());
    std::string failure;
    json result = bench::run_for_json(naive, &failure);
    bench::Samples first =
        bench::samples_from_json(result.value("first_audio_ms", json()).value("values", json()));
    bench::Samples connected =
        bench::samples_from_json(result.value("connected_ms", json()).value("values", json()));
    naive_first.push_back(first.empty() ? std::nullopt : first.front());
    naive_connected.push_back(connected.empty() ? std::nullopt : connected.front());
    if (!failure.empty() || !result.value("all_heard", false)) {
      all_heard = false;
      failures.push_back("naive run " + std::to_string(run) + ": " +
                         (failure.empty() ? result.value("failures", json()).dump() : failure));
    }

    fprintf(stderr, "== latency %d ms, run %d/%d: tourcast demo\n", latency, run, options.runs);
    failure.clear();
    result = bench::run_for_json(
        {options.tourcast, "demo", "--attendees=1",
         "--duration=" + std::to_string(options.duration_s), "--json",
         "--latency=" + std::to_string(options.tourcast_adaptive ? -1 : latency)},
        &failure);
    first = bench::samples_from_json(result.value("time_to_first_audio_ms", json()));
    tourcast_first.push_back(first.empty() ? std::nullopt : first.front());
    if (!failure.empty() || !result.value("all_heard", false)) {
      all_heard = false;
      failures.push_back("tourcast run " + std::to_string(run) + ": " +
                         (failure.empty() ? result.value("failures", json()).dump() : failure));
    }
  }
  std::optional<double> naive_median = bench::median(naive_first);
  std::optional<double> tourcast_median = bench::median(tourcast_first);
  json ratio;
  if (naive_median && tourcast_median && *naive_median > 0)
    ratio = std::round(*tourcast_median / *naive_median * 100) / 100;
  return json{{"latency_ms", latency},
              {"tourcast_latency", options.tourcast_adaptive ? json("auto") : json(latency)},
              {"naive_median_ms", bench::to_json(naive_median)},
              {"tourcast_median_ms", bench::to_json(tourcast_median)},
              {"ratio_tourcast_over_naive", ratio},
              {"naive_first_audio_ms", bench::summarize(naive_first)},
              {"naive_connected_ms", bench::summarize(naive_connected)},
              {"tourcast_first_audio_ms", bench::summarize(tourcast_first)},
              {"all_heard", all_heard},
              {"failures", failures}};
}

bool parse_latencies(const char *text, std::vector<int> *latencies) {
  latencies->clear();
  gchar **parts = g_strsplit(text, ",", -1);
  bool ok = true;
  for (gchar **part = parts; *part && ok; part++) {
    gchar *end = nullptr;
    gint64 value = g_ascii_strtoll(*part, &end, 10);
    ok = end != *part && *end == '\0' && value >= 0 && value <= 10000;
    latencies->push_back(static_cast<int>(value));
  }
  g_strfreev(parts);
  return ok && !latencies->empty();
}

bool parse_options(int argc, char **argv, Options *options) {
  gint runs = options->runs, duration = options->duration_s;
  gchar *latencies = nullptr, *naive = nullptr, *tourcast = nullptr;
  gchar **naive_args = nullptr;
  gboolean no_netns = FALSE, unmatched = FALSE, tourcast_auto = FALSE;
  GOptionEntry entries[] = {
      {"runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Runs of each program per latency (default 5)",
       "R"},
      {"latency", 'l', 0, G_OPTION_ARG_STRING, &latencies,
       "Comma-separated jitterbuffer latencies, each given to both programs (default 200,50)",
       "MS,..."},
      {"tourcast-auto-latency", 0, 0, G_OPTION_ARG_NONE, &tourcast_auto,
       "Run the tourcast demo's attendee with the adaptive latency (-1) at every point; "
       "naive keeps each --latency",
       nullptr},
      {"duration", 'd', 0, G_OPTION_ARG_INT, &duration,
       "Seconds each tourcast demo runs (default 4)", "S"},
      {"naive", 0, 0, G_OPTION_ARG_FILENAME, &naive, "The naive-fanout program", "PATH"},
      {"tourcast", 0, 0, G_OPTION_ARG_FILENAME, &tourcast, "The tourcast program", "PATH"},
      {"naive-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &naive_args,
       "Extra option for naive-fanout (repeatable), e.g. --naive-arg=--join-with-source", "ARG"},
      {"unmatched", 0, 0, G_OPTION_ARG_NONE, &unmatched,
       "Do not pass naive-fanout --preload --join-with-source, which start its clock where "
       "the demo starts an attendee's",
       nullptr},
      {"no-netns", 0, 0, G_OPTION_ARG_NONE, &no_netns,
       "Stay in the current network namespace (both programs only use 127.0.0.1)", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context = g_option_context_new("- time to first audio, tourcast vs naive");
  g_option_context_set_summary(
      context,
      "Alternates `naive-fanout --attendees 1 --runs 1` and `tourcast demo --attendees 1\n"
      "--json`, R times per latency, inside a private network namespace (needs root), and\n"
      "prints one JSON line with both medians and their ratio per latency.");
  g_option_context_add_main_entries(context, entries, nullptr);
  GError *error = nullptr;
  bool ok = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (!ok) {
    fprintf(stderr, "ttfa-compare: %s\n", error->message);
    g_error_free(error);
  }
  if (ok && latencies && !parse_latencies(latencies, &options->latencies)) {
    fprintf(stderr, "ttfa-compare: --latency wants milliseconds like 200,50\n");
    ok = false;
  }
  if (ok && (runs < 1 || duration < 1)) {
    fprintf(stderr, "ttfa-compare: --runs and --duration must be at least 1\n");
    ok = false;
  }
  options->runs = runs;
  options->duration_s = duration;
  options->netns = !no_netns;
  options->matched = !unmatched;
  options->tourcast_adaptive = tourcast_auto;
  if (naive)
    options->naive = naive;
  if (tourcast)
    options->tourcast = tourcast;
  // The demo creates its attendee's elements before starting them, and starts its guide
  // just before its attendee: the naive clock starts at the same point with these.
  if (options->matched)
    options->naive_args = {"--preload", "--join-with-source"};
  for (gchar **arg = naive_args; arg && *arg; arg++)
    options->naive_args.push_back(*arg);
  for (const std::string *program : {&options->naive, &options->tourcast}) {
    if (ok && (program->empty() || !g_file_test(program->c_str(), G_FILE_TEST_IS_EXECUTABLE))) {
      fprintf(stderr, "ttfa-compare: no program at '%s' (see --naive, --tourcast)\n",
              program->c_str());
      ok = false;
    }
  }
  g_free(latencies);
  g_free(naive);
  g_free(tourcast);
  g_strfreev(naive_args);
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  if (!parse_options(argc, argv, &options))
    return 2;
  std::string why;
  if (options.netns && !enter_private_network(&why)) {
    fprintf(stderr, "ttfa-compare: %s\n", why.c_str());
    return 2;
  }
  json results = json::array();
  bool all_heard = true;
  for (int latency : options.latencies) {
    results.push_back(compare_at(options, latency));
    all_heard = all_heard && results.back()["all_heard"].get<bool>();
  }
  json report = {{"benchmark", "ttfa-compare"},
                 {"runs", options.runs},
                 {"network_namespace", options.netns},
                 {"naive_args", options.naive_args},
                 {"results", results},
                 {"all_heard", all_heard}};
  printf("%s\n", report.dump().c_str());
  return all_heard ? 0 : 1;
}
