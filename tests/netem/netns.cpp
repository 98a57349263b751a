/* tourcast-netem: network namespaces, TUN devices and their cleanup.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "netns.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace tourcast::netem {
namespace {

constexpr char kNetnsDir[] = "/run/netns/";

/* Writes a sysctl of the namespace the calling thread is in: /proc/sys/net
 * resolves to the opener's namespace. Missing files (no IPv6) are fine. */
void write_sysctl(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = write(fd, value, strlen(value));
  (void)n;
  close(fd);
}

}  // namespace

bool run_command(const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  // The forwarder blocks its signals for its signalfd; children must not
  // inherit that mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "tourcast-netem: cannot run %s: %s\n", args[0], strerror(rc));
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool netns_add(const std::string &name) {
  return run_command({"ip", "netns", "add", name});
}

void netns_del(const std::string &name) {
  struct stat st;
  if (stat((kNetnsDir + name).c_str(), &st) == 0)
    run_command({"ip", "netns", "del", name});
}

int open_tun_in(const std::string &ns, const std::string &ifname, std::string *error) {
  // setns() moves only the calling thread; the forwarder is single-threaded
  // while it sets up, and returns to its own namespace before going on.
  int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open((kNetnsDir + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0) {
    *error = "cannot open namespace " + ns + ": " + strerror(errno);
    if (self >= 0)
      close(self);
    if (target >= 0)
      close(target);
    return -1;
  }
  int fd = -1;
  if (setns(target, CLONE_NEWNET) != 0) {
    *error = "setns " + ns + ": " + strerror(errno);
  } else {
    // No IPv6 on the link: the forwarder only carries IPv4, and router
    // solicitations would only show up as "foreign" drops.
    write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      *error = std::string("open /dev/net/tun: ") + strerror(errno);
    } else {
      struct ifreq ifr;
      memset(&ifr, 0, sizeof ifr);
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
      if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        *error = "TUNSETIFF in " + ns + ": " + strerror(errno);
        close(fd);
        fd = -1;
      }
    }
    if (setns(self, CLONE_NEWNET) != 0) {
      // Staying in the wrong namespace would make every later step lie.
      std::perror("tourcast-netem: setns back");
      std::abort();
    }
  }
  close(self);
  close(target);
  return fd;
}

bool configure_endpoint(const std::string &ns, const std::string &ifname, const std::string &addr) {
  return run_command({"ip", "-n", ns, "link", "set", "lo", "up"}) &&
         run_command({"ip", "-n", ns, "link", "set", ifname, "mtu", "1500", "up"}) &&
         run_command({"ip", "-n", ns, "addr", "add", addr + "/32", "dev", ifname}) &&
         run_command({"ip", "-n", ns, "route", "add", "198.18.0.0/15", "dev", ifname, "src", addr});
}

int kill_netns_processes(const std::string &ns, int sig) {
  struct stat target;
  if (stat((kNetnsDir + ns).c_str(), &target) != 0)
    return 0;
  DIR *proc = opendir("/proc");
  if (!proc)
    return 0;
  int count = 0;
  const pid_t self = getpid();
  while (struct dirent *e = readdir(proc)) {
    char *end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self)
      continue;
    struct stat st;
    std::string path = std::string("/proc/") + e->d_name + "/ns/net";
    if (stat(path.c_str(), &st) == 0 && st.st_ino == target.st_ino && st.st_dev == target.st_dev &&
        kill(static_cast<pid_t>(pid), sig) == 0)
      ++count;
  }
  closedir(proc);
  return count;
}

std::vector<std::string> stale_namespaces() {
  std::vector<std::string> stale;
  DIR *dir = opendir(kNetnsDir);
  if (!dir)
    return stale;
  while (struct dirent *e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name.compare(0, 4, "tcn-") != 0)
      continue;
    char *end = nullptr;
    long pid = std::strtol(name.c_str() + 4, &end, 10);
    if (pid <= 0 || *end != '-')
      continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      stale.push_back(name);
  }
  closedir(dir);
  return stale;
}

Watchdog::~Watchdog() {
  if (fd_ >= 0)
    close(fd_);
  if (pid_ > 0)
    waitpid(pid_, nullptr, 0);
}

bool Watchdog::start(const std::vector<std::string> &namespaces,
                     const std::vector<std::string> &files, bool keep_processes) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Its own session: a Ctrl-C or a test runner killing the forwarder's
    // process group must not take the watchdog with it.
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    close(fds[1]);
    // No stdio: a runner waiting for the forwarder's output to close must not
    // wait for this process too.
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2)
      close(null);
    char c = 0;
    ssize_t n;
    while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR) {
    }
    if (n == 1 && c == 'd')
      _exit(0);
    for (const std::string &ns : namespaces) {
      if (!keep_processes)
        kill_netns_processes(ns, SIGKILL);
      netns_del(ns);
    }
    for (const std::string &f : files)
      unlink(f.c_str());
    _exit(0);
  }
  close(fds[0]);
  fd_ = fds[1];
  pid_ = pid;
  return true;
}

void Watchdog::disarm() {
  if (fd_ < 0)
    return;
  ssize_t n = write(fd_, "d", 1);
  (void)n;
  close(fd_);
  fd_ = -1;
}

}  // namespace tourcast::netem
