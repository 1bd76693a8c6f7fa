// See bootstrap.hpp.
#include "auth/bootstrap.hpp"

#include "auth/scopes.hpp"
#include "auth/seed_data.hpp"
#include "auth/validation.hpp"

#include <boost/json/serialize.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace permiso::auth {
namespace {

using storage::StorageError;

storage::StorageResult<std::int64_t> ensure_scope(storage::Storage& st, const SeedScope& seed) {
  auto existing = st.get_scope_by_name(seed.name);
  if (existing) return existing->id;
  if (existing.error().code != StorageError::NotFound) return existing.error();
  storage::Scope scope;
  scope.name = std::string(seed.name);
  scope.description = std::string(seed.description);
  const auto colon = seed.name.find(':');
  scope.resource = std::string(seed.name.substr(0, colon));
  scope.action = colon == std::string_view::npos ? "" : std::string(seed.name.substr(colon + 1));
  auto created = st.create_scope(scope);
  if (created) return created->id;
  if (created.error().code == StorageError::Conflict) {  // another replica won the race
    auto again = st.get_scope_by_name(seed.name);
    if (again) return again->id;
    return again.error();
  }
  return created.error();
}

storage::StorageStatus ensure_role(storage::Storage& st, const SeedRole& seed) {
  auto existing = st.get_role_by_name(seed.name);
  if (existing) return {};  // an administrator may have changed its scopes: keep them
  if (existing.error().code != StorageError::NotFound) return existing.error();
  storage::Role role;
  role.name = std::string(seed.name);
  role.description = std::string(seed.description);
  auto created = st.create_role(role);
  if (!created) {
    return created.error().code == StorageError::Conflict ? storage::StorageStatus{}
                                                          : storage::StorageStatus{created.error()};
  }
  std::vector<std::int64_t> scope_ids;
  for (const auto name : seed.scopes) {
    if (name.empty()) continue;
    auto scope = st.get_scope_by_name(name);
    if (!scope) return scope.error();
    scope_ids.push_back(scope->id);
  }
  return st.set_role_scopes(created->id, scope_ids);
}

const std::vector<std::string> kTraderScopes{"trade:read",   "trade:open",      "trade:close", "trade:modify",
                                             "account:read", "account:balance", "market:data"};

bool usable_secret(std::string_view s) {
  if (s.size() < 16 || s.size() > 512) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) { return ch > ' ' && ch < 0x7f; });
}

storage::StorageResult<std::vector<std::int64_t>> scope_ids_of(storage::Storage& st,
                                                               const std::vector<std::string>& names) {
  std::vector<std::int64_t> ids;
  for (const auto& name : names) {
    auto scope = st.get_scope_by_name(name);
    if (scope) {
      ids.push_back(scope->id);
    } else if (scope.error().code != StorageError::NotFound) {
      return scope.error();
    }
  }
  return ids;
}

storage::StorageResult<SeedClientChange> ensure_service_client(storage::Storage& st, const ClientSecrets& secrets,
                                                               const Clock& clock, const ServiceClientSeed& seed,
                                                               std::optional<std::int64_t> previous_valid_for_s) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto existing = st.get_client(seed.client_id);
    if (existing) {
      // The stored hash is compared, never the secret: a matching one is left alone, so a
      // restart with the same environment changes nothing (and audits nothing).
      if (!existing->secret_hash.empty() && secrets.matches(seed.secret, existing->secret_hash)) {
        return SeedClientChange::Unchanged;
      }
      const auto previous_valid_until = previous_valid_for_s
                                            ? std::optional<std::int64_t>(clock.now_seconds() + *previous_valid_for_s)
                                            : std::nullopt;
      auto rotated =
          st.rotate_client_secret(seed.client_id, secrets.hash(seed.secret), previous_valid_until, clock.now_seconds());
      if (!rotated) return rotated.error();
      return SeedClientChange::SecretUpdated;
    }
    if (existing.error().code != StorageError::NotFound) return existing.error();

    storage::ServiceClient c;
    c.client_id = seed.client_id;
    c.name = seed.name;
    c.description = seed.description;
    c.client_type = "confidential";
    c.secret_hash = secrets.hash(seed.secret);
    c.is_active = true;
    c.is_trusted = false;  // admin:system routes want trusted clients; these need none
    c.created_at = c.updated_at = clock.now_seconds();
    auto ids = scope_ids_of(st, seed.scopes);
    if (!ids) return ids.error();
    auto created = st.create_client(c, *ids);
    if (!created) {
      if (created.error().code == StorageError::Conflict) continue;  // another replica won: compare its hash
      return created.error();
    }
    return SeedClientChange::Created;
  }
  return storage::StorageFailure{StorageError::Internal, "client_id", "service client kept changing during bootstrap"};
}

}  // namespace

