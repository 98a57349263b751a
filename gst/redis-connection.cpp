/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "redis-connection.h"

#include <gst/gst.h>

GST_DEBUG_CATEGORY_EXTERN(tour_redis_debug);
#define GST_CAT_DEFAULT tour_redis_debug

namespace tourcast {

namespace {

/* hiredis ships adapters/glib.h, but its dispatch calls redisAsyncHandleRead()
 * after redisAsyncHandleWrite() even when the write failed and hiredis freed
 * the context: a use-after-free when Redis dies under load. This source
 * forgets the context in the cleanup hook and checks before each step. */
struct RedisSource {
  GSource source;
  redisAsyncContext *ac;
  GPollFD poll_fd;
};

void source_update(RedisSource *s, gushort add, gushort remove) {
  s->poll_fd.events = (s->poll_fd.events | add) & ~remove;
  g_main_context_wakeup(g_source_get_context(&s->source));
}

void source_add_read(void *d) {
  source_update(static_cast<RedisSource *>(d), G_IO_IN, 0);
}
void source_del_read(void *d) {
  source_update(static_cast<RedisSource *>(d), 0, G_IO_IN);
}
void source_add_write(void *d) {
  source_update(static_cast<RedisSource *>(d), G_IO_OUT, 0);
}
void source_del_write(void *d) {
  source_update(static_cast<RedisSource *>(d), 0, G_IO_OUT);
}

void source_cleanup(void *d) {
  auto *s = static_cast<RedisSource *>(d);
  s->ac = nullptr;
  if (s->poll_fd.fd >= 0) {
    g_source_remove_poll(&s->source, &s->poll_fd);
    s->poll_fd.fd = -1;
  }
  g_source_destroy(&s->source);
}

gboolean source_prepare(GSource *source, gint *timeout) {
  auto *s = reinterpret_cast<RedisSource *>(source);
  *timeout = -1;
  return (s->poll_fd.events & s->poll_fd.revents) != 0;
}

gboolean source_check(GSource *source) {
  auto *s = reinterpret_cast<RedisSource *>(source);
  return (s->poll_fd.events & s->poll_fd.revents) != 0;
}

gboolean source_dispatch(GSource *source, GSourceFunc, gpointer) {
  auto *s = reinterpret_cast<RedisSource *>(source);
  gushort revents = s->poll_fd.revents;
  s->poll_fd.revents = 0;
  if ((revents & (G_IO_OUT | G_IO_ERR | G_IO_HUP)) && s->ac)
    redisAsyncHandleWrite(s->ac);
  if ((revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)) && s->ac)
    redisAsyncHandleRead(s->ac);
  return G_SOURCE_CONTINUE;
}

GSourceFuncs redis_source_funcs = {source_prepare, source_check, source_dispatch,
                                   nullptr,        nullptr,      nullptr};

void attach_source(redisAsyncContext *ac, GMainContext *context) {
  auto *s = reinterpret_cast<RedisSource *>(g_source_new(&redis_source_funcs, sizeof(RedisSource)));
  g_source_set_name(&s->source, "tourcast-redis");
  s->ac = ac;
  s->poll_fd.fd = ac->c.fd;
  s->poll_fd.events = 0;
  s->poll_fd.revents = 0;
  g_source_add_poll(&s->source, &s->poll_fd);
  ac->ev.addRead = source_add_read;
  ac->ev.delRead = source_del_read;
  ac->ev.addWrite = source_add_write;
  ac->ev.delWrite = source_del_write;
  ac->ev.cleanup = source_cleanup;
  ac->ev.data = s;
  g_source_attach(&s->source, context);
  g_source_unref(&s->source);
}

std::string reply_error_text(const redisReply *reply) {
  if (reply->type == REDIS_REPLY_ERROR)
    return std::string(reply->str, reply->len);
  return {};
}

constexpr int kConnectTimeoutMs = 2000;

}  // namespace

struct RedisConnection::Pending {
  RedisConnection *connection;
  ReplyHandler handler;
};

RedisConnection::RedisConnection(GMainContext *context, RedisUrl url, std::string role_name)
    : context_(context), url_(std::move(url)), role_name_(std::move(role_name)) {
  description_ = redis_url_to_string(url_, true);
}

RedisConnection::~RedisConnection() {
  close();
}

