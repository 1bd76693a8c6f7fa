// Where a Redis server is: the redis:// URL grammar shared by the rate limiter, the event
// channel and the resource library (one grammar for validation and for connecting).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace permiso::redis {

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
};

/// redis://[[user]:password@]host[:port][/db]; nullopt when malformed.
std::optional<Endpoint> parse_url(std::string_view url);

}  // namespace permiso::redis
