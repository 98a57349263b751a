// A private redis-server child process for `tourcast demo`, so the demo needs no Redis set up
// beforehand and never touches a server somebody else is using.
#pragma once

#include <functional>
#include <string>

#include <glib.h>

namespace tourcast_tools {

class EmbeddedRedis {
 public:
  EmbeddedRedis() = default;
  // Stops the server: no code path may leave the child behind.
  ~EmbeddedRedis();
  EmbeddedRedis(const EmbeddedRedis &) = delete;
  EmbeddedRedis &operator=(const EmbeddedRedis &) = delete;

  // Starts redis-server on a free 127.0.0.1 port and waits (at most about 5 s) until it
  // answers PING. `interrupted` is polled while waiting, so Ctrl-C aborts the wait; it
  // returns true to give up. On failure the child is already gone and *error explains why
  // (with the tail of the server's log when it said something).
  bool start(const std::function<bool()> &interrupted, std::string *error);

  // SIGTERM, then SIGKILL if it lingers, and reaps it. Safe to call more than once.
  void stop();

  // Keeps the server log on disk after stop() (for a failed run) instead of deleting it.
  void keep_log() { keep_log_ = true; }

  bool running() const { return pid_ > 0; }
  GPid pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string &log_path() const { return log_path_; }

 private:
  enum class Attempt { kReady, kPortTaken, kFailed };
  Attempt try_start(const std::function<bool()> &interrupted, std::string *error);
  void reap(int timeout_ms);
  std::string log_tail() const;

  GPid pid_ = 0;
  int port_ = 0;
  std::string log_path_;
  bool keep_log_ = false;
};

}  // namespace tourcast_tools
