/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <glib.h>
#include <hiredis/async.h>

#include "redis_schema.h"

namespace tourcast {

/* One hiredis async connection driven by a GMainContext. Every method must be
 * called on the thread that runs that context (the tourcast worker).
 *
 * open() connects, authenticates (AUTH user password, or AUTH password) and
 * selects the database, retrying a bounded number of times; it reports either
 * success or one error message a user can act on. */
class RedisConnection {
 public:
  using ReplyHandler = std::function<void(const redisReply *reply, const std::string &error)>;
  using OpenHandler = std::function<void(bool ok, const std::string &error)>;
  using MessageHandler =
      std::function<void(const std::string &channel, const std::string &payload)>;
  using LostHandler = std::function<void(const std::string &error)>;
  using SubscribedHandler = std::function<void()>;

  RedisConnection(GMainContext *context, RedisUrl url, std::string role_name);
  ~RedisConnection();
  RedisConnection(const RedisConnection &) = delete;
  RedisConnection &operator=(const RedisConnection &) = delete;

  void open(int max_attempts, int retry_delay_ms, OpenHandler on_open, LostHandler on_lost);
  void close();
  bool is_open() const { return ready_; }

  /* Sends a command; @handler gets the reply, or an error text (including
   * Redis error replies, which are turned into text). */
  void command(const std::vector<std::string> &args, ReplyHandler handler);

  /* Subscribes this connection to @channels; from then on it only carries
   * pub/sub traffic. */
  void subscribe(const std::vector<std::string> &channels, MessageHandler handler,
                 SubscribedHandler on_subscribed);

  const std::string &description() const { return description_; }

 private:
  struct Pending;
  void attempt_connect();
  void schedule_retry(const std::string &why);
  void on_connected(int status);
  void on_disconnected(int status);
  void after_handshake(const std::string &error);
  void fail_open(const std::string &error);
  void send(const std::vector<std::string> &args, void (*fn)(redisAsyncContext *, void *, void *),
            void *privdata);
  static void reply_trampoline(redisAsyncContext *ac, void *reply, void *privdata);
  static void message_trampoline(redisAsyncContext *ac, void *reply, void *privdata);
  static void connect_trampoline(const redisAsyncContext *ac, int status);
  static void disconnect_trampoline(const redisAsyncContext *ac, int status);
  static gboolean retry_timeout(gpointer data);

  GMainContext *context_;
  RedisUrl url_;
  std::string role_name_;
  std::string description_;
  redisAsyncContext *ac_ = nullptr;
  GSource *source_ = nullptr;
  guint retry_source_ = 0;
  int attempts_ = 0;
  int max_attempts_ = 1;
  int retry_delay_ms_ = 200;
  bool ready_ = false;
  bool closing_ = false;
  std::string last_error_;
  OpenHandler on_open_;
  LostHandler on_lost_;
  MessageHandler on_message_;
  SubscribedHandler on_subscribed_;
  size_t channels_pending_ = 0;
};

}  // namespace tourcast
