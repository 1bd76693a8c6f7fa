// The components of the authorization server, built once in apps/permiso-auth/main.cpp
// (the composition root) and handed by reference to every handler group.
#pragma once

#include "common/clock.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace permiso {
class WorkerPool;
namespace storage {
class Storage;
}
namespace jose {
class KeyStore;
}
namespace ratelimit {
class RateLimiter;
}
namespace resource {
class RevocationList;
}
}  // namespace permiso

namespace permiso::auth {

class AuditLog;
class ClientCache;
using RevocationList = resource::RevocationList;
class PasswordHasher;
class ClientSecrets;
class TokenService;

struct RateRule {
  std::uint32_t count = 0;  // 0: unlimited
  std::uint32_t period_s = 60;
};

/// The values of the configuration the domain needs, already validated.
struct AuthSettings {
  std::string environment = "development";
  std::string version;
  std::string issuer;                       // "iss" of every token, and RFC 8414 "issuer"
  std::string audience = "permiso";         // "aud" of every token
  std::string public_base_url;              // absolute base of endpoint URLs in discovery; empty:
                                            // derived from the request's Host
  std::int64_t access_token_ttl_s = 3600;   // users' access tokens
  std::int64_t service_token_ttl_s = 7200;  // clients without their own lifetime
  std::int64_t refresh_token_ttl_s = 30 * 86400;
  std::int64_t session_ttl_s = 30 * 86400;
  std::int64_t lockout_threshold = 5;
  std::int64_t lockout_seconds = 15 * 60;
  std::int64_t key_publish_delay_s = 0;
  std::int64_t leeway_s = 30;            // clock skew tolerated on exp/nbf/iat
  RateRule login_rate{10, 60};           // failed and successful logins per (ip, username)
  RateRule api_rate{1000, 60};           // per client IP on the REST API
  RateRule service_token_rate{100, 60};  // per client on the token endpoints
};

class AuthContext {
 public:
  AuthSettings settings;
  storage::Storage& storage;
  jose::KeyStore& keys;
  WorkerPool& blocking;  // storage calls and Argon2: never on I/O threads
  ratelimit::RateLimiter& limiter;
  AuditLog& audit;
  ClientCache& clients;
  RevocationList& revocations;
  PasswordHasher& passwords;
  ClientSecrets& client_secrets;
  const Clock& clock;
  /// Set by the composition root once built (it needs this context to exist first).
  TokenService* tokens = nullptr;
  /// Tells other replicas about a change ("revocation", "client:<id>") when Redis is
  /// configured; empty otherwise (replicas then converge by polling storage).
  std::function<void(std::string_view)> notify;
  /// True once the server starts draining: long-polls (the revocation feed) answer at once
  /// instead of holding a worker past the shutdown grace.
  /// Owned by the composition root; null: never draining (tests).
  const std::atomic<bool>* draining = nullptr;
};

}  // namespace permiso::auth
