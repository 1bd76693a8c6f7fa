// permiso-auth: the composition root. Configuration → storage → keys → domain components →
// handlers → HTTP server; no logic of its own beyond wiring and process lifecycle.
#include "maintenance.hpp"

#include "auth/audit_log.hpp"
#include "auth/bootstrap.hpp"
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"
#include "auth/context.hpp"
#include "auth/handlers/oauth_handlers.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/password_hasher.hpp"
#include "auth/revocation_list.hpp"
#include "auth/token_service.hpp"
#include "auth/validation.hpp"
#include "common/worker_pool.hpp"
#include "config/config.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"
#include "jose/crypto.hpp"
#include "jose/key_store.hpp"
#include "log/log.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_channel.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "storage/storage.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#ifndef PERMISO_VERSION
#define PERMISO_VERSION "0.0.0"
#endif

namespace {

namespace fs = std::filesystem;
using permiso::config::AuthConfig;

constexpr int kExitConfig = 2;
constexpr int kExitStartup = 1;

permiso::auth::RateRule to_rule(const std::string& text) {
  const auto r = permiso::config::parse_rate(text);
  return r ? permiso::auth::RateRule{r->count, r->period_s} : permiso::auth::RateRule{};
}

permiso::Result<std::unique_ptr<permiso::jose::KeyStore>, std::string> open_keys(const AuthConfig& cfg,
                                                                                 const permiso::Clock& clock) {
  using permiso::jose::KeyStore;
  const auto alg = permiso::jose::algorithm_from_string(cfg.jwt_algorithm);
  if (!alg) return std::string("unknown JWT algorithm");
  permiso::Result<std::unique_ptr<KeyStore>, permiso::jose::KeyError> ks = permiso::jose::KeyError::Io;
  if (*alg == permiso::jose::Algorithm::HS256 && !cfg.jwt_secret_key.empty()) {
    ks = KeyStore::from_hmac_secret(cfg.jwt_secret_key, clock);
  } else if (!cfg.jwt_private_key_file.empty()) {
    // "current.pem,previous.pem": the first signs, the others stay published so tokens they
    // signed keep verifying until they expire (rotation by configuration).
    std::vector<fs::path> files;
    std::size_t pos = 0;
    while (pos <= cfg.jwt_private_key_file.size()) {
      const auto end = std::min(cfg.jwt_private_key_file.find(',', pos), cfg.jwt_private_key_file.size());
      if (end > pos) files.emplace_back(cfg.jwt_private_key_file.substr(pos, end - pos));
      pos = end + 1;
    }
    ks = KeyStore::from_pem_files(*alg, files, clock);
  } else if (cfg.environment == "development") {
    ks = KeyStore::open_or_create(fs::path(cfg.data_dir) / "keys", *alg, clock);
  } else {
    return std::string("JWT_PRIVATE_KEY_FILE (or JWT_SECRET_KEY for HS256) is required in ") + cfg.environment;
  }
  if (!ks) return std::string(permiso::jose::to_string(ks.error()));
  return std::move(*ks);
}

int config_check() {
  auto cfg = permiso::config::load_auth_config(permiso::config::process_env());
  if (!cfg) {
    for (const auto& p : cfg.error()) std::cerr << "config error: " << p.field << ": " << p.rule << "\n";
    return kExitConfig;
  }
  const auto problems = permiso::config::validate(*cfg);
  std::cout << permiso::config::render_redacted(*cfg);
  for (const auto& p : problems) std::cerr << "config error: " << p.field << ": " << p.rule << "\n";
  if (problems.empty()) std::cerr << "configuration is valid\n";
  return problems.empty() ? 0 : kExitConfig;
}

int serve() {
  // Block the stop signals in every thread; one thread waits for them (no async-signal
  // restrictions on what the shutdown path may do).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto loaded = permiso::config::load_auth_config(permiso::config::process_env());
  if (!loaded) {
    for (const auto& p : loaded.error()) std::cerr << "config error: " << p.field << ": " << p.rule << "\n";
    return kExitConfig;
  }
  AuthConfig cfg = std::move(*loaded);
  if (const auto problems = permiso::config::validate(cfg); !problems.empty()) {
    for (const auto& p : problems) std::cerr << "config error: " << p.field << ": " << p.rule << "\n";
    return kExitConfig;
  }
  if (!cfg.bootstrap_admin_password.empty()) {
    if (auto why = permiso::auth::check_password(cfg.bootstrap_admin_password)) {
      std::cerr << "config error: PERMISO_BOOTSTRAP_ADMIN_PASSWORD: " << *why << "\n";
      return kExitConfig;
    }
  }
  // The seed's *_CLIENT_SECRET variables name service clients of the deployment; they are
  // read here, not kept in AuthConfig, so `config check` can never print them.
  auto client_seeds = permiso::auth::service_client_seeds(permiso::config::process_env());
  if (!client_seeds.problems.empty()) {
    for (const auto& p : client_seeds.problems) std::cerr << "config error: " << p << "\n";
    return kExitConfig;
  }
  cfg.version = PERMISO_VERSION;
  if (auto logged = permiso::log::init(cfg.log_config()); !logged) {
    std::cerr << "config error: LOG_LEVEL/LOG_FORMAT: " << permiso::log::to_string(logged.error()) << "\n";
    return kExitConfig;
  }

  std::error_code ec;
  fs::create_directories(cfg.data_dir, ec);
  fs::permissions(cfg.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);

  permiso::SystemClock clock;
  permiso::storage::StorageOptions storage_options;
  storage_options.pool_size = static_cast<int>(cfg.pool_size);
  storage_options.connect_timeout_seconds = static_cast<int>(cfg.connect_timeout_s);
  auto opened = permiso::storage::open_storage(cfg.effective_database_url(), storage_options);
  if (!opened) {
    spdlog::critical("cannot open storage: " + std::string(permiso::storage::to_string(opened.error())));
    return kExitStartup;
  }
  auto& storage = **opened;

  const permiso::auth::PasswordHasher passwords(permiso::auth::Argon2Params{
      static_cast<std::uint32_t>(cfg.argon2_memory_kib), static_cast<std::uint32_t>(cfg.argon2_iterations),
      static_cast<std::uint32_t>(cfg.argon2_parallelism)});
  auto boot = permiso::auth::bootstrap(
      storage, passwords, clock, cfg.bootstrap_admin_username,
      cfg.bootstrap_admin_password.empty() ? std::nullopt : std::optional<std::string>(cfg.bootstrap_admin_password));
  if (!boot) {
    spdlog::critical("bootstrap failed: " + std::string(permiso::storage::to_string(boot.error())));
    return kExitStartup;
  }
  if (boot->generated_password) {
    // Shown once, on the console only: it is never stored in clear or logged again.
    std::cout << "\n  Bootstrap admin created: username '" << boot->admin_username << "', password '"
              << *boot->generated_password << "'\n  Change it after the first login. It will not be shown again.\n\n"
              << std::flush;
  } else if (boot->admin_created) {
    spdlog::info("bootstrap admin '" + boot->admin_username + "' created from the environment");
  }

  std::string pepper = cfg.client_secret_pepper;
  if (pepper.empty()) {
    // Shared by every replica through storage; production should set it from a secret store.
    auto stored = storage.put_setting_if_absent("client_secret_pepper", permiso::jose::random_token(32));
    if (!stored) {
      spdlog::critical("cannot read the client secret pepper from storage");
      return kExitStartup;
    }
    pepper = *stored;
  }
  permiso::auth::ClientSecrets client_secrets(pepper);

  auto keys = open_keys(cfg, clock);
  if (!keys) {
    spdlog::critical("signing keys: " + keys.error());
    return kExitStartup;
  }

  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  permiso::WorkerPool blocking(cfg.worker_threads > 0 ? static_cast<std::size_t>(cfg.worker_threads) : 2 * cores,
                               static_cast<std::size_t>(cfg.worker_queue));
  // The per-IP API limit is always in process (it runs on I/O threads and must not wait on
  // the network); logins and client limits are shared through Redis when it is configured.
  permiso::ratelimit::MemoryRateLimiter local_limiter;
  std::unique_ptr<permiso::ratelimit::RedisRateLimiter> redis_limiter;
  std::unique_ptr<permiso::ratelimit::RedisChannel> events;
  if (!cfg.redis_url.empty()) {
    auto endpoint = permiso::ratelimit::parse_redis_url(cfg.redis_url);
    if (!endpoint) {
      std::cerr << "config error: REDIS_URL: must be redis://[:password@]host[:port][/db]\n";
      return kExitConfig;
    }
    permiso::ratelimit::RedisRateLimiter::Options limiter_options;
    // Logged once per change, not per request: limits fail open while Redis is away.
    limiter_options.on_availability_change = [](bool available) {
      if (available) {
        spdlog::info("redis: reachable again; rate limits are shared across replicas");
      } else {
        spdlog::warn("redis: unreachable; login and client rate limits fail open until it returns");
      }
    };
    redis_limiter = std::make_unique<permiso::ratelimit::RedisRateLimiter>(*endpoint, std::move(limiter_options));
    events = std::make_unique<permiso::ratelimit::RedisChannel>(*endpoint, "permiso:events");
  }
  permiso::ratelimit::RateLimiter& limiter =
      redis_limiter ? static_cast<permiso::ratelimit::RateLimiter&>(*redis_limiter) : local_limiter;
  permiso::auth::AuditLog audit(storage, clock);
  {
    auto seeded = permiso::auth::ensure_service_clients(storage, client_secrets, clock, client_seeds.seeds);
    client_seeds.seeds.clear();  // the secrets are not needed again
    if (!seeded) {
      spdlog::critical("service clients from the environment: " +
                       std::string(permiso::storage::to_string(seeded.error())));
      return kExitStartup;
    }
    for (const auto& c : *seeded) {
      if (c.change == permiso::auth::SeedClientChange::Unchanged) continue;
      const bool created = c.change == permiso::auth::SeedClientChange::Created;
      permiso::storage::AuditEvent event;
      event.actor = "permiso-auth";
      event.actor_type = "system";
      event.action = created ? "client.create" : "client.rotate_secret";
      event.target = c.client_id;
      event.outcome = "success";
      event.details = boost::json::serialize(boost::json::object{{"source", "environment"}, {"variable", c.variable}});
      audit.record(std::move(event));
      spdlog::info("service client '" + c.client_id + "' " + (created ? "created" : "given the new secret") + " from " +
                   std::string(c.variable));
    }
  }
  permiso::auth::ClientCache clients;
  permiso::auth::RevocationList revocations;

  permiso::auth::AuthSettings settings;
  settings.environment = cfg.environment;
  settings.version = cfg.version;
  settings.issuer = cfg.jwt_issuer;
  settings.audience = cfg.jwt_audience;
  settings.public_base_url = cfg.public_base_url;
  settings.access_token_ttl_s = cfg.access_token_expire_minutes * 60;
  settings.service_token_ttl_s = cfg.service_token_expire_minutes * 60;
  settings.refresh_token_ttl_s = cfg.refresh_token_expire_days * 86400;
  settings.session_ttl_s = cfg.refresh_token_expire_days * 86400;
  settings.lockout_threshold = cfg.lockout_threshold;
  settings.lockout_seconds = cfg.lockout_minutes * 60;
  settings.key_publish_delay_s = cfg.key_publish_delay_s;
  settings.leeway_s = cfg.leeway_s;
  settings.login_rate = to_rule(cfg.rate_limit_login);
  settings.api_rate = to_rule(cfg.rate_limit_api);
  settings.service_token_rate = to_rule(cfg.rate_limit_service_token);

  permiso::auth::AuthContext ctx{settings,
                                 storage,
                                 **keys,
                                 blocking,
                                 limiter,
                                 audit,
                                 clients,
                                 revocations,
                                 const_cast<permiso::auth::PasswordHasher&>(passwords),
                                 client_secrets,
                                 clock,
                                 nullptr,
                                 {}};

  std::atomic<bool> draining{false};
  ctx.draining = &draining;
  permiso::auth::TokenService tokens(ctx);
  ctx.tokens = &tokens;
  // Verification follows the published keys (rotation, promotion, retirement).
  (*keys)->on_change([&tokens](const std::vector<permiso::jose::VerificationKey>&) { tokens.refresh_keys(); });

  permiso::app::Maintenance maintenance(ctx, {});
  maintenance.run_once();
  if (events) {
    // Other replicas hear of revocations and client changes at once; storage polling stays
    // the safety net when a message is lost.
    ctx.notify = [&events](std::string_view event) { events->publish(event); };
    events->subscribe([&ctx, &maintenance](std::string_view event) {
      if (event == "revocation") {
        maintenance.poke();
      } else if (event == "clients") {
        (void)ctx.clients.reload(ctx.storage);
      } else if (event.starts_with("client:")) {
        (void)ctx.clients.refresh(ctx.storage, event.substr(7));
      }
    });
  }

  permiso::http::Registry metrics;
  permiso::http::Router router;
  permiso::auth::register_wellknown_routes(router, ctx);
  permiso::auth::register_oauth_routes(router, ctx);
  permiso::auth::register_user_routes(router, ctx);
  permiso::auth::register_role_routes(router, ctx);
  permiso::auth::register_client_routes(router, ctx);
  permiso::auth::register_admin_routes(router, ctx);
  permiso::http::add_health_route(router, [&cfg] {
    return boost::json::value{
        {"status", "healthy"}, {"service", "permiso-auth"}, {"version", cfg.version}, {"environment", cfg.environment}};
  });
  permiso::http::add_ready_route(router, [&maintenance] { return maintenance.storage_ready(); });
  permiso::http::add_metrics_route(router, metrics);

  permiso::http::ServerConfig server_cfg;
  server_cfg.host = cfg.host;
  server_cfg.port = static_cast<std::uint16_t>(cfg.port);
  server_cfg.threads = static_cast<unsigned>(cfg.threads);
  server_cfg.body_limit = static_cast<std::size_t>(cfg.body_limit_bytes);
  server_cfg.header_limit = static_cast<std::size_t>(cfg.header_limit_bytes);
  server_cfg.header_timeout = std::chrono::seconds(cfg.header_timeout_s);
  server_cfg.read_timeout = std::chrono::seconds(cfg.read_timeout_s);
  server_cfg.idle_timeout = std::chrono::seconds(cfg.idle_timeout_s);
  server_cfg.shutdown_grace = std::chrono::seconds(cfg.shutdown_grace_s);
  server_cfg.trusted_proxies = cfg.trusted_proxies;
  server_cfg.cors.allowed_origins = cfg.allowed_origins;

  permiso::http::ServerHooks hooks;
  hooks.metrics = &metrics;
  hooks.error_log = [](std::string_view m) { spdlog::error("{}", m); };
  hooks.access_log = [](const permiso::http::AccessLogEntry& e) {
    permiso::log::write_access(*spdlog::default_logger(),
                               permiso::log::AccessLogEntry{e.method, e.path, e.route, e.status, e.duration, e.bytes,
                                                            e.request_id, e.remote_ip, e.user_agent});
  };
  const auto api_rate = permiso::ratelimit::Rate{settings.api_rate.count, settings.api_rate.period_s};
  hooks.admit = [&local_limiter, api_rate](const permiso::http::Request& req,
                                           std::string_view route) -> std::optional<permiso::http::Response> {
    // The per-IP API limit (RATE_LIMIT_API): in-memory, so it costs no I/O on this thread.
    if (!route.starts_with("/api/")) return std::nullopt;
    const auto d = local_limiter.consume("api:" + req.remote_ip, api_rate);
    if (d.allowed) return std::nullopt;
    auto res = permiso::http::error_response(req, 429, "rate_limited", "Too many requests from this address.");
    res.set_header("Retry-After", std::to_string(d.retry_after_s));
    return res;
  };

  std::unique_ptr<permiso::http::Server> server;
  try {
    server = std::make_unique<permiso::http::Server>(server_cfg, router, hooks);
  } catch (const std::exception& ex) {
    spdlog::critical(std::string("cannot listen: ") + ex.what());
    return kExitStartup;
  }
  maintenance.start();

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", draining");
    draining.store(true);  // revocation long-polls answer now, within the drain
    server->stop();
  });
  spdlog::info("permiso-auth " + cfg.version + " (" + cfg.environment + ", " + std::string(storage.backend()) + ", " +
               cfg.jwt_algorithm + ") listening on http://" + cfg.host + ":" + std::to_string(server->port()));
  server->run();

  // Stop order: no new work (server), then background upkeep, then the pool that may still
  // hold replies, then flush the audit trail.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);  // wakes sigwait if run() ended another way
  signal_waiter.join();
  if (events) events->stop();
  maintenance.stop();
  blocking.shutdown();
  audit.stop();
  spdlog::info("permiso-auth stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"permiso-auth: the Permiso OAuth2 authorization server"};
  app.set_version_flag("--version", PERMISO_VERSION);
  app.require_subcommand(0, 1);
  auto* serve_cmd = app.add_subcommand("serve", "Run the server (the default)");
  auto* config_cmd = app.add_subcommand("config", "Configuration tools");
  auto* check_cmd =
      config_cmd->add_subcommand("check", "Validate and print the effective configuration, secrets redacted");
  config_cmd->require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  (void)serve_cmd;
  if (check_cmd->parsed()) return config_check();
  return serve();
}
