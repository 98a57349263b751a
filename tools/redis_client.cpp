#include "redis_client.h"

#include <sys/time.h>

namespace tourcast_tools {

RedisClient::~RedisClient() {
  if (context_)
    redisFree(context_);
}

bool RedisClient::connect(const tourcast::RedisUrl &url, int timeout_ms, std::string *error) {
  where_ = tourcast::redis_url_to_string(url, true);
  struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  context_ = redisConnectWithTimeout(url.host.c_str(), url.port, timeout);
  if (context_ == nullptr) {
    *error = "cannot reach Redis at " + where_ + ": out of memory";
    return false;
  }
  if (context_->err) {
    *error = "cannot reach Redis at " + where_ + ": " + context_->errstr;
    return false;
  }
  redisSetTimeout(context_, timeout);
  std::string why;
  if (!url.password.empty() || !url.user.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!url.user.empty())
      auth.push_back(url.user);
    auth.push_back(url.password);
    Reply reply = command(auth, &why);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      *error = "cannot reach Redis at " + where_ +
               ": AUTH failed: " + (reply ? reply_error(reply.get()) : why);
      return false;
    }
  }
  if (url.db != 0) {
    Reply reply = command({"SELECT", std::to_string(url.db)}, &why);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      *error = "cannot reach Redis at " + where_ + ": SELECT " + std::to_string(url.db) +
               " failed: " + (reply ? reply_error(reply.get()) : why);
      return false;
    }
  }
  return true;
}

namespace {

// hiredis's binary-safe argument vectors.
struct Argv {
  explicit Argv(const std::vector<std::string> &args) {
    for (const std::string &arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
  }
  int count() const { return static_cast<int>(argv.size()); }
  std::vector<const char *> argv;
  std::vector<size_t> lengths;
};

}  // namespace

Reply RedisClient::command(const std::vector<std::string> &args, std::string *error) {
  if (context_ == nullptr || context_->err) {
    *error = "not connected to " + where_;
    return nullptr;
  }
  Argv argv(args);
  auto *reply = static_cast<redisReply *>(
      redisCommandArgv(context_, argv.count(), argv.argv.data(), argv.lengths.data()));
  if (reply == nullptr) {
    *error = "Redis at " + where_ + " failed during " + args.front() + ": " +
             (context_->err ? context_->errstr : "no reply");
    return nullptr;
  }
  return Reply(reply);
}

bool RedisClient::send(const std::vector<std::string> &args, std::string *error) {
  if (context_ == nullptr || context_->err) {
    *error = "not connected to " + where_;
    return false;
  }
  Argv argv(args);
  if (redisAppendCommandArgv(context_, argv.count(), argv.argv.data(), argv.lengths.data()) != REDIS_OK) {
    *error = "Redis at " + where_ + ": cannot queue " + args.front();
    return false;
  }
  return true;
}

Reply RedisClient::read(std::string *error) {
  if (context_ == nullptr || context_->err) {
    *error = "not connected to " + where_;
    return nullptr;
  }
  void *reply = nullptr;
  if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr) {
    *error = "Redis at " + where_ + ": " + (context_->err ? context_->errstr : "no reply");
    return nullptr;
  }
  return Reply(static_cast<redisReply *>(reply));
}

void RedisClient::set_timeout_ms(int timeout_ms) {
  if (context_ == nullptr)
    return;
  struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  redisSetTimeout(context_, timeout);
}

std::string reply_error(const redisReply *reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ERROR)
    return "";
  return std::string(reply->str, reply->len);
}

}  // namespace tourcast_tools
