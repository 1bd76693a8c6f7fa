// See connection.hpp.
#include "redis/connection.hpp"

namespace permiso::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

bool succeeded(const Reply& r) {
  return r && r->type != REDIS_REPLY_ERROR;
}

}  // namespace

Connection connect(const Endpoint& endpoint, Deadlines deadlines) {
  Connection c(redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, to_timeval(deadlines.connect)));
  if (!c || c->err != 0) return nullptr;
  if (deadlines.command.count() > 0) redisSetTimeout(c.get(), to_timeval(deadlines.command));
  if (!endpoint.password.empty() && !succeeded(command(c.get(), {"AUTH", endpoint.password}))) return nullptr;
  if (endpoint.db != 0 && !succeeded(command(c.get(), {"SELECT", std::to_string(endpoint.db)}))) return nullptr;
  return c;
}

Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

}  // namespace permiso::redis
