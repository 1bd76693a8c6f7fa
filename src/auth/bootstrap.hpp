// First-start seeding: the default scopes and roles (contract), the bootstrap admin when
// no user exists yet, and the service clients the deployment names by their secrets (the
// seed's *_CLIENT_SECRET variables). Idempotent, so every start runs it and replicas racing
// on an empty database converge on one admin and one client each.
#pragma once

#include "auth/client_secrets.hpp"
#include "auth/password_hasher.hpp"
#include "common/clock.hpp"
#include "storage/storage.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

struct BootstrapOutcome {
  bool admin_created = false;
  std::string admin_username;
  /// Set only when the password was generated: the caller prints it once, then forgets it.
  std::optional<std::string> generated_password;
};

storage::StorageResult<BootstrapOutcome> bootstrap(storage::Storage& storage, const PasswordHasher& passwords,
                                                   const Clock& clock, const std::string& admin_username,
                                                   const std::optional<std::string>& admin_password);

/// A service client whose secret comes from the environment, by the seed's
/// get_service_credentials(name) convention: <NAME>_CLIENT_SECRET ensures the confidential
/// client `<name>-service` (MT5_SERVICE_CLIENT_SECRET: `mt5-service`, RISK_CLIENT_SECRET:
/// `risk-service`), granted the scopes in <NAME>_CLIENT_SCOPES when it is created. Two keep
/// their own ids and scopes: mt5-api reads the revocation feed as `mt5-service` (no scope),
/// and DASHBOARD_CLIENT_SECRET ensures `dashboard-service` (the dashboard's server side, if it
/// has one) with the trader's scopes. The browser app is the public client `dashboard`.
struct ServiceClientSeed {
  std::string variable;  // the environment variable holding the secret
  std::string client_id;
  std::string name;
  std::string description;
  std::vector<std::string> scopes;  // granted when the client is created
  std::string secret;               // filled from the environment
};

struct ServiceClientSeeds {
  std::vector<ServiceClientSeed> seeds;  // those whose variable is set and non-empty
  std::vector<std::string> problems;     // "VARIABLE: rule", one per unusable secret
};

/// The web app's client id: a public client of the authorization code grant.
inline constexpr std::string_view kDashboardClient = "dashboard";

/// Ensures the public `dashboard` client with exactly these redirect URIs (the configuration
/// is their source of truth): created with the trader's scopes when missing, made public
/// (its secret dropped) when it was confidential. Whether anything changed.
storage::StorageResult<bool> ensure_dashboard_client(storage::Storage& st, const Clock& clock,
                                                     const std::vector<std::string>& redirect_uris);

/// The client id <NAME>_CLIENT_SECRET stands for ("" when `variable` is not of that form).
std::string service_client_id(std::string_view variable);

/// A <NAME>_CLIENT_SECRET as the configuration found it.
struct ServiceClientCredential {
  std::string variable;  // NAME_CLIENT_SECRET
  std::string secret;
  std::string scopes;  // NAME_CLIENT_SCOPES: space- or comma-separated
};

/// The seeds of the credentials found (an empty secret is no client). A secret must be 16 to
/// 512 printable ASCII characters without spaces (it travels in forms and Basic credentials).
ServiceClientSeeds service_client_seeds(const std::vector<ServiceClientCredential>& found);

enum class SeedClientChange { Unchanged, Created, SecretUpdated };

struct SeededClient {
  std::string client_id;
  std::string variable;
  SeedClientChange change = SeedClientChange::Unchanged;
};

/// Ensures each seeded client exists (confidential, not trusted, active, the seed's scopes)
/// and that its stored secret hash is the configured secret's: a changed variable replaces
/// the stored secret, the old one still accepted for `previous_valid_for_s` (none: replaced at
/// once, as at start-up). An existing client keeps the scopes, flags and limits an
/// administrator gave it. The caller audits and logs the changes (never the secret).
storage::StorageResult<std::vector<SeededClient>> ensure_service_clients(
    storage::Storage& storage, const ClientSecrets& secrets, const Clock& clock,
    const std::vector<ServiceClientSeed>& seeds, std::optional<std::int64_t> previous_valid_for_s = std::nullopt);

/// The audit event of a seeded client's creation or new secret: the server itself acted,
/// and the details name the variable (never the secret).
storage::AuditEvent seeded_client_event(const SeededClient& client);

/// A random password that satisfies the password policy (~128 bits of entropy).
std::string generate_password();

}  // namespace permiso::auth
