/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Running another benchmark program and reading its result: ttfa-compare and join-storm
 * both run naive-fanout (and ttfa-compare `tourcast demo`) as a child process; join-storm
 * and success-rate start their guides, Redis and receivers with spawn_child().
 */
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <glib.h>
#include <nlohmann/json.hpp>

namespace bench {

/* The tourcast guide the benchmarks run: a live 440 Hz tone into tourguidesink, its
 * defaults except channel (@tour/en), Redis and ICE address; append properties to it. */
inline std::vector<std::string> guide_argv(const std::string &tour, const std::string &redis_url,
                                           const std::string &ice_address) {
  return {"gst-launch-1.0",
          "audiotestsrc",
          "is-live=true",
          "freq=440",
          "!",
          "audio/x-raw,rate=48000,channels=1",
          "!",
          "tourguidesink",
          "tour=" + tour,
          "language=en",
          "redis-url=" + redis_url,
          "ice-addresses=" + ice_address};
}

/* --guide-property values (NAME=VALUE, repeatable) appended to @out; false,
 * with a message naming @program, for one without '='. Frees @values. */
inline bool take_guide_properties(gchar **values, const char *program,
                                  std::vector<std::string> *out) {
  bool ok = true;
  for (gchar **p = values; p && *p; p++) {
    if (strchr(*p, '=') == nullptr) {
      fprintf(stderr, "%s: --guide-property wants NAME=VALUE, not \"%s\"\n", program, *p);
      ok = false;
    }
    out->push_back(*p);
  }
  g_strfreev(values);
  return ok;
}

/* The 1-minute load average, -1 if unknown. */
inline double load_average() {
  double one = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &one) != 1)
      one = -1;
    fclose(f);
  }
  return one;
}

inline std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/* Starts @argv (PATH lookup) as a child that dies with this process (PR_SET_PDEATHSIG), in
 * network namespace @ns (a name under /run/netns; empty: this one), with @env added, its
 * stdout to @out_file and its stderr to @err_file (either empty: inherited; the same
 * file: one file for both, in order). -1 if fork
 * failed. */
inline pid_t spawn_child(const std::vector<std::string> &argv, const std::string &out_file,
                         const std::string &err_file, const std::string &ns = "",
                         const std::vector<std::pair<std::string, std::string>> &env = {}) {
  // Everything the child needs is prepared before fork(): the caller may have threads.
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  const std::string ns_path = "/run/netns/" + ns;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(126);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  if (!ns.empty()) {
    int fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
      _exit(126);
  }
  for (const auto &kv : env)
    setenv(kv.first.c_str(), kv.second.c_str(), 1);
  int out = -1;
  if (!out_file.empty()) {
    out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || dup2(out, 1) < 0)
      _exit(126);
  }
  if (!err_file.empty()) {
    int err = err_file == out_file
                  ? out
                  : open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err < 0 || dup2(err, 2) < 0)
      _exit(126);
  }
  execvp(args[0], args.data());
  _exit(127);
}

/* Sends @sig to child @pid and reaps it; SIGKILL after 5 s. */
inline void stop_child(pid_t pid, int sig) {
  if (pid <= 0)
    return;
  kill(pid, sig);
  for (int i = 0; i < 100; i++) {
    if (waitpid(pid, nullptr, WNOHANG) == pid)
      return;
    usleep(50 * 1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Runs a program and returns the last line of its stdout that parses as a JSON object;
// its stderr (progress) passes through. On failure, null and *failure says why.
inline nlohmann::json run_for_json(const std::vector<std::string> &args, std::string *failure) {
  std::vector<gchar *> argv;
  for (const auto &arg : args)
    argv.push_back(const_cast<gchar *>(arg.c_str()));
  argv.push_back(nullptr);
  gchar *out = nullptr;
  gint status = 0;
  GError *error = nullptr;
  if (!g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &out, nullptr,
                    &status, &error)) {
    *failure = args[0] + ": " + error->message;
    g_error_free(error);
    return nlohmann::json();
  }
  nlohmann::json result;
  gchar **lines = g_strsplit(out ? out : "", "\n", -1);
  for (gchar **line = lines; *line; line++) {
    nlohmann::json parsed = nlohmann::json::parse(*line, nullptr, false);
    if (parsed.is_object())
      result = parsed;
  }
  g_strfreev(lines);
  g_free(out);
  if (result.is_null())
    *failure = args[0] + " printed no JSON (wait status " + std::to_string(status) + ")";
  return result;
}

}  // namespace bench
