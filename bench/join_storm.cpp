/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * join-storm: N attendees join one guide at once through a real redis-server, and the
 * naive baseline (naive-fanout) is measured for the same N in the same run.
 *
 * Everything runs in a network namespace this program creates (unshare -n, needs root):
 * loopback plus a veth pair, guide end 198.18.0.1 and attendee end 198.18.0.2 (libnice
 * does not use loopback). The namespace, its veth pair and every process in it go away
 * when this program exits (the children also get SIGKILL if it dies: PR_SET_PDEATHSIG).
 *
 * tourcast, per run:
 *   redis-server            --bind 198.18.0.1
 *   gst-launch-1.0          audiotestsrc is-live=true ! tourguidesink ... (the guide)
 *   K x join-storm --receiver   N/K pipelines `tourattendeesrc ! fakesink` each
 * The guide speaks first; then every receiver sets all its pipelines to PLAYING at one
 * common instant (epoch ms, given on the command line). Per attendee: time to first
 * audio from that instant (and from its own pipeline's start), and the time it reached
 * each connection state (tourcast-state messages). Once every attendee heard (or the
 * timeout), the guide process alone is sampled from /proc: threads (grouped by name),
 * RSS and CPU over --steady seconds, each minus the same figures with no attendee.
 *
 * naive, per run: `naive-fanout --attendees N --runs 1 --common-start --address
 * 198.18.0.1`: one process holding the sender *and* all receivers, so its threads, RSS
 * and CPU are those of both ends.
 *
 * Prints one JSON document on stdout, progress on stderr. Exit 0 when every attendee of
 * every run (both systems) heard audio, 1 if not, 2 for bad options or no root.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>
#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_process.h"
#include "bench_stats.h"

#ifndef STORM_PLUGIN_DIR
#define STORM_PLUGIN_DIR ""
#endif
#ifndef STORM_NAIVE_FANOUT
#define STORM_NAIVE_FANOUT ""
#endif

namespace {

using bench::read_text;
using nlohmann::json;

constexpr const char *kGuideAddress = "198.18.0.1";
constexpr const char *kAttendeeAddress = "198.18.0.2";
constexpr int kRedisPort = 6399;

gint64 epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/* ---------------- receiver mode: many attendees in one process ---------------- */

struct ReceiverOptions {
  int first = 1, count = 0;
  gint64 start_at = 0;
  std::string redis_url, tour, address;
  int latency = 200;
};

std::mutex out_lock;

void emit(const char *format, ...) G_GNUC_PRINTF(1, 2);
void emit(const char *format, ...) {
  std::lock_guard<std::mutex> guard(out_lock);
  va_list args;
  va_start(args, format);
  vfprintf(stdout, format, args);
  va_end(args);
  fputc('\n', stdout);
  fflush(stdout);
}

struct ReceiverAttendee {
  std::string id;
  GstElement *pipeline = nullptr;
  std::atomic<bool> heard{false};
};

GstBusSyncReply on_receiver_message(GstBus *, GstMessage *message, gpointer data) {
  auto *a = static_cast<ReceiverAttendee *>(data);
  const GstStructure *s = gst_message_get_structure(message);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT && s) {
    const char *name = gst_structure_get_name(s);
    if (g_str_equal(name, "tourcast-first-audio") && !a->heard.exchange(true)) {
      gint64 elapsed = -1;
      gst_structure_get_int64(s, "elapsed-ms", &elapsed);
      emit("heard %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, a->id.c_str(), epoch_ms(), elapsed);
    } else if (g_str_equal(name, "tourcast-state")) {
      gint64 ts = epoch_ms();
      gst_structure_get_int64(s, "timestamp", &ts);
      const char *state = gst_structure_get_string(s, "new-state");
      emit("state %s %s %" G_GINT64_FORMAT, a->id.c_str(), state ? state : "?", ts);
    }
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError *error = nullptr;
    gst_message_parse_error(message, &error, nullptr);
    emit("error %s %s", a->id.c_str(), error ? error->message : "?");
    g_clear_error(&error);
  }
  return GST_BUS_DROP;
}

int receiver_main(const ReceiverOptions &o) {
  std::vector<std::unique_ptr<ReceiverAttendee>> attendees;
  for (int i = 0; i < o.count; i++) {
    auto a = std::make_unique<ReceiverAttendee>();
    a->id = "a" + std::to_string(o.first + i);
    std::string line = "tourattendeesrc name=src participant-id=" + a->id + " tour=" + o.tour +
                       " language=en redis-url=" + o.redis_url + " ice-addresses=" + o.address +
                       " latency=" + std::to_string(o.latency) + " ! fakesink sync=false";
    GError *error = nullptr;
    a->pipeline = gst_parse_launch(line.c_str(), &error);
    if (!a->pipeline) {
      emit("error %s %s", a->id.c_str(), error ? error->message : "parse");
      return 1;
    }
    GstBus *bus = gst_element_get_bus(a->pipeline);
    gst_bus_set_sync_handler(bus, on_receiver_message, a.get(), nullptr);
    gst_object_unref(bus);
    attendees.push_back(std::move(a));
  }
  gint64 now = epoch_ms();
  emit("ready %" G_GINT64_FORMAT " late %" G_GINT64_FORMAT, now,
       now > o.start_at ? now - o.start_at : 0);
  if (now < o.start_at)
    g_usleep(static_cast<gulong>((o.start_at - now) * 1000));
  for (auto &a : attendees) {
    emit("start %s %" G_GINT64_FORMAT, a->id.c_str(), epoch_ms());
    if (gst_element_set_state(a->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      emit("error %s set_state PLAYING failed", a->id.c_str());
  }
  emit("all-started %" G_GINT64_FORMAT, epoch_ms());
  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  auto quit = [](gpointer l) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop *>(l));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add(SIGINT, quit, loop);
  g_unix_signal_add(SIGTERM, quit, loop);
  g_main_loop_run(loop);
  // Tearing hundreds of pipelines down is not what is measured: leave at once.
  fflush(stdout);
  _exit(0);
}

/* ---------------- the driver ---------------- */

struct Options {
  int attendees = 20;
  int runs = 1;
  int receiver_processes = 0;  // 0: one per 50 attendees
  int latency = 200;
  int tourcast_latency = 200;  // tourcast's receivers: -1 adaptive; defaults to latency
  double steady_s = 5;
  double timeout_s = 0;  // 0: 30 s + 60 ms per attendee
  bool naive = true;
  bool tourcast = true;
  std::string plugin_dir = STORM_PLUGIN_DIR;
  std::string naive_fanout = STORM_NAIVE_FANOUT;
  std::string keep_logs;                      // directory to copy the run logs to
  std::vector<std::string> guide_properties;  // extra tourguidesink NAME=VALUE
};

bool run_shell(const std::string &script, std::string *why) {
  gchar *argv[] = {const_cast<gchar *>("sh"), const_cast<gchar *>("-c"),
                   const_cast<gchar *>(script.c_str()), nullptr};
  gint status = 0;
  GError *error = nullptr;
  gchar *err = nullptr;
  if (!g_spawn_sync(nullptr, argv, nullptr, G_SPAWN_SEARCH_PATH, nullptr, nullptr, nullptr, &err,
                    &status, &error)) {
    *why = error->message;
    g_error_free(error);
    return false;
  }
  bool ok = g_spawn_check_wait_status(status, nullptr);
  if (!ok)
    *why = std::string("network setup failed: ") + (err ? err : "");
  g_free(err);
  return ok;
}

/* A network namespace of this process (and so of every child): lo and a veth pair. */
bool enter_namespace(std::string *why) {
  if (unshare(CLONE_NEWNET) != 0) {
    *why = std::string("unshare(CLONE_NEWNET): ") + strerror(errno) + " (needs root)";
    return false;
  }
  return run_shell(
      "set -e; ip link set lo up; ip link add tcguide type veth peer name tcattendee;"
      "ip addr add 198.18.0.1/24 dev tcguide; ip addr add 198.18.0.2/24 dev tcattendee;"
      "ip link set tcguide up; ip link set tcattendee up;"
      "echo 1 > /proc/sys/net/ipv4/conf/tcguide/accept_local;"
      "echo 1 > /proc/sys/net/ipv4/conf/tcattendee/accept_local",
      why);
}

bool port_open(const char *address, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address, &addr.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

/* From /proc/<pid>: threads (with their names), RSS, CPU ticks. */
struct ProcSample {
  int threads = 0;
  double rss_mib = 0;
  double cpu_s = 0;
  std::map<std::string, int> by_name;
  std::map<std::string, double> cpu_s_by_name; /* CPU seconds of each kind's threads so far */
};

/* Thread names with their digits dropped ("nicesrc12" and "nicesrc3" are one kind). */
std::string thread_kind(std::string comm) {
  while (!comm.empty() && (comm.back() == '\n' || comm.back() == ' '))
    comm.pop_back();
  std::string kind;
  for (char c : comm)
    if (!g_ascii_isdigit(c))
      kind += c;
  while (!kind.empty() && (kind.back() == ':' || kind.back() == '-' || kind.back() == '_'))
    kind.pop_back();
  return kind.empty() ? "(digits)" : kind;
}

/* utime + stime of a /proc/.../stat line, in seconds; 0 if unreadable. */
double cpu_seconds_of_stat(const std::string &stat) {
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 > stat.size())
    return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f;
  std::string field;
  while (fields >> field)
    f.push_back(field);
  // after ")": state(0) ... utime is field 14 of the whole line, index 11 here
  if (f.size() <= 12)
    return 0;
  return (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

ProcSample sample_process(pid_t pid) {
  ProcSample s;
  std::string base = "/proc/" + std::to_string(pid);
  GDir *dir = g_dir_open((base + "/task").c_str(), 0, nullptr);
  if (dir) {
    while (const gchar *tid = g_dir_read_name(dir)) {
      s.threads++;
      std::string task = base + "/task/" + tid;
      std::string kind = thread_kind(read_text(task + "/comm"));
      s.by_name[kind]++;
      s.cpu_s_by_name[kind] += cpu_seconds_of_stat(read_text(task + "/stat"));
    }
    g_dir_close(dir);
  }
  std::istringstream status(read_text(base + "/status"));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      s.rss_mib = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  s.cpu_s = cpu_seconds_of_stat(read_text(base + "/stat"));
  return s;
}

json thread_kinds_json(const std::map<std::string, int> &by_name) {
  std::vector<std::pair<std::string, int>> kinds(by_name.begin(), by_name.end());
  std::sort(kinds.begin(), kinds.end(),
            [](const auto &a, const auto &b) { return a.second > b.second; });
  json out = json::object();
  for (const auto &k : kinds)
    out[k.first] = k.second;
  return out;
}

struct AttendeeRecord {
  gint64 start = -1, heard = -1, elapsed = -1;
  std::map<std::string, gint64> states;  // first time each state was reached
  std::string error;
};

struct TourcastRun {
  std::vector<AttendeeRecord> attendees;
  gint64 t0 = 0;
  double max_late_ms = 0;
  double all_started_ms = 0;  // last receiver's last set_state, from t0
  ProcSample idle, busy;
  double cpu_cores = -1;
  std::map<std::string, double> cpu_cores_by_kind; /* over the steady window */
  /* All receiver processes together over the same window: on one machine a
   * storm's attendees compete with the guide for the same cores. */
  double receivers_cpu_cores = -1;
  int heard = 0;
  std::vector<std::string> failures;
};

/* Parses the receivers' output files; returns how many attendees heard. */
int parse_receivers(const std::vector<std::string> &files, int first_id, TourcastRun *run) {
  int heard = 0;
  for (const std::string &file : files) {
    std::istringstream lines(read_text(file));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string what, id;
      words >> what;
      if (what == "ready") {
        gint64 at = 0, late = 0;
        std::string word;
        words >> at >> word >> late;
        run->max_late_ms = std::max(run->max_late_ms, static_cast<double>(late));
        continue;
      }
      if (what == "all-started") {
        gint64 at = 0;
        words >> at;
        run->all_started_ms = std::max(run->all_started_ms, static_cast<double>(at - run->t0));
        continue;
      }
      words >> id;
      if (id.size() < 2 || id[0] != 'a')
        continue;
      int index = std::atoi(id.c_str() + 1) - first_id;
      if (index < 0 || index >= static_cast<int>(run->attendees.size()))
        continue;
      AttendeeRecord &a = run->attendees[static_cast<size_t>(index)];
      if (what == "start") {
        words >> a.start;
      } else if (what == "heard") {
        if (a.heard < 0)
          heard++;
        words >> a.heard >> a.elapsed;
      } else if (what == "state") {
        std::string state;
        gint64 at = 0;
        words >> state >> at;
        if (!a.states.count(state))
          a.states[state] = at;
      } else if (what == "error" && a.error.empty()) {
        std::getline(words, a.error);
      }
    }
  }
  return heard;
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/tc-join-storm.XXXXXX";
  return mkdtemp(tmpl) ? tmpl : "";
}

void remove_dir(const std::string &dir, const std::string &keep) {
  GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
  if (!d)
    return;
  while (const gchar *name = g_dir_read_name(d)) {
    std::string path = dir + "/" + name;
    if (!keep.empty()) {
      std::string text = read_text(path);
      std::ofstream(keep + "-" + name) << text;
    }
    unlink(path.c_str());
  }
  g_dir_close(d);
  rmdir(dir.c_str());
}

TourcastRun run_tourcast(const Options &o, int number, const std::string &self) {
  TourcastRun run;
  run.attendees.resize(static_cast<size_t>(o.attendees));
  std::string dir = make_temp_dir();
  std::string tour = "storm" + std::to_string(number);
  std::string url = std::string("redis://") + kGuideAddress + ":" + std::to_string(kRedisPort);
  std::vector<std::pair<std::string, std::string>> env = {{"GST_PLUGIN_PATH", o.plugin_dir}};

  pid_t redis = bench::spawn_child(
      {"redis-server", "--port", std::to_string(kRedisPort), "--bind", kGuideAddress, "--save", "",
       "--appendonly", "no", "--protected-mode", "no", "--maxclients", "20000"},
      dir + "/redis.log", dir + "/redis.log");
  for (int i = 0; i < 100 && !port_open(kGuideAddress, kRedisPort); i++)
    g_usleep(50 * 1000);
  std::vector<std::string> guide_argv = bench::guide_argv(tour, url, kGuideAddress);
  guide_argv.insert(guide_argv.end(), o.guide_properties.begin(), o.guide_properties.end());
  pid_t guide = bench::spawn_child(guide_argv, dir + "/guide.log", dir + "/guide.log", "", env);
  // The guide speaks before anyone joins; its idle figures are the base line.
  g_usleep(2500 * 1000);
  run.idle = sample_process(guide);

  int k = o.receiver_processes > 0 ? o.receiver_processes : std::max(1, (o.attendees + 49) / 50);
  k = std::min(k, o.attendees);
  // Time for every receiver to load GStreamer and build its pipelines before the start.
  run.t0 = epoch_ms() + 1500 + 8 * (o.attendees / k);
  std::vector<pid_t> receivers;
  std::vector<std::string> files;
  int next = 1;
  for (int p = 0; p < k; p++) {
    int count = o.attendees / k + (p < o.attendees % k ? 1 : 0);
    files.push_back(dir + "/receiver" + std::to_string(p) + ".log");
    receivers.push_back(bench::spawn_child(
        {self, "--receiver", "--first=" + std::to_string(next), "--count=" + std::to_string(count),
         "--redis-url=" + url, "--tour=" + tour, std::string("--address=") + kAttendeeAddress,
         "--latency=" + std::to_string(o.tourcast_latency), "--start-at=" + std::to_string(run.t0)},
        files.back(), files.back(), "", env));
    next += count;
  }
  double timeout_s = o.timeout_s > 0 ? o.timeout_s : 30 + 0.06 * o.attendees;
  gint64 deadline = run.t0 + static_cast<gint64>(timeout_s * 1000);
  while (epoch_ms() < deadline) {
    run.attendees.assign(static_cast<size_t>(o.attendees), AttendeeRecord());
    run.heard = parse_receivers(files, 1, &run);
    if (run.heard == o.attendees)
      break;
    if (waitpid(guide, nullptr, WNOHANG) == guide) {
      run.failures.push_back("the guide exited");
      guide = -1;
      break;
    }
    g_usleep(100 * 1000);
  }
  run.attendees.assign(static_cast<size_t>(o.attendees), AttendeeRecord());
  run.heard = parse_receivers(files, 1, &run);
  if (run.heard < o.attendees)
    run.failures.push_back("timeout: " + std::to_string(run.heard) + " of " +
                           std::to_string(o.attendees) + " heard after " +
                           std::to_string(static_cast<int>(timeout_s)) + " s");
  /* Under heavy load a few attendees may time out; the steady figures of
   * those who heard still say what each costs (divided by how many heard). */
  if (run.heard > 0 && guide > 0 && o.steady_s > 0) {
    g_usleep(2000 * 1000);
    const auto receivers_cpu_s = [&receivers] {
      double sum = 0;
      for (pid_t r : receivers)
        sum += cpu_seconds_of_stat(read_text("/proc/" + std::to_string(r) + "/stat"));
      return sum;
    };
    ProcSample before = sample_process(guide);
    const double receivers_before = receivers_cpu_s();
    g_usleep(static_cast<gulong>(o.steady_s * 1e6));
    run.busy = sample_process(guide);
    run.receivers_cpu_cores = (receivers_cpu_s() - receivers_before) / o.steady_s;
    run.cpu_cores = (run.busy.cpu_s - before.cpu_s) / o.steady_s;
    for (const auto &[kind, cpu_s] : run.busy.cpu_s_by_name) {
      auto was = before.cpu_s_by_name.find(kind);
      run.cpu_cores_by_kind[kind] =
          (cpu_s - (was == before.cpu_s_by_name.end() ? 0 : was->second)) / o.steady_s;
    }
  }
  for (pid_t r : receivers)
    bench::stop_child(r, SIGTERM);
  bench::stop_child(guide, SIGINT);
  bench::stop_child(redis, SIGTERM);
  for (const auto &a : run.attendees)
    if (!a.error.empty() && run.failures.size() < 10)
      run.failures.push_back("attendee error:" + a.error);
  remove_dir(dir, o.keep_logs.empty() ? "" : o.keep_logs + "/run" + std::to_string(number));
  return run;
}

json run_naive(const Options &o, std::string *failure) {
  double timeout_s = o.timeout_s > 0 ? o.timeout_s : 30 + 0.06 * o.attendees;
  std::vector<std::string> args = {o.naive_fanout,
                                   "--attendees=" + std::to_string(o.attendees),
                                   "--runs=1",
                                   "--cold",
                                   "--common-start",
                                   std::string("--address=") + kGuideAddress,
                                   "--latency=" + std::to_string(o.latency),
                                   "--timeout=" + std::to_string(timeout_s),
                                   "--steady=" + std::to_string(o.steady_s)};
  return bench::run_for_json(args, failure);
}

double round2(double v) {
  return std::round(v * 100.0) / 100.0;
}

json ratio(const std::optional<double> &ours, const std::optional<double> &theirs) {
  if (!ours || !theirs || *theirs <= 0)
    return json(nullptr);
  return round2(*ours / *theirs);
}

std::optional<double> median_of(const std::vector<double> &v) {
  bench::Samples s(v.begin(), v.end());
  return bench::median(s);
}

bool parse_options(int argc, char **argv, Options *o, bool *receiver, ReceiverOptions *r) {
  gint attendees = o->attendees, runs = o->runs, k = o->receiver_processes, latency = o->latency;
  gchar *tourcast_latency_text = nullptr;
  gdouble steady = o->steady_s, timeout = o->timeout_s;
  gboolean no_naive = FALSE, no_tourcast = FALSE, is_receiver = FALSE;
  gint first = 1, count = 0;
  gint64 start_at = 0;
  gchar *redis_url = nullptr, *tour = nullptr, *address = nullptr, *plugin_dir = nullptr,
        *naive = nullptr, *keep_logs = nullptr;
  gchar **guide_properties = nullptr;
  GOptionEntry entries[] = {
      {"attendees", 'n', 0, G_OPTION_ARG_INT, &attendees, "Attendees joining at once (20)", "N"},
      {"runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Runs of each system, alternating (1)", "R"},
      {"receiver-processes", 'k', 0, G_OPTION_ARG_INT, &k,
       "Processes the tourcast attendees are spread over (default one per 50)", "K"},
      {"latency", 'l', 0, G_OPTION_ARG_INT, &latency,
       "Receivers' jitterbuffer latency, both systems (200)", "MS"},
      {"tourcast-latency", 0, 0, G_OPTION_ARG_STRING, &tourcast_latency_text,
       "tourcast's receivers only: MS, or auto for tourattendeesrc's adaptive latency "
       "(latency -1); naive keeps --latency (default: --latency)",
       "MS|auto"},
      {"steady", 's', 0, G_OPTION_ARG_DOUBLE, &steady,
       "Seconds of steady state to measure CPU over; 0 skips it (5)", "S"},
      {"timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
       "Seconds for everyone to hear (default 30 + 0.06 per attendee)", "S"},
      {"no-naive", 0, 0, G_OPTION_ARG_NONE, &no_naive, "Skip the naive baseline", nullptr},
      {"no-tourcast", 0, 0, G_OPTION_ARG_NONE, &no_tourcast, "Skip tourcast", nullptr},
      {"plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir, "tourcast's plugin directory",
       "DIR"},
      {"naive", 0, 0, G_OPTION_ARG_FILENAME, &naive, "The naive-fanout program", "PATH"},
      {"keep-logs", 0, 0, G_OPTION_ARG_FILENAME, &keep_logs,
       "Copy each run's logs (guide, receivers, redis) into DIR/runI-*", "DIR"},
      {"guide-property", 0, 0, G_OPTION_ARG_STRING_ARRAY, &guide_properties,
       "A tourguidesink property for the guide, e.g. max-joining=0 (repeatable)", "NAME=VALUE"},
      {"receiver", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &is_receiver, "", nullptr},
      {"first", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &first, "", nullptr},
      {"count", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &count, "", nullptr},
      {"start-at", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64, &start_at, "", nullptr},
      {"redis-url", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &redis_url, "", nullptr},
      {"tour", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &tour, "", nullptr},
      {"address", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &address, "", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context = g_option_context_new("- N attendees join at once, tourcast vs naive");
  g_option_context_add_main_entries(context, entries, nullptr);
  GError *error = nullptr;
  bool ok = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (!ok) {
    fprintf(stderr, "join-storm: %s\n", error->message);
    g_error_free(error);
  }
  /* A receiver gets tourcast's latency, which may be -1 (adaptive). */
  if (ok &&
      (attendees < 1 || runs < 1 || k < 0 || latency < (is_receiver ? -1 : 0) || steady < 0)) {
    fprintf(stderr,
            "join-storm: --attendees and --runs must be at least 1, --latency at least 0\n");
    ok = false;
  }
  int tourcast_latency = latency;
  if (ok && tourcast_latency_text) {
    char *end = nullptr;
    const long value = strtol(tourcast_latency_text, &end, 10);
    if (g_str_equal(tourcast_latency_text, "auto")) {
      tourcast_latency = -1;
    } else if (*tourcast_latency_text && *end == '\0' && value >= 0 && value <= 10000) {
      tourcast_latency = static_cast<int>(value);
    } else {
      fprintf(stderr, "join-storm: --tourcast-latency wants 0-10000 ms or auto, not \"%s\"\n",
              tourcast_latency_text);
      ok = false;
    }
  }
  g_free(tourcast_latency_text);
  o->tourcast_latency = tourcast_latency;
  o->attendees = attendees;
  o->runs = runs;
  o->receiver_processes = k;
  o->latency = latency;
  o->steady_s = steady;
  o->timeout_s = timeout;
  o->naive = !no_naive;
  o->tourcast = !no_tourcast;
  if (plugin_dir)
    o->plugin_dir = plugin_dir;
  if (naive)
    o->naive_fanout = naive;
  if (keep_logs)
    o->keep_logs = keep_logs;
  if (!bench::take_guide_properties(guide_properties, "join-storm", &o->guide_properties))
    ok = false;
  *receiver = is_receiver;
  r->first = first;
  r->count = count;
  r->start_at = start_at;
  r->redis_url = redis_url ? redis_url : "";
  r->tour = tour ? tour : "";
  r->address = address ? address : "";
  r->latency = latency;
  g_free(redis_url);
  g_free(tour);
  g_free(address);
  g_free(plugin_dir);
  g_free(naive);
  g_free(keep_logs);
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  Options o;
  ReceiverOptions r;
  bool receiver = false;
  if (!parse_options(argc, argv, &o, &receiver, &r))
    return 2;
  if (receiver) {
    gst_init(nullptr, nullptr);
    return receiver_main(r);
  }
  if (o.naive && !g_file_test(o.naive_fanout.c_str(), G_FILE_TEST_IS_EXECUTABLE)) {
    fprintf(stderr, "join-storm: no naive-fanout at '%s' (--naive)\n", o.naive_fanout.c_str());
    return 2;
  }
  std::string why;
  if (!enter_namespace(&why)) {
    fprintf(stderr, "join-storm: %s\n", why.c_str());
    return 2;
  }
  // Hundreds of WebRTC peers: sockets and Redis connections by the thousand.
  rlimit files = {};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  gchar *self_path = g_file_read_link("/proc/self/exe", nullptr);
  std::string self = self_path ? self_path : argv[0];
  g_free(self_path);
  if (!o.keep_logs.empty())
    g_mkdir_with_parents(o.keep_logs.c_str(), 0755);

  bench::Samples from_start, from_own_start, naive_first, naive_connected;
  std::map<std::string, bench::Samples> phase;  // state -> ms from t0
  std::vector<double> threads_per, rss_per, cpu_per_1000, naive_threads, naive_rss, naive_cpu,
      guide_threads, guide_rss, guide_cpu, guide_idle_threads, guide_idle_rss, late, all_started,
      receivers_cpu_per_1000, steady_attendees;
  std::map<std::string, std::vector<double>> cpu_by_kind; /* per run, cores */
  std::map<std::string, int> kinds_busy, kinds_idle;
  json failures = json::array();
  bool all_heard = true;
  for (int run = 1; run <= o.runs; run++) {
    // Alternate which system goes first, so drifting load hits both alike.
    for (int turn = 0; turn < 2; turn++) {
      bool tourcast_turn = (turn == 0) == (run % 2 == 1);
      if (tourcast_turn && o.tourcast) {
        fprintf(stderr, "== run %d/%d: tourcast, %d attendees\n", run, o.runs, o.attendees);
        TourcastRun t = run_tourcast(o, run, self);
        for (const auto &a : t.attendees) {
          from_start.push_back(a.heard >= 0 ? std::optional<double>(a.heard - t.t0) : std::nullopt);
          from_own_start.push_back(a.heard >= 0 && a.start >= 0
                                       ? std::optional<double>(a.heard - a.start)
                                       : std::nullopt);
          for (const auto &s : a.states)
            phase[s.first].push_back(static_cast<double>(s.second - t.t0));
        }
        if (!t.failures.empty() || t.heard != o.attendees)
          all_heard = false;
        for (const auto &f : t.failures)
          failures.push_back("tourcast run " + std::to_string(run) + ": " + f);
        late.push_back(t.max_late_ms);
        all_started.push_back(t.all_started_ms);
        guide_idle_threads.push_back(t.idle.threads);
        guide_idle_rss.push_back(t.idle.rss_mib);
        if (t.cpu_cores >= 0) {
          double n = t.heard;
          steady_attendees.push_back(n);
          guide_threads.push_back(t.busy.threads);
          guide_rss.push_back(t.busy.rss_mib);
          guide_cpu.push_back(t.cpu_cores);
          threads_per.push_back((t.busy.threads - t.idle.threads) / n);
          rss_per.push_back((t.busy.rss_mib - t.idle.rss_mib) / n);
          cpu_per_1000.push_back(t.cpu_cores / n * 1000);
          receivers_cpu_per_1000.push_back(t.receivers_cpu_cores / n * 1000);
          kinds_busy = t.busy.by_name;
          kinds_idle = t.idle.by_name;
          for (const auto &[kind, cores] : t.cpu_cores_by_kind)
            cpu_by_kind[kind].push_back(cores);
        }
        fprintf(stderr, "   tourcast: %d/%d heard, median %.0f ms from the common start\n", t.heard,
                o.attendees, bench::median(from_start).value_or(-1));
      } else if (!tourcast_turn && o.naive) {
        fprintf(stderr, "== run %d/%d: naive-fanout, %d attendees\n", run, o.runs, o.attendees);
        std::string failure;
        json n = run_naive(o, &failure);
        bench::Samples first =
            bench::samples_from_json(n.value("first_audio_ms", json()).value("values", json()));
        bench::Samples connected =
            bench::samples_from_json(n.value("connected_ms", json()).value("values", json()));
        if (first.empty())
          first.assign(static_cast<size_t>(o.attendees), std::nullopt);
        naive_first.insert(naive_first.end(), first.begin(), first.end());
        naive_connected.insert(naive_connected.end(), connected.begin(), connected.end());
        if (!failure.empty() || !n.value("all_heard", false)) {
          all_heard = false;
          failures.push_back("naive run " + std::to_string(run) + ": " +
                             (failure.empty() ? n.value("failures", json()).dump() : failure));
        }
        auto number = [&](const char *key) -> std::optional<double> {
          return n.contains(key) && n[key].is_number() ? std::optional<double>(n[key].get<double>())
                                                       : std::nullopt;
        };
        if (auto v = number("threads"))
          naive_threads.push_back(*v);
        if (auto v = number("rss_mb"))
          naive_rss.push_back(*v);
        if (auto v = number("cpu_cores"))
          naive_cpu.push_back(*v);
        fprintf(stderr, "   naive: median %.0f ms\n", bench::median(first).value_or(-1));
      }
    }
  }

  auto med = [](const std::vector<double> &v) { return bench::to_json(median_of(v)); };
  double n = o.attendees;
  json phases = json::object();
  for (const auto &p : phase)
    phases[p.first] = {{"median", bench::to_json(bench::median(p.second))},
                       {"p99", bench::to_json(bench::percentile(p.second, 99))},
                       {"count", bench::present(p.second).size()}};
  /* Where the guide's steady CPU goes, by thread kind: median over runs, the
   * biggest first. */
  std::vector<std::pair<std::string, double>> kind_cpu;
  for (const auto &[kind, cores] : cpu_by_kind)
    kind_cpu.emplace_back(kind, median_of(cores).value_or(0));
  std::sort(kind_cpu.begin(), kind_cpu.end(),
            [](const auto &a, const auto &b) { return a.second > b.second; });
  json cpu_kinds = json::array();
  for (const auto &[kind, cores] : kind_cpu)
    if (cores > 0)
      cpu_kinds.push_back({{"thread", kind}, {"cpu_cores", round2(cores * 1000) / 1000}});
  json kinds_per = json::object();
  for (const auto &k : kinds_busy) {
    int idle = kinds_idle.count(k.first) ? kinds_idle.at(k.first) : 0;
    if (k.second != idle)
      kinds_per[k.first] = round2((k.second - idle) / steady_attendees.back());
  }
  auto per = [&](const std::vector<double> &v) -> std::optional<double> {
    auto m = median_of(v);
    return m ? std::optional<double>(*m / n) : std::nullopt;
  };
  json tourcast = {{"first_audio_ms", bench::summarize(from_start)},
                   {"first_audio_from_own_start_ms", bench::summarize(from_own_start)},
                   {"heard", bench::present(from_start).size()},
                   {"state_reached_ms", phases},
                   {"receivers_late_ms_max", med(late)},
                   {"receivers_all_started_ms", med(all_started)},
                   {"guide",
                    {{"idle",
                      {{"threads", med(guide_idle_threads)},
                       {"rss_mib", med(guide_idle_rss)},
                       {"thread_kinds", thread_kinds_json(kinds_idle)}}},
                     {"steady",
                      {{"threads", med(guide_threads)},
                       {"rss_mib", med(guide_rss)},
                       {"cpu_cores", med(guide_cpu)},
                       {"cpu_cores_by_thread_kind", cpu_kinds},
                       {"thread_kinds", thread_kinds_json(kinds_busy)}}},
                     {"threads_per_attendee", med(threads_per)},
                     {"rss_mib_per_attendee", med(rss_per)},
                     {"cpu_cores_per_1000_attendees", med(cpu_per_1000)},
                     {"thread_kinds_per_attendee", kinds_per},
                     {"steady_attendees", med(steady_attendees)}}},
                   {"receivers",
                    {{"what",
                      "all receiver processes (N/K tourattendeesrc pipelines each) over the "
                      "guide's steady window"},
                     {"cpu_cores_per_1000_attendees", med(receivers_cpu_per_1000)}}}};
  json naive = {
      {"what", "naive-fanout --common-start: one process holding the sender and every receiver"},
      {"first_audio_ms", bench::summarize(naive_first)},
      {"connected_ms", bench::summarize(naive_connected)},
      {"threads", med(naive_threads)},
      {"rss_mib", med(naive_rss)},
      {"cpu_cores", med(naive_cpu)},
      {"threads_per_attendee", bench::to_json(per(naive_threads))},
      {"rss_mib_per_attendee", bench::to_json(per(naive_rss))},
      {"cpu_cores_per_1000_attendees",
       bench::to_json(per(naive_cpu) ? std::optional<double>(*per(naive_cpu) * 1000)
                                     : std::nullopt)}};
  auto tc_med = bench::median(from_start), nv_med = bench::median(naive_first);
  auto tc_p99 = bench::percentile(from_start, 99), nv_p99 = bench::percentile(naive_first, 99);
  auto tc_max = bench::percentile(from_start, 100), nv_max = bench::percentile(naive_first, 100);
  json ratios = {{"first_audio_median", ratio(tc_med, nv_med)},
                 {"first_audio_p99", ratio(tc_p99, nv_p99)},
                 {"first_audio_max", ratio(tc_max, nv_max)},
                 {"note",
                  "tourcast over naive; threads/RSS/CPU are not comparable one to one: "
                  "tourcast's are the guide process alone, naive's hold both ends"}};
  // Trim the per-attendee value arrays above 100 attendees: the summaries stay.
  if (o.attendees * o.runs > 200) {
    tourcast["first_audio_ms"].erase("values");
    tourcast["first_audio_from_own_start_ms"].erase("values");
    naive["first_audio_ms"].erase("values");
    naive["connected_ms"].erase("values");
  }
  json report = {
      {"benchmark", "join-storm"},
      {"attendees", o.attendees},
      {"runs", o.runs},
      {"receiver_processes",
       o.receiver_processes > 0 ? o.receiver_processes : std::max(1, (o.attendees + 49) / 50)},
      {"latency_ms", o.latency},
      {"naive_latency_ms", o.latency},
      {"tourcast_latency", o.tourcast_latency < 0 ? json("auto") : json(o.tourcast_latency)},
      {"guide_properties", o.guide_properties},
      {"steady_s", o.steady_s},
      {"network",
       "private namespace: veth 198.18.0.1 (guide, redis) - 198.18.0.2 "
       "(attendees)"},
      {"tourcast", tourcast},
      {"naive", naive},
      {"ratio_tourcast_over_naive", ratios},
      {"all_heard", all_heard},
      {"failures", failures}};
  printf("%s\n", report.dump().c_str());
  return all_heard ? 0 : 1;
}
