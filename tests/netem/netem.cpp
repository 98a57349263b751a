/* tourcast-netem: an emulated guide <-> attendees network for tests and
 * benchmarks, on kernels without the netem qdisc.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A guide namespace and N attendee namespaces, each with lo and a TUN device;
 * this process (in its own namespace) moves packets between the TUN devices
 * through a link model per direction. README.md documents usage.
 */
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "forwarder.h"
#include "netns.h"

namespace tourcast::netem {
namespace {

/* Everything one running instance owns, torn down in reverse. */
struct Instance {
  Options opt;
  std::vector<std::string> names;    // guide, a1..aN
  std::vector<std::string> created;  // the namespaces that exist because of us
  std::vector<int> tun_fds;
  int listen_fd = -1;
  bool bound = false;
  Watchdog watchdog;

  void teardown() {
    if (listen_fd >= 0)
      close(listen_fd);
    if (bound)
      unlink(opt.control.c_str());
    if (!opt.ready_file.empty())
      unlink(opt.ready_file.c_str());
    // Closing the fds deletes the (non-persistent) TUN devices.
    for (int fd : tun_fds)
      close(fd);
    if (!opt.keep_processes) {
      // Processes left in a namespace (a test's redis-server, say) keep it
      // alive after `ip netns del`; they are of no use without the link.
      int left = 0;
      for (const std::string &ns : created)
        left += kill_netns_processes(ns, SIGTERM);
      for (int i = 0; left > 0 && i < 20; ++i) {
        usleep(50000);
        left = 0;
        for (const std::string &ns : created)
          left += kill_netns_processes(ns, 0);
      }
      for (const std::string &ns : created)
        kill_netns_processes(ns, SIGKILL);
    }
    for (const std::string &ns : created)
      netns_del(ns);
    watchdog.disarm();
  }
};

bool write_ready(const Instance &in) {
  std::string s = "TCN_PID=" + std::to_string(getpid()) + "\nTCN_CONTROL=" + in.opt.control +
                  "\nTCN_GUIDE_NS=" + in.names[0] + "\nTCN_GUIDE_ADDR=" + kGuideAddress +
                  "\nTCN_ATTENDEES=" + std::to_string(in.opt.attendees) + "\n";
  std::string all = in.names[0];
  for (int k = 1; k <= in.opt.attendees; ++k) {
    const std::string key = "TCN_A" + std::to_string(k);
    s += key + "_NS=" + in.names[k] + "\n" + key + "_ADDR=" + attendee_address(k) + "\n";
    all += " " + in.names[k];
  }
  s += "TCN_NAMESPACES=\"" + all + "\"\nTCN_READY=1\n";
  if (!in.opt.quiet) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
  }
  if (in.opt.ready_file.empty())
    return true;
  // Written whole then renamed: a poller never sees half a file.
  const std::string tmp = in.opt.ready_file + ".tmp";
  FILE *fp = std::fopen(tmp.c_str(), "w");
  if (!fp)
    return false;
  const bool ok = std::fputs(s.c_str(), fp) >= 0;
  return std::fclose(fp) == 0 && ok && rename(tmp.c_str(), in.opt.ready_file.c_str()) == 0;
}

int open_control(const std::string &path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "tourcast-netem: control path too long\n");
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path.c_str());  // a socket left by a killed instance
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      listen(fd, 16) != 0) {
    std::fprintf(stderr, "tourcast-netem: control socket %s: %s\n", path.c_str(), strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* One control line -> one reply line. */
std::string handle_command(const std::string &line, Forwarder *f, bool *quit) {
  std::vector<std::string> w = split_words(line);
  const std::string cmd = w.empty() ? "" : w[0];
  if (cmd == "set") {
    std::string error = f->set(std::vector<std::string>(w.begin() + 1, w.end()));
    return error.empty() ? "ok" : "err " + error;
  }
  if (cmd == "get") {
    std::string json = f->config_json(w.size() > 1 ? w[1] : "");
    return json.empty() ? "err unknown target" : json;
  }
  if (cmd == "stats") {
    std::string json = f->stats_json(now_ns());
    if (w.size() > 1 && w[1] == "reset")
      f->reset_stats();
    return json;
  }
  if (cmd == "reset") {
    f->reset_stats();
    return "ok";
  }
  if (cmd == "info")
    return f->info_json();
  if (cmd == "profiles")
    return profiles_json();
  if (cmd == "ping")
    return "pong";
  if (cmd == "quit") {
    *quit = true;
    return "ok";
  }
  return "err commands: set TARGET [up|down|both] key=value..., get [TARGET], stats [reset], "
         "reset, info, profiles, ping, quit";
}

enum Tag : uint64_t { kSignal = 1, kTimer, kListen, kClient, kTun };
uint64_t tag(Tag t, uint64_t index) {
  return (static_cast<uint64_t>(t) << 32) | index;
}

int serve(Instance *in, Forwarder *f, int sig_fd) {
  // The default 50 us timer slack would be added to every release time.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  if (in->opt.realtime) {
    // Release times are only as good as the forwarder's wake-ups: behind a
    // CPU-bound process (a parallel build, another test) CFS wakes it up to
    // a few ms late. SCHED_FIFO cut packets over 1 ms late by 2-4x in
    // README.md's runs. The forwarder needs ~10 % of a core at 20 Mb/s, RT
    // throttling bounds it anyway, and children do not inherit the policy.
    sched_param sp{};
    sp.sched_priority = 10;
    if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) != 0)
      setpriority(PRIO_PROCESS, 0, -10);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || timer < 0)
    return 1;
  auto watch = [ep](int fd, uint64_t data) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = data;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  watch(sig_fd, tag(kSignal, 0));
  watch(timer, tag(kTimer, 0));
  if (in->listen_fd >= 0)
    watch(in->listen_fd, tag(kListen, 0));
  for (size_t i = 0; i < f->endpoint_count(); ++i)
    watch(f->endpoint_fd(i), tag(kTun, i));
  std::map<int, std::string> clients;  // fd -> unfinished line
  const int64_t deadline =
      in->opt.duration_s > 0 ? now_ns() + int64_t(in->opt.duration_s * 1e9) : 0;
  int64_t armed = -1;
  bool quit = false;
  while (!quit) {
    int timeout_ms = -1;
    if (deadline) {
      const int64_t left = deadline - now_ns();
      if (left <= 0)
        break;
      timeout_ms = static_cast<int>(left / 1000000) + 1;
    }
    epoll_event events[64];
    int n = epoll_wait(ep, events, 64, timeout_ms);
    if (n < 0 && errno != EINTR)
      break;
    const int64_t now = now_ns();
    for (int i = 0; i < n && !quit; ++i) {
      const Tag t = static_cast<Tag>(events[i].data.u64 >> 32);
      const uint32_t index = static_cast<uint32_t>(events[i].data.u64);
      if (t == kSignal) {
        quit = true;
      } else if (t == kTimer) {
        uint64_t expirations;
        ssize_t r = read(timer, &expirations, sizeof expirations);
        (void)r;
        armed = -1;
      } else if (t == kTun) {
        f->read_endpoint(index, now);
      } else if (t == kListen) {
        int c = accept4(in->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          // Replies are written whole with a blocking send: room for the
          // largest (stats of 1000 attendees), and a client that stops
          // reading stalls the forwarder for at most 1 s, then is dropped.
          int size = 4 << 20;
          timeval limit{1, 0};
          setsockopt(c, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
          setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
          clients[c];
          watch(c, tag(kClient, static_cast<uint64_t>(c)));
        }
      } else if (t == kClient) {
        const int c = static_cast<int>(index);
        char buf[4096];
        ssize_t r = read(c, buf, sizeof buf);
        std::string &pending = clients[c];
        if (r > 0)
          pending.append(buf, static_cast<size_t>(r));
        size_t nl;
        while (r > 0 && (nl = pending.find('\n')) != std::string::npos) {
          const std::string line = pending.substr(0, nl);
          pending.erase(0, nl + 1);
          if (split_words(line).empty())
            continue;
          const std::string reply = handle_command(line, f, &quit) + "\n";
          if (send(c, reply.data(), reply.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(reply.size()))
            r = 0;
        }
        // A line longer than any command is garbage, not a slow client.
        if (r <= 0 || pending.size() > 65536) {
          epoll_ctl(ep, EPOLL_CTL_DEL, c, nullptr);
          close(c);
          clients.erase(c);
        }
      }
    }
    f->deliver_due(now_ns());
    const int64_t next = f->next_release_ns();
    if (next != armed) {
      // Absolute and to the nanosecond: epoll's millisecond timeout would
      // round every delay up by up to 1 ms.
      itimerspec its{};
      if (next >= 0) {
        its.it_value.tv_sec = std::max<int64_t>(next, 1) / 1000000000LL;
        its.it_value.tv_nsec = std::max<int64_t>(next, 1) % 1000000000LL;
      }
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, nullptr);
      armed = next;
    }
  }
  for (auto &c : clients)
    close(c.first);
  close(timer);
  close(ep);
  return 0;
}

