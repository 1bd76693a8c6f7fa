// See components.hpp.
#include "components.hpp"

#include "auth/client_cache.hpp"
#include "auth/handlers/oauth_handlers.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/revocation_list.hpp"
#include "auth/validation.hpp"
#include "jose/crypto.hpp"
#include "jose/key_store.hpp"

#include <boost/json.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

namespace permiso::auth_app {
namespace {

namespace fs = std::filesystem;
using config::AuthConfig;

auth::RateRule to_rule(const std::string& text) {
  const auto r = config::parse_rate(text);
  return r ? auth::RateRule{r->count, r->period_s} : auth::RateRule{};
}

Result<std::unique_ptr<jose::KeyStore>, jose::KeyError> load_keys(const AuthConfig& cfg, jose::Algorithm alg,
                                                                  const Clock& clock) {
  using jose::KeyStore;
  if (alg == jose::Algorithm::HS256 && !cfg.jwt_secret_key.empty()) {
    return KeyStore::from_hmac_secret(cfg.jwt_secret_key, clock);
  }
  if (!cfg.private_key_files().empty()) {
    const auto names = cfg.private_key_files();  // trimmed: "a.pem, b.pem" names a.pem and b.pem
    return KeyStore::from_pem_files(alg, std::vector<fs::path>(names.begin(), names.end()), clock);
  }
  if (!cfg.jwt_private_key.empty()) return KeyStore::from_pem_text(alg, cfg.jwt_private_key, clock);
  return KeyStore::open_or_create(fs::path(cfg.data_dir) / "keys", alg, clock);
}

/// The service clients' seeds from secrets the configuration read through SECRETS_PROVIDER.
auth::ServiceClientSeeds seeds_of(const AuthConfig& cfg) {
  std::vector<auth::ServiceClientCredential> found;
  for (const auto& client : cfg.service_clients) found.push_back({client.variable, client.secret, client.scopes});
  return auth::service_client_seeds(found);
}

/// Audits and logs each created client or new secret (never the secret).
void record_seeded(const std::vector<auth::SeededClient>& seeded, auth::AuditLog& audit) {
  for (const auto& c : seeded) {
    if (c.change == auth::SeedClientChange::Unchanged) continue;
    audit.record(auth::seeded_client_event(c));
    spdlog::info("service client '{}' {} from {}", c.client_id,
                 c.change == auth::SeedClientChange::Created ? "created" : "given the new secret", c.variable);
  }
}

/// Secrets that only a restart applies: a change is reported once, never its value.
void report_restart_only_changes(const AuthConfig& started, const AuthConfig& now, std::set<std::string>& reported) {
  for (const auto& [name, before, after] :
       {std::tuple{"JWT_SECRET_KEY", &started.jwt_secret_key, &now.jwt_secret_key},
        std::tuple{"PERMISO_CLIENT_SECRET_PEPPER", &started.client_secret_pepper, &now.client_secret_pepper},
        std::tuple{"DATABASE_URL", &started.database_url, &now.database_url},
        std::tuple{"REDIS_URL", &started.redis_url, &now.redis_url}}) {
    if (*before != *after && reported.insert(name).second) {
      spdlog::warn("secrets: {} changed where it is kept; it takes effect at the next start", name);
    }
  }
}

}  // namespace

std::optional<auth::ServiceClientSeeds> check_start_inputs(const AuthConfig& cfg) {
  if (!cfg.bootstrap_admin_password.empty()) {
    if (auto why = auth::check_password(cfg.bootstrap_admin_password)) {
      std::cerr << "config error: PERMISO_BOOTSTRAP_ADMIN_PASSWORD: " << *why << "\n";
      return std::nullopt;
    }
  }
  auto seeds = seeds_of(cfg);
  for (const auto& p : seeds.problems) std::cerr << "config error: " << p << "\n";
  if (!seeds.problems.empty()) return std::nullopt;
  if (!cfg.redis_url.empty() && !redis::parse_url(cfg.redis_url)) {
    std::cerr << "config error: REDIS_URL: must be redis://[:password@]host[:port][/db]\n";
    return std::nullopt;
  }
  return seeds;
}

storage::StorageOptions storage_options(const AuthConfig& cfg) {
  storage::StorageOptions options;
  options.pool_size = static_cast<int>(cfg.pool_size);
  options.connect_timeout_seconds = static_cast<int>(cfg.connect_timeout_s);
  options.prepared_statements = cfg.prepared_statements;
  return options;
}

std::unique_ptr<storage::Storage> open_storage(const AuthConfig& cfg) {
  auto opened = storage::open_storage(cfg.effective_database_url(), storage_options(cfg));
  if (!opened) {
    // The message says why (a schema newer than this binary names both versions).
    spdlog::critical("cannot open storage: {}: {}", storage::to_string(opened.error()), opened.error().message);
    return nullptr;
  }
  return std::move(*opened);
}

std::unique_ptr<jose::KeyStore> open_keys(const AuthConfig& cfg, const Clock& clock) {
  const auto alg = jose::algorithm_from_string(cfg.jwt_algorithm);
  if (!alg) {
    spdlog::critical("signing keys: unknown JWT algorithm");
    return nullptr;
  }
  const bool configured = (*alg == jose::Algorithm::HS256 && !cfg.jwt_secret_key.empty()) ||
                          !cfg.private_key_files().empty() || !cfg.jwt_private_key.empty();
  if (!configured && cfg.environment != "development") {
    spdlog::critical(
        "signing keys: JWT_PRIVATE_KEY_FILE or JWT_PRIVATE_KEY (or JWT_SECRET_KEY for HS256) is required in {}",
        cfg.environment);
    return nullptr;
  }
  auto keys = load_keys(cfg, *alg, clock);
  if (!keys) {
    spdlog::critical("signing keys: {}", jose::to_string(keys.error()));
    return nullptr;
  }
  return std::move(*keys);
}

auth::Argon2Params argon2_params(const AuthConfig& cfg) {
  return auth::Argon2Params{static_cast<std::uint32_t>(cfg.argon2_memory_kib),
                            static_cast<std::uint32_t>(cfg.argon2_iterations),
                            static_cast<std::uint32_t>(cfg.argon2_parallelism)};
}

bool bootstrap_admin(const AuthConfig& cfg, storage::Storage& storage, const auth::PasswordHasher& passwords,
                     const Clock& clock) {
  const auto password =
      cfg.bootstrap_admin_password.empty() ? std::nullopt : std::optional<std::string>(cfg.bootstrap_admin_password);
  auto boot = auth::bootstrap(storage, passwords, clock, cfg.bootstrap_admin_username, password);
  if (!boot) {
    spdlog::critical("bootstrap failed: {}", storage::to_string(boot.error()));
    return false;
  }
  if (boot->generated_password) {
    // Shown once, on the console only: it is never stored in clear or logged again.
    std::cout << "\n  Bootstrap admin created: username '" << boot->admin_username << "', password '"
              << *boot->generated_password << "'\n  Change it after the first login. It will not be shown again.\n\n"
              << std::flush;
  } else if (boot->admin_created) {
    spdlog::info("bootstrap admin '{}' created from the environment", boot->admin_username);
  }
  return true;
}

std::optional<std::string> client_secret_pepper(const AuthConfig& cfg, storage::Storage& storage) {
  if (!cfg.client_secret_pepper.empty()) return cfg.client_secret_pepper;
  // Shared by every replica through storage; production should set it from a secret store.
  auto stored = storage.put_setting_if_absent("client_secret_pepper", jose::random_token(32));
  if (!stored) {
    spdlog::critical("cannot read the client secret pepper from storage");
    return std::nullopt;
  }
  return *stored;
}

bool seed_service_clients(storage::Storage& storage, const auth::ClientSecrets& secrets, const Clock& clock,
                          auth::AuditLog& audit, auth::ServiceClientSeeds& seeds) {
  auto seeded = auth::ensure_service_clients(storage, secrets, clock, seeds.seeds);
  seeds.seeds.clear();  // the secrets are not needed again
  if (!seeded) {
    spdlog::critical("service clients from the environment: {}", storage::to_string(seeded.error()));
    return false;
  }
  record_seeded(*seeded, audit);
  return true;
}

bool seed_dashboard_client(storage::Storage& storage, const Clock& clock, const AuthConfig& cfg) {
  auto changed = auth::ensure_dashboard_client(storage, clock, cfg.dashboard_redirect_uris);
  if (!changed) {
    spdlog::critical("the dashboard client: {}", storage::to_string(changed.error()));
    return false;
  }
  if (*changed)
    spdlog::info("dashboard client: public, redirect URIs {}", fmt::join(cfg.dashboard_redirect_uris, ", "));
  return true;
}

std::function<void()> secrets_refresher(const AuthConfig& started, storage::Storage& storage,
                                        const auth::ClientSecrets& secrets, const Clock& clock, auth::AuditLog& audit) {
  return [started, &storage, &secrets, &clock, &audit, reported = std::set<std::string>{}]() mutable {
    auto now = config::load_auth_config(config::process_env(), config::process_env_names());
    if (!now) {
      spdlog::warn("secrets: cannot re-read ({}: {}); keeping the current ones", now.error().front().field,
                   now.error().front().rule);
      return;
    }
    auto seeds = seeds_of(*now);
    for (const auto& problem : seeds.problems) spdlog::warn("secrets: {}; keeping the current one", problem);
    auto seeded = auth::ensure_service_clients(storage, secrets, clock, seeds.seeds, kRotatedSecretGraceS);
    if (!seeded) {
      spdlog::warn("secrets: service clients not updated: {}", storage::to_string(seeded.error()));
      return;
    }
    record_seeded(*seeded, audit);
    report_restart_only_changes(started, *now, reported);
  };
}

RedisParts connect_redis(const AuthConfig& cfg, ratelimit::RateLimiter& local) {
  RedisParts parts;
  const auto endpoint = redis::parse_url(cfg.redis_url);  // checked by check_start_inputs()
  if (cfg.redis_url.empty() || !endpoint) return parts;
  ratelimit::RedisRateLimiter::Options options;
  // While Redis is away each replica limits on its own: a Redis outage must not switch off
  // the brute-force limits. Logged once per change, not per request.
  options.local_fallback = &local;
  options.on_availability_change = [](bool available) {
    if (available) {
      spdlog::info("redis: reachable again; rate limits are shared across replicas");
    } else {
      spdlog::warn("redis: unreachable; login and client rate limits hold per replica until it returns");
    }
  };
  parts.limiter = std::make_unique<ratelimit::RedisRateLimiter>(*endpoint, std::move(options));
  parts.events = std::make_unique<events::RedisChannel>(*endpoint, "permiso:events");
  return parts;
}

auth::AuthSettings auth_settings(const AuthConfig& cfg) {
  auth::AuthSettings s;
  s.environment = cfg.environment;
  s.version = cfg.version;
  s.issuer = cfg.jwt_issuer;
  s.audience = cfg.jwt_audience;
  s.public_base_url = cfg.public_base_url;
  s.access_token_ttl_s = cfg.access_token_expire_minutes * 60;
  s.service_token_ttl_s = cfg.service_token_expire_minutes * 60;
  s.refresh_token_ttl_s = cfg.refresh_token_expire_days * 86400;
  s.session_ttl_s = cfg.refresh_token_expire_days * 86400;
  s.lockout_threshold = cfg.lockout_threshold;
  s.lockout_seconds = cfg.lockout_minutes * 60;
  s.key_publish_delay_s = cfg.key_publish_delay_s;
  s.leeway_s = cfg.leeway_s;
  s.login_rate = to_rule(cfg.rate_limit_login);
  s.api_rate = to_rule(cfg.rate_limit_api);
  s.service_token_rate = to_rule(cfg.rate_limit_service_token);
  return s;
}

ratelimit::RateLimiter& shared_limiter(RedisParts& redis, ratelimit::MemoryRateLimiter& local) {
  return redis.limiter ? *redis.limiter : static_cast<ratelimit::RateLimiter&>(local);
}

auth::ChangeNotifier change_notifier(const RedisParts& redis) {
  if (!redis.events) return {};
  return [events = redis.events.get()](std::string_view event) { events->publish(event); };
}

std::optional<std::unique_ptr<auth::AuditExport>> open_audit_export(const AuthConfig& cfg) {
  if (cfg.audit_export.empty()) return std::unique_ptr<auth::AuditExport>();
  auto out = auth::AuditExport::open(cfg.audit_export);
  if (!out) {
    spdlog::critical("PERMISO_AUDIT_EXPORT: cannot open {}: {}", cfg.audit_export, out.error().message());
    return std::nullopt;
  }
  spdlog::info("audit events are exported as JSON lines to {}", cfg.audit_export);
  return std::move(*out);
}

auth::AuditLog::StoredListener audit_listener(const std::unique_ptr<auth::AuditExport>& out, http::Registry& metrics) {
  // Counted by the writer thread once stored, never on a request's path. Actions and outcomes
  // are constants of the code, so the label sets stay few.
  auto& events = metrics.counter("permiso_audit_events_total",
                                 "Security events written to the audit trail (tokens issued, logins by outcome, "
                                 "lockouts, refresh reuse, revocations, administration), by action and outcome.",
                                 {"action", "outcome"});
  return [export_to = out.get(), &events](const std::vector<storage::AuditEvent>& batch) {
    // One family lookup per distinct (action, outcome) of the batch, not one per event: a
    // batch of token issuances is a single increment.
    std::map<std::pair<std::string_view, std::string_view>, double> counts;
    for (const auto& e : batch) counts[{e.action, e.outcome}] += 1;
    for (const auto& [key, n] : counts) events.with({std::string(key.first), std::string(key.second)}).inc(n);
    if (export_to != nullptr) export_to->write(batch);
  };
}

namespace {

/// The counters the domain keeps (auth/counters.hpp), each label set a closed enum: read at
/// scrape, so issuing a token costs one relaxed atomic add and nothing here.
void collect_counters(http::Registry& metrics, const auth::AuthCounters& counters, jose::Algorithm signing) {
  using Kind = http::Registry::Kind;
  using Sample = http::Registry::Sample;
  const auto value = [](auto n) { return static_cast<double>(n); };
  metrics.collect(
      "permiso_tokens_issued_total",
      "Access tokens issued, by grant (client_credentials, password, refresh_token, authorization_code) and "
      "signing algorithm.",
      Kind::Counter, {"grant", "alg"}, [&counters, signing, value] {
        // Every grant under the configured algorithm, from zero, so rate() sees the first
        // token; another algorithm (a key of an earlier configuration) once it has signed.
        std::vector<Sample> out;
        for (std::size_t a = 0; a < auth::kAlgorithms; ++a) {
          const auto alg = static_cast<jose::Algorithm>(a);
          for (std::size_t g = 0; g < auth::kGrantTypes; ++g) {
            const auto grant = static_cast<auth::GrantType>(g);
            const auto n = counters.tokens_issued(grant, alg);
            if (n == 0 && alg != signing) continue;
            out.push_back({{std::string(auth::to_string(grant)), std::string(jose::to_string(alg))}, value(n)});
          }
        }
        return out;
      });
  metrics.collect("permiso_logins_total",
                  "Sign-ins (password grant and sign-in page) by outcome: success, invalid_credentials, locked, "
                  "disabled, rate_limited, invalid_request, error.",
                  Kind::Counter, {"outcome"}, [&counters, value] {
                    std::vector<Sample> out;
                    for (std::size_t o = 0; o < auth::kLoginOutcomes; ++o) {
                      const auto outcome = static_cast<auth::LoginOutcome>(o);
                      out.push_back({{std::string(auth::to_string(outcome))}, value(counters.logins(outcome))});
                    }
                    return out;
                  });
  metrics.collect("permiso_lockouts_total", "Accounts locked after too many failed sign-ins.", Kind::Counter,
                  [&counters, value] { return value(counters.lockouts()); });
  metrics.collect("permiso_refresh_rotations_total", "Refresh tokens rotated by a successful refresh grant.",
                  Kind::Counter, [&counters, value] { return value(counters.refresh_rotations()); });
  metrics.collect("permiso_refresh_reuse_total",
                  "Rotated refresh tokens presented again (reuse detections); each ends its token family and "
                  "sessions.",
                  Kind::Counter, [&counters, value] { return value(counters.refresh_reuses()); });
}

}  // namespace

void collect_metrics(http::Registry& metrics, const auth::AuthCounters& counters, const auth::AuditLog& audit,
                     const auth::AuthDeps& deps, const WorkerPool& blocking) {
  collect_counters(metrics, counters, deps.keys.algorithm());
  using Kind = http::Registry::Kind;
  const auto value = [](auto n) { return static_cast<double>(n); };
  metrics.collect("permiso_audit_pending", "Audit events waiting for the writer.", Kind::Gauge,
                  [&audit, value] { return value(audit.pending()); });
  metrics.collect("permiso_audit_dropped_total", "Audit events dropped because storage was down too long.",
                  Kind::Counter, [&audit, value] { return value(audit.dropped()); });
  metrics.collect("permiso_revocations_cached", "Revoked tokens and ended sessions held in memory.", Kind::Gauge,
                  [&deps, value] { return value(deps.revocations.size()); });
  metrics.collect("permiso_clients_cached", "Service clients held in memory.", Kind::Gauge,
                  [&deps, value] { return value(deps.clients.size()); });
  metrics.collect("permiso_client_cache_lookups_total",
                  "Client cache lookups (client authentication, service-token checks) by result: hit (the client "
                  "was in memory) or miss.",
                  Kind::Counter, {"result"}, [&deps, value] {
                    return std::vector<http::Registry::Sample>{{{"hit"}, value(deps.clients.hits())},
                                                               {{"miss"}, value(deps.clients.misses())}};
                  });
  metrics.collect("permiso_client_cache_full_reloads_total",
                  "Full reads of every service client (start-up, a change to every client, a change feed the "
                  "cache fell behind).",
                  Kind::Counter, [&deps, value] { return value(deps.clients.full_reloads()); });
  metrics.collect("permiso_blocking_queue_depth", "Requests waiting for a blocking worker (storage, Argon2id).",
                  Kind::Gauge, [&blocking, value] { return value(blocking.queued()); });
  metrics.collect("permiso_blocking_rejections_total",
                  "Requests refused with 503 because the blocking workers' queue was full.", Kind::Counter,
                  [&blocking, value] { return value(blocking.rejected()); });
}

void collect_dependency_metrics(http::Registry& metrics, const app::Maintenance& maintenance, const RedisParts& redis) {
  const auto up = [](bool b) { return b ? 1.0 : 0.0; };
  metrics.collect("permiso_dependency_up",
                  "Whether a dependency answers (1) or not (0): database (pinged every few seconds), redis (the "
                  "change notices' subscription; only with REDIS_URL).",
                  http::Registry::Kind::Gauge, {"dependency"}, [&maintenance, events = redis.events.get(), up] {
                    std::vector<http::Registry::Sample> out{{{"database"}, up(maintenance.storage_ready())}};
                    if (events != nullptr) out.push_back({{"redis"}, up(events->subscribed())});
                    return out;
                  });
}

std::unique_ptr<WorkerPool> open_worker_pool(const AuthConfig& cfg) {
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  return std::make_unique<WorkerPool>(cfg.worker_threads > 0 ? static_cast<std::size_t>(cfg.worker_threads) : 2 * cores,
                                      static_cast<std::size_t>(cfg.worker_queue), static_cast<int>(cfg.worker_nice));
}

void follow_changes(events::RedisChannel& events, const auth::AuthDeps& deps, app::Maintenance& maintenance) {
  events.subscribe([&deps, &maintenance](std::string_view event) {
    if (event == "revocation") {
      maintenance.poke();
    } else if (event == "clients") {
      (void)deps.clients.catch_up(deps.storage);
    } else if (event.starts_with("client:")) {
      (void)deps.clients.refresh(deps.storage, event.substr(7));
    }
  });
}

void register_routes(http::Router& router, auth::AuthContext& ctx, const AuthConfig& cfg,
                     const app::Maintenance& maintenance, const http::Registry& metrics) {
  auth::register_wellknown_routes(router, ctx);
  auth::register_oauth_routes(router, ctx);
  auth::register_user_routes(router, ctx);
  auth::register_role_routes(router, ctx);
  auth::register_client_routes(router, ctx);
  auth::register_admin_routes(router, ctx);
  http::add_health_route(router, [&cfg] {
    return boost::json::value{
        {"status", "healthy"}, {"service", "permiso-auth"}, {"version", cfg.version}, {"environment", cfg.environment}};
  });
  http::add_ready_route(router, [&maintenance] { return maintenance.storage_ready(); });
  http::add_metrics_route(router, metrics);
}

}  // namespace permiso::auth_app
