/* tourcast-netem from a C++ test: start the emulator, read where everything
 * is, change the links, run processes in the namespaces. Header-only, libc
 * and STL only; link nothing.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   tourcast::netem::Emulator::Options o;
 *   o.attendees = 2;
 *   o.profile = "4g";
 *   tourcast::netem::Emulator net(o);
 *   ASSERT_TRUE(net.ok()) << net.error();
 *   pid_t redis = net.spawn(net.guide_ns(), {"redis-server", "--bind", net.guide_addr(), ...});
 *   pid_t guide = net.spawn(net.guide_ns(), {"gst-launch-1.0", ...});
 *   net.set("a1 both down=1");  // fault injection
 *
 * Each endpoint is its own process: a network namespace belongs to a thread,
 * and a pipeline's sockets are made on threads the test does not control.
 * ScopedNetns is for the test's own probe sockets.
 */
#pragma once

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace tourcast::netem {

class Emulator {
 public:
  struct Options {
    std::string binary;  // default: $TOURCAST_NETEM, then tourcast-netem on PATH
    int attendees = 1;
    std::string profile = "ideal";
    std::vector<std::string> sets;  // --set lines, e.g. "a1 up loss=5"
    int bypass_port = 0;
    int ready_timeout_ms = 15000;
  };

  explicit Emulator(const Options &o) {
    const char *env = std::getenv("TOURCAST_NETEM");
    std::string binary = !o.binary.empty() ? o.binary : env ? env : "tourcast-netem";
    char tmpl[] = "/tmp/tcn-harness.XXXXXX";
    if (!mkdtemp(tmpl)) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    control_ = dir_ + "/ctl";
    const std::string ready = dir_ + "/ready";
    std::vector<std::string> args = {
        binary,         "--quiet", "--attendees", std::to_string(o.attendees),
        "--profile",    o.profile, "--control",   control_,
        "--ready-file", ready};
    for (const std::string &s : o.sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    if (o.bypass_port > 0) {
      args.push_back("--bypass-port");
      args.push_back(std::to_string(o.bypass_port));
    }
    pid_ = spawn_argv("", args, "");
    for (int waited = 0; waited < o.ready_timeout_ms; waited += 20) {
      std::ifstream in(ready);
      if (in) {
        std::string line;
        while (std::getline(in, line)) {
          const size_t eq = line.find('=');
          if (eq != std::string::npos)
            vars_[line.substr(0, eq)] = line.substr(eq + 1);
        }
        return;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = binary + " exited with status " + std::to_string(WEXITSTATUS(status));
        return;
      }
      usleep(20000);
    }
    error_ = binary + " was not ready in time";
  }

  ~Emulator() {
    if (pid_ > 0) {
      if (command("quit") != "ok")
        kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) {
      unlink((dir_ + "/ready").c_str());
      rmdir(dir_.c_str());
    }
  }
  Emulator(const Emulator &) = delete;
  Emulator &operator=(const Emulator &) = delete;

  bool ok() const { return error_.empty() && !vars_.empty(); }
  const std::string &error() const { return error_; }
  std::string guide_ns() const { return var("TCN_GUIDE_NS"); }
  std::string guide_addr() const { return var("TCN_GUIDE_ADDR"); }
  std::string attendee_ns(int k) const { return var("TCN_A" + std::to_string(k) + "_NS"); }
  std::string attendee_addr(int k) const { return var("TCN_A" + std::to_string(k) + "_ADDR"); }
  const std::string &control_path() const { return control_; }

  /* One control command, its one-line reply without the newline ("" if the
   * emulator is gone). */
  std::string command(const std::string &line) const {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", control_.c_str());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return "";
    std::string reply;
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
      const std::string msg = line + "\n";
      if (send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size())) {
        char buf[4096];
        ssize_t n;
        while (reply.find('\n') == std::string::npos && (n = read(fd, buf, sizeof buf)) > 0)
          reply.append(buf, static_cast<size_t>(n));
      }
    }
    close(fd);
    if (!reply.empty() && reply.back() == '\n')
      reply.pop_back();
    return reply;
  }
  /* "TARGET [up|down|both] key=value ...": true when accepted. */
  bool set(const std::string &args) const { return command("set " + args) == "ok"; }
  std::string stats() const { return command("stats"); }

  /* Starts @argv (PATH lookup) in namespace @ns, stdout to @stdout_file if
   * given. The caller reaps it; the emulator SIGTERMs whatever is left in its
   * namespaces when it stops. -1 on failure to fork. */
  pid_t spawn(const std::string &ns, const std::vector<std::string> &argv,
              const std::string &stdout_file = "") const {
    return spawn_argv(ns, argv, stdout_file);
  }

  /* A throwaway redis-server on @port in the guide namespace, bound to the
   * guide's address (the port --bypass-port spares), log to @log_file; waits
   * 300 ms for it to listen. -1 on failure to fork. */
  pid_t spawn_redis(int port, const std::string &log_file) const {
    pid_t redis = spawn(guide_ns(),
                        {"redis-server", "--port", std::to_string(port), "--bind", guide_addr(),
                         "--save", "", "--appendonly", "no", "--protected-mode", "no"},
                        log_file);
    if (redis > 0)
      usleep(300 * 1000);
    return redis;
  }

 private:
  std::string var(const std::string &key) const {
    auto it = vars_.find(key);
    return it == vars_.end() ? "" : it->second;
  }

  static pid_t spawn_argv(const std::string &ns, const std::vector<std::string> &argv,
                          const std::string &stdout_file) {
    // Everything the child needs is prepared before fork(): the test may be
    // multi-threaded, so the child only makes system calls.
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    const std::string ns_path = "/run/netns/" + ns;
    pid_t pid = fork();
    if (pid != 0)
      return pid;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!ns.empty()) {
      int fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
        _exit(126);
    }
    if (!stdout_file.empty()) {
      int out = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out < 0 || dup2(out, 1) < 0)
        _exit(126);
    }
    execvp(args[0], args.data());
    _exit(127);
  }

  std::string dir_, control_, error_;
  std::map<std::string, std::string> vars_;
  pid_t pid_ = -1;
};

/* Moves the calling thread into namespace @ns until destroyed: sockets made
 * meanwhile stay in @ns for their whole life. Do not let other code run on
 * this thread in between (GLib main loops, thread pools). */
class ScopedNetns {
 public:
  explicit ScopedNetns(const std::string &ns) {
    self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ok_ = self_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
    if (target >= 0)
      close(target);
  }
  ~ScopedNetns() {
    if (ok_ && setns(self_, CLONE_NEWNET) != 0)
      std::abort();  // a thread silently left in the wrong namespace is worse
    if (self_ >= 0)
      close(self_);
  }
  ScopedNetns(const ScopedNetns &) = delete;
  ScopedNetns &operator=(const ScopedNetns &) = delete;
  bool ok() const { return ok_; }

 private:
  int self_ = -1;
  bool ok_ = false;
};

}  // namespace tourcast::netem
