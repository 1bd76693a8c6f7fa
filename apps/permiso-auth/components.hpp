// permiso-auth's components as its configuration asks for them: each function opens or wires
// one part of the authorization server, so main.cpp reads as the list of what the service is
// made of. Functions that can fail log why and return null/false: the caller stops start-up.
#pragma once

#include "auth/audit_export.hpp"
#include "auth/audit_log.hpp"
#include "auth/bootstrap.hpp"
#include "auth/client_secrets.hpp"
#include "auth/context.hpp"
#include "auth/counters.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/password_hasher.hpp"
#include "common/clock.hpp"
#include "common/worker_pool.hpp"
#include "config/config.hpp"
#include "events/redis_channel.hpp"
#include "http/http.hpp"
#include "http/metrics.hpp"
#include "jose/key_store.hpp"
#include "maintenance.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace permiso::auth_app {

/// Rules that need more than the configuration: the bootstrap admin's password policy and
/// the <NAME>_CLIENT_SECRET secrets' (16 to 512 printable characters). Prints every problem;
/// nullopt when there is one.
std::optional<auth::ServiceClientSeeds> check_start_inputs(const config::AuthConfig& cfg);

/// The storage settings of the configuration (pool size, connect timeout).
storage::StorageOptions storage_options(const config::AuthConfig& cfg);

/// Storage (SQLite or PostgreSQL) with its migrations applied; nullptr after logging why.
std::unique_ptr<storage::Storage> open_storage(const config::AuthConfig& cfg);

/// The signing keys: JWT_SECRET_KEY (HS256), JWT_PRIVATE_KEY_FILE ("current.pem,
/// previous.pem": the first signs, the others stay published until their tokens expire), or
/// in development keys generated once under the data directory. nullptr after logging why.
std::unique_ptr<jose::KeyStore> open_keys(const config::AuthConfig& cfg, const Clock& clock);

/// The configured Argon2id cost.
auth::Argon2Params argon2_params(const config::AuthConfig& cfg);

/// Creates the bootstrap admin on an empty user table (a generated password is printed
/// once, on the console only). False after logging why storage refused.
bool bootstrap_admin(const config::AuthConfig& cfg, storage::Storage& storage, const auth::PasswordHasher& passwords,
                     const Clock& clock);

/// The pepper of client-secret hashes: configured, else generated once and shared by every
/// replica through storage. nullopt after logging why storage refused.
std::optional<std::string> client_secret_pepper(const config::AuthConfig& cfg, storage::Storage& storage);

/// The web app's public client, with the configuration's redirect URIs.
bool seed_dashboard_client(storage::Storage& storage, const Clock& clock, const config::AuthConfig& cfg);
/// Ensures the service clients named by *_CLIENT_SECRET variables exist with those secrets,
/// audits and logs each change (never a secret). False after logging why storage refused.
bool seed_service_clients(storage::Storage& storage, const auth::ClientSecrets& secrets, const Clock& clock,
                          auth::AuditLog& audit, auth::ServiceClientSeeds& seeds);

/// The SIEM export PERMISO_AUDIT_EXPORT names: null when none is configured, nullopt after
/// logging why the file cannot be opened.
std::optional<std::unique_ptr<auth::AuditExport>> open_audit_export(const config::AuthConfig& cfg);
/// What the audit writer calls with each stored batch: counts it on /metrics
/// (permiso_audit_events_total{action,outcome}) and writes it to the export, if any.
auth::AuditLog::StoredListener audit_listener(const std::unique_ptr<auth::AuditExport>& out, http::Registry& metrics);

/// How long a service client's previous secret keeps working after a live rotation, so the
/// services holding it can move to the new one.
constexpr std::int64_t kRotatedSecretGraceS = 3600;

/// The task that re-reads the secrets through SECRETS_PROVIDER every secrets_refresh_s: a
/// service client whose secret changed gets the new one live (the old one still accepted for
/// kRotatedSecretGraceS), audited; a changed secret only a restart applies (the JWT secret,
/// the pepper, the storage URLs) is reported once, without its value. Runs on the
/// maintenance thread.
std::function<void()> secrets_refresher(const config::AuthConfig& started, storage::Storage& storage,
                                        const auth::ClientSecrets& secrets, const Clock& clock, auth::AuditLog& audit);

/// Login and client limits shared through Redis, and the event channel to other replicas,
/// when REDIS_URL is set; both empty otherwise. While Redis is unreachable the limits are
/// decided by `local` (per replica).
struct RedisParts {
  std::unique_ptr<ratelimit::RedisRateLimiter> limiter;
  std::unique_ptr<events::RedisChannel> events;
};
RedisParts connect_redis(const config::AuthConfig& cfg, ratelimit::RateLimiter& local);

/// The domain's settings from the validated configuration.
auth::AuthSettings auth_settings(const config::AuthConfig& cfg);

/// The limiter of logins and client limits: Redis's when configured, else `local`.
ratelimit::RateLimiter& shared_limiter(RedisParts& redis, ratelimit::MemoryRateLimiter& local);

/// Tells other replicas about changes through Redis; a no-op without it.
auth::ChangeNotifier change_notifier(const RedisParts& redis);

/// The pool storage calls and Argon2 run on, never an I/O thread; a full queue is a fast 503.
std::unique_ptr<WorkerPool> open_worker_pool(const config::AuthConfig& cfg);

/// This replica hears of other replicas' revocations and client changes at once through
/// `events`; storage polling (Maintenance) stays the safety net when a message is lost.
void follow_changes(events::RedisChannel& events, const auth::AuthDeps& deps, app::Maintenance& maintenance);

/// The domain's figures on /metrics, read at each scrape: tokens issued, sign-ins, lockouts,
/// refresh rotations and reuse (`counters`), the audit writer's backlog and losses,
/// revocations and clients held in memory, the blocking pool's queue.
void collect_metrics(http::Registry& metrics, const auth::AuthCounters& counters, const auth::AuditLog& audit,
                     const auth::AuthDeps& deps, const WorkerPool& blocking);

/// permiso_dependency_up{dependency}: the database (Maintenance's ping) and, with Redis, the
/// change notices' subscription, each 1 or 0, for the alert rules (deploy/prometheus).
void collect_dependency_metrics(http::Registry& metrics, const app::Maintenance& maintenance, const RedisParts& redis);

/// Every route: OAuth, users, roles, clients, admin, discovery, and /health, /ready, /metrics.
void register_routes(http::Router& router, auth::AuthContext& ctx, const config::AuthConfig& cfg,
                     const app::Maintenance& maintenance, const http::Registry& metrics);

}  // namespace permiso::auth_app
