// A synchronous hiredis connection, owned: opened within a connect deadline, every command
// bounded by a command deadline, authenticated and on the endpoint's database.
#pragma once

#include "redis/endpoint.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace permiso::redis {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Connection = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct Deadlines {
  std::chrono::milliseconds connect{200};
  /// Each command's read and write; zero: none (a subscriber waits for rare messages).
  std::chrono::milliseconds command{100};
};

/// A connection ready for commands; nullptr when Redis is unreachable or refuses the
/// password or the database.
Connection connect(const Endpoint& endpoint, Deadlines deadlines);

/// One command, its arguments binary-safe; nullptr when the connection failed (then it is
/// broken: drop it).
Reply command(redisContext* c, const std::vector<std::string>& args);

}  // namespace permiso::redis