bool valid_prefix(const std::string &p) {
  if (p.empty() || p.size() > 40)
    return false;
  for (char c : p)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

int run(const Options &o) {
  Instance in;
  in.opt = o;
  if (geteuid() != 0) {
    std::fprintf(stderr, "tourcast-netem: needs root (network namespaces, TUN)\n");
    return 77;
  }
  if (in.opt.prefix.empty())
    in.opt.prefix = "tcn-" + std::to_string(getpid());
  if (!valid_prefix(in.opt.prefix)) {
    std::fprintf(stderr, "tourcast-netem: --name must be [a-z0-9_-]{1,40}\n");
    return 2;
  }
  {
    // Bad --profile or --set: say so before creating anything.
    Forwarder dry(o.seed);
    for (int k = 0; k <= o.attendees; ++k)
      dry.add_endpoint("", "", k ? attendee_address(k) : kGuideAddress, -1);
    if (!configure_links(o, &dry))
      return 2;
  }
  Forwarder f(o.seed);
  in.names.push_back(in.opt.prefix + "-guide");
  for (int k = 1; k <= o.attendees; ++k)
    in.names.push_back(in.opt.prefix + "-a" + std::to_string(k));
  for (const std::string &ns : stale_namespaces()) {
    kill_netns_processes(ns, SIGKILL);
    netns_del(ns);
  }
  for (const std::string &ns : in.names) {
    struct stat st;
    if (stat(("/run/netns/" + ns).c_str(), &st) == 0) {
      std::fprintf(stderr, "tourcast-netem: namespace %s exists already\n", ns.c_str());
      return 1;
    }
  }
  // Signals go through a signalfd, blocked from here on, so that a SIGTERM
  // during set-up still reaches the teardown below.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  std::vector<std::string> files;
  if (!o.control.empty())
    files.push_back(o.control);
  if (!o.ready_file.empty())
    files.push_back(o.ready_file);
  if (sig_fd < 0 || !in.watchdog.start(in.names, files, o.keep_processes)) {
    std::perror("tourcast-netem: start");
    return 1;
  }

  bool ok = true;
  for (size_t i = 0; ok && i < in.names.size(); ++i) {
    const std::string &ns = in.names[i];
    const std::string addr = i == 0 ? std::string(kGuideAddress) : attendee_address(int(i));
    std::string error;
    ok = netns_add(ns);
    if (ok)
      in.created.push_back(ns);
    const int fd = ok ? open_tun_in(ns, "tun0", &error) : -1;
    if (fd >= 0)
      in.tun_fds.push_back(fd);
    ok = fd >= 0 && configure_endpoint(ns, "tun0", addr);
    if (!ok)
      std::fprintf(stderr, "tourcast-netem: setting up %s failed %s\n", ns.c_str(), error.c_str());
    else
      f.add_endpoint(i == 0 ? "guide" : "a" + std::to_string(i), ns, addr, fd);
    signalfd_siginfo si;
    if (read(sig_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
      ok = false;  // interrupted while setting up
  }
  f.set_bypass_port(o.bypass_port);
  ok = ok && configure_links(o, &f);
  if (ok && !o.control.empty()) {
    in.listen_fd = open_control(o.control);
    in.bound = in.listen_fd >= 0;
    ok = in.bound;
  }
  f.reset_stats();
  ok = ok && write_ready(in);
  int rc = ok ? serve(&in, &f, sig_fd) : 1;
  in.teardown();
  close(sig_fd);
  return rc;
}

}  // namespace
}  // namespace tourcast::netem

int main(int argc, char **argv) {
  using namespace tourcast::netem;
  const std::string cmd = argc > 1 ? argv[1] : "";
  Options o;
  if (cmd == "ctl")
    return ctl(argc, argv);
  if (cmd == "profiles") {
    std::printf("%s\n", profiles_json().c_str());
    return 0;
  }
  if (cmd == "cleanup") {
    for (const std::string &ns : stale_namespaces()) {
      std::printf("deleting %s\n", ns.c_str());
      kill_netns_processes(ns, SIGKILL);
      netns_del(ns);
    }
    return 0;
  }
  if (cmd == "simulate")
    return parse_options(argc, argv, 2, &o) ? simulate(o) : 2;
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return parse_options(argc, argv, 1, &o) ? run(o) : 2;
}
