// A blocking hiredis connection for the command-line tool: it only ever runs a handful of
// commands one after the other, so the synchronous API is enough.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>

#include "redis_schema.h"

namespace tourcast_tools {

struct ReplyDeleter {
  void operator()(redisReply *reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisClient {
 public:
  RedisClient() = default;
  ~RedisClient();
  RedisClient(const RedisClient &) = delete;
  RedisClient &operator=(const RedisClient &) = delete;

  // Connects, then AUTHs and SELECTs as the URL asks. timeout_ms bounds the connect and
  // every later command, so an unresponsive server cannot hang the tool. The error reads
  // "cannot reach Redis at redis://host:port/db: <reason>" (password masked).
  bool connect(const tourcast::RedisUrl &url, int timeout_ms, std::string *error);

  // Arguments are sent binary-safe (redisCommandArgv), so nothing needs quoting. An error
  // reply is returned as a reply; only a broken connection gives nullptr and *error.
  Reply command(const std::vector<std::string> &args, std::string *error);

  // Sends a command without waiting, then reads replies one by one: for SUBSCRIBE, whose
  // messages arrive later. read() gives nullptr and *error on a timeout or a broken link.
  bool send(const std::vector<std::string> &args, std::string *error);
  Reply read(std::string *error);
  // Changes the timeout of later reads and commands.
  void set_timeout_ms(int timeout_ms);

 private:
  redisContext *context_ = nullptr;
  std::string where_;
};

// "ERR ...", "WRONGTYPE ..." and the like, or "" when the reply is not an error.
std::string reply_error(const redisReply *reply);

}  // namespace tourcast_tools
