/* tourcast end-to-end test helpers: real redis-server, real pipelines.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gst/gst.h>
#include <hiredis/hiredis.h>
#include <sys/types.h>

namespace tourcast::test {

/* Polls @condition every 10 ms; false if it did not hold within @timeout_ms.
 * The bound only keeps a broken build from hanging; it is no timing claim. */
bool wait_until(const std::function<bool()> &condition, int timeout_ms);

/* The threads of this process named @name (/proc/self/task/N/comm), -1 if
 * /proc cannot be read. */
int threads_named(const std::string &name);

std::string guide_address();
std::string attendee_address();

/* A redis-server child process on a free loopback port of the test's
 * namespace, killed and reaped by the destructor. */
class RedisServer {
 public:
  /* @extra_args go to redis-server as they are, e.g. {"--requirepass", "pw"}. */
  explicit RedisServer(const std::vector<std::string> &extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer &) = delete;
  RedisServer &operator=(const RedisServer &) = delete;
  bool running() const { return pid_ > 0; }
  const std::string &error() const { return error_; }
  int port() const { return port_; }
  std::string url() const;
  void kill_now();
  /* A new, empty redis-server on the same port (after kill_now()). */
  bool start_again();

 private:
  bool launch();
  pid_t pid_ = -1;
  int port_ = 0;
  std::vector<std::string> args_;
  std::string password_;
  std::string error_;
};

/* Synchronous client for the test's own assertions on Redis keys. */
class RedisClient {
 public:
  explicit RedisClient(int port, const std::string &password = "", int db = 0);
  ~RedisClient();
  bool connected() const { return context_ != nullptr; }
  std::optional<std::string> get(const std::string &key);
  long long pttl(const std::string &key);
  bool exists(const std::string &key);
  long long llen(const std::string &key);
  void set(const std::string &key, const std::string &value);
  long long publish(const std::string &channel, const std::string &message);
  std::vector<std::string> scan(const std::string &pattern);

 private:
  redisReply *command(const std::vector<std::string> &args);
  redisContext *context_ = nullptr;
};

/* A pipeline from a gst-launch description, with every bus message kept. */
class Pipeline {
 public:
  explicit Pipeline(const std::string &description);
  ~Pipeline();
  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;
  bool ok() const { return pipeline_ != nullptr; }
  const std::string &parse_error() const { return parse_error_; }
  GstStateChangeReturn play();
  void stop();
  GstElement *element() const { return pipeline_; }
  GstElement *get(const char *name) const;

  /* First element message named @name, as a copy (nullopt if none yet). */
  std::optional<std::string> find_element_message(
      const std::string &name,
      const std::function<bool(const GstStructure *)> &match = nullptr) const;
  /* Every element message named @name so far, in order; @visit sees each. */
  size_t for_each_element_message(const std::string &name,
                                  const std::function<void(const GstStructure *)> &visit) const;
  bool wait_element_message(const std::string &name, int timeout_ms,
                            const std::function<bool(const GstStructure *)> &match = nullptr) const;
  std::vector<std::string> errors() const;
  std::vector<std::string> warnings() const;
  /* Drops the element messages kept so far (errors and warnings stay): a
   * long-running test measuring the process's memory must not count this
   * record of every report, which grows by a few KiB per attendee. */
  void forget_element_messages();
  bool wait_error(int timeout_ms) const;

 private:
  /* A copy of what a message said: keeping the message itself would keep its
   * source element alive, and tests check that elements get finalized. */
  struct Captured {
    GstMessageType type;
    GstStructure *structure;
    std::string text;
  };
  static GstBusSyncReply on_message(GstBus *bus, GstMessage *message, gpointer data);
  std::vector<std::string> texts(GstMessageType type) const;
  GstElement *pipeline_ = nullptr;
  /* Peers join a playing pipeline, so latency changes: recompute it off the
   * streaming thread, as gst-launch does. */
  GThreadPool *latency_pool_ = nullptr;
  std::string parse_error_;
  mutable std::mutex lock_;
  std::vector<Captured> messages_;
};

/* Collects mono F32 samples from an appsink and tells what they sound like. */
class ToneMeter {
 public:
  explicit ToneMeter(GstElement *appsink);
  ~ToneMeter();
  ToneMeter(const ToneMeter &) = delete;
  ToneMeter &operator=(const ToneMeter &) = delete;
  size_t sample_count() const;
  /* RMS of the last @window_ms, in dBFS (-inf for silence). */
  double level_dbfs(int window_ms) const;
  /* Share of the last @window_ms's energy at @frequency (Goertzel): about 1
   * for a pure tone at that frequency, about 0 for anything else. */
  double tone_share(double frequency, int window_ms) const;
  /* RMS in dBFS of the quietest @chunk_ms slice of the last @window_ms: a
   * dropout shows here even when the window's mean hides it. */
  double quietest_chunk_dbfs(int window_ms, int chunk_ms) const;
  /* Every @chunk_ms slice of the last @window_ms as whole dBFS, oldest
   * first: what a failed dropout check prints. */
  std::string chunk_profile(int window_ms, int chunk_ms) const;

 private:
  /* Owned by the signal handler too: a sample being delivered on a streaming
   * thread while the meter goes away writes to state that is still alive. */
  struct Samples {
    std::mutex lock;
    std::vector<float> values;
  };
  static GstFlowReturn on_sample(GstElement *sink, gpointer data);
  std::vector<float> last(int window_ms) const;
  GstElement *appsink_ = nullptr;
  gulong handler_ = 0;
  std::shared_ptr<Samples> samples_;
};

/* An attendee pipeline that plays at once, with a meter on what it hears
 * (its appsink is @name + "_out"). */
struct Listener {
  std::string name;
  /* Declared first so it is destroyed last: the pipeline stops before. */
  std::unique_ptr<ToneMeter> meter;
  std::unique_ptr<Pipeline> pipeline;
};
Listener listen(const std::string &name, const std::string &tour, const std::string &language,
                const std::string &redis_url, const std::string &extra = "");

std::string guide_description(const std::string &name, const std::string &tour,
                              const std::string &language, double frequency,
                              const std::string &redis_url, const std::string &extra = "");
std::string attendee_description(const std::string &name, const std::string &tour,
                                 const std::string &language, const std::string &redis_url,
                                 const std::string &extra = "");

}  // namespace tourcast::test