std::string service_client_id(std::string_view variable) {
  constexpr std::string_view kSuffix = "_CLIENT_SECRET";
  if (!variable.ends_with(kSuffix) || variable.size() == kSuffix.size()) return {};
  const auto name = variable.substr(0, variable.size() - kSuffix.size());
  std::string id;
  for (const char ch : name) {
    id.push_back(ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  return id.ends_with("-service") ? id : id + "-service";
}

ServiceClientSeeds service_client_seeds(const std::vector<ServiceClientCredential>& found) {
  // mt5-api only reads the revocation feed, which any valid token may do, so its client gets
  // no scope at all; the dashboard's server side (the seed's DASHBOARD_CLIENT_SECRET) gets the
  // trader's scopes.
  ServiceClientSeeds out;
  for (const auto& credential : found) {
    const auto& variable = credential.variable;
    const auto client_id = service_client_id(variable);
    if (client_id.empty() || credential.secret.empty()) continue;
    if (!usable_secret(credential.secret)) {
      out.problems.push_back(variable + ": must be 16 to 512 printable ASCII characters without spaces");
      continue;
    }
    ServiceClientSeed seed;
    seed.variable = variable;
    seed.client_id = client_id;
    seed.secret = credential.secret;
    seed.description = client_id + ": ensured from " + variable;
    if (client_id == "dashboard-service") {
      seed.name = "Trading dashboard (server side)";
      seed.scopes = kTraderScopes;
    } else {
      seed.name = client_id;
      std::string scopes = credential.scopes;  // commas as lists write them, spaces as OAuth does
      std::replace_if(
          scopes.begin(), scopes.end(), [](char ch) { return ch == ',' || ch == '\t'; }, ' ');
      seed.scopes = split_scopes(scopes);
    }
    out.seeds.push_back(std::move(seed));
  }
  return out;
}

storage::AuditEvent seeded_client_event(const SeededClient& client) {
  storage::AuditEvent event;
  event.actor = "permiso-auth";
  event.actor_type = "system";
  event.action = client.change == SeedClientChange::Created ? "client.create" : "client.rotate_secret";
  event.target = client.client_id;
  event.outcome = "success";
  event.details = boost::json::serialize(boost::json::object{{"source", "environment"}, {"variable", client.variable}});
  return event;
}

storage::StorageResult<std::vector<SeededClient>> ensure_service_clients(
    storage::Storage& st, const ClientSecrets& secrets, const Clock& clock, const std::vector<ServiceClientSeed>& seeds,
    std::optional<std::int64_t> previous_valid_for_s) {
  std::vector<SeededClient> out;
  for (const auto& seed : seeds) {
    auto change = ensure_service_client(st, secrets, clock, seed, previous_valid_for_s);
    if (!change) return change.error();
    out.push_back({seed.client_id, seed.variable, *change});
  }
  return out;
}

storage::StorageResult<bool> ensure_dashboard_client(storage::Storage& st, const Clock& clock,
                                                     const std::vector<std::string>& redirect_uris) {
  boost::json::array uris;
  for (const auto& uri : redirect_uris) uris.emplace_back(uri);
  const std::string uris_json = boost::json::serialize(uris);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto existing = st.get_client(kDashboardClient);
    if (existing) {
      if (existing->client_type == "public" && existing->redirect_uris == uris_json && existing->secret_hash.empty()) {
        return false;
      }
      // A public client has no secret: one left from a confidential past is dropped.
      existing->client_type = "public";
      existing->redirect_uris = uris_json;
      existing->secret_hash.clear();
      existing->previous_secret_hash.reset();
      existing->previous_secret_expires_at.reset();
      existing->updated_at = clock.now_seconds();
      if (auto r = st.update_client(*existing, std::nullopt); !r) return r.error();
      return true;
    }
    if (existing.error().code != StorageError::NotFound) return existing.error();
    storage::ServiceClient c;
    c.client_id = std::string(kDashboardClient);
    c.name = "Trading dashboard";
    c.description = "The web app: signs people in with the authorization code grant and PKCE";
    c.client_type = "public";
    c.redirect_uris = uris_json;
    c.created_at = c.updated_at = clock.now_seconds();
    auto ids = scope_ids_of(st, kTraderScopes);
    if (!ids) return ids.error();
    auto created = st.create_client(c, *ids);
    if (!created) {
      if (created.error().code == StorageError::Conflict) continue;  // another replica made it
      return created.error();
    }
    return true;
  }
  return storage::StorageFailure{StorageError::Internal, "client_id",
                                 "dashboard client kept changing during bootstrap"};
}

std::string generate_password() {
  // No look-alikes (0/O, 1/l/I) and no '=', ':' or quotes, so the password survives being
  // copied from a terminal into a shell, a form or a key=value file.
  static constexpr std::string_view kAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%*+-?@^_";
  for (;;) {
    std::array<unsigned char, 24> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed: cannot generate a password");
    }
    std::string pw;
    for (const unsigned char b : random) {
      // 256 % 67 != 0: the slight modulo bias costs well under a bit over 24 characters.
      pw.push_back(kAlphabet[b % kAlphabet.size()]);
    }
    if (!check_password(pw)) return pw;
  }
}

