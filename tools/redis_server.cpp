#include "redis_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <glib/gstdio.h>

#include "redis_client.h"

namespace tourcast_tools {

namespace {

constexpr int kStartTimeoutMs = 5000;
constexpr int kPollIntervalMs = 50;
// Another process can grab the port between our probe and redis-server's bind.
constexpr int kPortAttempts = 3;

int find_free_port(std::string *error) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("cannot create a socket: ") + g_strerror(errno);
    return 0;
  }
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  else
    *error = std::string("cannot find a free port on 127.0.0.1: ") + g_strerror(errno);
  close(fd);
  return port;
}

struct ChildSetup {
  pid_t parent;
};

// Runs in the forked child before exec, so only async-signal-safe calls.
void child_setup(gpointer data) {
  // Its own process group keeps a terminal Ctrl-C away from the server: the tool decides
  // when it stops, after the pipelines have said goodbye through it.
  setpgid(0, 0);
  // If the tool is killed outright (SIGKILL, crash) the kernel still takes the server down.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != static_cast<ChildSetup *>(data)->parent)
    _exit(1);
}

bool answers_ping(int port) {
  tourcast::RedisUrl url;
  url.host = "127.0.0.1";
  url.port = port;
  RedisClient client;
  std::string error;
  if (!client.connect(url, 200, &error))
    return false;
  Reply reply = client.command({"PING"}, &error);
  return reply && reply->type == REDIS_REPLY_STATUS && std::string(reply->str) == "PONG";
}

}  // namespace

EmbeddedRedis::~EmbeddedRedis() {
  stop();
}

bool EmbeddedRedis::start(const std::function<bool()> &interrupted, std::string *error) {
  for (int attempt = 0; attempt < kPortAttempts; attempt++) {
    switch (try_start(interrupted, error)) {
      case Attempt::kReady:
        return true;
      case Attempt::kFailed:
        return false;
      case Attempt::kPortTaken:
        break;
    }
  }
  return false;
}

EmbeddedRedis::Attempt EmbeddedRedis::try_start(const std::function<bool()> &interrupted,
                                                std::string *error) {
  port_ = find_free_port(error);
  if (port_ == 0)
    return Attempt::kFailed;

  if (log_path_.empty()) {
    gchar *path = nullptr;
    GError *gerror = nullptr;
    int fd = g_file_open_tmp("tourcast-redis-XXXXXX.log", &path, &gerror);
    if (fd < 0) {
      *error = std::string("cannot create the redis-server log file: ") + gerror->message;
      g_error_free(gerror);
      return Attempt::kFailed;
    }
    close(fd);
    log_path_ = path;
    g_free(path);
  }
  int log_fd = g_open(log_path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    *error = "cannot open " + log_path_ + ": " + g_strerror(errno);
    return Attempt::kFailed;
  }

  std::string port = std::to_string(port_);
  const gchar *argv[] = {
      "redis-server", "--port", port.c_str(),       "--bind", "127.0.0.1",   "--save", "",
      "--appendonly", "no",     "--protected-mode", "yes",    "--daemonize", "no",     nullptr};
  ChildSetup setup = {getpid()};
  GError *gerror = nullptr;
  GPid pid = 0;
  gboolean spawned = g_spawn_async_with_pipes_and_fds(
      nullptr, argv, nullptr,
      static_cast<GSpawnFlags>(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                               G_SPAWN_STDIN_FROM_DEV_NULL),
      child_setup, &setup, -1, log_fd, log_fd, nullptr, nullptr, 0, &pid, nullptr, nullptr, nullptr,
      &gerror);
  close(log_fd);
  if (!spawned) {
    if (g_error_matches(gerror, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT))
      *error = "redis-server not found: install redis-server or pass --redis-url";
    else
      *error = std::string("cannot start redis-server: ") + gerror->message;
    g_error_free(gerror);
    return Attempt::kFailed;
  }
  pid_ = pid;

  gint64 deadline = g_get_monotonic_time() + kStartTimeoutMs * G_TIME_SPAN_MILLISECOND;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      g_spawn_close_pid(pid_);
      pid_ = 0;
      std::string tail = log_tail();
      if (tail.find("Address already in use") != std::string::npos)
        return Attempt::kPortTaken;
      *error = "redis-server exited during startup (" +
               std::string(WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                             : "signal " + std::to_string(WTERMSIG(status))) +
               ")" + (tail.empty() ? "" : ":\n" + tail);
      return Attempt::kFailed;
    }
    if (answers_ping(port_))
      return Attempt::kReady;
    if (interrupted && interrupted()) {
      *error = "interrupted while waiting for redis-server";
      stop();
      return Attempt::kFailed;
    }
    if (g_get_monotonic_time() > deadline) {
      std::string tail = log_tail();
      *error = "redis-server on port " + port + " did not answer PING within " +
               std::to_string(kStartTimeoutMs / 1000) + " s" + (tail.empty() ? "" : ":\n" + tail);
      stop();
      return Attempt::kFailed;
    }
    g_usleep(kPollIntervalMs * 1000);
  }
}

void EmbeddedRedis::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    reap(3000);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      g_spawn_close_pid(pid_);
      pid_ = 0;
    }
  }
  if (!log_path_.empty() && !keep_log_) {
    g_unlink(log_path_.c_str());
    log_path_.clear();
  }
}

void EmbeddedRedis::reap(int timeout_ms) {
  gint64 deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
  while (pid_ > 0) {
    pid_t done = waitpid(pid_, nullptr, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      g_spawn_close_pid(pid_);
      pid_ = 0;
      return;
    }
    if (g_get_monotonic_time() > deadline)
      return;
    g_usleep(10 * 1000);
  }
}

std::string EmbeddedRedis::log_tail() const {
  std::ifstream in(log_path_);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) {
    if (!line.empty())
      lines.push_back(line);
  }
  std::ostringstream tail;
  size_t first = lines.size() > 8 ? lines.size() - 8 : 0;
  for (size_t i = first; i < lines.size(); i++)
    tail << "  " << lines[i] << (i + 1 < lines.size() ? "\n" : "");
  return tail.str();
}

}  // namespace tourcast_tools
