/* tourcast-netem: network namespaces, TUN devices and their cleanup.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace tourcast::netem {

/* Runs @argv (PATH lookup) with stdout discarded, stderr kept; true when it
 * exits 0. */
bool run_command(const std::vector<std::string> &argv);

/* Named namespaces (`ip netns add`) so that tests can use `ip netns exec`. */
bool netns_add(const std::string &name);
void netns_del(const std::string &name);

/* Creates TUN device @ifname inside namespace @ns (IFF_TUN | IFF_NO_PI) and
 * returns its non-blocking fd, opened there and usable from here: the
 * forwarder keeps running in its own namespace. -1 and *error on failure. */
int open_tun_in(const std::string &ns, const std::string &ifname, std::string *error);

/* lo up; @ifname up with MTU 1500 and @addr/32; 198.18.0.0/15 routed to it.
 * Nothing else is routed: there is no default route, so traffic to any other
 * address fails inside the namespace instead of leaving it. */
bool configure_endpoint(const std::string &ns, const std::string &ifname, const std::string &addr);

/* Sends @sig to every process whose network namespace is @ns; returns how
 * many. */
int kill_netns_processes(const std::string &ns, int sig);

/* Namespaces named tcn-<pid>-* whose pid is gone: what a tourcast-netem
 * killed before its watchdog could act (e.g. a power cut) left behind. */
std::vector<std::string> stale_namespaces();

/* A child process that outlives a SIGKILLed forwarder by the time it takes
 * to clean up: it waits on a pipe whose write end only the forwarder holds,
 * and on EOF without a "done" byte deletes @namespaces (killing their
 * processes unless @keep_processes) and unlinks @files. */
class Watchdog {
 public:
  Watchdog() = default;
  ~Watchdog();
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;
  bool start(const std::vector<std::string> &namespaces, const std::vector<std::string> &files,
             bool keep_processes);
  /* The forwarder cleaned up itself: the watchdog exits without acting. */
  void disarm();

 private:
  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace tourcast::netem
