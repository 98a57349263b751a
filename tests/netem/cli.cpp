/* tourcast-netem: options and the subcommands that need no namespaces.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace tourcast::netem {
namespace {

double percentile(const std::vector<double> &sorted, double q) {
  if (sorted.empty())
    return 0;
  // Nearest rank, the same definition as tourcast-netem-ping.
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

}  // namespace

const char kUsage[] =
    "usage: tourcast-netem [options]             set up namespaces and forward until stopped\n"
    "         --attendees N (1)  --profile NAME (ideal)  --set 'TARGET [DIR] key=value...'\n"
    "         --control SOCKET  --ready-file FILE  --name PREFIX (tcn-<pid>)  --seed N (1)\n"
    "         --bypass-port PORT  --duration SECONDS  --keep-processes  --no-realtime\n"
    "         --quiet\n"
    "       tourcast-netem ctl SOCKET COMMAND...   send one control command, print the reply\n"
    "       tourcast-netem simulate [--profile P] [--set ...] [--count N] [--interval-ms I]\n"
    "                               [--size BYTES] [--seed N]   model-only ping prediction\n"
    "       tourcast-netem profiles                 the profiles as JSON\n"
    "       tourcast-netem cleanup                  delete namespaces of dead instances\n";

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

std::vector<std::string> split_words(const std::string &line) {
  std::vector<std::string> words;
  size_t pos = 0;
  while (true) {
    pos = line.find_first_not_of(" \t\r", pos);
    if (pos == std::string::npos)
      break;
    size_t end = line.find_first_of(" \t\r", pos);
    if (end == std::string::npos)
      end = line.size();
    words.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return words;
}

std::string profiles_json() {
  std::string s = "{";
  for (const std::string &name : profile_names()) {
    LinkConfig c;
    apply_profile(name, &c);
    s += (s.size() > 1 ? ",\"" : "\"") + name + "\":" + config_to_json(c);
  }
  return s + "}";
}

bool parse_options(int argc, char **argv, int first, Options *o) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i], value;
    const size_t eq = arg.find('=');
    const bool flag = arg == "--keep-processes" || arg == "--quiet" || arg == "--no-realtime";
    if (eq != std::string::npos && arg.compare(0, 2, "--") == 0) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (!flag) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tourcast-netem: %s needs a value\n", arg.c_str());
        return false;
      }
      value = argv[++i];
    }
    char *end = nullptr;
    const double num = std::strtod(value.c_str(), &end);
    const bool numeric = !value.empty() && *end == '\0';
    if (arg == "--attendees" && numeric && num >= 1 && num <= kMaxAttendees)
      o->attendees = static_cast<int>(num);
    else if (arg == "--profile")
      o->profile = value;
    else if (arg == "--set")
      o->sets.push_back(value);
    else if (arg == "--control")
      o->control = value;
    else if (arg == "--ready-file")
      o->ready_file = value;
    else if (arg == "--name")
      o->prefix = value;
    else if (arg == "--seed" && numeric && num >= 0)
      o->seed = static_cast<uint64_t>(num);
    else if (arg == "--bypass-port" && numeric && num >= 1 && num <= 65535)
      o->bypass_port = static_cast<int>(num);
    else if (arg == "--duration" && numeric && num >= 0)
      o->duration_s = num;
    else if (arg == "--keep-processes")
      o->keep_processes = true;
    else if (arg == "--quiet")
      o->quiet = true;
    else if (arg == "--no-realtime")
      o->realtime = false;
    else if (arg == "--count" && numeric && num >= 1 && num <= 1e7)
      o->count = static_cast<int>(num);
    else if (arg == "--interval-ms" && numeric && num > 0)
      o->interval_ms = num;
    else if (arg == "--size" && numeric && num >= 16 && num <= 1472)
      o->size = static_cast<int>(num);
    else {
      std::fprintf(stderr, "tourcast-netem: bad option %s %s\n%s", arg.c_str(), value.c_str(),
                   kUsage);
      return false;
    }
  }
  return true;
}

bool configure_links(const Options &o, Forwarder *f) {
  std::string error = f->set({"all", "profile=" + o.profile});
  for (size_t i = 0; error.empty() && i < o.sets.size(); ++i)
    error = f->set(split_words(o.sets[i]));
  if (!error.empty())
    std::fprintf(stderr, "tourcast-netem: %s\n", error.c_str());
  return error.empty();
}

int simulate(const Options &o) {
  Forwarder f(o.seed);
  f.add_endpoint("guide", "", kGuideAddress, -1);
  f.add_endpoint("a1", "", attendee_address(1), -1);
  if (!configure_links(o, &f))
    return 2;
  Link up(o.seed * 7 + 1), down(o.seed * 7 + 2);
  up.configure(f.config(1, true));
  down.configure(f.config(1, false));
  const size_t ip_bytes = static_cast<size_t>(o.size) + 28;
  const int64_t interval = static_cast<int64_t>(o.interval_ms * 1e6);
  std::vector<std::pair<int64_t, int>> at_guide;  // (arrival, seq)
  for (int i = 0; i < o.count; ++i) {
    int64_t r = 0;
    if (up.admit(i * interval, ip_bytes, &r) == Verdict::kPass)
      at_guide.emplace_back(r, i);
  }
  std::sort(at_guide.begin(), at_guide.end());
  std::vector<std::pair<int64_t, int>> back;
  for (const auto &g : at_guide) {
    int64_t r = 0;
    if (down.admit(g.first, ip_bytes, &r) == Verdict::kPass)
      back.emplace_back(r, g.second);
  }
  std::sort(back.begin(), back.end());
  std::vector<double> rtt;
  int max_seq = -1, reordered = 0;
  for (const auto &b : back) {
    rtt.push_back((b.first - b.second * interval) / 1e6);
    if (b.second < max_seq)
      ++reordered;
    max_seq = std::max(max_seq, b.second);
  }
  std::sort(rtt.begin(), rtt.end());
  std::printf(
      "{\"sent\":%d,\"received\":%zu,\"loss_pct\":%.2f,\"rtt_min_ms\":%.2f,"
      "\"rtt_median_ms\":%.2f,\"rtt_p90_ms\":%.2f,\"rtt_p99_ms\":%.2f,\"rtt_max_ms\":%.2f,"
      "\"reordered\":%d}\n",
      o.count, rtt.size(), 100.0 * (o.count - static_cast<double>(rtt.size())) / o.count,
      percentile(rtt, 0), percentile(rtt, 0.5), percentile(rtt, 0.9), percentile(rtt, 0.99),
      percentile(rtt, 1), reordered);
  return 0;
}

int ctl(int argc, char **argv) {
  if (argc < 4) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string line;
  for (int i = 3; i < argc; ++i)
    line += std::string(i > 3 ? " " : "") + argv[i];
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[2]);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "tourcast-netem: connect %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  line += "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return 1;
  std::string reply;
  char buf[4096];
  ssize_t n;
  while (reply.find('\n') == std::string::npos && (n = read(fd, buf, sizeof buf)) > 0)
    reply.append(buf, static_cast<size_t>(n));
  close(fd);
  std::fputs(reply.c_str(), stdout);
  return reply.compare(0, 3, "err") == 0 || reply.empty() ? 1 : 0;
}

}  // namespace tourcast::netem