void RedisConnection::open(int max_attempts, int retry_delay_ms, OpenHandler on_open,
                           LostHandler on_lost) {
  max_attempts_ = max_attempts < 1 ? 1 : max_attempts;
  retry_delay_ms_ = retry_delay_ms;
  on_open_ = std::move(on_open);
  on_lost_ = std::move(on_lost);
  attempts_ = 0;
  closing_ = false;
  attempt_connect();
}

void RedisConnection::close() {
  closing_ = true;
  ready_ = false;
  if (retry_source_) {
    GSource *s = g_main_context_find_source_by_id(context_, retry_source_);
    if (s)
      g_source_destroy(s);
    retry_source_ = 0;
  }
  if (ac_) {
    redisAsyncContext *ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    /* Runs every pending reply handler with a "closed" error first. */
    redisAsyncFree(ac);
  }
  on_open_ = nullptr;
  on_lost_ = nullptr;
  on_message_ = nullptr;
  on_subscribed_ = nullptr;
}

void RedisConnection::attempt_connect() {
  attempts_++;
  GST_DEBUG("%s: connecting to %s (attempt %d of %d)", role_name_.c_str(), description_.c_str(),
            attempts_, max_attempts_);
  redisAsyncContext *ac = redisAsyncConnect(url_.host.c_str(), url_.port);
  if (ac == nullptr) {
    schedule_retry("out of memory");
    return;
  }
  if (ac->err) {
    std::string why = ac->errstr;
    redisAsyncFree(ac);
    schedule_retry(why);
    return;
  }
  ac->data = this;
  ac_ = ac;
  attach_source(ac, context_);
  redisAsyncSetConnectCallback(ac, connect_trampoline);
  redisAsyncSetDisconnectCallback(ac, disconnect_trampoline);
  /* A host that drops SYNs would otherwise hold the connect for minutes. */
  retry_source_ = 0;
  GSource *timeout = g_timeout_source_new(kConnectTimeoutMs);
  g_source_set_callback(
      timeout,
      [](gpointer data) -> gboolean {
        auto *self = static_cast<RedisConnection *>(data);
        self->retry_source_ = 0;
        if (self->ac_ && !(self->ac_->c.flags & REDIS_CONNECTED)) {
          redisAsyncContext *ac = self->ac_;
          self->ac_ = nullptr;
          ac->data = nullptr;
          redisAsyncFree(ac);
          self->schedule_retry("connection timed out");
        }
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  retry_source_ = g_source_attach(timeout, context_);
  g_source_unref(timeout);
}

void RedisConnection::schedule_retry(const std::string &why) {
  last_error_ = why;
  if (closing_)
    return;
  if (attempts_ >= max_attempts_) {
    fail_open("cannot reach Redis at " + description_ + " after " + std::to_string(attempts_) +
              (attempts_ == 1 ? " attempt: " : " attempts: ") + why);
    return;
  }
  GST_INFO("%s: Redis at %s not reachable (%s), retrying in %d ms", role_name_.c_str(),
           description_.c_str(), why.c_str(), retry_delay_ms_);
  GSource *timeout = g_timeout_source_new(retry_delay_ms_);
  g_source_set_callback(timeout, retry_timeout, this, nullptr);
  retry_source_ = g_source_attach(timeout, context_);
  g_source_unref(timeout);
}

gboolean RedisConnection::retry_timeout(gpointer data) {
  auto *self = static_cast<RedisConnection *>(data);
  self->retry_source_ = 0;
  self->attempt_connect();
  return G_SOURCE_REMOVE;
}

void RedisConnection::fail_open(const std::string &error) {
  ready_ = false;
  if (ac_) {
    redisAsyncContext *ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  OpenHandler handler = std::move(on_open_);
  on_open_ = nullptr;
  if (handler)
    handler(false, error);
}

void RedisConnection::connect_trampoline(const redisAsyncContext *ac, int status) {
  auto *self = static_cast<RedisConnection *>(ac->data);
  if (self)
    self->on_connected(status == REDIS_OK ? REDIS_OK : REDIS_ERR);
}

void RedisConnection::disconnect_trampoline(const redisAsyncContext *ac, int status) {
  auto *self = static_cast<RedisConnection *>(ac->data);
  if (self) {
    self->last_error_ = ac->errstr[0] ? ac->errstr : "connection closed by server";
    self->on_disconnected(status);
  }
}

void RedisConnection::on_connected(int status) {
  if (retry_source_) {
    GSource *s = g_main_context_find_source_by_id(context_, retry_source_);
    if (s)
      g_source_destroy(s);
    retry_source_ = 0;
  }
  if (status != REDIS_OK) {
    /* hiredis frees the context right after this callback. */
    std::string why = ac_ && ac_->errstr[0] ? ac_->errstr : "connection failed";
    ac_->data = nullptr;
    ac_ = nullptr;
    schedule_retry(why);
    return;
  }
  if (!url_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!url_.user.empty())
      auth.push_back(url_.user);
    auth.push_back(url_.password);
    command(auth, [this](const redisReply *, const std::string &error) {
      if (!error.empty())
        fail_open("Redis at " + description_ + " refused authentication: " + error);
    });
  }
  std::vector<std::string> select = {"SELECT", std::to_string(url_.db)};
  command(select, [this](const redisReply *, const std::string &error) {
    if (!ac_)
      return;
    after_handshake(error);
  });
}

void RedisConnection::after_handshake(const std::string &error) {
  if (!error.empty()) {
    fail_open("Redis at " + description_ + " refused SELECT " + std::to_string(url_.db) + ": " +
              error);
    return;
  }
  ready_ = true;
  GST_DEBUG("%s: connected to %s", role_name_.c_str(), description_.c_str());
  OpenHandler handler = std::move(on_open_);
  on_open_ = nullptr;
  if (handler)
    handler(true, {});
}

void RedisConnection::on_disconnected(int) {
  bool was_ready = ready_;
  ready_ = false;
  ac_ = nullptr;
  if (closing_)
    return;
  if (was_ready) {
    LostHandler handler = on_lost_;
    if (handler)
      handler("lost connection to Redis at " + description_ + ": " + last_error_);
  } else {
    schedule_retry(last_error_);
  }
}

void RedisConnection::send(const std::vector<std::string> &args,
                           void (*fn)(redisAsyncContext *, void *, void *), void *privdata) {
  std::vector<const char *> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const auto &a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  if (redisAsyncCommandArgv(ac_, fn, privdata, static_cast<int>(args.size()), argv.data(),
                            argvlen.data()) != REDIS_OK) {
    /* Not queued: hiredis will not call back, so do it here. */
    fn(ac_, nullptr, privdata);
  }
}

void RedisConnection::command(const std::vector<std::string> &args, ReplyHandler handler) {
  if (!ac_) {
    if (handler)
      handler(nullptr, "not connected to Redis at " + description_);
    return;
  }
  send(args, reply_trampoline, new Pending{this, std::move(handler)});
}

void RedisConnection::reply_trampoline(redisAsyncContext *, void *reply, void *privdata) {
  auto *pending = static_cast<Pending *>(privdata);
  auto *r = static_cast<redisReply *>(reply);
  if (pending->handler) {
    if (r == nullptr)
      pending->handler(nullptr, "connection to Redis closed before the reply arrived");
    else
      pending->handler(r, reply_error_text(r));
  }
  delete pending;
}

void RedisConnection::subscribe(const std::vector<std::string> &channels, MessageHandler handler,
                                SubscribedHandler on_subscribed) {
  on_message_ = std::move(handler);
  on_subscribed_ = std::move(on_subscribed);
  channels_pending_ = channels.size();
  if (!ac_)
    return;
  std::vector<std::string> args = {"SUBSCRIBE"};
  args.insert(args.end(), channels.begin(), channels.end());
  send(args, message_trampoline, this);
}

void RedisConnection::message_trampoline(redisAsyncContext *ac, void *reply, void *) {
  auto *r = static_cast<redisReply *>(reply);
  auto *self = ac ? static_cast<RedisConnection *>(ac->data) : nullptr;
  if (r == nullptr || self == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
    return;
  const redisReply *kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING)
    return;
  std::string kind_name(kind->str, kind->len);
  if (kind_name == "subscribe") {
    /* Announcing ourselves before Redis confirmed the subscription could lose
     * the replies, so the caller waits for this. */
    if (self->channels_pending_ > 0 && --self->channels_pending_ == 0 && self->on_subscribed_) {
      SubscribedHandler handler = std::move(self->on_subscribed_);
      self->on_subscribed_ = nullptr;
      handler();
    }
    return;
  }
  if (kind_name != "message")
    return;
  const redisReply *channel = r->element[1];
  const redisReply *payload = r->element[2];
  if (channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING)
    return;
  if (self->on_message_)
    self->on_message_(std::string(channel->str, channel->len),
                      std::string(payload->str, payload->len));
}

}  // namespace tourcast
