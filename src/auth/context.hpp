// What the authorization server's domain is made of: its settings and the components the
// composition root (apps/permiso-auth) opens and owns. The services in services.hpp are
// built from these, each taking only the parts it needs; nothing here is set later.
#pragma once

#include "common/clock.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace permiso {
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
  std::int64_t authorization_code_ttl_s = 60;  // RFC 9700 §4.1: short-lived, single use
  std::int64_t lockout_threshold = 5;
  std::int64_t lockout_seconds = 15 * 60;
  std::int64_t key_publish_delay_s = 0;
  std::int64_t leeway_s = 30;            // clock skew tolerated on exp/nbf/iat
  RateRule login_rate{10, 60};           // failed logins per (ip, username)
  RateRule api_rate{1000, 60};           // per client IP on the REST API
  RateRule service_token_rate{100, 60};  // per client on the token endpoints
};

/// Tells other replicas about a change ("revocation", "client:<id>"); a no-op without Redis
/// (replicas then converge by polling storage).
using ChangeNotifier = std::function<void(std::string_view)>;

/// The components of the domain, owned by the composition root and outliving the services.
struct AuthDeps {
  AuthSettings settings;
  storage::Storage& storage;
  jose::KeyStore& keys;
  ratelimit::RateLimiter& limiter;
  AuditLog& audit;
  ClientCache& clients;
  RevocationList& revocations;
  const PasswordHasher& passwords;
  const ClientSecrets& client_secrets;
  const Clock& clock;
  ChangeNotifier notify;
};

/// Calls `notify` when it is set.
inline void publish(const ChangeNotifier& notify, std::string_view event) {
  if (notify) notify(event);
}

}  // namespace permiso::auth