storage::StorageResult<BootstrapOutcome> bootstrap(storage::Storage& st, const PasswordHasher& passwords,
                                                   const Clock& clock, const std::string& admin_username,
                                                   const std::optional<std::string>& admin_password) {
  for (const auto& scope : kDefaultScopes) {
    if (auto r = ensure_scope(st, scope); !r) return r.error();
  }
  for (const auto& role : kDefaultRoles) {
    if (auto r = ensure_role(st, role); !r) return r.error();
  }

  BootstrapOutcome outcome;
  auto count = st.count_users();
  if (!count) return count.error();
  if (*count > 0) return outcome;

  storage::User admin;
  admin.username = normalize_username(admin_username.empty() ? "admin" : admin_username);
  admin.email = admin.username + "@permiso.local";
  admin.display_name = "Administrator";
  admin.is_active = true;
  admin.is_verified = true;
  admin.is_superuser = true;
  admin.created_at = admin.updated_at = clock.now_seconds();
  std::string password;
  if (admin_password && !admin_password->empty()) {
    password = *admin_password;
  } else {
    password = generate_password();
    outcome.generated_password = password;
  }
  auto hash = passwords.hash(password);
  if (!hash) {
    return storage::StorageFailure{StorageError::Internal, "", "hashing the admin password failed"};
  }
  admin.password_hash = std::move(*hash);
  auto role = st.get_role_by_name(kAdminRole);
  if (!role) return role.error();
  auto created = st.create_user(admin, {role->id});
  if (!created) {
    if (created.error().code == StorageError::Conflict) {
      outcome.generated_password.reset();  // another replica created the admin first
      return outcome;
    }
    return created.error();
  }
  outcome.admin_created = true;
  outcome.admin_username = created->username;
  return outcome;
}

}  // namespace permiso::auth
